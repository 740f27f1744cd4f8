//! `enas bench-step`: time of one supernet training step (forward, backward, grad-norm clip 5,
//! SGD-nesterov update), the peer of `../shared/bench/torch_enas_micro.py` run the same way. It
//! prints one JSON line with the reference's keys (`ms_per_step_median/min/max`,
//! `active_params`, `supernet_params`, `threads`) plus the forward's FLOPs of the sampled paths.
use crate::cli::{parse_arc, BenchStepArgs};
use crate::memory::{micro_activations, micro_params, Part};
use crate::runtime;
use anyhow::Result;
use enas_child::{
    clip_grad_norm, cross_entropy, path_cost, BnMode, InitRoot, MicroNet, MicroShape, SgdNesterov, Weights,
};
use enas_shared::EnasMicro;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

pub fn run(a: &BenchStepArgs) -> Result<()> {
    let cfg = a.cfg.load(&[])?;
    anyhow::ensure!(a.steps > 0, "--steps must be at least 1");
    anyhow::ensure!(
        a.classes > 0 && a.batch > 0 && a.in_channels > 0 && a.image > 0,
        "--classes, --batch, --in-channels and --image must be at least 1"
    );
    let c = &cfg.child;
    let input = (a.batch * a.in_channels) as f64 * (a.image as f64).powi(2) * 4.0;
    let parts = [
        Part {
            what: "supernet weights, gradients and momentum",
            bytes: 12.0 * micro_params(c.layers, c.channels, c.nodes, true),
        },
        Part {
            what: "activations of one step",
            bytes: micro_activations(c.layers, c.channels, c.nodes, a.batch, a.image),
        },
        Part { what: "the input batch", bytes: input },
    ];
    crate::memory::check("this bench-step", &parts, "--batch, --image, child.channels or child.layers")?;
    runtime::init_threads(cfg.threads);
    let device = runtime::device(&cfg)?;
    let space = EnasMicro::new(cfg.child.nodes);
    let fixed = a.arc.as_deref().map(|t| parse_arc(&cfg, t, "--arc")).transpose()?;
    let shape = MicroShape::of_child(&cfg.child, a.in_channels, a.classes);
    let root = InitRoot::new(cfg.seed, &device);
    let net = MicroNet::new(shape, &Weights::Shared, root.init())?;
    let store = root.finish();
    let mut opt = SgdNesterov::new(store.vars.clone(), 0.9, 1e-4);
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let n = a.batch * a.in_channels * a.image * a.image;
    // `--curve`: a batch any implementation can rebuild exactly (scripts/loss-curves-vs-pytorch.py).
    let x: Vec<f32> = if a.curve {
        (0..n).map(|i| (0.37 * i as f64 + 0.1).sin() as f32).collect()
    } else {
        (0..n).map(|_| rng.random_range(-1.0..1.0)).collect()
    };
    let x = candle_core::Tensor::from_vec(x, (a.batch, a.in_channels, a.image, a.image), &device)?;
    let y: Vec<u32> = if a.curve {
        (0..a.batch).map(|i| (i % a.classes) as u32).collect()
    } else {
        (0..a.batch).map(|_| rng.random_range(0..a.classes as u32)).collect()
    };
    let y = candle_core::Tensor::from_vec(y, a.batch, &device)?;
    let mut times = Vec::new();
    let mut macs = Vec::new();
    let mut losses = Vec::new();
    let mut last_loss = 0f32;
    let mut parts = [0f64; 3];
    for step in 0..a.warmup + a.steps {
        let arch = match &fixed {
            Some(arch) => arch.clone(),
            None => {
                let values: Vec<usize> = space.decisions().iter().map(|d| rng.random_range(0..d.choices)).collect();
                space.from_values(&values)?
            }
        };
        let t0 = Instant::now();
        let loss = cross_entropy(&net.forward(&x, &arch, BnMode::Train)?, &y)?;
        let t1 = Instant::now();
        let mut grads = loss.backward()?;
        let t2 = Instant::now();
        clip_grad_norm(&store.vars, &mut grads, 5.0)?;
        opt.step(&grads, 0.05)?;
        last_loss = loss.to_scalar::<f32>()?;
        losses.push(last_loss);
        let t3 = Instant::now();
        if step >= a.warmup {
            times.push(t0.elapsed().as_secs_f64() * 1e3);
            macs.push(path_cost(&net, &arch, a.image, a.image).1 as f64);
            parts[0] += (t1 - t0).as_secs_f64() * 1e3 / a.steps as f64;
            parts[1] += (t2 - t1).as_secs_f64() * 1e3 / a.steps as f64;
            parts[2] += (t3 - t2).as_secs_f64() * 1e3 / a.steps as f64;
        }
    }
    times.sort_by(|a, b| a.total_cmp(b));
    let median = times[times.len() / 2];
    // Multiply-adds of the sampled path per image (mean over the timed steps' arcs); a training
    // step does about 3x the forward's work (forward, and the backward's two products per layer).
    let fwd_gflop = 2.0 * macs.iter().sum::<f64>() / macs.len() as f64 * a.batch as f64 / 1e9;
    let out = serde_json::json!({
        "impl": "enas-candle",
        "device": format!("{:?}", cfg.device).to_lowercase(),
        "threads": runtime::threads(),
        "batch": a.batch, "layers": shape.layers, "channels": shape.channels, "nodes": shape.nodes,
        "ms_per_step_median": (median * 1000.0).round() / 1000.0,
        "ms_per_step_min": (times[0] * 1000.0).round() / 1000.0,
        "ms_per_step_max": (times[times.len() - 1] * 1000.0).round() / 1000.0,
        "active_params": fixed.as_ref().map(|arch| path_cost(&net, arch, a.image, a.image).0),
        "supernet_params": store.num_params(),
        "final_loss": last_loss,
        "forward_gflop": (fwd_gflop * 1000.0).round() / 1000.0,
        "step_gflop": (3.0 * fwd_gflop * 1000.0).round() / 1000.0,
        "mean_ms_forward_backward_update": parts.map(|p| (p * 10.0).round() / 10.0),
    });
    let out = if a.curve {
        let mut out = out;
        out["losses"] = serde_json::json!(losses);
        out
    } else {
        out
    };
    println!("{out}");
    Ok(())
}
