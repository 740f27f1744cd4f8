//! DARTS's ops (`OPS` in DARTS's `operations.py`; `../shared/bench/torch_darts_search.py` is the
//! executable definition), built from this crate's CPU ops:
//!
//! - `sep_conv_kxk`: two ReLU - depthwise kxk - pointwise - BN blocks, the first with the edge's
//!   stride; `dil_conv_kxk`: one ReLU - depthwise kxk with dilation 2 - pointwise - BN block;
//! - `max_pool_3x3` / `avg_pool_3x3` (padding 1, the average excluding padding), followed by BN in
//!   the search network only; `skip_connect`: the identity, or at stride 2 a factorized reduction;
//!   `none`: nothing (the edge adds no term).
//!
//! Stride 2 is the stride-1 result at every second pixel (the same numbers: a stride-`s` output
//! pixel `i` is the stride-1 output pixel `s * i` for these paddings): a sep conv's first block
//! picks the pixels between its depthwise and pointwise convolutions, a dilated conv at stride 2
//! runs on the even pixels only (all its taps fall there), pooling picks them from its output. Dilation 2 splits
//! the map into its four pixel grids (offsets (0|1, 0|1)), runs the undilated kernel on each and
//! interleaves them back: a dilated tap at `i + 2t` is tap `t` on the grid of `i`.
//!
//! Weights start as PyTorch's defaults (uniform in ±1/√fan_in), created in the order PyTorch
//! registers them, so a by-order copy lines them up with the reference network's parameters.
use crate::layers::{subsample, BatchNorm, BnMode};
use crate::ops;
use crate::params::Init;
use candle_core::{Result, Tensor};
use enas_shared::OpKind;

/// PyTorch's default weight: uniform in ±1/√fan_in (kaiming_uniform with a = √5).
fn torch_uniform(init: &Init, name: &str, shape: &[usize], fan_in: usize) -> Result<Tensor> {
    init.uniform(name, shape, 1.0 / (fan_in as f64).sqrt())
}

/// `pw · depthwise_dilated(relu(x), dw)` with padding `dilation * (k / 2)` (same size out), any
/// dilation: the map is padded to a multiple of `dilation`, split into its `dilation²` pixel
/// grids as extra batch entries, convolved undilated, and interleaved back.
pub fn relu_dw_pw_dilated(x: &Tensor, dw: &Tensor, pw: &Tensor, dilation: usize) -> Result<Tensor> {
    if dilation == 1 {
        return ops::relu_dw_pw(x, dw, pw);
    }
    let d = dilation;
    let (n, c, h, w) = x.dims4()?;
    let (hp, wp) = (h.div_ceil(d) * d, w.div_ceil(d) * d);
    // Zeros past the edge are what the dilated kernel's own padding would read there.
    let x = x.pad_with_zeros(2, 0, hp - h)?.pad_with_zeros(3, 0, wp - w)?;
    let (h2, w2) = (hp / d, wp / d);
    let grids = x.reshape((n, c, h2, d, w2, d))?.permute([0, 3, 5, 1, 2, 4])?.reshape((n * d * d, c, h2, w2))?;
    let y = ops::relu_dw_pw(&grids, dw, pw)?;
    let c_out = y.dim(1)?;
    let y = y.reshape((n, d, d, c_out, h2, w2))?.permute([0, 3, 4, 1, 5, 2])?.reshape((n, c_out, hp, wp))?;
    y.narrow(2, 0, h)?.narrow(3, 0, w)
}

/// Every second pixel from the first (a stride-2 output from a stride-1 one); `stride` 1 or 2.
fn strided(x: Tensor, stride: usize) -> Result<Tensor> {
    match stride {
        1 => Ok(x),
        2 => subsample(&x, 0),
        s => candle_core::bail!("DARTS ops have stride 1 or 2, got {s}"),
    }
}

/// ReLU - depthwise kxk (dilation, stride) - pointwise 1x1 - BN.
pub struct DwPwBn {
    dw: Tensor,
    pw: Tensor,
    bn: BatchNorm,
    stride: usize,
    dilation: usize,
}

impl DwPwBn {
    pub fn new(c: usize, k: usize, stride: usize, dilation: usize, affine: bool, init: Init) -> Result<Self> {
        let dw = torch_uniform(&init, "depthwise", &[c, 1, k, k], k * k)?;
        let pw = torch_uniform(&init, "pointwise", &[c, c], c)?;
        Ok(DwPwBn { dw, pw, bn: BatchNorm::with_affine(c, affine, init.pp("bn"))?, stride, dilation })
    }

    pub fn forward(&self, x: &Tensor, mode: BnMode) -> Result<Tensor> {
        self.bn.forward(&self.pre_bn(x, mode)?, mode)
    }

    /// `acc + w * forward(x)`, the BN fused with the weighting (a mixed node's term).
    pub fn forward_acc(&self, x: &Tensor, acc: Option<&Tensor>, w: &Tensor, mode: BnMode) -> Result<Tensor> {
        self.bn.forward_acc(&self.pre_bn(x, mode)?, acc, w, mode)
    }

    /// Everything before the BN.
    fn pre_bn(&self, x: &Tensor, mode: BnMode) -> Result<Tensor> {
        let (dw, pw) = (mode.param(&self.dw), mode.param(&self.pw));
        Ok(match (self.stride, self.dilation) {
            // Dilation 2 at stride 2 reads only the even pixels: the undilated kernel on the
            // (0, 0) pixel grid gives the half-resolution output directly (a quarter of the work
            // and of the memory).
            (2, 2) => ops::relu_dw_pw(&subsample(x, 0)?, &dw, &pw)?,
            // Stride 2 undilated: the depthwise result at every second pixel, then the pointwise
            // on those only (the pointwise commutes with picking pixels).
            (2, 1) => {
                let k = dw.dim(2)?;
                let h = ops::depthwise_conv2d(&ops::relu(x)?, &dw, k / 2)?;
                crate::layers::pointwise(&subsample(&h, 0)?, &pw)?
            }
            _ => strided(relu_dw_pw_dilated(x, &dw, &pw, self.dilation)?, self.stride)?,
        })
    }
}

/// ReLU, then halving the resolution by two 1x1 convolutions on the pixel grids offset by (0, 0)
/// and (1, 1), concatenated, then BN (DARTS's `FactorizedReduce`, which starts with a ReLU).
pub struct FactorizedReduce {
    c1: Tensor,
    c2: Tensor,
    bn: BatchNorm,
}

impl FactorizedReduce {
    pub fn new(c_in: usize, c_out: usize, affine: bool, init: Init) -> Result<Self> {
        Ok(FactorizedReduce {
            c1: torch_uniform(&init, "conv_1", &[c_out / 2, c_in], c_in)?,
            c2: torch_uniform(&init, "conv_2", &[c_out - c_out / 2, c_in], c_in)?,
            bn: BatchNorm::with_affine(c_out, affine, init.pp("bn"))?,
        })
    }

    pub fn forward(&self, x: &Tensor, mode: BnMode) -> Result<Tensor> {
        self.bn.forward(&self.pre_bn(x, mode)?, mode)
    }

    /// `acc + w * forward(x)`, the BN fused with the weighting (a mixed node's term).
    pub fn forward_acc(&self, x: &Tensor, acc: Option<&Tensor>, w: &Tensor, mode: BnMode) -> Result<Tensor> {
        self.bn.forward_acc(&self.pre_bn(x, mode)?, acc, w, mode)
    }

    fn pre_bn(&self, x: &Tensor, mode: BnMode) -> Result<Tensor> {
        // ReLU commutes with picking pixels, so the fused ReLU-pointwise op serves.
        let a = ops::relu_pw(&subsample(x, 0)?, &mode.param(&self.c1))?;
        let b = ops::relu_pw(&subsample(x, 1)?, &mode.param(&self.c2))?;
        Tensor::cat(&[a, b], 1)
    }
}

/// ReLU - 1x1 conv - BN (a cell's preprocessing of an input at its own resolution).
pub struct ReluConvBn {
    w: Tensor,
    bn: BatchNorm,
}

impl ReluConvBn {
    pub fn new(c_in: usize, c_out: usize, affine: bool, init: Init) -> Result<Self> {
        let w = torch_uniform(&init.pp("op"), "conv", &[c_out, c_in], c_in)?;
        Ok(ReluConvBn { w, bn: BatchNorm::with_affine(c_out, affine, init.pp("bn"))? })
    }

    pub fn forward(&self, x: &Tensor, mode: BnMode) -> Result<Tensor> {
        self.bn.forward(&ops::relu_pw(x, &mode.param(&self.w))?, mode)
    }
}

/// How a cell brings one of its inputs to its channels: a factorized reduction when that input is
/// one resolution level above (the previous cell reduced), else ReLU-1x1-BN.
pub enum Preprocess {
    Reduce(FactorizedReduce),
    Conv(ReluConvBn),
}

impl Preprocess {
    pub fn new(c_in: usize, c_out: usize, reduce: bool, affine: bool, init: Init) -> Result<Self> {
        Ok(if reduce {
            Preprocess::Reduce(FactorizedReduce::new(c_in, c_out, affine, init)?)
        } else {
            Preprocess::Conv(ReluConvBn::new(c_in, c_out, affine, init)?)
        })
    }

    pub fn forward(&self, x: &Tensor, mode: BnMode) -> Result<Tensor> {
        match self {
            Preprocess::Reduce(r) => r.forward(x, mode),
            Preprocess::Conv(c) => c.forward(x, mode),
        }
    }
}

/// One op of one edge, with its weights.
pub enum EdgeOp {
    /// `none`: contributes nothing.
    Zero,
    /// `skip_connect` at stride 1.
    Identity,
    /// `skip_connect` at stride 2.
    Reduce(FactorizedReduce),
    /// `max_pool_3x3` (`max`) or `avg_pool_3x3`, then BN in the search network.
    Pool { max: bool, stride: usize, bn: Option<BatchNorm> },
    /// `sep_conv_kxk`.
    Sep(DwPwBn, DwPwBn),
    /// `dil_conv_kxk`.
    Dil(DwPwBn),
}

impl EdgeOp {
    /// `op` on `c` channels at `stride`; `search`: the search network's form (BN without affine
    /// parameters everywhere, BN after pooling), else the evaluation network's.
    pub fn new(op: OpKind, c: usize, stride: usize, search: bool, init: Init) -> Result<Self> {
        let affine = !search;
        let init = init.pp(op.name());
        Ok(match op {
            OpKind::Zero => EdgeOp::Zero,
            OpKind::Identity if stride == 1 => EdgeOp::Identity,
            OpKind::Identity => EdgeOp::Reduce(FactorizedReduce::new(c, c, affine, init)?),
            OpKind::MaxPool3x3 | OpKind::AvgPool3x3 => EdgeOp::Pool {
                max: op == OpKind::MaxPool3x3,
                stride,
                bn: search.then(|| BatchNorm::non_affine(c, init.pp("bn"))).transpose()?,
            },
            OpKind::SepConv3x3 | OpKind::SepConv5x5 => {
                let k = if op == OpKind::SepConv3x3 { 3 } else { 5 };
                EdgeOp::Sep(
                    DwPwBn::new(c, k, stride, 1, affine, init.pp("op.1"))?,
                    DwPwBn::new(c, k, 1, 1, affine, init.pp("op.5"))?,
                )
            }
            OpKind::DilConv3x3 | OpKind::DilConv5x5 => {
                let k = if op == OpKind::DilConv3x3 { 3 } else { 5 };
                EdgeOp::Dil(DwPwBn::new(c, k, stride, 2, affine, init)?)
            }
            other => candle_core::bail!("`{}` is not a DARTS op", other.name()),
        })
    }

    /// The op's output; `None` for `none`.
    pub fn forward(&self, x: &Tensor, mode: BnMode) -> Result<Option<Tensor>> {
        Ok(Some(match self {
            EdgeOp::Zero => return Ok(None),
            EdgeOp::Identity => x.clone(),
            EdgeOp::Reduce(r) => r.forward(x, mode)?,
            EdgeOp::Pool { max, stride, bn } => {
                let y = if *max { ops::max_pool3x3(x)? } else { ops::avg_pool3x3(x)? };
                let y = strided(y, *stride)?;
                match bn {
                    Some(bn) => bn.forward(&y, mode)?,
                    None => y,
                }
            }
            EdgeOp::Sep(a, b) => b.forward(&a.forward(x, mode)?, mode)?,
            EdgeOp::Dil(d) => d.forward(x, mode)?,
        }))
    }

    /// `acc + w * forward(x)` (`w` one element; `acc` `None` for the first term): one term of a
    /// mixed node, the op's last BN fused with its weighting and the sum (`BatchNorm::forward_acc`),
    /// so that the graph keeps one running sum per term rather than the op's output, the product
    /// and the sum. `none` leaves `acc` as it is.
    pub fn forward_acc(&self, x: &Tensor, acc: Option<Tensor>, w: &Tensor, mode: BnMode) -> Result<Option<Tensor>> {
        let plain = |y: &Tensor| ops::generic::axpy(acc.as_ref(), y, w);
        Ok(Some(match self {
            EdgeOp::Zero => return Ok(acc),
            EdgeOp::Identity => plain(x)?,
            EdgeOp::Reduce(r) => r.forward_acc(x, acc.as_ref(), w, mode)?,
            EdgeOp::Pool { max, stride, bn } => {
                let y = if *max { ops::max_pool3x3(x)? } else { ops::avg_pool3x3(x)? };
                let y = strided(y, *stride)?;
                match bn {
                    Some(bn) => bn.forward_acc(&y, acc.as_ref(), w, mode)?,
                    None => plain(&y)?,
                }
            }
            EdgeOp::Sep(a, b) => b.forward_acc(&a.forward(x, mode)?, acc.as_ref(), w, mode)?,
            EdgeOp::Dil(d) => d.forward_acc(x, acc.as_ref(), w, mode)?,
        }))
    }

    /// Whether the op is the identity (drop-path leaves identities alone, as DARTS does).
    pub fn is_identity(&self) -> bool {
        matches!(self, EdgeOp::Identity)
    }
}
