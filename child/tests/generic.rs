//! The device-generic op path (`ops::generic`, what every device but the CPU runs) against the
//! CPU kernels, both on the CPU: each op's values and gradients, and whole supernet training steps
//! (forward, loss, every gradient, the SGD update, BatchNorm's running statistics) of the ENAS
//! micro supernet, the NAS-Bench-201 supernet (single path and mixture) and the DARTS mixed
//! supernet, for fixed architectures and seeds. The CPU kernels are themselves checked against
//! PyTorch (`tests/ops.rs`, `scripts/*-vs-pytorch`), so this ties the generic path to PyTorch too.
use candle_core::{backprop::GradStore, Device, Result, Tensor, Var};
use enas_child::darts::{DartsPath, DartsShape, DartsSupernet};
use enas_child::ops::{self, generic};
use enas_child::{
    cross_entropy, BnMode, InitRoot, MicroNet, MicroShape, Nb201Shape, Nb201Supernet, ParamStore, SgdNesterov, Weights,
};
use enas_shared::space::darts::Darts;
use enas_shared::{EnasMicro, OpKind};

fn randn(shape: &[usize], seed: u64) -> Tensor {
    let n: usize = shape.iter().product();
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let v: Vec<f32> = (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect();
    Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
}

/// `max |a - b| / max |a|` (0 for two zero tensors).
fn rel(a: &Tensor, b: &Tensor) -> f32 {
    let m = |t: &Tensor| t.abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap();
    let d = m(&(a - b).unwrap());
    if d == 0.0 {
        0.0
    } else {
        d / m(a).max(1e-12)
    }
}

const TOL: f32 = 1e-4;

/// An op's output and the gradients of `sum(out * r)` with respect to its inputs, on one path.
fn op_run(f: &dyn Fn(&[Tensor]) -> Result<Tensor>, inputs: &[Tensor], generic_path: bool) -> (Tensor, Vec<Tensor>) {
    let _forced = generic_path.then(generic::force);
    let vars: Vec<Var> = inputs.iter().map(|t| Var::from_tensor(t).unwrap()).collect();
    let ts: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
    let y = f(&ts).unwrap();
    let r = randn(y.dims(), 99);
    let grads = (&y * &r).unwrap().sum_all().unwrap().backward().unwrap();
    let g = vars.iter().map(|v| grads.get(v).expect("a gradient").clone()).collect();
    (y, g)
}

fn same_op(name: &str, f: &dyn Fn(&[Tensor]) -> Result<Tensor>, inputs: &[Tensor]) {
    let (y0, g0) = op_run(f, inputs, false);
    let (y1, g1) = op_run(f, inputs, true);
    assert!(rel(&y0, &y1) < TOL, "{name}: values differ by {}", rel(&y0, &y1));
    for (k, (a, b)) in g0.iter().zip(&g1).enumerate() {
        assert!(rel(a, b) < TOL, "{name}: gradient of input {k} differs by {}", rel(a, b));
    }
}

#[test]
fn every_op_equals_its_cpu_kernel_in_values_and_gradients() {
    let x = randn(&[2, 5, 7, 6], 1);
    same_op("relu", &|t| ops::relu(&t[0]), std::slice::from_ref(&x));
    same_op("max_pool3x3", &|t| ops::max_pool3x3(&t[0]), std::slice::from_ref(&x));
    // After a ReLU, windows tie at 0: the first maximum must take the gradient on both paths.
    let tied = x.relu().unwrap();
    same_op("max_pool3x3 with ties", &|t| ops::max_pool3x3(&t[0]), &[tied]);
    same_op("avg_pool3x3", &|t| ops::avg_pool3x3(&t[0]), std::slice::from_ref(&x));
    for k in [3, 5] {
        let w = randn(&[5, 1, k, k], 2);
        same_op("depthwise_conv2d", &|t| ops::depthwise_conv2d(&t[0], &t[1], k / 2), &[x.clone(), w.clone()]);
        let pw = randn(&[4, 5], 3);
        same_op("relu_dw_pw", &|t| ops::relu_dw_pw(&t[0], &t[1], &t[2]), &[x.clone(), w, pw]);
    }
    same_op("relu_pw", &|t| ops::relu_pw(&t[0], &t[1]), &[x.clone(), randn(&[4, 5], 4)]);
    let (gamma, beta) = (randn(&[5], 5), randn(&[5], 6));
    same_op(
        "batch_norm_train",
        &|t| Ok(ops::batch_norm_train(&t[0], &t[1], &t[2], 1e-5)?.0),
        &[x.clone(), gamma.clone(), beta.clone()],
    );
    let stats = |g: bool| {
        let _f = g.then(generic::force);
        let (_, m, v) = ops::batch_norm_train(&x, &gamma, &beta, 1e-5).unwrap();
        (m, v)
    };
    let ((m0, v0), (m1, v1)) = (stats(false), stats(true));
    assert!(rel(&m0, &m1) < TOL && rel(&v0, &v1) < TOL, "batch statistics differ");
    // The forced path is the generic one (a custom op would not be autograd's tensor ops): its
    // graph differentiates without the kernels, checked above; and the guard restores the CPU path.
    {
        let _f = generic::force();
        assert!(generic::active(&Device::Cpu));
    }
    assert!(!generic::active(&Device::Cpu) || std::env::var("ENAS_GENERIC_OPS").is_ok());
}

/// One SGD step of `loss` over `store`'s weights (and `extra` variables, e.g. α): the loss, every
/// gradient, the weights after the step and the running statistics after the forward pass.
struct Step {
    loss: f32,
    grads: Vec<Tensor>,
    after: Vec<Tensor>,
    buffers: Vec<Tensor>,
}

fn step(store: &ParamStore, extra: &[Var], loss: impl Fn() -> Result<Tensor>, generic_path: bool) -> Step {
    let _forced = generic_path.then(generic::force);
    let l = loss().unwrap();
    let grads: GradStore = l.backward().unwrap();
    let all: Vec<&Var> = store.vars.iter().chain(extra).collect();
    let g =
        all.iter().map(|v| grads.get(v).map_or_else(|| v.as_tensor().zeros_like().unwrap(), |g| g.clone())).collect();
    SgdNesterov::new(store.vars.clone(), 0.9, 3e-4).step(&grads, 0.05).unwrap();
    Step {
        loss: l.to_scalar::<f32>().unwrap(),
        grads: g,
        after: store.vars.iter().map(|v| v.as_tensor().copy().unwrap()).collect(),
        buffers: store.buffers.iter().map(|v| v.as_tensor().copy().unwrap()).collect(),
    }
}

/// `a` and `b` agree within `TOL` relative to the larger of `a`'s own size and a thousandth of
/// the largest tensor of its group: a tensor that is mathematically zero (a bias under a later
/// training-mode BatchNorm gets gradient exactly 0 in exact arithmetic) holds only rounding
/// noise, compared against the group's scale.
fn close(group: &[Tensor], k: usize, other: &Tensor) -> std::result::Result<(), String> {
    let m = |t: &Tensor| t.abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap();
    let scale = group.iter().map(m).fold(0f32, f32::max);
    let (a, d) = (&group[k], m(&(&group[k] - other).unwrap()));
    let bound = TOL * m(a).max(1e-3 * scale);
    if d <= bound {
        Ok(())
    } else {
        Err(format!("differs by {d:e} (its size {:e}, the group's {scale:e})", m(a)))
    }
}

fn same_step(what: &str, a: &Step, b: &Step, names: &[String]) {
    assert!((a.loss - b.loss).abs() <= TOL * a.loss.abs(), "{what}: loss {} vs {}", a.loss, b.loss);
    let mut nonzero = 0;
    for (k, y) in b.grads.iter().enumerate() {
        let name = names.get(k).map_or("α", |s| s.as_str());
        if let Err(e) = close(&a.grads, k, y) {
            panic!("{what}: gradient of {name} {e}");
        }
        nonzero += usize::from(a.grads[k].abs().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap() > 0.0);
    }
    assert!(nonzero > 3, "{what}: only {nonzero} non-zero gradients; the comparison would be empty");
    for (k, y) in b.after.iter().enumerate() {
        if let Err(e) = close(&a.after, k, y) {
            panic!("{what}: {} after the step {e}", names[k]);
        }
    }
    for (k, y) in b.buffers.iter().enumerate() {
        if let Err(e) = close(&a.buffers, k, y) {
            panic!("{what}: buffer {k} {e}");
        }
    }
}

fn labels(n: usize) -> Tensor {
    Tensor::from_vec((0..n as u32).map(|i| i % 10).collect::<Vec<_>>(), n, &Device::Cpu).unwrap()
}

#[test]
fn the_enas_micro_supernet_step_is_the_same_on_the_generic_path() {
    // 5 nodes; the arc uses every op (sep 3x3 and 5x5, avg and max pooling, identity).
    let arc = "1 1 1 0 0 4 0 2 0 4 1 0 0 3 3 0 1 0 4 3 0 4 0 1 2 4 0 4 3 0 1 0 4 1 2 3 1 4 0 4";
    let arch = EnasMicro::new(5).parse(arc).unwrap();
    let shape = MicroShape { in_channels: 3, classes: 10, layers: 1, channels: 6, nodes: 5 };
    let (x, y) = (randn(&[4, 3, 12, 12], 7), labels(4));
    let run = |g: bool| {
        let root = InitRoot::new(11, &Device::Cpu);
        let net = MicroNet::new(shape, &Weights::Shared, root.init()).unwrap();
        let store = root.finish();
        let s = step(&store, &[], || cross_entropy(&net.forward(&x, &arch, BnMode::Train)?, &y), g);
        (s, store.names)
    };
    let ((a, names), (b, _)) = (run(false), run(true));
    same_step("ENAS micro", &a, &b, &names);
}

#[test]
fn the_nb201_supernet_steps_are_the_same_on_the_generic_path() {
    let shape = Nb201Shape { in_channels: 3, channels: 4, cells: 1, classes: 10 };
    let cell = [
        OpKind::NorConv3x3,
        OpKind::NorConv1x1,
        OpKind::AvgPool3x3,
        OpKind::Identity,
        OpKind::Zero,
        OpKind::NorConv3x3,
    ];
    let (x, y) = (randn(&[4, 3, 8, 8], 8), labels(4));
    let run = |g: bool, mixed: bool| {
        let root = InitRoot::new(12, &Device::Cpu);
        let net = Nb201Supernet::new(shape, root.init()).unwrap();
        let store = root.finish();
        let alpha = Var::from_tensor(&randn(&[6, 5], 9)).unwrap();
        let loss = || {
            let logits = if mixed {
                net.forward_mixed(&x, &candle_nn::ops::softmax_last_dim(alpha.as_tensor())?)?
            } else {
                net.forward(&x, &cell)?
            };
            cross_entropy(&logits, &y)
        };
        let extra = if mixed { vec![alpha.clone()] } else { vec![] };
        (step(&store, &extra, loss, g), store.names)
    };
    for mixed in [false, true] {
        let ((a, names), (b, _)) = (run(false, mixed), run(true, mixed));
        same_step(if mixed { "NB201 mixture" } else { "NB201 single path" }, &a, &b, &names);
    }
}

#[test]
fn the_darts_mixed_step_is_the_same_on_the_generic_path() {
    let shape = DartsShape { in_channels: 3, channels: 4, layers: 3, nodes: 4, classes: 10 };
    let edges = Darts::new(4).edges();
    let (x, y) = (randn(&[4, 3, 8, 8], 10), labels(4));
    let run = |g: bool| {
        let root = InitRoot::new(13, &Device::Cpu);
        let net = DartsSupernet::new(shape, root.init()).unwrap();
        let store = root.finish();
        let alpha = Var::from_tensor(&(randn(&[2 * edges, 8], 14) * 0.5).unwrap()).unwrap();
        let loss = || {
            let w = candle_nn::ops::softmax_last_dim(alpha.as_tensor())?;
            cross_entropy(&net.forward(&x, &DartsPath::Mixed(&w), BnMode::Train)?, &y)
        };
        (step(&store, &[alpha.clone()], loss, g), store.names)
    };
    let ((a, names), (b, _)) = (run(false), run(true));
    same_step("DARTS mixture", &a, &b, &names);
}
