//! What `enas bench` reports: per strategy and budget checkpoint, the mean, standard deviation
//! and standard error of the mean over trials of the best-so-far final value; the printed table,
//! `summary.json` and `trajectories.csv`.
use super::Trial;
use crate::run::RunDir;
use anyhow::Result;
use enas_shared::export::csv_f64::shortest;
use enas_shared::strategy_config::StrategyKind;
use serde::{Deserialize, Serialize};

/// Mean, sample standard deviation (n - 1) and standard error of the mean.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    pub mean: f64,
    pub std: f64,
    pub sem: f64,
}

impl Stats {
    pub fn of(xs: &[f64]) -> Stats {
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = if xs.len() > 1 { xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
        Stats { mean, std: var.sqrt(), sem: var.sqrt() / n.sqrt() }
    }
}

/// One strategy's results.
pub struct StrategySummary {
    pub kind: StrategyKind,
    /// Stats of the best-so-far final value after each query (index = query - 1).
    pub curve: Vec<Stats>,
    /// Mean wall time of a trial, seconds.
    pub seconds_per_trial: f64,
    /// Queries over all trials that came from a uniform fallback (a converged REINFORCE policy).
    pub fallbacks: usize,
    /// Mean zero-cost proxy evaluations per trial (not queries) and their single-thread seconds.
    pub proxy_evals_per_trial: f64,
    pub proxy_seconds_per_trial: f64,
}

pub struct Summary {
    pub optimum: f64,
    pub budget: usize,
    pub trials: usize,
    pub checkpoints: Vec<usize>,
    pub strategies: Vec<StrategySummary>,
}

/// 25, 50, then every 50 up to the budget, and the budget itself.
pub fn checkpoints(budget: usize) -> Vec<usize> {
    let mut out: Vec<usize> = [25].into_iter().chain((1..).map(|k| 50 * k).take_while(|&b| b < budget)).collect();
    out.retain(|&b| b < budget);
    out.push(budget);
    out
}

impl Summary {
    pub fn new(trials: &[Trial], kinds: &[StrategyKind], budget: usize, optimum: f64) -> Summary {
        let strategies = kinds
            .iter()
            .map(|&kind| {
                let mine: Vec<&Trial> = trials.iter().filter(|t| t.strategy == kind).collect();
                let curve = (0..budget)
                    .map(|q| Stats::of(&mine.iter().map(|t| t.steps[q].best_report).collect::<Vec<_>>()))
                    .collect();
                let seconds_per_trial = mine.iter().map(|t| t.seconds).sum::<f64>() / mine.len() as f64;
                let fallbacks = mine.iter().map(|t| t.fallbacks).sum();
                let n = mine.len() as f64;
                let proxy_evals_per_trial = mine.iter().map(|t| t.proxy_evals as f64).sum::<f64>() / n;
                let proxy_seconds_per_trial = mine.iter().map(|t| t.proxy_seconds).sum::<f64>() / n;
                StrategySummary {
                    kind,
                    curve,
                    seconds_per_trial,
                    fallbacks,
                    proxy_evals_per_trial,
                    proxy_seconds_per_trial,
                }
            })
            .collect();
        let n = trials.iter().filter(|t| Some(&t.strategy) == kinds.first()).count();
        Summary { optimum, budget, trials: n, checkpoints: checkpoints(budget), strategies }
    }

    /// The printed table: one row per strategy, `mean ± std (sem)` per checkpoint.
    pub fn table(&self, column: &str) -> String {
        let mut out = format!(
            "mean best-so-far {column} over {} trials after N queries: mean ± std (standard error); optimum {}\n",
            self.trials, self.optimum
        );
        out.push_str(&format!("{:<17}", "strategy"));
        for b in &self.checkpoints {
            out.push_str(&format!(" {:>20}", format!("N={b}")));
        }
        out.push_str(&format!(" {:>10} {:>12} {:>14}\n", "s/trial", "proxy evals", "proxy s/trial"));
        for s in &self.strategies {
            out.push_str(&format!("{:<17}", s.kind.name()));
            for b in &self.checkpoints {
                let st = s.curve[b - 1];
                out.push_str(&format!(" {:>20}", format!("{:.2} ± {:.2} ({:.3})", st.mean, st.std, st.sem)));
            }
            out.push_str(&format!(
                " {:>10.4} {:>12.0} {:>14.2}\n",
                s.seconds_per_trial, s.proxy_evals_per_trial, s.proxy_seconds_per_trial
            ));
        }
        if self.strategies.iter().any(|s| s.proxy_evals_per_trial > 0.0) {
            out.push_str(
                "proxy evals: zero-cost proxy scores per trial (no table query); proxy s/trial: their \
                 single-thread compute time, counted in full even when an earlier trial computed the score\n",
            );
        }
        for s in self.strategies.iter().filter(|s| s.fallbacks > 0) {
            out.push_str(&format!(
                "note: {} proposed {} of its {} queries by uniform fallback (its policy had converged)\n",
                s.kind.name(),
                s.fallbacks,
                self.trials * self.budget
            ));
        }
        out
    }

    /// `summary.json`: `{"optimum", "strategies": {name: {"budgets": {"100": {mean, std, sem}}}}}`
    /// plus `meta`'s keys.
    pub fn to_json(&self, meta: serde_json::Value) -> serde_json::Value {
        let mut strategies = serde_json::Map::new();
        for s in &self.strategies {
            let mut budgets = serde_json::Map::new();
            for b in &self.checkpoints {
                let st = s.curve[b - 1];
                budgets.insert(b.to_string(), serde_json::json!({"mean": st.mean, "std": st.std, "sem": st.sem}));
            }
            strategies.insert(
                s.kind.name().to_string(),
                serde_json::json!({
                    "budgets": budgets,
                    "seconds_per_trial": s.seconds_per_trial,
                    "fallback_queries": s.fallbacks,
                    "proxy_evaluations_per_trial": s.proxy_evals_per_trial,
                    "proxy_seconds_per_trial": s.proxy_seconds_per_trial,
                }),
            );
        }
        let mut out = serde_json::json!({"optimum": self.optimum, "strategies": strategies});
        if let (Some(o), serde_json::Value::Object(m)) = (out.as_object_mut(), meta) {
            o.extend(m);
        }
        out
    }
}

/// One row of `trajectories.csv`: a query of a trial, numbers as they are (shortest text).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrajectoryRow {
    pub strategy: StrategyKind,
    pub trial: usize,
    /// From 1.
    pub query: usize,
    pub arch: String,
    #[serde(with = "shortest")]
    pub reward: f64,
    /// The final column of the queried architecture.
    #[serde(rename = "final", with = "shortest")]
    pub report: f64,
    /// The final column of the best-rewarded architecture so far.
    #[serde(rename = "best_final", with = "shortest")]
    pub best_report: f64,
}

/// `trajectories.csv`: one row per query of every trial.
pub fn write_trajectories(dir: &RunDir, trials: &[Trial]) -> Result<()> {
    dir.write_rows("trajectories.csv", &trajectory_rows(trials))
}

/// The rows of `trajectories.csv` for `trials`, in their order.
pub fn trajectory_rows(trials: &[Trial]) -> Vec<TrajectoryRow> {
    let mut rows = Vec::with_capacity(trials.iter().map(|t| t.steps.len()).sum());
    for t in trials {
        for (q, s) in t.steps.iter().enumerate() {
            rows.push(TrajectoryRow {
                strategy: t.strategy,
                trial: t.trial,
                query: q + 1,
                arch: s.arch.clone(),
                reward: s.reward,
                report: s.report,
                best_report: s.best_report,
            });
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_are_25_50_then_every_50_and_the_budget() {
        assert_eq!(checkpoints(300), vec![25, 50, 100, 150, 200, 250, 300]);
        assert_eq!(checkpoints(120), vec![25, 50, 100, 120]);
        assert_eq!(checkpoints(25), vec![25]);
        assert_eq!(checkpoints(10), vec![10]);
    }

    #[test]
    fn stats_use_the_sample_std() {
        let s = Stats::of(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(s.mean, 2.5);
        assert!((s.std - 1.2909944).abs() < 1e-6);
        assert!((s.sem - 1.2909944 / 2.0).abs() < 1e-6);
    }
}
