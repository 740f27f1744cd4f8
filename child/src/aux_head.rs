//! ENAS's auxiliary classifier head (`--child_use_aux_heads`; the training loss becomes
//! `loss + aux_weight * aux_loss`, ENAS: 0.4).
//!
//! Structure, from `MicroChild._model` in melodyguan/enas `src/cifar10/micro_child.py`:
//! ReLU; average pooling 5x5, stride 3, `VALID`; 1x1 conv to 128 channels (no bias), BN, ReLU;
//! a conv whose kernel is the remaining spatial size, to 768 channels (no bias), `SAME` padding,
//! BN, ReLU; global average pooling; a linear layer to the classes (no bias). ENAS attaches it to
//! the output of layer `pool_layers[-1] + 1`, the cell right after the second reduction cell
//! (`MicroShape::aux_head_layer`).
//!
//! Where this departs from ENAS, and why:
//! - A map smaller than 5 pixels (8x8 images reach the head at 2x2) pools over its whole extent
//!   instead of failing as TF's `VALID` pooling would; from 5 pixels up the pooling is ENAS's.
//! - The linear layer is initialised like the main classifier here (uniform in
//!   `±1/sqrt(fan_in)`), not He-normal as ENAS's `create_weight`; the convolutions are He-normal.
//! - ENAS leaves the head's variables out of the optimiser's list (`"aux_head" not in var.name`
//!   in `_build_train`), so its head never trains and only the trunk learns from the aux loss.
//!   Here the head's parameters are ordinary parameters of the store, named `aux_head.*`; a caller
//!   that wants ENAS's exact behaviour leaves those names out of its optimiser.
//! - ENAS builds its BN layers here with `is_training=True` always; this head follows the
//!   caller's `BnMode` like the rest of the network.
use crate::layers::{global_avg_pool, pointwise, BatchNorm, BnMode};
use crate::ops;
use crate::params::Init;
use candle_core::{Result, Tensor};

/// Channels after the head's 1x1 projection (ENAS: 128).
pub const AUX_PROJ_CHANNELS: usize = 128;
/// Channels after the head's second convolution (ENAS: 768).
pub const AUX_CONV_CHANNELS: usize = 768;
/// The pooling window (ENAS: 5x5) and stride (3).
pub const AUX_POOL: (usize, usize) = (5, 3);

/// Output size of the head's pooling along one axis of `n` pixels: window `min(5, n)`, stride 3,
/// no padding.
pub fn aux_pool_out(n: usize) -> usize {
    let (k, s) = AUX_POOL;
    let k = k.min(n);
    (n - k) / s + 1
}

/// The auxiliary head for `c_in` input channels on an `in_hw = (height, width)` map.
pub struct AuxHead {
    in_hw: (usize, usize),
    /// (rows, cols) averaging matrices of the 5x5/3 pooling: `pool = P_h · x · P_wᵀ`.
    pool_h: Tensor,
    pool_w: Tensor,
    proj: Tensor,
    proj_bn: BatchNorm,
    conv: Tensor,
    conv_bn: BatchNorm,
    fc: Tensor,
    /// DARTS's form: the second convolution unpadded and the linear layer with a bias.
    fc_bias: Option<Tensor>,
}

/// The `(out, n)` matrix averaging windows of `min(5, n)` pixels at stride 3 along one axis.
fn pool_matrix(n: usize, init: &Init) -> Result<Tensor> {
    let (k, s) = AUX_POOL;
    let k = k.min(n);
    let out = aux_pool_out(n);
    let mut m = vec![0f32; out * n];
    for o in 0..out {
        for i in o * s..o * s + k {
            m[o * n + i] = 1.0 / k as f32;
        }
    }
    Tensor::from_vec(m, (out, n), init.device())
}

impl AuxHead {
    /// Creates the head's weights in this order: the 1x1 projection, its BN, the second
    /// convolution, its BN, the linear layer (names `proj.conv`, `proj.bn.*`, `conv.conv`,
    /// `conv.bn.*`, `fc` under `init`'s prefix).
    pub fn new(c_in: usize, in_hw: (usize, usize), classes: usize, init: Init) -> Result<Self> {
        AuxHead::build(c_in, in_hw, classes, &init)
    }

    fn build(c_in: usize, in_hw: (usize, usize), classes: usize, init: &Init) -> Result<Self> {
        let (h, w) = in_hw;
        if h == 0 || w == 0 {
            candle_core::bail!("aux head: empty input map {h}x{w}");
        }
        let (kh, kw) = (aux_pool_out(h), aux_pool_out(w));
        let (cp, cc) = (AUX_PROJ_CHANNELS, AUX_CONV_CHANNELS);
        let proj = init.he_normal("proj.conv", &[cp, c_in], c_in)?;
        let proj_bn = BatchNorm::new(cp, init.pp("proj.bn"))?;
        let conv = init.he_normal("conv.conv", &[cc, cp, kh, kw], cp * kh * kw)?;
        let conv_bn = BatchNorm::new(cc, init.pp("conv.bn"))?;
        let fc = init.uniform("fc", &[classes, cc], 1.0 / (cc as f64).sqrt())?;
        Ok(AuxHead {
            in_hw,
            pool_h: pool_matrix(h, init)?,
            pool_w: pool_matrix(w, init)?.t()?.contiguous()?,
            proj,
            proj_bn,
            conv,
            conv_bn,
            fc,
            fc_bias: None,
        })
    }

    /// DARTS's `AuxiliaryHeadCIFAR` (its evaluation network's head, on the second reduction
    /// cell's output): the same layers, but the second convolution without padding (a 1x1 map on
    /// DARTS's 8x8 input, where its kernel is DARTS's 2x2) and the linear layer with a bias,
    /// created after the weight (`fc.bias`).
    pub fn darts(c_in: usize, in_hw: (usize, usize), classes: usize, init: Init) -> Result<Self> {
        let mut head = AuxHead::build(c_in, in_hw, classes, &init)?;
        let bound = 1.0 / (AUX_CONV_CHANNELS as f64).sqrt();
        head.fc_bias = Some(init.uniform("fc.bias", &[classes], bound)?);
        Ok(head)
    }

    /// Trainable scalars of the head.
    pub fn num_params(&self) -> usize {
        // BN: gamma and beta per channel.
        self.proj.elem_count()
            + 2 * AUX_PROJ_CHANNELS
            + self.conv.elem_count()
            + 2 * AUX_CONV_CHANNELS
            + self.fc.elem_count()
            + self.fc_bias.as_ref().map_or(0, |b| b.elem_count())
    }

    /// The input map size this head was built for.
    pub fn in_hw(&self) -> (usize, usize) {
        self.in_hw
    }

    /// Aux logits (n, classes) from the feature map `x` (n, c_in, h, w).
    pub fn forward(&self, x: &Tensor, mode: BnMode) -> Result<Tensor> {
        let (n, c, h, w) = x.dims4()?;
        if (h, w) != self.in_hw {
            candle_core::bail!("aux head built for {:?} maps, got {h}x{w}", self.in_hw);
        }
        // ReLU, then the 5x5/3 average pooling as two matrix products (candle's own avg_pool2d
        // has no backward pass when the window differs from the stride).
        let a = ops::relu(x)?.reshape((n * c, h, w))?;
        let a = self.pool_h.broadcast_matmul(&a)?.broadcast_matmul(&self.pool_w)?;
        let (kh, kw) = (a.dim(1)?, a.dim(2)?);
        let a = a.reshape((n, c, kh, kw))?;
        let a = ops::relu(&self.proj_bn.forward(&pointwise(&a, &mode.param(&self.proj))?, mode)?)?;
        // TF's SAME padding for a stride-1 (kh, kw) kernel: the extra pixel goes bottom/right.
        // DARTS's head pads nothing.
        let a = match self.fc_bias {
            Some(_) => a,
            None => {
                let (top, left) = ((kh - 1) / 2, (kw - 1) / 2);
                a.pad_with_zeros(2, top, kh - 1 - top)?.pad_with_zeros(3, left, kw - 1 - left)?
            }
        };
        let a = a.conv2d(&mode.param(&self.conv), 0, 1, 1, 1)?;
        let a = ops::relu(&self.conv_bn.forward(&a, mode)?)?;
        let logits = global_avg_pool(&a)?.matmul(&mode.param(&self.fc).t()?)?;
        match &self.fc_bias {
            Some(b) => logits.broadcast_add(&mode.param(b)),
            None => Ok(logits),
        }
    }
}
