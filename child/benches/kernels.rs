//! The child's hot kernels at the ENAS search child's shapes (batch 64, 20 channels at 32x32,
//! 40 at 16x16, 80 at 8x8), forward and forward+backward, so that a regression shows:
//! `cargo bench -p enas-child --bench kernels` (criterion keeps the last run as the baseline and
//! reports the change). Threads follow `RAYON_NUM_THREADS`.
use candle_core::{Device, Tensor, Var};
use criterion::{criterion_group, criterion_main, Criterion};
use enas_child::ops::{avg_pool3x3, batch_norm_train, max_pool3x3, relu_dw_pw, relu_pw};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn uniform(shape: &[usize], seed: u64) -> Var {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    let v: Vec<f32> = (0..shape.iter().product::<usize>()).map(|_| r.random_range(-1.0f32..1.0)).collect();
    Var::from_tensor(&Tensor::from_vec(v, shape, &Device::Cpu).unwrap()).unwrap()
}

fn kernels(c: &mut Criterion) {
    let mut g = c.benchmark_group("kernels");
    g.sample_size(20);
    for (ch, hw) in [(20usize, 32usize), (40, 16), (80, 8)] {
        let x = uniform(&[64, ch, hw, hw], 1);
        let pw = uniform(&[ch, ch], 2);
        let (gamma, beta) = (uniform(&[ch], 3), uniform(&[ch], 4));
        for k in [3usize, 5] {
            let dw = uniform(&[ch, 1, k, k], 5);
            let fwd = || relu_dw_pw(x.as_tensor(), dw.as_tensor(), pw.as_tensor()).unwrap();
            g.bench_function(format!("relu_dw{k}_pw {ch}x{hw}x{hw} fwd"), |b| b.iter(fwd));
            g.bench_function(format!("relu_dw{k}_pw {ch}x{hw}x{hw} fwd+bwd"), |b| {
                b.iter(|| fwd().sum_all().unwrap().backward().unwrap())
            });
        }
        g.bench_function(format!("relu_pw {ch}x{hw}x{hw} fwd+bwd"), |b| {
            b.iter(|| relu_pw(x.as_tensor(), pw.as_tensor()).unwrap().sum_all().unwrap().backward().unwrap())
        });
        g.bench_function(format!("batch_norm {ch}x{hw}x{hw} fwd+bwd"), |b| {
            b.iter(|| {
                let (y, _, _) = batch_norm_train(x.as_tensor(), gamma.as_tensor(), beta.as_tensor(), 1e-5).unwrap();
                y.sum_all().unwrap().backward().unwrap()
            })
        });
        g.bench_function(format!("max_pool3x3 {ch}x{hw}x{hw} fwd+bwd"), |b| {
            b.iter(|| max_pool3x3(x.as_tensor()).unwrap().sum_all().unwrap().backward().unwrap())
        });
        g.bench_function(format!("avg_pool3x3 {ch}x{hw}x{hw} fwd+bwd"), |b| {
            b.iter(|| avg_pool3x3(x.as_tensor()).unwrap().sum_all().unwrap().backward().unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, kernels);
criterion_main!(benches);
