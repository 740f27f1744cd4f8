//! What makes `enas bench` survive a stop: the invocation kept in the run directory
//! (`bench.json`, with the resolved config in `config.yaml`), and every trial written as it
//! completes (`trials/<strategy>-<trial>.csv` with its queries, then `.json` with its counts, the
//! JSON last so that it marks the trial complete). `enas bench --resume DIR` runs only the trials
//! that have no JSON yet; trials are independent and seeded by their index, so the final files
//! equal an uninterrupted run's (wall-clock seconds aside).
use super::report::TrajectoryRow;
use super::{Step, Trial};
use crate::checkpoint_io::check_unchanged;
use crate::run::RunDir;
use anyhow::{Context, Result};
use enas_shared::objective::ObjectiveKind;
use enas_shared::strategy_config::StrategyKind;
use enas_shared::{Config, SpaceKind};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

const INVOCATION: &str = "bench.json";
const TRIALS: &str = "trials";

/// The command line a bench run was started with (paths absolute), for `--resume`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Invocation {
    pub table: PathBuf,
    pub space: SpaceKind,
    pub strategies: Vec<StrategyKind>,
    pub budget: usize,
    pub trials: usize,
    pub proxy_cache: Option<PathBuf>,
    /// Whether `--data` was given (the data proxies need it).
    pub data_given: bool,
    /// `--objective`, and the cost table and column a Pareto report reads.
    #[serde(default)]
    pub objective: ObjectiveKind,
    #[serde(default)]
    pub cost: Option<(PathBuf, String)>,
    /// The resolved config (YAML): a resume refuses a `config.yaml` changed since.
    pub config: String,
    /// What the trials read besides the config; a resume refuses any change (absent in runs
    /// started by older builds, which are resumed unchecked).
    #[serde(default)]
    pub inputs: Option<Inputs>,
}

/// The inputs of a bench's trials as they were when it started: fingerprints of the table and
/// cost table files (an edited table would give the resumed trials other rewards than the saved
/// ones) and the proxy engine's settings (seed, and the minibatch's fingerprint).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inputs {
    pub table: String,
    pub cost_table: Option<String>,
    pub proxies: Option<String>,
}

impl Inputs {
    /// Refuses a resume whose inputs differ from the run's, naming what changed.
    pub fn check_unchanged(&self, now: &Inputs, inv: &Invocation) -> Result<()> {
        let file = |p: &Path| p.display().to_string();
        let mut changed = Vec::new();
        if self.table != now.table {
            changed.push(format!("the table {}", file(&inv.table)));
        }
        if self.cost_table != now.cost_table {
            let path = inv.cost.as_ref().map(|(p, _)| file(p)).unwrap_or_default();
            changed.push(format!("the cost table {path}"));
        }
        if self.proxies != now.proxies {
            changed.push(format!(
                "the proxies' settings ({} then, {} now)",
                self.proxies.as_deref().unwrap_or("none"),
                now.proxies.as_deref().unwrap_or("none")
            ));
        }
        anyhow::ensure!(
            changed.is_empty(),
            "{} changed since the run started: its saved trials were run on the old one, so a resume would mix \
             the two; restore it, or start a new run",
            changed.join(" and ")
        );
        Ok(())
    }
}

impl Invocation {
    pub fn write(&self, dir: &RunDir) -> Result<()> {
        dir.write_text(INVOCATION, &serde_json::to_string_pretty(self)?)
    }

    /// Reads a run's invocation back and checks that its `config.yaml` is unchanged.
    pub fn read(dir: &RunDir, cfg: &Config) -> Result<Invocation> {
        let path = dir.file(INVOCATION);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!("{} is not an `enas bench` run: reading {}", dir.path.display(), path.display())
        })?;
        let inv: Invocation =
            serde_json::from_str(&text).with_context(|| format!("{} is not valid", path.display()))?;
        check_unchanged(cfg, &inv.config, &dir.file("config.yaml"), "bench")?;
        Ok(inv)
    }
}

/// A trial's counts, `trials/<strategy>-<trial>.json`.
#[derive(Serialize, Deserialize)]
struct TrialMeta {
    strategy: StrategyKind,
    trial: usize,
    seconds: f64,
    fallbacks: usize,
    proxy_evals: usize,
    proxy_seconds: f64,
}

fn stem(strategy: StrategyKind, trial: usize) -> String {
    format!("{TRIALS}/{strategy}-{trial:05}")
}

/// Whether trial `(strategy, trial)` was completed and saved.
pub fn is_saved(dir: &RunDir, strategy: StrategyKind, trial: usize) -> bool {
    dir.file(&format!("{}.json", stem(strategy, trial))).exists()
}

/// Writes a completed trial: its queries, then its counts (which mark it complete).
pub fn save_trial(dir: &RunDir, t: &Trial) -> Result<()> {
    std::fs::create_dir_all(dir.file(TRIALS)).with_context(|| format!("creating {}", dir.file(TRIALS).display()))?;
    let stem = stem(t.strategy, t.trial);
    dir.write_rows(&format!("{stem}.csv"), &super::report::trajectory_rows(std::slice::from_ref(t)))?;
    let meta = TrialMeta {
        strategy: t.strategy,
        trial: t.trial,
        seconds: t.seconds,
        fallbacks: t.fallbacks,
        proxy_evals: t.proxy_evals,
        proxy_seconds: t.proxy_seconds,
    };
    dir.write_text(&format!("{stem}.json"), &serde_json::to_string_pretty(&meta)?)
}

/// The completed trial `(strategy, trial)` of the run, if it was saved.
pub fn load_trial(dir: &RunDir, strategy: StrategyKind, trial: usize) -> Result<Option<Trial>> {
    let stem = stem(strategy, trial);
    let meta_path = dir.file(&format!("{stem}.json"));
    if !meta_path.exists() {
        return Ok(None);
    }
    let corrupt = || format!("{} is not a saved trial; delete it to run the trial again", meta_path.display());
    let meta: TrialMeta =
        serde_json::from_str(&std::fs::read_to_string(&meta_path).with_context(corrupt)?).with_context(corrupt)?;
    anyhow::ensure!(meta.strategy == strategy && meta.trial == trial, corrupt());
    let rows_path = dir.file(&format!("{stem}.csv"));
    let (rows, _) = enas_shared::export::read_rows::<TrajectoryRow>(&rows_path, usize::MAX)?;
    let steps = rows
        .into_iter()
        .map(|r| Step { arch: r.arch, reward: r.reward, report: r.report, best_report: r.best_report })
        .collect();
    Ok(Some(Trial {
        strategy,
        trial,
        steps,
        seconds: meta.seconds,
        fallbacks: meta.fallbacks,
        proxy_evals: meta.proxy_evals,
        proxy_seconds: meta.proxy_seconds,
    }))
}
