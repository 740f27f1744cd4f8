//! The gradient proxies of Abdelfattah et al.: the gradients of the cross-entropy loss (mean over
//! the minibatch, BatchNorm on batch statistics), summed per layer over the convolution and
//! classifier weights.
use crate::nb201::Nb201Net;
use candle_core::backprop::GradStore;
use candle_core::{Result, Tensor};

/// `Σ_layers ‖∂L/∂W‖₂`. A layer the loss does not reach (a convolution on a cell's dead branch)
/// has a zero gradient and adds nothing, as zero-cost-nas's `zeros_like` fallback.
pub(super) fn grad_norm(net: &Nb201Net, grads: &GradStore) -> Result<f64> {
    sum_layers(net, grads, |_, g| g.sqr()?.sum_all()?.to_dtype(candle_core::DType::F64)?.sqrt())
}

/// SNIP's `Σ |W ⊙ ∂L/∂W|` (zero-cost-nas's weight-mask gradient, which equals `W ⊙ ∂L/∂W`).
pub(super) fn snip(net: &Nb201Net, grads: &GradStore) -> Result<f64> {
    sum_layers(net, grads, |w, g| (w * g)?.abs()?.sum_all()?.to_dtype(candle_core::DType::F64))
}

fn sum_layers(net: &Nb201Net, grads: &GradStore, f: impl Fn(&Tensor, &Tensor) -> Result<Tensor>) -> Result<f64> {
    let mut total = 0.0;
    for w in net.scored_weights() {
        if let Some(g) = grads.get(w) {
            total += f(w, g)?.to_scalar::<f64>()?;
        }
    }
    Ok(total)
}
