//! Tests of the custom ops in `enas_child::ops`: finite-difference gradient checks, and
//! comparisons with candle compositions (forward and autograd backward). Their timing against the
//! same compositions is `ops_timing.rs`.

mod common;

use candle_core::{DType, Result, Tensor, Var};
use common::*;
use enas_child::layers::pointwise;
use enas_child::ops::{
    avg_pool3x3, batch_norm_eval, batch_norm_train, depthwise_conv2d, max_pool3x3, relu, relu_dw_pw, relu_pw,
};
use rand::seq::SliceRandom;

/// Distinct values spaced 0.05 apart, shuffled: no ties, and no max changes under +-0.01.
fn distinct(shape: &[usize], seed: u64) -> Tensor {
    let n = shape.iter().product::<usize>();
    let mut v: Vec<f32> = (0..n).map(|i| i as f32 * 0.05 - n as f32 * 0.025).collect();
    v.shuffle(&mut rng(seed));
    Tensor::from_vec(v, shape, &DEV).unwrap()
}

fn to_vec(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

fn assert_close(a: &Tensor, b: &Tensor, tol: f32, what: &str) {
    assert_eq!(a.dims(), b.dims(), "{what}: shapes differ");
    let (a, b) = (to_vec(a), to_vec(b));
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        let err = (x - y).abs();
        assert!(err <= tol * (1.0 + y.abs()), "{what}[{i}]: {x} vs {y} (|diff| {err})");
    }
}

/// `L = sum(f(inputs) * r)` in f64.
fn weighted_loss(out: &Tensor, r: &Tensor) -> f64 {
    to_vec(out).iter().zip(to_vec(r)).map(|(&a, b)| a as f64 * b as f64).sum()
}

/// Checks the autograd gradients of `L = sum(f(inputs) * r)` against central differences
/// (step `h`) for every element of every input.
fn grad_check(f: &dyn Fn(&[Tensor]) -> Result<Tensor>, inputs: &[Tensor], h: f32, tol: f64) {
    let vars: Vec<Var> = inputs.iter().map(|t| Var::from_tensor(t).unwrap()).collect();
    let ts: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
    let out = f(&ts).unwrap();
    let r = uniform(out.dims(), 99);
    let grads = (&out * &r).unwrap().sum_all().unwrap().backward().unwrap();
    for (k, v) in vars.iter().enumerate() {
        let g = to_vec(grads.get(v).expect("missing gradient"));
        let base = to_vec(&inputs[k]);
        for i in 0..base.len() {
            let loss_at = |delta: f32| {
                let mut p = base.clone();
                p[i] += delta;
                let mut args = inputs.to_vec();
                args[k] = Tensor::from_vec(p, inputs[k].dims(), &DEV).unwrap();
                weighted_loss(&f(&args).unwrap(), &r)
            };
            let num = (loss_at(h) - loss_at(-h)) / (2.0 * h as f64);
            let err = (num - g[i] as f64).abs();
            assert!(err <= tol * (1.0 + num.abs()), "input {k} elem {i}: autograd {} vs numeric {num}", g[i]);
        }
    }
}

/// Forward outputs and input gradients of `L = sum(f(inputs) * r)`.
fn fwd_bwd(f: &dyn Fn(&[Tensor]) -> Result<Tensor>, inputs: &[Tensor]) -> (Tensor, Vec<Tensor>) {
    let vars: Vec<Var> = inputs.iter().map(|t| Var::from_tensor(t).unwrap()).collect();
    let ts: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
    let out = f(&ts).unwrap();
    let r = uniform(out.dims(), 7);
    let grads = (&out * &r).unwrap().sum_all().unwrap().backward().unwrap();
    let gs = vars.iter().map(|v| grads.get(v).unwrap().clone()).collect();
    (out, gs)
}

/// Asserts that two implementations agree in forward output and in all input gradients.
fn compare(
    fast: &dyn Fn(&[Tensor]) -> Result<Tensor>,
    slow: &dyn Fn(&[Tensor]) -> Result<Tensor>,
    inputs: &[Tensor],
    tol: f32,
) {
    // Kernel outputs start as NaN here: an element read before it is written shows.
    enas_child::ops::poison_outputs(true);
    let (of, gf) = fwd_bwd(fast, inputs);
    let (os, gs) = fwd_bwd(slow, inputs);
    assert_close(&of, &os, tol, "forward");
    for (k, (a, b)) in gf.iter().zip(&gs).enumerate() {
        assert_close(a, b, tol, &format!("grad of input {k}"));
    }
}

#[test]
fn max_pool_grad_check() {
    let f = |a: &[Tensor]| max_pool3x3(&a[0]);
    grad_check(&f, &[distinct(&[2, 3, 5, 7], 1)], 1e-2, 1e-3);
    grad_check(&f, &[distinct(&[1, 2, 1, 4], 2)], 1e-2, 1e-3);
}

#[test]
fn avg_pool_grad_check() {
    let f = |a: &[Tensor]| avg_pool3x3(&a[0]);
    grad_check(&f, &[uniform(&[2, 3, 5, 7], 3)], 1e-2, 2e-3);
    grad_check(&f, &[uniform(&[1, 2, 2, 1], 4)], 1e-2, 2e-3);
}

#[test]
fn fused_relu_dw_pw_matches_the_composition_and_grad_checks() {
    let slow = |a: &[Tensor]| {
        let k = a[1].dims4()?.2;
        pointwise(&depthwise_conv2d(&relu(&a[0])?, &a[1], k / 2)?, &a[2])
    };
    let fast = |a: &[Tensor]| relu_dw_pw(&a[0], &a[1], &a[2]);
    // Odd sizes (kernel tails), a multiple of the 16-lane tile, more outputs than inputs.
    for (n, c, co, h, w, k, seed) in [
        (2, 3, 3, 5, 7, 3, 1),
        (3, 5, 4, 8, 8, 5, 2),
        (2, 20, 20, 16, 16, 3, 3),
        (1, 6, 9, 4, 4, 1, 4),
        (5, 4, 4, 7, 3, 5, 5),
    ] {
        let inputs = [uniform(&[n, c, h, w], seed), uniform(&[c, 1, k, k], seed + 10), uniform(&[co, c], seed + 20)];
        compare(&fast, &slow, &inputs, 1e-4);
    }
    // Inputs at least 0.05 from ReLU's kink, so central differences of step 0.01 see no kink.
    let x: Vec<f32> =
        to_vec(&uniform(&[2, 3, 5, 6], 30)).iter().map(|&v| if v.abs() < 0.05 { v + 0.1 } else { v }).collect();
    let x = Tensor::from_vec(x, (2, 3, 5, 6), &DEV).unwrap();
    let inputs = [x, uniform(&[3, 1, 3, 3], 31), uniform(&[2, 3], 32)];
    grad_check(&fast, &inputs, 1e-2, 2e-3);
    let err = relu_dw_pw(&uniform(&[1, 2, 4, 4], 1), &uniform(&[2, 1, 2, 2], 2), &uniform(&[2, 2], 3)).unwrap_err();
    assert!(err.to_string().contains("must be odd"), "{err}");
    let err = relu_dw_pw(&uniform(&[1, 2, 4, 4], 1), &uniform(&[2, 1, 3, 3], 2), &uniform(&[2, 3], 3)).unwrap_err();
    assert!(err.to_string().contains("pointwise weight"), "{err}");
}

#[test]
fn fused_relu_pw_matches_the_composition_and_grad_checks() {
    let slow = |a: &[Tensor]| pointwise(&relu(&a[0])?, &a[1]);
    let fast = |a: &[Tensor]| relu_pw(&a[0], &a[1]);
    for (n, c, co, h, w, seed) in [(2, 3, 5, 5, 7, 1), (3, 20, 20, 8, 8, 2), (1, 7, 3, 1, 3, 3), (4, 40, 16, 4, 4, 4)] {
        compare(&fast, &slow, &[uniform(&[n, c, h, w], seed), uniform(&[co, c], seed + 20)], 1e-4);
    }
    let x: Vec<f32> =
        to_vec(&uniform(&[2, 3, 4, 5], 40)).iter().map(|&v| if v.abs() < 0.05 { v + 0.1 } else { v }).collect();
    let x = Tensor::from_vec(x, (2, 3, 4, 5), &DEV).unwrap();
    grad_check(&fast, &[x, uniform(&[4, 3], 41)], 1e-2, 2e-3);
    let err = relu_pw(&uniform(&[1, 2, 4, 4], 1), &uniform(&[2, 3], 3)).unwrap_err();
    assert!(err.to_string().contains("pointwise weight"), "{err}");
}

#[test]
fn depthwise_grad_check() {
    for (k, p, seed) in [(3, 1, 5), (5, 2, 6), (3, 0, 7), (3, 2, 8), (1, 0, 9)] {
        let f = move |a: &[Tensor]| depthwise_conv2d(&a[0], &a[1], p);
        let inputs = [uniform(&[2, 3, 5, 7], seed), uniform(&[3, 1, k, k], seed + 100)];
        grad_check(&f, &inputs, 1e-2, 2e-3);
    }
}

#[test]
fn batch_norm_grad_check() {
    let f = |a: &[Tensor]| Ok(batch_norm_train(&a[0], &a[1], &a[2], 1e-5)?.0);
    let gamma = uniform(&[3], 11).affine(0.5, 1.0).unwrap();
    let inputs = [uniform(&[2, 3, 5, 7], 10), gamma, uniform(&[3], 12)];
    grad_check(&f, &inputs, 1e-2, 5e-3);
}

#[test]
fn relu_matches_candle_and_grad_checks() {
    let f = |a: &[Tensor]| relu(&a[0]);
    let s = |a: &[Tensor]| a[0].relu();
    // `distinct` values are 0.05 apart and include 0; shifted by 0.025, every value stays at
    // least 0.025 from 0, where the gradient jumps.
    let away_from_0 = |seed| distinct(&[2, 3, 5, 7], seed).affine(1.0, 0.025).unwrap();
    grad_check(&f, &[away_from_0(13)], 1e-2, 1e-3);
    compare(&f, &s, &[away_from_0(14)], 0.0);
    // 65,472 elements: three 16,384-element chunks split over threads, and a 576-element tail.
    compare(&f, &s, &[uniform(&[4, 16, 33, 31], 15)], 0.0);
    // At exactly 0 the gradient is 0, as in PyTorch (candle's relu passes it through).
    let x = Var::from_tensor(&Tensor::new(&[-1f32, 0.0, 2.0], &DEV).unwrap()).unwrap();
    let g = relu(x.as_tensor()).unwrap().sum_all().unwrap().backward().unwrap();
    assert_eq!(to_vec(g.get(&x).unwrap()), vec![0.0, 0.0, 1.0]);
}

#[test]
fn max_pool_matches_composition() {
    let f = |a: &[Tensor]| max_pool3x3(&a[0]);
    let s = |a: &[Tensor]| slow_max_pool(&a[0]);
    compare(&f, &s, &[distinct(&[2, 3, 5, 7], 20)], 1e-6);
    compare(&f, &s, &[uniform(&[4, 8, 16, 16], 21)], 1e-6); // large enough to run threaded
}

#[test]
fn max_pool_ties_go_to_first_max() {
    // A constant plane: every window ties, so each gradient goes to the window's first
    // in-bounds element, (max(i-1, 0), max(j-1, 0)), as in PyTorch.
    let (h, w) = (4, 5);
    let x = Var::from_tensor(&Tensor::ones((1, 1, h, w), DType::F32, &DEV).unwrap()).unwrap();
    let y = max_pool3x3(x.as_tensor()).unwrap();
    assert_close(&y, &Tensor::ones((1, 1, h, w), DType::F32, &DEV).unwrap(), 0.0, "forward");
    let g = to_vec(y.sum_all().unwrap().backward().unwrap().get(&x).unwrap());
    let mut expect = vec![0f32; h * w];
    for i in 0..h {
        for j in 0..w {
            expect[i.saturating_sub(1) * w + j.saturating_sub(1)] += 1.0;
        }
    }
    assert_eq!(g, expect);
}

#[test]
fn avg_pool_matches_composition() {
    let f = |a: &[Tensor]| avg_pool3x3(&a[0]);
    let s = |a: &[Tensor]| slow_avg_pool(&a[0]);
    compare(&f, &s, &[uniform(&[2, 3, 5, 7], 22)], 1e-5);
    compare(&f, &s, &[uniform(&[2, 3, 1, 1], 23)], 1e-5);
    compare(&f, &s, &[uniform(&[4, 8, 16, 16], 24)], 1e-5);
}

#[test]
fn depthwise_matches_candle_conv2d() {
    for (k, p, shape) in [
        (3, 1, [2, 3, 5, 7]),
        (5, 2, [2, 3, 5, 7]),
        (5, 2, [2, 3, 9, 6]),
        (3, 0, [2, 3, 6, 4]),
        (3, 1, [4, 8, 16, 16]),
        (5, 2, [3, 8, 17, 19]),
    ] {
        let f = move |a: &[Tensor]| depthwise_conv2d(&a[0], &a[1], p);
        let s = move |a: &[Tensor]| slow_depthwise(&a[0], &a[1], p);
        let inputs = [uniform(&shape, 30 + k as u64), uniform(&[shape[1], 1, k, k], 40)];
        compare(&f, &s, &inputs, 1e-4);
    }
}

#[test]
fn batch_norm_matches_composition() {
    for (shape, seed) in [([2, 3, 5, 7], 50), ([4, 8, 16, 16], 51)] {
        let c = shape[1];
        let f = |a: &[Tensor]| Ok(batch_norm_train(&a[0], &a[1], &a[2], 1e-5)?.0);
        let s = |a: &[Tensor]| slow_batch_norm(&a[0], &a[1], &a[2], 1e-5);
        // Shifted, scaled input: the statistics must not lose precision to the offset.
        let x = uniform(&shape, seed).affine(3.0, 5.0).unwrap();
        let inputs = [x.clone(), uniform(&[c], seed + 1), uniform(&[c], seed + 2)];
        compare(&f, &s, &inputs, 2e-4);

        let (_, mean, var) = batch_norm_train(&inputs[0], &inputs[1], &inputs[2], 1e-5).unwrap();
        let m = x.mean_keepdim(0).unwrap().mean_keepdim(2).unwrap().mean_keepdim(3).unwrap();
        let v = x.broadcast_sub(&m).unwrap().sqr().unwrap();
        let v = v.mean_keepdim(0).unwrap().mean_keepdim(2).unwrap().mean_keepdim(3).unwrap();
        assert_close(&mean, &m.flatten_all().unwrap(), 1e-5, "mean");
        assert_close(&var, &v.flatten_all().unwrap(), 1e-4, "var");
        assert!(!mean.track_op() && !var.track_op());
    }
}

#[test]
fn batch_norm_eval_matches_formula() {
    let x = uniform(&[2, 3, 5, 7], 60);
    let (g, b) = (uniform(&[3], 61), uniform(&[3], 62));
    let rm = uniform(&[3], 63);
    let rv = (uniform(&[3], 64).abs().unwrap() + 0.5).unwrap();
    let y = batch_norm_eval(&x, &g, &b, &rm, &rv, 1e-5).unwrap();
    let sh = (1, 3, 1, 1);
    let expect = x
        .broadcast_sub(&rm.reshape(sh).unwrap())
        .unwrap()
        .broadcast_div(&(rv.reshape(sh).unwrap() + 1e-5).unwrap().sqrt().unwrap())
        .unwrap()
        .broadcast_mul(&g.reshape(sh).unwrap())
        .unwrap()
        .broadcast_add(&b.reshape(sh).unwrap())
        .unwrap();
    assert_close(&y, &expect, 1e-5, "eval");
}

#[test]
fn strided_and_offset_inputs() {
    // A view with a start offset (narrow on the batch) and a transposed (non-contiguous) view.
    let big = uniform(&[4, 3, 5, 7], 70);
    let offset = big.narrow(0, 1, 2).unwrap();
    let transposed = uniform(&[2, 3, 7, 5], 71).transpose(2, 3).unwrap();
    let w = uniform(&[3, 1, 3, 3], 72);
    for x in [offset, transposed] {
        let dense = Tensor::from_vec(to_vec(&x), x.dims(), &DEV).unwrap();
        assert_close(&max_pool3x3(&x).unwrap(), &max_pool3x3(&dense).unwrap(), 0.0, "max");
        assert_close(&avg_pool3x3(&x).unwrap(), &avg_pool3x3(&dense).unwrap(), 0.0, "avg");
        let a = depthwise_conv2d(&x, &w, 1).unwrap();
        assert_close(&a, &depthwise_conv2d(&dense, &w, 1).unwrap(), 0.0, "depthwise");
        let (g, b) = (uniform(&[3], 73), uniform(&[3], 74));
        let y = batch_norm_train(&x, &g, &b, 1e-5).unwrap().0;
        assert_close(&y, &batch_norm_train(&dense, &g, &b, 1e-5).unwrap().0, 0.0, "bn");
    }
}
