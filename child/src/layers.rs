//! The building blocks of ENAS children: BatchNorm, 1x1 convolutions, separable convolutions,
//! factorized reduction and ReLU-conv-BN calibration. Each block is a struct with a constructor
//! taking `Init` last and a `forward(x, mode)`.
use crate::ops;
use crate::params::Init;
use candle_core::{Result, Tensor, Var, D};

/// How BatchNorm normalises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BnMode {
    /// Batch statistics, and the running statistics are updated (training).
    Train,
    /// Batch statistics, running statistics untouched: how ENAS scores sampled arcs with the
    /// shared weights, whose running statistics mix every arc trained so far.
    BatchStats,
    /// Running statistics (evaluating a network trained on its own).
    Eval,
}

impl BnMode {
    /// Whether this mode trains (and so needs gradients to the weights).
    pub fn trains(self) -> bool {
        self == BnMode::Train
    }

    /// A weight as the forward pass should use it: itself when training, detached otherwise, so
    /// scoring and evaluation build no autograd graph (which would keep every activation alive
    /// until the logits are dropped: gigabytes at evaluation batch sizes).
    pub fn param(self, w: &Tensor) -> Tensor {
        if self.trains() {
            w.clone()
        } else {
            w.detach()
        }
    }
}

/// PyTorch's defaults: running = (1 - momentum) * running + momentum * batch.
const BN_MOMENTUM: f64 = 0.1;
const BN_EPS: f64 = 1e-5;

/// BatchNorm2d with learned scale and shift. Training mode normalises with the batch's statistics
/// and updates the running ones; eval mode uses the running statistics.
#[derive(Clone)]
pub struct BatchNorm {
    gamma: Tensor,
    beta: Tensor,
    running_mean: Var,
    running_var: Var,
    /// Whether `gamma` and `beta` are learned (else the constants 1 and 0).
    affine: bool,
}

impl BatchNorm {
    pub fn new(c: usize, init: Init) -> Result<Self> {
        Ok(BatchNorm {
            gamma: init.constant("weight", &[c], 1.0)?,
            beta: init.constant("bias", &[c], 0.0)?,
            running_mean: init.buffer("running_mean", &[c], 0.0)?,
            running_var: init.buffer("running_var", &[c], 1.0)?,
            affine: true,
        })
    }

    /// BatchNorm without learned scale and shift (PyTorch `affine=False`, as DARTS's search
    /// network): scale 1 and shift 0 as constants outside the store; running statistics kept.
    pub fn non_affine(c: usize, init: Init) -> Result<Self> {
        let device = init.device();
        Ok(BatchNorm {
            gamma: Tensor::ones(c, init.dtype(), device)?,
            beta: Tensor::zeros(c, init.dtype(), device)?,
            running_mean: init.buffer("running_mean", &[c], 0.0)?,
            running_var: init.buffer("running_var", &[c], 1.0)?,
            affine: false,
        })
    }

    /// With the affine scale and shift (`new`) or without (`non_affine`).
    pub fn with_affine(c: usize, affine: bool, init: Init) -> Result<Self> {
        if affine {
            BatchNorm::new(c, init)
        } else {
            BatchNorm::non_affine(c, init)
        }
    }

    pub fn forward(&self, x: &Tensor, mode: BnMode) -> Result<Tensor> {
        if mode == BnMode::Eval {
            return ops::batch_norm_eval(
                x,
                &mode.param(&self.gamma),
                &mode.param(&self.beta),
                &self.running_mean.as_tensor().detach(),
                &self.running_var.as_tensor().detach(),
                BN_EPS,
            );
        }
        let (y, mean, var) = ops::batch_norm_train(x, &mode.param(&self.gamma), &mode.param(&self.beta), BN_EPS)?;
        self.track(x, &mean, &var, mode)?;
        Ok(y)
    }

    /// `acc + w * BN(x)` (`w * BN(x)` without `acc`), `w` one element: one term of a mixed node.
    /// Without affine parameters and outside `Eval`, one fused op (`ops::bn_axpy`) that keeps
    /// neither the BN output nor the product for the backward pass; otherwise composed.
    pub fn forward_acc(&self, x: &Tensor, acc: Option<&Tensor>, w: &Tensor, mode: BnMode) -> Result<Tensor> {
        if self.affine || mode == BnMode::Eval {
            return ops::generic::axpy(acc, &self.forward(x, mode)?, w);
        }
        let (y, mean, var) = ops::bn_axpy(acc, x, w, BN_EPS)?;
        self.track(x, &mean, &var, mode)?;
        Ok(y)
    }

    /// Moves the running statistics towards a batch's (PyTorch's momentum, the unbiased
    /// variance) in `Train` mode.
    fn track(&self, x: &Tensor, mean: &Tensor, var: &Tensor, mode: BnMode) -> Result<()> {
        if mode != BnMode::Train {
            return Ok(());
        }
        let (n, _, h, w) = x.dims4()?;
        let count = (n * h * w) as f64;
        let unbiased = (var * (count / (count - 1.0).max(1.0)))?;
        let m = BN_MOMENTUM;
        self.running_mean.set(&((self.running_mean.as_tensor() * (1.0 - m))? + (mean.detach() * m)?)?)?;
        self.running_var.set(&((self.running_var.as_tensor() * (1.0 - m))? + (unbiased.detach() * m)?)?)?;
        Ok(())
    }
}

/// A 1x1 convolution without bias as one matrix product: `w` is (c_out, c_in).
pub fn pointwise(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    let (n, c, h, wd) = x.dims4()?;
    let c_out = w.dim(0)?;
    w.broadcast_matmul(&x.reshape((n, c, h * wd))?)?.reshape((n, c_out, h, wd))
}

/// Picks every second pixel starting at `offset` (0 or 1) in both directions; odd sizes are first
/// padded at the bottom and right with zeros, as ENAS's factorized reduction does.
pub fn subsample(x: &Tensor, offset: usize) -> Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    let x = if h % 2 == 1 { x.pad_with_zeros(2, 0, 1)? } else { x.clone() };
    let x = if w % 2 == 1 { x.pad_with_zeros(3, 0, 1)? } else { x };
    let (h2, w2) = (h.div_ceil(2), w.div_ceil(2));
    x.reshape((n, c, h2, 2, w2, 2))?.narrow(3, offset, 1)?.narrow(5, offset, 1)?.reshape((n, c, h2, w2))
}

/// Two stacked ReLU - depthwise KxK - pointwise 1x1 - BN blocks (the first three fused into one
/// op, `ops::relu_dw_pw`).
pub struct SepConv {
    blocks: Vec<(Tensor, Tensor, BatchNorm)>,
}

impl SepConv {
    pub fn new(c: usize, kernel: usize, init: Init) -> Result<Self> {
        let blocks = (0..2)
            .map(|i| {
                let b = init.pp(i);
                Ok((
                    b.he_normal("depthwise", &[c, 1, kernel, kernel], kernel * kernel)?,
                    b.he_normal("pointwise", &[c, c], c)?,
                    BatchNorm::new(c, b.pp("bn"))?,
                ))
            })
            .collect::<Result<_>>()?;
        Ok(SepConv { blocks })
    }

    pub fn forward(&self, x: &Tensor, mode: BnMode) -> Result<Tensor> {
        let mut h = x.clone();
        for (dw, pw, bn) in &self.blocks {
            h = bn.forward(&ops::relu_dw_pw(&h, &mode.param(dw), &mode.param(pw))?, mode)?;
        }
        Ok(h)
    }
}

/// Halves the resolution: two 1x1 convolutions on the two pixel grids offset by one, concatenated.
pub struct FactorizedReduce {
    pub(crate) conv1: Tensor,
    pub(crate) conv2: Tensor,
    bn: BatchNorm,
}

impl FactorizedReduce {
    pub fn new(c_in: usize, c_out: usize, init: Init) -> Result<Self> {
        Ok(FactorizedReduce {
            conv1: init.he_normal("conv1", &[c_out / 2, c_in], c_in)?,
            conv2: init.he_normal("conv2", &[c_out - c_out / 2, c_in], c_in)?,
            bn: BatchNorm::new(c_out, init.pp("bn"))?,
        })
    }

    pub fn forward(&self, x: &Tensor, mode: BnMode) -> Result<Tensor> {
        let a = pointwise(&subsample(x, 0)?, &mode.param(&self.conv1))?;
        let b = pointwise(&subsample(x, 1)?, &mode.param(&self.conv2))?;
        self.bn.forward(&Tensor::cat(&[a, b], 1)?, mode)
    }

    /// Multiply-adds for one image whose *output* has `hw_out` pixels.
    pub fn macs(&self, hw_out: usize) -> usize {
        hw_out * (self.conv1.elem_count() + self.conv2.elem_count())
    }

    /// Output channels.
    pub fn bn_channels(&self) -> usize {
        self.conv1.dims()[0] + self.conv2.dims()[0]
    }
}

/// ReLU - 1x1 conv - BN: brings an input to the cell's channel count.
pub struct ReluConvBn {
    pub(crate) conv: Tensor,
    bn: BatchNorm,
}

impl ReluConvBn {
    pub fn new(c_in: usize, c_out: usize, init: Init) -> Result<Self> {
        Ok(ReluConvBn {
            conv: init.he_normal("conv", &[c_out, c_in], c_in)?,
            bn: BatchNorm::new(c_out, init.pp("bn"))?,
        })
    }

    pub fn forward(&self, x: &Tensor, mode: BnMode) -> Result<Tensor> {
        self.bn.forward(&ops::relu_pw(x, &mode.param(&self.conv))?, mode)
    }

    pub fn macs(&self, hw: usize) -> usize {
        hw * self.conv.elem_count()
    }
}

/// Global average pooling: (n, c, h, w) -> (n, c).
pub fn global_avg_pool(x: &Tensor) -> Result<Tensor> {
    x.flatten_from(2)?.mean(D::Minus1)
}
