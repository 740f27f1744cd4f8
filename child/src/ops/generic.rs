//! The device-generic path of every custom op: the same functions built only from candle tensor
//! ops that have a forward and a backward pass on every backend (slices, element-wise arithmetic,
//! `maximum`, `eq`, reductions, `matmul`), so that autograd differentiates them and CUDA runs them
//! with candle's own kernels. `ops::*` picks this path on any device but the CPU, and on the CPU
//! when a test forces it ([`force`]) or `ENAS_GENERIC_OPS=1` is set: the CPU kernels and these
//! must agree, which is what the equality tests check.
//!
//! Depthwise convolution is k^2 shifted slices times per-channel weights (candle's grouped
//! convolution runs one convolution per group, about 300x slower at these sizes: candle issue
//! 3389). Pooling is 9 shifted slices of the padded input.
use candle_core::{DType, Device, Result, Tensor};
use std::cell::Cell;
use std::sync::OnceLock;

thread_local! {
    static FORCED: Cell<bool> = const { Cell::new(false) };
}

/// While the guard lives, ops called on this thread take the generic path on the CPU too.
pub struct Forced {
    before: bool,
}

/// Forces the generic path on this thread until the guard drops (for equality tests).
pub fn force() -> Forced {
    Forced { before: FORCED.replace(true) }
}

impl Drop for Forced {
    fn drop(&mut self) {
        FORCED.set(self.before);
    }
}

/// Whether ops on `device` take the generic path: on any device but the CPU, or when forced.
pub fn active(device: &Device) -> bool {
    static ENV: OnceLock<bool> = OnceLock::new();
    !device.is_cpu() || FORCED.get() || *ENV.get_or_init(|| std::env::var("ENAS_GENERIC_OPS").is_ok_and(|v| v == "1"))
}

/// The `(kh, kw)` shifted `h` x `w` windows of `padded`, row-major.
fn taps(padded: &Tensor, k: usize, h: usize, w: usize) -> Result<Vec<Tensor>> {
    let mut out = Vec::with_capacity(k * k);
    for i in 0..k {
        for j in 0..k {
            out.push(padded.narrow(2, i, h)?.narrow(3, j, w)?);
        }
    }
    Ok(out)
}

pub fn relu(x: &Tensor) -> Result<Tensor> {
    x.relu()
}

/// `x` padded by one with the lowest finite f32 (never a window's maximum: the centre is in
/// bounds; finite so that the masks below multiply it to 0, not NaN).
fn pad_lowest(x: &Tensor) -> Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    let low = |shape: (usize, usize, usize, usize)| Tensor::full(f32::MIN, shape, x.device());
    let rows = Tensor::cat(&[&low((n, c, 1, w))?, x, &low((n, c, 1, w))?], 2)?;
    Tensor::cat(&[&low((n, c, h + 2, 1))?, &rows, &low((n, c, h + 2, 1))?], 3)
}

/// 3x3 max pooling, stride 1, padding 1; each output's gradient goes to the first maximum of its
/// window in row-major order, as PyTorch and the CPU kernel route it: the output is the sum of
/// the taps times 0/1 masks (no gradient) that select that first maximum.
pub fn max_pool3x3(x: &Tensor) -> Result<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    let taps = taps(&pad_lowest(x)?, 3, h, w)?;
    let mut m = taps[0].detach();
    for t in &taps[1..] {
        m = m.maximum(&t.detach())?;
    }
    let mut taken = m.zeros_like()?;
    let mut y = m.zeros_like()?;
    for t in &taps {
        let hit = (t.detach().eq(&m)?.to_dtype(DType::F32)? * taken.affine(-1.0, 1.0)?)?;
        y = (y + t.mul(&hit)?)?;
        taken = (taken + hit)?;
    }
    Ok(y)
}

/// 3x3 average pooling, stride 1, padding 1, `count_include_pad=False`: the box sum over the
/// in-bounds count (itself the box sum of ones, computed on the device).
pub fn avg_pool3x3(x: &Tensor) -> Result<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    let box_sum = |t: &Tensor| -> Result<Tensor> {
        let padded = t.pad_with_zeros(2, 1, 1)?.pad_with_zeros(3, 1, 1)?;
        let taps = taps(&padded, 3, h, w)?;
        taps[1..].iter().try_fold(taps[0].clone(), |acc, t| acc + t)
    };
    let count = box_sum(&Tensor::ones((1, 1, h, w), DType::F32, x.device())?)?;
    box_sum(x)?.broadcast_div(&count)
}

/// Depthwise convolution, stride 1, zero padding `padding`: `w` `(C, 1, KH, KW)`.
pub fn depthwise_conv2d(x: &Tensor, w: &Tensor, padding: usize) -> Result<Tensor> {
    let (_, c, h, wd) = x.dims4()?;
    let (_, _, kh, kw) = w.dims4()?;
    let (ho, wo) = (h + 2 * padding + 1 - kh, wd + 2 * padding + 1 - kw);
    let padded = x.pad_with_zeros(2, padding, padding)?.pad_with_zeros(3, padding, padding)?;
    let mut y: Option<Tensor> = None;
    for i in 0..kh {
        for j in 0..kw {
            let tap = padded.narrow(2, i, ho)?.narrow(3, j, wo)?;
            let wij = w.narrow(2, i, 1)?.narrow(3, j, 1)?.reshape((1, c, 1, 1))?;
            let term = tap.broadcast_mul(&wij)?;
            y = Some(match y {
                Some(acc) => (acc + term)?,
                None => term,
            });
        }
    }
    y.ok_or_else(|| candle_core::Error::Msg("depthwise_conv2d: empty kernel".into()))
}

/// A 1x1 convolution: `w` `(C_out, C)`.
fn pointwise(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    let (n, c, h, wd) = x.dims4()?;
    w.broadcast_matmul(&x.reshape((n, c, h * wd))?)?.reshape((n, w.dim(0)?, h, wd))
}

pub fn relu_dw_pw(x: &Tensor, dw: &Tensor, pw: &Tensor) -> Result<Tensor> {
    let k = dw.dims4()?.2;
    pointwise(&depthwise_conv2d(&x.relu()?, dw, k / 2)?, pw)
}

pub fn relu_pw(x: &Tensor, pw: &Tensor) -> Result<Tensor> {
    pointwise(&x.relu()?, pw)
}

/// Training-mode BatchNorm2d: `(y, batch_mean, biased batch_var)`, the statistics detached.
pub fn batch_norm_train(x: &Tensor, gamma: &Tensor, beta: &Tensor, eps: f64) -> Result<(Tensor, Tensor, Tensor)> {
    let c = x.dim(1)?;
    let over_nhw = |t: &Tensor| -> Result<Tensor> { t.mean_keepdim(0)?.mean_keepdim(2)?.mean_keepdim(3) };
    let mean = over_nhw(x)?;
    let centred = x.broadcast_sub(&mean)?;
    let var = over_nhw(&centred.sqr()?)?;
    let scale = (var.clone() + eps)?.sqrt()?;
    let y = centred
        .broadcast_div(&scale)?
        .broadcast_mul(&gamma.reshape((1, c, 1, 1))?)?
        .broadcast_add(&beta.reshape((1, c, 1, 1))?)?;
    Ok((y, mean.detach().reshape(c)?, var.detach().reshape(c)?))
}

/// `acc + w * BN(x)`, BN without affine parameters: [`batch_norm_train`] with unit scale and
/// zero shift, times `w`, plus `acc`.
pub fn bn_axpy(acc: Option<&Tensor>, x: &Tensor, w: &Tensor, eps: f64) -> Result<(Tensor, Tensor, Tensor)> {
    let c = x.dim(1)?;
    let ones = Tensor::ones(c, x.dtype(), x.device())?;
    let (y, mean, var) = batch_norm_train(x, &ones, &ones.zeros_like()?, eps)?;
    Ok((axpy(acc, &y, w)?, mean, var))
}

/// `acc + w * y` (`w * y` without `acc`), `w` one element: a mixed node's term composed from
/// tensor ops, for the terms and paths `bn_axpy`'s fused kernel does not cover.
pub fn axpy(acc: Option<&Tensor>, y: &Tensor, w: &Tensor) -> Result<Tensor> {
    let y = y.broadcast_mul(&w.reshape((1, 1, 1, 1))?)?;
    match acc {
        Some(acc) => acc + y,
        None => Ok(y),
    }
}
