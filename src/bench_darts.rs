//! `enas bench-step --space darts`: time of one DARTS search iteration, the peer of
//! `../shared/bench/torch_darts_search.py` run the same way (same sizes, threads, order 1): an
//! architecture step (the validation batch's loss of the mixed network at softmax(α), its
//! gradient, a step of α) then a weight step (the training batch's loss at the detached
//! mixture, its gradient, grad-norm clip 5, SGD-Nesterov with weight decay 3e-4). Prints one JSON
//! line with the reference's keys (`ms_per_step_median/min/max`, `weights`).
use crate::cli::BenchStepArgs;
use crate::memory::{darts_activations, darts_params, Part};
use crate::runtime;
use crate::search::softmax_rows;
use anyhow::{Context, Result};
use candle_core::{Tensor, Var};
use enas_child::darts::{DartsPath, DartsShape, DartsSupernet};
use enas_child::{clip_grad_norm, cross_entropy, BnMode, InitRoot, SgdNesterov};
use enas_shared::space::darts::DARTS_OPS;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

pub fn run(a: &BenchStepArgs) -> Result<()> {
    let cfg = a.cfg.load(&[])?;
    // What this iteration does not do is refused, not timed as if it had been done.
    anyhow::ensure!(
        cfg.darts.order == 1,
        "darts.order {}: bench-step times the first-order iteration only (torch_darts_search.py --order 1)",
        cfg.darts.order
    );
    anyhow::ensure!(
        a.arc.is_none() && !a.curve,
        "--arc and --curve are options of the enas_micro step; bench-step --space darts times the whole mixture"
    );
    let c = &cfg.child;
    let parts = [
        Part {
            what: "supernet weights, gradients and momentum",
            bytes: 12.0 * darts_params(c.layers, c.channels, c.nodes),
        },
        Part {
            what: "activations of one step",
            bytes: darts_activations(c.layers, c.channels, c.nodes, a.batch, a.image),
        },
    ];
    crate::memory::check("this bench-step", &parts, "--batch, --image, child.channels or child.layers")?;
    runtime::init_threads(cfg.threads);
    let device = runtime::device(&cfg)?;
    let shape = DartsShape {
        in_channels: a.in_channels,
        channels: c.channels,
        layers: c.layers,
        nodes: c.nodes,
        classes: a.classes,
    };
    let root = InitRoot::new(cfg.seed, &device);
    let net = DartsSupernet::new(shape, root.init())?;
    let store = root.finish();
    let mut opt = SgdNesterov::new(store.vars.clone(), 0.9, 3e-4);
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut batch = || -> Result<(Tensor, Tensor)> {
        let n = a.batch * a.in_channels * a.image * a.image;
        let x: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
        let y: Vec<u32> = (0..a.batch).map(|_| rng.random_range(0..a.classes as u32)).collect();
        Ok((
            Tensor::from_vec(x, (a.batch, a.in_channels, a.image, a.image), &device)?,
            Tensor::from_vec(y, a.batch, &device)?,
        ))
    };
    let ((xt, yt), (xv, yv)) = (batch()?, batch()?);
    let rows = 2 * enas_shared::Darts::new(c.nodes).edges();
    let alpha = Var::from_tensor(&(Tensor::randn(0f32, 1e-3, (rows, DARTS_OPS.len()), &device)?))?;
    let mut times = Vec::new();
    for step in 0..a.warmup + a.steps {
        let t0 = Instant::now();
        // The architecture step's graph and gradients end with its block, before the weight step
        // builds its own (as in the search loop, whose architecture step is a function call).
        let g = {
            let logits = net.forward(&xv, &DartsPath::Mixed(&softmax_rows(alpha.as_tensor())?), BnMode::Train)?;
            let grads = cross_entropy(&logits, &yv)?.backward()?;
            grads.get(alpha.as_tensor()).context("no gradient reached alpha")?.clone()
        };
        // The update of α's few hundred numbers costs nothing beside the passes: a plain step
        // stands in for the reference's Adam.
        alpha.set(&(alpha.as_tensor() - (g * 3e-4)?)?)?;
        let w = softmax_rows(alpha.as_tensor())?.detach();
        let loss = cross_entropy(&net.forward(&xt, &DartsPath::Mixed(&w), BnMode::Train)?, &yt)?;
        let mut grads = loss.backward()?;
        clip_grad_norm(&store.vars, &mut grads, 5.0)?;
        opt.step(&grads, 0.025)?;
        if step >= a.warmup {
            times.push(t0.elapsed().as_secs_f64() * 1e3);
        }
    }
    times.sort_by(|a, b| a.total_cmp(b));
    let round = |x: f64| (x * 10.0).round() / 10.0;
    let out = serde_json::json!({
        "impl": "enas-candle",
        "space": "darts",
        "device": format!("{:?}", cfg.device).to_lowercase(),
        "threads": runtime::threads(),
        "batch": a.batch, "layers": c.layers, "channels": c.channels, "nodes": c.nodes, "order": 1,
        "ms_per_step_median": round(times[times.len() / 2]),
        "ms_per_step_min": round(times[0]),
        "ms_per_step_max": round(times[times.len() - 1]),
        "weights": store.num_params(),
    });
    println!("{out}");
    Ok(())
}
