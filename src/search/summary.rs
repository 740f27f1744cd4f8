//! `summary.json` at the end of a search.
use super::Search;
use crate::derive::Candidate;
use anyhow::Result;

impl Search {
    pub fn write_summary(&self, best: &Candidate) -> Result<()> {
        let last = self.epoch_rows.last();
        let mut summary = serde_json::json!({
            "epochs": self.epoch_rows.len(),
            "best_arc": best.arc,
            "best_normal": best.normal,
            "best_reduce": best.reduce,
            "best_valid_acc": best.valid_acc,
            "best_active_params": best.active_params,
            "valid_images": self.valid.len(),
            "derive_samples": self.cfg.search.derive_samples,
            "final_mean_reward": last.map(|r| r.mean_reward),
            "final_baseline": last.map(|r| r.baseline),
            "scored_arcs": self.arch_rows.len(),
            "supernet_params": self.net.store().num_params(),
            "seconds": self.epoch_rows.iter().map(|r| r.seconds).sum::<f64>(),
            "threads": crate::runtime::threads(),
            "proxy_evaluations": self.warm.evaluations,
            "proxy_seconds": self.warm.seconds,
        });
        if let Some(cost) = &self.cost {
            let front = super::cost::pareto_rows(&self.arch_rows);
            self.dir.write_rows("pareto.csv", &front)?;
            summary["objective"] = serde_json::to_value(&self.cfg.objective)?;
            summary["cost"] = cost.name().into();
            summary["best_cost"] = best.cost.into();
            summary["pareto_arcs"] = front.len().into();
        }
        if let Some(reason) = &self.stopped {
            summary["stopped_early"] = reason.clone().into();
        }
        if let Some(acc) = self.table_acc_of(&best.arc)? {
            summary["table_column"] = self.cfg.bench.final_column.clone().into();
            summary["best_table_acc"] = acc.into();
            summary["table_optimum"] = self.table_optimum().into();
        }
        self.dir.write_json("summary.json", &summary)
    }
}
