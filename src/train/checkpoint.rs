//! `enas train`'s checkpoints: after every epoch, and at the step where a stop signal landed, the
//! weights (BatchNorm statistics included), the optimiser's momentum, and where the data stream
//! stood (epoch, step: each epoch's batch order and augmentation are a function of the seed and
//! the epoch, so a resumed epoch skips the steps already taken). `train_state.json` names the
//! latest complete checkpoint; it is written last, so a kill at any moment leaves the previous
//! checkpoint in force.
use crate::checkpoint_io::{check_unchanged, load_tensors, save_tensors};
use crate::run::RunDir;
use anyhow::{Context, Result};
use enas_child::{ParamStore, SgdNesterov};
use enas_shared::Config;
use serde::{Deserialize, Serialize};

pub const TRAIN_STATE: &str = "train_state.json";
const FORMAT: u32 = 1;

/// Where a training run stands: the next step to take, and the running sums of its epoch.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Position {
    /// The epoch in progress (0-based); `epochs` once training is done.
    pub epoch: usize,
    /// Steps of that epoch already taken.
    pub step: usize,
    pub loss_sum: f64,
    pub correct: usize,
    pub seen: usize,
    /// Seconds spent in the epoch so far, and in the whole run so far.
    pub epoch_seconds: f64,
    pub seconds: f64,
}

/// `train_state.json`.
#[derive(Serialize, Deserialize)]
struct State {
    format: u32,
    checkpoint: String,
    position: Position,
    /// Rows of `metrics.csv` written at this checkpoint.
    metrics_rows: usize,
    /// The resolved config the run started with (YAML): a resume refuses a changed config.yaml.
    config: String,
}

/// Writes a checkpoint of `store` and `opt` at `pos`, then `train_state.json`, then removes older
/// checkpoints.
pub fn save(
    dir: &RunDir,
    cfg: &Config,
    store: &ParamStore,
    opt: &SgdNesterov,
    pos: &Position,
    rows: usize,
) -> Result<()> {
    let name = format!("checkpoints/{:04}-{:05}", pos.epoch, pos.step);
    let ck = dir.file(&name);
    std::fs::create_dir_all(&ck).with_context(|| format!("creating {}", ck.display()))?;
    store.save(&ck.join("model.safetensors")).with_context(|| format!("saving {}", ck.display()))?;
    save_tensors(&ck.join("optimizer.safetensors"), opt.momentum_buffers())?;
    let state =
        State { format: FORMAT, checkpoint: name, position: pos.clone(), metrics_rows: rows, config: cfg.to_yaml() };
    dir.write_text(TRAIN_STATE, &serde_json::to_string_pretty(&state)?)?;
    for entry in std::fs::read_dir(dir.file("checkpoints"))?.flatten() {
        if entry.path() != ck {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    Ok(())
}

/// A checkpoint read back: where to continue, and how many `metrics.csv` rows it covers.
pub struct Restored {
    pub position: Position,
    pub metrics_rows: usize,
}

/// Restores the latest checkpoint of the run in `dir` into `store` and `opt`, after checking
/// that `cfg` (its `config.yaml` now) is the config the run started with.
pub fn restore(dir: &RunDir, cfg: &Config, store: &ParamStore, opt: &mut SgdNesterov) -> Result<Restored> {
    let path = dir.file(TRAIN_STATE);
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let state: State = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a valid checkpoint state file", path.display()))?;
    anyhow::ensure!(state.format == FORMAT, "{}: checkpoint format {} is not {FORMAT}", path.display(), state.format);
    check_unchanged(cfg, &state.config, &dir.file("config.yaml"), "train")?;
    anyhow::ensure!(
        state.position.epoch <= cfg.train.epochs,
        "{}: epoch {} is past the run's {} epochs (train.epochs); the file is not this run's checkpoint",
        path.display(),
        state.position.epoch,
        cfg.train.epochs
    );
    let ck = dir.file(&state.checkpoint);
    let corrupt = |what: &str| format!("checkpoint {}: cannot restore {what}", ck.display());
    store.load(&ck.join("model.safetensors")).with_context(|| corrupt("the weights"))?;
    let bufs =
        load_tensors(&ck.join("optimizer.safetensors"), store.vars.len()).with_context(|| corrupt("the optimiser"))?;
    opt.set_momentum_buffers(bufs).with_context(|| corrupt("the optimiser"))?;
    Ok(Restored { position: state.position, metrics_rows: state.metrics_rows })
}
