//! Custom candle ops for the ENAS micro child network: the ones candle lacks (3x3 pooling with
//! stride 1) or runs too slowly (depthwise convolution, training-mode batch norm).
//!
//! All ops take f32 NCHW tensors and follow PyTorch semantics. Each is a candle `CustomOp*`
//! whose `cpu_fwd` holds the CPU kernel; `bwd` builds the gradients from further (non
//! differentiable) custom ops. On any other device (and on the CPU when forced, for the equality
//! tests) each function takes its device-generic path instead (`generic`): the same op built from
//! candle tensor ops, differentiated by autograd. The choice is made here, once per call.
//!
//! The CPU kernels split independent `(n, c)` planes over `RAYON_NUM_THREADS` scoped threads
//! (`candle_core::utils::get_num_threads()`), running small problems on the calling thread.

#[cfg(target_arch = "x86_64")]
mod avx2;
mod batchnorm;
mod bn_axpy;
mod depthwise;
pub mod generic;
mod par;
mod pool;
mod relu;
mod relupw;
mod sepblock;
mod small_mm;

pub use par::poison_outputs;

use candle_core::{bail, DType, Result, Tensor};

fn check_f32(x: &Tensor, op: &str) -> Result<()> {
    if x.dtype() != DType::F32 {
        bail!("{op}: expected f32, got {:?}", x.dtype());
    }
    Ok(())
}

/// ReLU, `max(x, 0)`, for f32 tensors of any shape, with a one-pass backward (gradient zero
/// where the output is zero, as PyTorch). Same values as candle's `Tensor::relu`, less work in
/// the backward pass.
pub fn relu(x: &Tensor) -> Result<Tensor> {
    check_f32(x, "relu")?;
    if generic::active(x.device()) {
        return generic::relu(x);
    }
    x.contiguous()?.apply_op1(relu::Relu)
}

/// 3x3 max pooling with stride 1 and padding 1 (PyTorch `F.max_pool2d(x, 3, 1, 1)`): padded
/// positions never win. `x` is `(N, C, H, W)` f32; the output has the same shape.
///
/// The backward pass routes each output's gradient to the first maximum of its window in
/// row-major scan order, as PyTorch does.
pub fn max_pool3x3(x: &Tensor) -> Result<Tensor> {
    check_f32(x, "max_pool3x3")?;
    if generic::active(x.device()) {
        return generic::max_pool3x3(x);
    }
    x.contiguous()?.apply_op1(pool::MaxPool3x3)
}

/// 3x3 average pooling with stride 1, padding 1 and `count_include_pad=False` (PyTorch
/// `F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)`): each output is the mean of the
/// in-bounds elements of its window. `x` is `(N, C, H, W)` f32; the output has the same shape.
pub fn avg_pool3x3(x: &Tensor) -> Result<Tensor> {
    check_f32(x, "avg_pool3x3")?;
    if generic::active(x.device()) {
        return generic::avg_pool3x3(x);
    }
    x.contiguous()?.apply_op1(pool::AvgPool3x3)
}

/// Depthwise 2-d convolution, stride 1, no bias (PyTorch
/// `F.conv2d(x, w, padding=padding, groups=C)`).
///
/// `x` is `(N, C, H, W)`, `w` is `(C, 1, KH, KW)`, both f32; the output is
/// `(N, C, H + 2p - KH + 1, W + 2p - KW + 1)` (same size as `x` for odd `K` and `p = K / 2`).
/// Differentiable with respect to both `x` and `w`.
pub fn depthwise_conv2d(x: &Tensor, w: &Tensor, padding: usize) -> Result<Tensor> {
    check_f32(x, "depthwise_conv2d")?;
    check_f32(w, "depthwise_conv2d")?;
    let (_, c, _, _) = x.dims4()?;
    let (wc, one, _, _) = w.dims4()?;
    if wc != c || one != 1 {
        bail!("depthwise_conv2d: weight {:?} does not fit {c} channels", w.dims());
    }
    if generic::active(x.device()) {
        return generic::depthwise_conv2d(x, w, padding);
    }
    x.contiguous()?.apply_op2(&w.contiguous()?, depthwise::DepthwiseConv2d { padding })
}

/// ReLU, then depthwise KxK convolution (stride 1, padding `K / 2`), then 1x1 convolution:
/// `pw . depthwise_conv2d(relu(x), dw)` as one op with one fused backward pass. `x` is
/// `(N, C, H, W)`, `dw` `(C, 1, K, K)` with `K` odd, `pw` `(C_out, C)`; the output is
/// `(N, C_out, H, W)`. Same values as the three ops composed; differentiable in all three inputs.
pub fn relu_dw_pw(x: &Tensor, dw: &Tensor, pw: &Tensor) -> Result<Tensor> {
    for t in [x, dw, pw] {
        check_f32(t, "relu_dw_pw")?;
    }
    let k = dw.dims4()?.2;
    if k % 2 == 0 {
        bail!("relu_dw_pw: kernel size {k} must be odd");
    }
    if generic::active(x.device()) {
        return generic::relu_dw_pw(x, dw, pw);
    }
    let keep = x.track_op() || dw.track_op() || pw.track_op();
    let op = sepblock::ReluDwPw { padding: k / 2, keep, cache: Default::default() };
    x.contiguous()?.apply_op3(&dw.contiguous()?, &pw.contiguous()?, op)
}

/// ReLU, then 1x1 convolution: `pw . relu(x)` as one op with one fused backward pass. `x` is
/// `(N, C, H, W)`, `pw` `(C_out, C)`; the output is `(N, C_out, H, W)`. Same values as
/// `layers::pointwise(&relu(x), pw)`; differentiable in both inputs.
pub fn relu_pw(x: &Tensor, pw: &Tensor) -> Result<Tensor> {
    check_f32(x, "relu_pw")?;
    check_f32(pw, "relu_pw")?;
    if generic::active(x.device()) {
        return generic::relu_pw(x, pw);
    }
    x.contiguous()?.apply_op2(&pw.contiguous()?, relupw::ReluPw)
}

/// Training-mode BatchNorm2d (PyTorch `nn.BatchNorm2d` in `train()` mode): normalises each
/// channel of the `(N, C, H, W)` f32 input `x` with the mean and biased variance over
/// `(N, H, W)`, then scales by `gamma` and shifts by `beta` (each with `C` elements).
///
/// Returns `(y, batch_mean, batch_var)`. `y` is differentiable with respect to `x`, `gamma`
/// and `beta` (fused backward). `batch_mean` and `batch_var` (shape `(C)`, the variance biased,
/// i.e. divided by `N*H*W`) carry no gradient; they are meant for the running statistics
/// (PyTorch updates `running_var` with the unbiased variance: multiply by `M / (M - 1)`).
pub fn batch_norm_train(x: &Tensor, gamma: &Tensor, beta: &Tensor, eps: f64) -> Result<(Tensor, Tensor, Tensor)> {
    check_f32(x, "batch_norm_train")?;
    check_f32(gamma, "batch_norm_train")?;
    check_f32(beta, "batch_norm_train")?;
    if generic::active(x.device()) {
        return generic::batch_norm_train(x, gamma, beta, eps);
    }
    let x = x.contiguous()?;
    let stats = x.apply_op1_no_bwd(&batchnorm::BnStats)?;
    let op = batchnorm::BatchNormTrain { stats: stats.clone(), eps };
    let y = x.apply_op3(&gamma.contiguous()?, &beta.contiguous()?, op)?;
    Ok((y, stats.get(0)?, stats.get(1)?))
}

/// `acc + w * BN(x)` (`w * BN(x)` without `acc`): training-mode BatchNorm without affine
/// parameters over `(N, H, W)`, scaled by the one-element weight `w` and added to `acc` (same
/// shape as `x`), differentiable in all three; one term of a mixed node (`bn_axpy.rs`).
///
/// Returns `(y, batch_mean, batch_var)`, the statistics as [`batch_norm_train`]'s.
pub fn bn_axpy(acc: Option<&Tensor>, x: &Tensor, w: &Tensor, eps: f64) -> Result<(Tensor, Tensor, Tensor)> {
    check_f32(x, "bn_axpy")?;
    check_f32(w, "bn_axpy")?;
    if w.elem_count() != 1 {
        bail!("bn_axpy: the weight must have one element, got shape {:?}", w.dims());
    }
    if generic::active(x.device()) {
        return generic::bn_axpy(acc, x, w, eps);
    }
    let x = x.contiguous()?;
    let stats = x.apply_op1_no_bwd(&batchnorm::BnStats)?;
    let op = bn_axpy::BnAxpy { stats: stats.clone(), eps };
    let w = w.contiguous()?;
    let y = match acc {
        Some(acc) => {
            check_f32(acc, "bn_axpy")?;
            acc.contiguous()?.apply_op3(&x, &w, op)?
        }
        None => x.apply_op2(&w, op)?,
    };
    Ok((y, stats.get(0)?, stats.get(1)?))
}

/// Evaluation-mode BatchNorm2d: `(x - running_mean) / sqrt(running_var + eps) * gamma + beta`
/// per channel, with `x` `(N, C, H, W)` and the other tensors of `C` elements. Built from plain
/// (differentiable) tensor ops.
pub fn batch_norm_eval(
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    running_mean: &Tensor,
    running_var: &Tensor,
    eps: f64,
) -> Result<Tensor> {
    let (_, c, _, _) = x.dims4()?;
    let shape = (1, c, 1, 1);
    let scale = (gamma.reshape(c)? / (running_var.reshape(c)? + eps)?.sqrt()?)?;
    let shift = (beta.reshape(c)? - running_mean.reshape(c)?.mul(&scale)?)?;
    x.broadcast_mul(&scale.reshape(shape)?)?.broadcast_add(&shift.reshape(shape)?)
}
