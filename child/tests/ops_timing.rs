//! Timing of the custom ops in `enas_child::ops` against the candle compositions they replace,
//! forward + backward at batch 64, 32 channels, 32x32; ignored tests, run by hand:
//! `RAYON_NUM_THREADS=2 cargo test --release -p enas-child --test ops_timing -- --ignored --nocapture`.
//! The regression benchmark at the search child's shapes is `cargo bench -p enas-child --bench kernels`.

mod common;

use candle_core::{Result, Tensor, Var};
use common::*;
use enas_child::layers::pointwise;
use enas_child::ops::{avg_pool3x3, batch_norm_train, depthwise_conv2d, max_pool3x3, relu, relu_dw_pw};
use std::time::Instant;

/// Median milliseconds of `f` over `steps` runs after two warm-up runs.
fn time_ms(steps: usize, mut f: impl FnMut()) -> f64 {
    f();
    f();
    let mut ts: Vec<f64> = (0..steps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    ts.sort_by(|a, b| a.total_cmp(b));
    ts[ts.len() / 2]
}

/// Forward + backward (`op(x).sum().backward()`) timings at batch 64, 32 channels, 32x32, fast
/// op vs candle composition. Run with
/// `RAYON_NUM_THREADS=2 cargo test --release -p enas-child --test ops_timing -- --ignored --nocapture`.
#[test]
#[ignore]
fn bench_ops() {
    let x = Var::from_tensor(&uniform(&[64, 32, 32, 32], 80)).unwrap();
    let w3 = Var::from_tensor(&uniform(&[32, 1, 3, 3], 81)).unwrap();
    let w5 = Var::from_tensor(&uniform(&[32, 1, 5, 5], 82)).unwrap();
    let g = Var::from_tensor(&uniform(&[32], 83)).unwrap();
    let b = Var::from_tensor(&uniform(&[32], 84)).unwrap();
    let (xt, w3t, w5t) = (x.as_tensor(), w3.as_tensor(), w5.as_tensor());
    let (gt, bt) = (g.as_tensor(), b.as_tensor());
    let pw = Var::from_tensor(&uniform(&[32, 32], 85)).unwrap();
    let pwt = pw.as_tensor();
    type Op<'a> = Box<dyn Fn() -> Result<Tensor> + 'a>;
    let cases: Vec<(&str, Op, Op)> = vec![
        (
            "relu_dw3_pw",
            Box::new(|| relu_dw_pw(xt, w3t, pwt)),
            Box::new(|| pointwise(&depthwise_conv2d(&relu(xt)?, w3t, 1)?, pwt)),
        ),
        (
            "relu_dw5_pw",
            Box::new(|| relu_dw_pw(xt, w5t, pwt)),
            Box::new(|| pointwise(&depthwise_conv2d(&relu(xt)?, w5t, 2)?, pwt)),
        ),
        ("depthwise3x3", Box::new(|| depthwise_conv2d(xt, w3t, 1)), Box::new(|| slow_depthwise(xt, w3t, 1))),
        ("depthwise5x5", Box::new(|| depthwise_conv2d(xt, w5t, 2)), Box::new(|| slow_depthwise(xt, w5t, 2))),
        (
            "batchnorm",
            Box::new(|| Ok(batch_norm_train(xt, gt, bt, 1e-5)?.0)),
            Box::new(|| slow_batch_norm(xt, gt, bt, 1e-5)),
        ),
        ("max_pool3x3", Box::new(|| max_pool3x3(xt)), Box::new(|| slow_max_pool(xt))),
        ("avg_pool3x3", Box::new(|| avg_pool3x3(xt)), Box::new(|| slow_avg_pool(xt))),
    ];
    let threads = candle_core::utils::get_num_threads();
    println!("threads={threads} (RAYON_NUM_THREADS={:?})", std::env::var("RAYON_NUM_THREADS").ok());
    // candle's fixed cost of `sum().backward()` around any op (grad broadcast, accumulation).
    let floor = time_ms(10, || drop(xt.affine(1.0, 0.0).unwrap().sum_all().unwrap().backward().unwrap()));
    println!("floor: affine fwd+bwd {floor:.2} ms");
    for (name, fast, slow) in &cases {
        let run = |f: &Op| f().unwrap().sum_all().unwrap().backward().unwrap();
        let fwd_fast = time_ms(10, || drop(fast().unwrap()));
        let fb_fast = time_ms(10, || drop(run(fast)));
        let fb_slow = time_ms(3, || drop(run(slow)));
        println!(
            "{name:14} custom fwd {fwd_fast:7.2} ms  fwd+bwd {fb_fast:7.2} ms | composition fwd+bwd {fb_slow:8.2} ms"
        );
    }
}

/// Profiling target: `perf record` the fused op alone.
#[test]
#[ignore]
fn profile_fused_block() {
    let x = Var::from_tensor(&uniform(&[64, 32, 32, 32], 80)).unwrap();
    let w = Var::from_tensor(&uniform(&[32, 1, 3, 3], 81)).unwrap();
    let pw = Var::from_tensor(&uniform(&[32, 32], 85)).unwrap();
    let what = std::env::var("WHAT").unwrap_or_default();
    let t = Instant::now();
    for _ in 0..30 {
        let y = relu_dw_pw(x.as_tensor(), w.as_tensor(), pw.as_tensor()).unwrap();
        if what == "bwd" {
            drop(y.sum_all().unwrap().backward().unwrap());
        }
    }
    println!("{what}: {:.2} ms per call", t.elapsed().as_secs_f64() * 1e3 / 30.0);
}
