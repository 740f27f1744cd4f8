//! Search checkpoints. A checkpoint is a folder `checkpoints/<n>/` holding the supernet (with
//! BatchNorm running statistics), its optimiser's state, the method's state (`method.json`:
//! for ENAS the controller's weights, Adam's moments and the baseline) and the RNG position;
//! the run's `state.json` names the current one and is written last, atomically, so a run killed
//! at any moment resumes from a consistent checkpoint. Older checkpoint folders are removed after.
use super::rows::EpochRow;
use super::Search;
use crate::checkpoint_io::{check_unchanged, load_tensors, save_tensors};
use crate::run::RunDir;
use crate::runtime::stream_seed;
use anyhow::{Context, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The run's pointer to its latest checkpoint.
pub const CHECKPOINT_STATE: &str = "state.json";
/// The method's state, beside the other checkpoint files.
const METHOD_STATE: &str = "method.json";
const FORMAT: u32 = 2;

/// Which half of an epoch the loop is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Child,
    Controller,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Child => "shared-weight",
            Phase::Controller => "controller",
        }
    }
}

/// Where the loop stands: the next step to run and the epoch's running sums.
#[derive(Debug, Clone)]
pub struct Cursor {
    pub epoch: usize,
    pub phase: Phase,
    pub step: usize,
    /// The controller's sampling RNG (one stream per epoch, advanced by every sample).
    pub rng: ChaCha8Rng,
    pub sums: Sums,
    pub seconds: f64,
    /// Validation minibatches the architecture steps used so far this epoch.
    pub valid_used: usize,
}

/// Running sums of one epoch, for `epochs.csv`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Sums {
    loss: f64,
    correct: usize,
    seen: usize,
    reward: f64,
    valid_acc: f64,
    entropy: f64,
    /// Scored arcs that had an entropy (a policy's samples).
    with_entropy: usize,
    scored: usize,
}

impl Cursor {
    pub fn start(seed: u64) -> Cursor {
        Cursor {
            epoch: 0,
            phase: Phase::Child,
            step: 0,
            rng: epoch_rng(seed, 0),
            sums: Sums::default(),
            seconds: 0.0,
            valid_used: 0,
        }
    }

    pub fn next_epoch(&mut self, seed: u64) {
        *self = Cursor { epoch: self.epoch + 1, ..Cursor::start(seed) };
        self.rng = epoch_rng(seed, self.epoch);
    }

    pub fn add_child(&mut self, loss: f64, correct: usize, n: usize) {
        self.sums.loss += loss * n as f64;
        self.sums.correct += correct;
        self.sums.seen += n;
    }

    pub fn add_reward(&mut self, reward: f64, valid_acc: f64, entropy: f64) {
        self.sums.reward += reward;
        self.sums.valid_acc += valid_acc;
        if !entropy.is_nan() {
            self.sums.entropy += entropy;
            self.sums.with_entropy += 1;
        }
        self.sums.scored += 1;
    }

    pub fn child_loss(&self) -> f64 {
        self.sums.loss / self.sums.seen.max(1) as f64
    }

    pub fn mean_reward(&self) -> f64 {
        self.sums.reward / self.sums.scored.max(1) as f64
    }

    pub fn epoch_row(&self, lr: f64, baseline: f64) -> EpochRow {
        let s = &self.sums;
        let scored = s.scored.max(1) as f64;
        EpochRow {
            epoch: self.epoch + 1,
            lr,
            child_loss: self.child_loss(),
            child_acc: s.correct as f64 / s.seen.max(1) as f64,
            mean_reward: s.reward / scored,
            mean_valid_acc: s.valid_acc / scored,
            mean_entropy: if s.with_entropy == 0 { f64::NAN } else { s.entropy / s.with_entropy as f64 },
            baseline,
            seconds: self.seconds,
            current: String::new(),
            current_table_acc: f64::NAN,
        }
    }
}

/// The controller's sampling stream of one epoch.
fn epoch_rng(seed: u64, epoch: usize) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(stream_seed(seed, epoch, u64::MAX))
}

/// `state.json`.
#[derive(Serialize, Deserialize)]
struct State {
    format: u32,
    checkpoint: String,
    epoch: usize,
    phase: Phase,
    step: usize,
    /// Words of the epoch's controller RNG stream consumed so far (the RNG state).
    rng_word_pos: String,
    sums: Sums,
    seconds: f64,
    valid_used: usize,
    arch_rows: usize,
    epoch_rows: usize,
    /// Rows of `genotypes.csv` (a method with architecture weights; 0 otherwise).
    #[serde(default)]
    genotype_rows: usize,
    finished: bool,
    /// The resolved config the run was started with, as YAML: a resume refuses a `config.yaml`
    /// changed since (absent in checkpoints written before this check existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    config: Option<String>,
}

impl Search {
    /// Writes a checkpoint of everything at `cursor`, then the result tables, then `state.json`.
    pub fn save_checkpoint(&self, cursor: &Cursor) -> Result<()> {
        let done = cursor.epoch >= self.cfg.search.epochs;
        let name = format!("checkpoints/{:04}-{}-{:05}", cursor.epoch, cursor.phase.name(), cursor.step);
        let dir = self.dir.file(&name);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        self.net.store().save(&dir.join("supernet.safetensors"))?;
        save_tensors(&dir.join("child_optimizer.safetensors"), self.child_opt.momentum_buffers())?;
        let state = serde_json::to_string(&self.method.state()?)?;
        enas_shared::export::atomic_write(&dir.join(METHOD_STATE), state.as_bytes())?;
        self.dir.write_rows("architectures.csv", &self.arch_rows)?;
        self.dir.write_rows("epochs.csv", &self.epoch_rows)?;
        if !self.genotype_rows.is_empty() {
            self.dir.write_rows("genotypes.csv", &self.genotype_rows)?;
        }
        let state = State {
            format: FORMAT,
            checkpoint: name.clone(),
            epoch: cursor.epoch,
            phase: cursor.phase,
            step: cursor.step,
            rng_word_pos: cursor.rng.get_word_pos().to_string(),
            sums: cursor.sums.clone(),
            seconds: cursor.seconds,
            valid_used: cursor.valid_used,
            arch_rows: self.arch_rows.len(),
            epoch_rows: self.epoch_rows.len(),
            genotype_rows: self.genotype_rows.len(),
            finished: done,
            config: Some(self.cfg.to_yaml()),
        };
        self.dir.write_text(CHECKPOINT_STATE, &serde_json::to_string_pretty(&state)?)?;
        // The new checkpoint is committed; the older ones can go.
        for entry in std::fs::read_dir(self.dir.file("checkpoints"))?.flatten() {
            if entry.path() != dir {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        Ok(())
    }

    /// Rebuilds a search from a run directory's latest checkpoint.
    pub fn resume(dir: &RunDir) -> Result<(Search, Cursor)> {
        let state_path = dir.file(CHECKPOINT_STATE);
        // Only an absent file is "missing"; one that cannot be read, or is not text, says so.
        let bytes = match std::fs::read(&state_path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                anyhow::bail!("{} has no checkpoint to resume from ({CHECKPOINT_STATE} is missing)", dir.path.display())
            }
            r => r.with_context(|| format!("reading the checkpoint state file {}", state_path.display()))?,
        };
        let invalid = || format!("{} is not a valid checkpoint state file", state_path.display());
        let text =
            String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("it is not UTF-8 text")).with_context(invalid)?;
        let state: State = serde_json::from_str(&text).with_context(invalid)?;
        anyhow::ensure!(
            state.format == FORMAT,
            "{}: checkpoint format {} is not {FORMAT}",
            state_path.display(),
            state.format
        );
        let cfg = dir.read_config()?;
        if let Some(started) = &state.config {
            check_unchanged(&cfg, started, &dir.file("config.yaml"), "search")?;
        }
        anyhow::ensure!(
            state.epoch <= cfg.search.epochs,
            "{}: epoch {} is past the run's {} epochs (search.epochs); the file is not this run's checkpoint",
            state_path.display(),
            state.epoch,
            cfg.search.epochs
        );
        let seed = cfg.seed;
        let mut search = Search::new(cfg, RunDir { path: dir.path.clone() })?;
        let ck = dir.file(&state.checkpoint);
        let corrupt = |what: &str| format!("checkpoint {}: cannot restore {what}", ck.display());
        search.net.store().load(&ck.join("supernet.safetensors")).with_context(|| corrupt("the supernet"))?;
        let bufs = load_tensors(&ck.join("child_optimizer.safetensors"), search.net.store().vars.len())
            .with_context(|| corrupt("the shared-weight optimiser"))?;
        search.child_opt.set_momentum_buffers(bufs)?;
        search.arch_rows = read_rows(dir, "architectures.csv", state.arch_rows)?;
        search.epoch_rows = read_rows(dir, "epochs.csv", state.epoch_rows)?;
        if state.genotype_rows > 0 {
            search.genotype_rows = read_rows(dir, "genotypes.csv", state.genotype_rows)?;
        }
        let path = ck.join(METHOD_STATE);
        let text = std::fs::read_to_string(&path).with_context(|| corrupt("the method (reading method.json)"))?;
        let value = serde_json::from_str(&text).with_context(|| corrupt("the method (method.json is not JSON)"))?;
        search.method.restore(value, &search.arch_rows).with_context(|| corrupt("the method"))?;
        let mut rng = epoch_rng(seed, state.epoch);
        rng.set_word_pos(state.rng_word_pos.parse().with_context(|| corrupt("the RNG position"))?);
        let cursor = Cursor {
            epoch: state.epoch,
            phase: state.phase,
            step: state.step,
            rng,
            sums: state.sums,
            seconds: state.seconds,
            valid_used: state.valid_used,
        };
        Ok((search, cursor))
    }
}

/// Reads the first `n` rows of one of the run's tables.
fn read_rows<T: serde::de::DeserializeOwned>(dir: &RunDir, name: &str, n: usize) -> Result<Vec<T>> {
    let path = dir.file(name);
    let (rows, total) = enas_shared::export::read_rows(&path, n)?;
    anyhow::ensure!(total >= n, "{}: {total} rows, but the checkpoint recorded {n}", path.display());
    Ok(rows)
}
