//! The supernet as the search loop sees it: shared weights that run one path (a vector of
//! choices) or, for gradient methods, whatever `Path` grows to; and the `Evaluator` that scores
//! a vector of choices on the next validation minibatch with those weights. The loop and the
//! methods know a supernet only through this trait; each space's network is one implementation.
use anyhow::{Context, Result};
use candle_core::{Device, Tensor};
use enas_child::{correct, path_cost, BnMode, MicroNet, ParamStore};
use enas_shared::data::{batches, num_batches, Batch, Dataset, LoaderOptions};
use enas_shared::table::{Evaluation, Evaluator};
use enas_shared::{EnasMicro, Space};
use std::sync::Arc;

/// What one weight step trains: the paths a method asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Path {
    /// One vector of choices (ENAS, single-path one-shot): only its ops run.
    Single(Vec<usize>),
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
pub trait Supernet {
    fn space(&self) -> &Space;
    /// Logits for images `x` on `path`.
    fn forward(&self, x: &Tensor, path: &Path, mode: BnMode) -> Result<Tensor>;
    /// Every shared weight (what the weight optimiser trains and checkpoints hold).
    fn store(&self) -> &ParamStore;
    fn describe(&self, values: &[usize]) -> Result<PathInfo>;
    /// Parameters and multiply-adds of one image on a path (the zero-cost `params` and `flops`).
    fn costs(&self, values: &[usize]) -> Result<(usize, usize)>;
}

/// ENAS's micro supernet (`child::MicroNet`).
pub struct MicroSupernet {
    pub net: MicroNet,
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
        let Path::Single(values) = path;
        Ok(self.net.forward(x, &self.micro.from_values(values)?, mode)?)
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

/// Accuracy of `path` on one batch with the shared weights. As in ENAS, the child runs on batch
/// statistics, and nothing is updated.
pub fn batch_accuracy(net: &dyn Supernet, device: &Device, batch: &Batch, path: &Path) -> Result<f64> {
    let logits = net.forward(&batch.x.to_device(device)?, path, BnMode::BatchStats)?;
    Ok(correct(&logits, &batch.y.to_device(device)?)? as f64 / batch.n as f64)
}

/// The validation minibatches of one epoch, in order: shuffled passes over the validation split,
/// pass `k` from stream `1 + k` of the epoch, one minibatch per use.
pub struct ValidStream {
    data: Arc<Dataset>,
    opts: LoaderOptions,
    per_pass: usize,
    /// The seed of pass `k`.
    seed: Box<dyn Fn(u64) -> u64>,
    /// Minibatches used so far this epoch.
    pub used: usize,
    pass: Option<(usize, Vec<Batch>)>,
}

impl ValidStream {
    pub fn new(data: Arc<Dataset>, batch_size: usize, used: usize, seed: Box<dyn Fn(u64) -> u64>) -> ValidStream {
        let opts = LoaderOptions { batch_size, shuffle: true, augment: false, drop_last: true };
        let per_pass = num_batches(data.len(), opts).max(1);
        ValidStream { data, opts, per_pass, seed, used, pass: None }
    }

    /// The next minibatch (the current pass is prepared once and indexed).
    pub fn next_batch(&mut self) -> Result<&Batch> {
        let idx = self.used;
        let pass = idx / self.per_pass;
        if self.pass.as_ref().map(|(p, _)| *p) != Some(pass) {
            let seed = (self.seed)(pass as u64);
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
}

impl Evaluator for ArchContext<'_> {
    fn evaluate(&mut self, values: &[usize]) -> enas_shared::Result<Evaluation> {
        let batch = self.valid.next_batch().map_err(|e| enas_shared::Error::Arch(format!("{e:#}")))?;
        let acc = batch_accuracy(self.net, self.device, batch, &Path::Single(values.to_vec()))
            .map_err(|e| enas_shared::Error::Arch(format!("{e:#}")))?;
        Ok(Evaluation { reward: acc, report: None })
    }
}
