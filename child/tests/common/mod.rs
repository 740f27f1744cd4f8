//! What the custom-op tests and the timing comparison share: seeded inputs and the candle
//! compositions each custom op in `enas_child::ops` is checked and timed against.
#![allow(dead_code)] // each test crate that includes this module uses part of it

use candle_core::{Device, Result, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub const DEV: Device = Device::Cpu;

pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// Uniform values in [-1, 1).
pub fn uniform(shape: &[usize], seed: u64) -> Tensor {
    let mut r = rng(seed);
    let n = shape.iter().product::<usize>();
    let v: Vec<f32> = (0..n).map(|_| r.random_range(-1.0f32..1.0)).collect();
    Tensor::from_vec(v, shape, &DEV).unwrap()
}

/// Pads H and W by one with `value`.
pub fn pad1(x: &Tensor, value: f32) -> Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    let row = Tensor::full(value, (n, c, 1, w), &DEV)?;
    let x = Tensor::cat(&[&row, x, &row], 2)?;
    let col = Tensor::full(value, (n, c, h + 2, 1), &DEV)?;
    Tensor::cat(&[&col, &x, &col], 3)
}

/// The nine shifted `h x w` views of a padded tensor, in row-major window order.
pub fn shifted(xp: &Tensor, h: usize, w: usize) -> Result<Vec<Tensor>> {
    let mut v = Vec::new();
    for dr in 0..3 {
        for dc in 0..3 {
            v.push(xp.narrow(2, dr, h)?.narrow(3, dc, w)?);
        }
    }
    Ok(v)
}

pub fn slow_max_pool(x: &Tensor) -> Result<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    let views = shifted(&pad1(x, f32::NEG_INFINITY)?, h, w)?;
    views[1..].iter().try_fold(views[0].clone(), |m, v| m.maximum(v))
}

pub fn slow_avg_pool(x: &Tensor) -> Result<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    let box_sum = |t: &Tensor| -> Result<Tensor> {
        let views = shifted(&pad1(t, 0.0)?, h, w)?;
        views[1..].iter().try_fold(views[0].clone(), |s, v| s + v)
    };
    box_sum(x)? / box_sum(&x.ones_like()?)?
}

pub fn slow_batch_norm(x: &Tensor, gamma: &Tensor, beta: &Tensor, eps: f64) -> Result<Tensor> {
    let c = x.dim(1)?;
    let mean = x.mean_keepdim(0)?.mean_keepdim(2)?.mean_keepdim(3)?;
    let xc = x.broadcast_sub(&mean)?;
    let var = xc.sqr()?.mean_keepdim(0)?.mean_keepdim(2)?.mean_keepdim(3)?;
    let xhat = xc.broadcast_div(&(var + eps)?.sqrt()?)?;
    xhat.broadcast_mul(&gamma.reshape((1, c, 1, 1))?)?.broadcast_add(&beta.reshape((1, c, 1, 1))?)
}

pub fn slow_depthwise(x: &Tensor, w: &Tensor, p: usize) -> Result<Tensor> {
    x.conv2d(w, p, 1, 1, x.dim(1)?)
}
