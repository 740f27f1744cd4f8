//! Whole supernet training steps run twice, as a reference (the CPU kernels on the CPU) and as a
//! candidate (the device-generic ops, on the CPU when forced or on a GPU), with the same weights,
//! inputs and architectures: the loss, every gradient, the weights after one SGD step and the
//! BatchNorm running statistics must agree. `tests/generic.rs` runs it on the CPU; `enas
//! device-check --device cuda` (what `scripts/gpu-check.sh` runs) on a GPU.
use crate::darts::{DartsPath, DartsShape, DartsSupernet};
use crate::ops::generic;
use crate::{cross_entropy, BnMode, InitRoot, MicroNet, MicroShape, Nb201Shape, Nb201Supernet, SgdNesterov, Weights};
use candle_core::{Device, Result, Tensor, Var};
use enas_shared::space::darts::Darts;
use enas_shared::{EnasMicro, OpKind};

/// One step compared: the largest difference found, relative to the tensor's size (or to a
/// thousandth of its group's largest tensor, for tensors that are mathematically zero and hold
/// only rounding noise, e.g. a bias under a later training-mode BatchNorm).
#[derive(Debug, Clone)]
pub struct Comparison {
    pub what: &'static str,
    pub loss: (f32, f32),
    /// Tensors compared (gradients, updated weights, running statistics).
    pub tensors: usize,
    pub worst: f32,
    pub worst_name: String,
}

impl Comparison {
    pub fn ok(&self, tol: f32) -> bool {
        self.worst <= tol && (self.loss.0 - self.loss.1).abs() <= tol * self.loss.0.abs()
    }
}

/// A fixed pseudo-random tensor (an LCG mapped to [-1, 1)), made on the host and uploaded.
pub fn lcg(shape: &[usize], seed: u64, device: &Device) -> Result<Tensor> {
    let n: usize = shape.iter().product();
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let v: Vec<f32> = (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect();
    Tensor::from_vec(v, shape, device)
}

/// What one step left, on the host.
struct Step {
    loss: f32,
    groups: [Vec<(String, Tensor)>; 3],
}

/// A supernet case: builds its network on `device` from a seed and returns the loss closure's
/// result after one step.
type Case = fn(&Device) -> Result<Step>;

fn host(t: &Tensor) -> Result<Tensor> {
    t.to_device(&Device::Cpu)
}

/// One SGD step (momentum 0.9, weight decay 3e-4, lr 0.05) of `loss` over `store` and `extra`.
fn step(store: &crate::ParamStore, extra: &[(String, Var)], loss: Tensor) -> Result<Step> {
    let grads = loss.backward()?;
    let mut g = Vec::new();
    for (name, v) in store.names.iter().cloned().zip(&store.vars).chain(extra.iter().map(|(n, v)| (n.clone(), v))) {
        let t = grads.get(v).map_or_else(|| v.as_tensor().zeros_like(), |t| Ok(t.clone()))?;
        g.push((name, host(&t)?));
    }
    SgdNesterov::new(store.vars.clone(), 0.9, 3e-4).step(&grads, 0.05)?;
    let after = store
        .names
        .iter()
        .zip(&store.vars)
        .map(|(n, v)| Ok((n.clone(), host(v.as_tensor())?)))
        .collect::<Result<_>>()?;
    let bufs = store
        .buffer_names
        .iter()
        .zip(&store.buffers)
        .map(|(n, v)| Ok((n.clone(), host(v.as_tensor())?)))
        .collect::<Result<_>>()?;
    Ok(Step { loss: host(&loss)?.to_scalar::<f32>()?, groups: [g, after, bufs] })
}

fn labels(n: usize, device: &Device) -> Result<Tensor> {
    Tensor::from_vec((0..n as u32).map(|i| i % 10).collect::<Vec<_>>(), n, device)
}

fn softmax_rows(a: &Tensor) -> Result<Tensor> {
    candle_nn::ops::softmax_last_dim(a)
}

/// ENAS micro supernet, 5 nodes, an arc using every op.
fn enas_micro(d: &Device) -> Result<Step> {
    let arc = "1 1 1 0 0 4 0 2 0 4 1 0 0 3 3 0 1 0 4 3 0 4 0 1 2 4 0 4 3 0 1 0 4 1 2 3 1 4 0 4";
    let arch = EnasMicro::new(5).parse(arc).map_err(|e| candle_core::Error::Msg(e.to_string()))?;
    let shape = MicroShape { in_channels: 3, classes: 10, layers: 1, channels: 6, nodes: 5 };
    let root = InitRoot::new(11, d);
    let net = MicroNet::new(shape, &Weights::Shared, root.init())?;
    let store = root.finish();
    let loss = cross_entropy(&net.forward(&lcg(&[4, 3, 12, 12], 7, d)?, &arch, BnMode::Train)?, &labels(4, d)?)?;
    step(&store, &[], loss)
}

fn nb201(d: &Device, mixed: bool) -> Result<Step> {
    let shape = Nb201Shape { in_channels: 3, channels: 4, cells: 1, classes: 10 };
    let cell = [
        OpKind::NorConv3x3,
        OpKind::NorConv1x1,
        OpKind::AvgPool3x3,
        OpKind::Identity,
        OpKind::Zero,
        OpKind::NorConv3x3,
    ];
    let root = InitRoot::new(12, d);
    let net = Nb201Supernet::new(shape, root.init())?;
    let store = root.finish();
    let alpha = Var::from_tensor(&lcg(&[6, 5], 9, d)?)?;
    let x = lcg(&[4, 3, 8, 8], 8, d)?;
    let logits =
        if mixed { net.forward_mixed(&x, &softmax_rows(alpha.as_tensor())?)? } else { net.forward(&x, &cell)? };
    let extra = if mixed { vec![("alpha".to_string(), alpha)] } else { vec![] };
    step(&store, &extra, cross_entropy(&logits, &labels(4, d)?)?)
}

fn nb201_single(d: &Device) -> Result<Step> {
    nb201(d, false)
}

fn nb201_mixed(d: &Device) -> Result<Step> {
    nb201(d, true)
}

fn darts_mixed(d: &Device) -> Result<Step> {
    let shape = DartsShape { in_channels: 3, channels: 4, layers: 3, nodes: 4, classes: 10 };
    let edges = Darts::new(4).edges();
    let root = InitRoot::new(13, d);
    let net = DartsSupernet::new(shape, root.init())?;
    let store = root.finish();
    let alpha = Var::from_tensor(&(lcg(&[2 * edges, 8], 14, d)? * 0.5)?)?;
    let w = softmax_rows(alpha.as_tensor())?;
    let logits = net.forward(&lcg(&[4, 3, 8, 8], 10, d)?, &DartsPath::Mixed(&w), BnMode::Train)?;
    step(&store, &[("alpha".to_string(), alpha)], cross_entropy(&logits, &labels(4, d)?)?)
}

const CASES: [(&str, Case); 4] = [
    ("ENAS micro supernet", enas_micro),
    ("NB201 supernet, single path", nb201_single),
    ("NB201 supernet, mixture", nb201_mixed),
    ("DARTS supernet, mixture", darts_mixed),
];

/// Every case on the CPU kernels and on `device` by the generic ops (forced when `device` is the
/// CPU), compared.
pub fn compare_all(device: &Device) -> Result<Vec<Comparison>> {
    CASES.iter().map(|&(what, case)| compare(what, case, device)).collect()
}

fn compare(what: &'static str, case: Case, device: &Device) -> Result<Comparison> {
    let reference = case(&Device::Cpu)?;
    let candidate = {
        let _forced = generic::force();
        case(device)?
    };
    let mut out =
        Comparison { what, loss: (reference.loss, candidate.loss), tensors: 0, worst: 0.0, worst_name: String::new() };
    let size = |t: &Tensor| -> Result<f32> { t.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>() };
    for (a, b) in reference.groups.iter().zip(&candidate.groups) {
        let mut scale = 0f32;
        for (_, t) in a {
            scale = scale.max(size(t)?);
        }
        for ((name, x), (_, y)) in a.iter().zip(b) {
            let d = size(&(x - y)?)?;
            let rel = if d == 0.0 { 0.0 } else { d / size(x)?.max(1e-3 * scale).max(f32::MIN_POSITIVE) };
            out.tensors += 1;
            if rel > out.worst {
                out.worst = rel;
                out.worst_name = name.clone();
            }
        }
    }
    Ok(out)
}
