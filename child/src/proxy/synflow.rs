//! Synflow (Tanaka et al., NeurIPS 2020), as zero-cost-nas computes it: BatchNorm left out (the
//! network built with `bn=False`), every parameter replaced by its absolute value, the network
//! cast to f64, an all-ones input of one image, `R = Σ output`; the score is `Σ |θ ⊙ ∂R/∂θ|` over
//! the convolution and classifier weights. With positive weights and input, every ReLU passes its
//! input, so the score is data-free and deterministic given the initial weights.
use crate::nb201::Nb201Net;
use crate::BnMode;
use candle_core::{DType, Device, Result, Tensor};

pub(super) fn synflow(net: &Nb201Net, h: usize, w: usize) -> Result<f64> {
    let net = net.map_without_bn(|t| t.abs()?.to_dtype(DType::F64))?;
    let x = Tensor::ones((1, 3, h, w), DType::F64, &Device::Cpu)?;
    // No BatchNorm is left, so the mode is irrelevant.
    let r = net.forward(&x, BnMode::Train)?.sum_all()?;
    let grads = r.backward()?;
    let mut total = 0.0;
    for wt in net.scored_weights() {
        let Some(g) = grads.get(wt) else { continue };
        total += (wt * g)?.abs()?.sum_all()?.to_scalar::<f64>()?;
    }
    Ok(total)
}
