//! Zero-cost proxies: scores of an untrained NAS-Bench-201 network, computed from one minibatch or
//! from no data, that rank architectures without training them.
//!
//! Definitions follow Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS" (ICLR 2021) and
//! their code (`foundation/zero-cost-nas`), and Mellor et al., "Neural Architecture Search without
//! Training" (ICML 2021). Every score is oriented so that higher predicts a better network.
//! Choices shared by all proxies:
//! - each architecture's network is initialised with PyTorch's default initialisation (the
//!   papers score default-initialised networks) from a seed derived from the run's seed and the
//!   architecture, so an architecture's score does not depend on which others are scored with it
//!   or in what order;
//! - data proxies see BatchNorm in training mode (batch statistics), as the papers' code does;
//! - the per-layer proxies (`synflow`, `snip`, `grad_norm`) sum over the weights of every
//!   convolution and of the classifier, the `Conv2d` and `Linear` layers the papers score.
mod gradient;
mod jacob_cov;
mod naswot;
mod synflow;

use crate::nb201::{nb201_flops, nb201_params, Nb201Net, Nb201Shape};
use crate::params::{InitRoot, ParamStore};
use crate::{cross_entropy, BnMode};
use candle_core::{Device, Result, Tensor, Var};
use enas_shared::OpKind;

/// The proxies by name (defined in `enas-shared`, where configs and flags name them).
pub use enas_shared::ProxyKind;

/// Every proxy, in the order `--proxy all` lists them.
pub const ALL_PROXIES: [ProxyKind; 7] = ProxyKind::ALL;

/// One minibatch for the data proxies: images `(N, 3, H, W)` f32, normalised, and labels `(N)` u32.
#[derive(Clone)]
pub struct ProxyBatch {
    pub images: Tensor,
    pub labels: Tensor,
}

/// What every proxy evaluation shares: the network's sizes, the seed, the minibatch.
#[derive(Clone)]
pub struct ProxyContext {
    pub shape: Nb201Shape,
    /// Image height and width (32 for CIFAR-10): synflow's all-ones input and the FLOP count.
    pub image_hw: (usize, usize),
    pub seed: u64,
    pub batch: Option<ProxyBatch>,
}

impl ProxyContext {
    /// The benchmark's CIFAR-10 network (3x32x32 images, 10 classes), with an optional minibatch.
    pub fn cifar10(seed: u64, batch: Option<ProxyBatch>) -> Self {
        ProxyContext { shape: Nb201Shape::default(), image_hw: (32, 32), seed, batch }
    }

    /// The benchmark's network sized for a minibatch's images (channels, height, width) and
    /// `classes`; labels must lie below `classes`.
    pub fn for_batch(seed: u64, batch: ProxyBatch, classes: usize) -> Result<Self> {
        let (_, c, h, w) = batch.images.dims4()?;
        let shape = Nb201Shape { in_channels: c, classes, ..Nb201Shape::default() };
        Ok(ProxyContext { shape, image_hw: (h, w), seed, batch: Some(batch) })
    }

    /// The initialisation seed of `cell`'s network: the run's seed mixed with the cell's ops
    /// (SplitMix64), so a cell's score is the same whatever else is scored.
    pub fn net_seed(&self, cell: &[OpKind]) -> u64 {
        let mut z = self.seed;
        for &op in cell {
            z = splitmix(z ^ (op as u64 + 1));
        }
        z
    }

    /// A freshly initialised network for `cell`, with BatchNorm.
    pub fn network(&self, cell: &[OpKind]) -> Result<Nb201Net> {
        Ok(self.network_and_params(cell)?.0)
    }

    /// The network the proxies score for `cell`, and its parameters by name (to export them).
    pub fn network_and_params(&self, cell: &[OpKind]) -> Result<(Nb201Net, ParamStore)> {
        let root = InitRoot::new(self.net_seed(cell), &Device::Cpu);
        let net = Nb201Net::new(cell, self.shape, true, root.init())?;
        Ok((net, root.finish()))
    }

    fn batch(&self, proxy: ProxyKind) -> Result<&ProxyBatch> {
        self.batch
            .as_ref()
            .ok_or_else(|| candle_core::Error::Msg(format!("proxy `{proxy}` needs a minibatch of images")))
    }
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Scores `cell` with `proxy`. Higher predicts a better network. A score can be NaN where the
/// proxy is undefined (jacob_cov when no path of ops joins the cell's input to its output).
pub fn score(proxy: ProxyKind, cell: &[OpKind], ctx: &ProxyContext) -> Result<f64> {
    Ok(score_all(&[proxy], cell, ctx)?[0])
}

/// Scores `cell` with every proxy of `proxies` (in that order). The data proxies share one
/// network and one forward pass of the minibatch: the cross-entropy loss's backward pass serves
/// `grad_norm` and `snip`, a second backward pass from `Σ output` gives `jacob_cov`'s Jacobian,
/// and the forward pass's ReLU inputs give `naswot`. Each value is what the proxy alone gives.
pub fn score_all(proxies: &[ProxyKind], cell: &[OpKind], ctx: &ProxyContext) -> Result<Vec<f64>> {
    let (h, w) = ctx.image_hw;
    let data = match proxies.iter().find(|p| p.needs_data()) {
        Some(&p) => Some(data_pass(proxies, &ctx.network(cell)?, ctx.batch(p)?)?),
        None => None,
    };
    let from_data = |i: usize| data.as_ref().map(|d| d[i]).expect("a data pass ran");
    proxies
        .iter()
        .map(|&p| match p {
            ProxyKind::Params => Ok(nb201_params(cell, ctx.shape) as f64),
            ProxyKind::Flops => Ok(nb201_flops(cell, ctx.shape, h, w) as f64),
            ProxyKind::Synflow => synflow::synflow(&ctx.network(cell)?, h, w),
            ProxyKind::Latency => {
                // One image through the network with BatchNorm's running statistics, as inference runs.
                let net = ctx.network(cell)?;
                let x = Tensor::ones((1, ctx.shape.in_channels, h, w), candle_core::DType::F32, &Device::Cpu)?;
                crate::latency::median_ms(|| {
                    net.forward(&x, BnMode::Eval)?.sum_all()?.to_scalar::<f32>()?;
                    Ok(())
                })
            }
            ProxyKind::GradNorm => Ok(from_data(0)),
            ProxyKind::Snip => Ok(from_data(1)),
            ProxyKind::JacobCov => Ok(from_data(2)),
            ProxyKind::Naswot => Ok(from_data(3)),
        })
        .collect()
}

/// `[grad_norm, snip, jacob_cov, naswot]` for the data proxies among `proxies` (NaN for the others).
fn data_pass(proxies: &[ProxyKind], net: &Nb201Net, batch: &ProxyBatch) -> Result<[f64; 4]> {
    let wants = |p: ProxyKind| proxies.contains(&p);
    let mut out = [f64::NAN; 4];
    let x = Var::from_tensor(&batch.images)?;
    let images = if wants(ProxyKind::JacobCov) { x.as_tensor().clone() } else { batch.images.clone() };
    let (logits, relu_inputs) = if wants(ProxyKind::Naswot) {
        net.forward_relu_inputs(&images, BnMode::Train)?
    } else {
        (net.forward(&images, BnMode::Train)?, Vec::new())
    };
    if wants(ProxyKind::Naswot) {
        out[3] = naswot::naswot(&relu_inputs, batch.images.dim(0)?)?;
    }
    drop(relu_inputs);
    if wants(ProxyKind::GradNorm) || wants(ProxyKind::Snip) {
        let grads = cross_entropy(&logits, &batch.labels)?.backward()?;
        out[0] = gradient::grad_norm(net, &grads)?;
        out[1] = gradient::snip(net, &grads)?;
    }
    if wants(ProxyKind::JacobCov) {
        let grads = logits.sum_all()?.backward()?;
        // No gradient reaches the images when no path of ops joins a cell's input to its output
        // (every path crosses a `none` edge or a zero node): the Jacobian is zero, its
        // correlations undefined, and the score NaN (as numpy's).
        out[2] = match grads.get(x.as_tensor()) {
            Some(jac) => jacob_cov::jacob_cov(jac)?,
            None => f64::NAN,
        };
    }
    Ok(out)
}
