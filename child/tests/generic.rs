//! The device-generic op path (`ops::generic`, what every device but the CPU runs) against the
//! CPU kernels, both on the CPU: each op's values and gradients, and whole supernet training steps
//! (forward, loss, every gradient, the SGD update, BatchNorm's running statistics) of the ENAS
//! micro supernet, the NAS-Bench-201 supernet (single path and mixture) and the DARTS mixed
//! supernet, for fixed architectures and seeds. The CPU kernels are themselves checked against
//! PyTorch (`tests/ops.rs`, `scripts/*-vs-pytorch`), so this ties the generic path to PyTorch too.
use candle_core::{Device, Result, Tensor, Var};
use enas_child::device_check;
use enas_child::ops::{self, generic};

fn randn(shape: &[usize], seed: u64) -> Tensor {
    device_check::lcg(shape, seed, &Device::Cpu).unwrap()
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
    // A mixed node's term: acc + w * BN(x) without affine parameters, and its first term w * BN(x).
    let w = randn(&[1], 7);
    same_op(
        "bn_axpy",
        &|t| Ok(ops::bn_axpy(Some(&t[0]), &t[1], &t[2], 1e-5)?.0),
        &[randn(&[2, 5, 7, 6], 8), x.clone(), w.clone()],
    );
    same_op("bn_axpy without a sum", &|t| Ok(ops::bn_axpy(None, &t[0], &t[1], 1e-5)?.0), &[x.clone(), w]);
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

/// The four supernet steps of `device_check` (ENAS micro; NB201 single path and mixture; DARTS
/// mixture), CPU kernels against the generic ops forced on the CPU: loss, every gradient (α's
/// too), the weights after an SGD step and the running statistics.
#[test]
fn every_supernet_step_is_the_same_on_the_generic_path() {
    let results = device_check::compare_all(&Device::Cpu).unwrap();
    assert_eq!(results.len(), 4);
    for c in &results {
        assert!(c.tensors > 20, "{}: only {} tensors compared", c.what, c.tensors);
        assert!(c.ok(TOL), "{}: loss {:?}, worst {} at {}", c.what, c.loss, c.worst, c.worst_name);
    }
}
