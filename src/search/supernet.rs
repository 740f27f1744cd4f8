//! The supernet as the search loop sees it: shared weights that run one path (a vector of
//! choices) or, for gradient methods, whatever `Path` grows to; and the `Evaluator` that scores
//! a vector of choices on the next validation minibatch with those weights. The loop and the
//! methods know a supernet only through this trait; each space's network is one implementation.
use crate::runtime::stream_seed;
use anyhow::{Context, Result};
use candle_core::{Device, Tensor};
use enas_child::{correct, cross_entropy, path_cost, BnMode, Forward, MicroNet, ParamStore};
use enas_shared::data::{batches, num_batches, Batch, Dataset, LoaderOptions};
use enas_shared::table::{Evaluation, Evaluator};
use enas_shared::{ChildConfig, EnasMicro, Space};
use std::sync::Arc;

/// What one weight step trains: the paths a method asks for.
#[derive(Debug, Clone)]
pub enum Path {
    /// One vector of choices (ENAS, single-path one-shot): only its ops run.
    Single(Vec<usize>),
    /// Every op of every decision, weighted (DARTS): a `(decisions, choices)` tensor whose row
    /// `k` weighs decision `k`'s ops (softmax(α)); gradients reach it unless it is detached.
    Mixed(Tensor),
}

impl Path {
    /// The path with a mixture's weights on `device` (a single path has nothing to move).
    pub fn onto(self, device: &Device) -> candle_core::Result<Path> {
        Ok(match self {
            Path::Mixed(w) => Path::Mixed(w.to_device(device)?),
            single => single,
        })
    }

    /// The vector of choices of a single path; a mixed path is an error naming `space`.
    pub fn single(&self, space: &str) -> Result<&[usize]> {
        match self {
            Path::Single(values) => Ok(values),
            Path::Mixed(_) => {
                anyhow::bail!(
                    "the {space} supernet runs single paths only; a mixed path (DARTS) needs the nb201 or darts space"
                )
            }
        }
    }
}

/// How a path shows in `architectures.csv` and `derive.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct PathInfo {
    /// The space's text form (ENAS arc, NB201 string).
    pub arc: String,
    /// Readable cells: the normal and reduction cell (ENAS micro), or the ops (NB201, `reduce`
    /// empty).
    pub normal: String,
    pub reduce: String,
    /// Trainable parameters on the path.
    pub active_params: usize,
}

/// A weight-sharing network over a search space.
pub trait Supernet: Send + Sync {
    fn space(&self) -> &Space;
    /// Logits for images `x` on `path`.
    fn forward(&self, x: &Tensor, path: &Path, mode: BnMode) -> Result<Tensor>;
    /// The loss of a shared-weight training step and its logits: cross-entropy, plus the
    /// auxiliary head's weighted loss where the network has one; `seed` draws any dropout mask.
    fn train_loss(&self, x: &Tensor, y: &Tensor, path: &Path, _seed: u64) -> Result<(Tensor, Tensor)> {
        let logits = self.forward(x, path, BnMode::Train)?;
        Ok((cross_entropy(&logits, y)?, logits))
    }
    /// Logits of a reward pass: batch statistics, nothing updated, and any dropout the network's
    /// search runs with (ENAS scores with its training graph); `seed` draws its mask.
    fn reward_logits(&self, x: &Tensor, path: &Path, _seed: u64) -> Result<Tensor> {
        self.forward(x, path, BnMode::BatchStats)
    }
    /// Every shared weight (what the weight optimiser trains and checkpoints hold).
    fn store(&self) -> &ParamStore;
    fn describe(&self, values: &[usize]) -> Result<PathInfo>;
    /// Parameters and multiply-adds of one image on a path (the zero-cost `params` and `flops`).
    fn costs(&self, values: &[usize]) -> Result<(usize, usize)>;
}

/// ENAS's micro supernet (`child::MicroNet`), with ENAS's dropout and auxiliary head as
/// `child.keep_prob` and `child.aux_weight` set them.
pub struct MicroSupernet {
    pub net: MicroNet,
    pub child: ChildConfig,
    pub store: ParamStore,
    pub micro: EnasMicro,
    pub space: Space,
    /// Image height and width, for costs.
    pub hw: (usize, usize),
}

impl Supernet for MicroSupernet {
    fn space(&self) -> &Space {
        &self.space
    }

    fn forward(&self, x: &Tensor, path: &Path, mode: BnMode) -> Result<Tensor> {
        let values = path.single("ENAS micro")?;
        Ok(self.net.forward(x, &self.micro.from_values(values)?, mode)?)
    }

    fn train_loss(&self, x: &Tensor, y: &Tensor, path: &Path, seed: u64) -> Result<(Tensor, Tensor)> {
        let values = path.single("ENAS micro")?;
        let arch = self.micro.from_values(values)?;
        let (logits, aux) = self.net.forward_opts(x, &arch, BnMode::Train, &Forward::of_child(&self.child, seed))?;
        let mut loss = cross_entropy(&logits, y)?;
        if let Some(aux) = aux {
            loss = (loss + (cross_entropy(&aux, y)? * self.child.aux_weight)?)?;
        }
        Ok((loss, logits))
    }

    fn reward_logits(&self, x: &Tensor, path: &Path, seed: u64) -> Result<Tensor> {
        let values = path.single("ENAS micro")?;
        let arch = self.micro.from_values(values)?;
        let opts = Forward { aux: false, ..Forward::of_child(&self.child, seed) };
        Ok(self.net.forward_opts(x, &arch, BnMode::BatchStats, &opts)?.0)
    }

    fn store(&self) -> &ParamStore {
        &self.store
    }

    fn describe(&self, values: &[usize]) -> Result<PathInfo> {
        let arch = self.micro.from_values(values)?;
        Ok(PathInfo {
            arc: self.micro.format(&arch)?,
            normal: arch.normal.to_string(),
            reduce: arch.reduce.to_string(),
            active_params: self.costs(values)?.0,
        })
    }

    fn costs(&self, values: &[usize]) -> Result<(usize, usize)> {
        Ok(path_cost(&self.net, &self.micro.from_values(values)?, self.hw.0, self.hw.1))
    }
}

/// Reward accuracy of `path` on one batch with the shared weights (`Supernet::reward_logits`).
pub fn batch_accuracy(net: &dyn Supernet, device: &Device, batch: &Batch, path: &Path, seed: u64) -> Result<f64> {
    let logits = net.reward_logits(&batch.x.to_device(device)?, path, seed)?;
    Ok(correct(&logits, &batch.y.to_device(device)?)? as f64 / batch.n as f64)
}

/// The validation minibatches of one epoch, in order: shuffled passes over the validation split,
/// pass `k` from the epoch's stream `1 + k`, one minibatch per use.
pub struct ValidStream {
    data: Arc<Dataset>,
    opts: LoaderOptions,
    per_pass: usize,
    seed: u64,
    epoch: usize,
    /// Minibatches used so far this epoch.
    pub used: usize,
    pass: Option<(usize, Vec<Batch>)>,
}

impl ValidStream {
    pub fn new(data: Arc<Dataset>, batch_size: usize, seed: u64, epoch: usize, used: usize) -> ValidStream {
        let opts = LoaderOptions { batch_size, shuffle: true, augment: false, drop_last: true };
        let per_pass = num_batches(data.len(), opts).max(1);
        ValidStream { data, opts, per_pass, seed, epoch, used, pass: None }
    }

    /// The next minibatch (the current pass is prepared once and indexed).
    pub fn next_batch(&mut self) -> Result<&Batch> {
        let idx = self.used;
        let pass = idx / self.per_pass;
        if self.pass.as_ref().map(|(p, _)| *p) != Some(pass) {
            let seed = stream_seed(self.seed, self.epoch, 1 + pass as u64);
            self.pass = Some((pass, batches(self.data.clone(), self.opts, seed).collect()));
        }
        self.used += 1;
        self.pass
            .as_ref()
            .and_then(|(_, b)| b.get(idx % self.per_pass))
            .context("the validation split is smaller than search.reward_batch_size")
    }
}

/// What an architecture step may use: the supernet (for methods that differentiate through it)
/// and the epoch's validation minibatches. As an `Evaluator`, it scores one vector of choices on
/// the next minibatch.
pub struct ArchContext<'a> {
    pub net: &'a dyn Supernet,
    pub device: &'a Device,
    pub valid: &'a mut ValidStream,
    /// The seed of the epoch's reward-pass dropout masks (one per minibatch used).
    pub dropout_seed: u64,
    /// For an architecture step interleaved with the weight steps: the weight step that follows
    /// it (what a second-order method takes virtually); `None` after the weight steps.
    pub next_step: Option<WeightStep<'a>>,
}

/// A weight step as the loop will take it: its training minibatch, learning rate and optimiser.
pub struct WeightStep<'a> {
    pub batch: &'a Batch,
    pub lr: f64,
    pub opt: &'a enas_child::SgdNesterov,
}

impl Evaluator for ArchContext<'_> {
    fn evaluate(&mut self, values: &[usize]) -> enas_shared::Result<Evaluation> {
        let seed = self.dropout_seed ^ (self.valid.used as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let batch = self.valid.next_batch().map_err(|e| enas_shared::Error::Arch(format!("{e:#}")))?;
        let acc = batch_accuracy(self.net, self.device, batch, &Path::Single(values.to_vec()), seed)
            .map_err(|e| enas_shared::Error::Arch(format!("{e:#}")))?;
        Ok(Evaluation { reward: acc, report: None, cost: None })
    }
}
