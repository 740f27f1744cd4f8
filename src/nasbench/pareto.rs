//! `enas bench --objective pareto`: how well each strategy's queries cover the accuracy-cost
//! trade-off of the table, after each budget checkpoint, as means over trials of
//!
//! - **regret under cost budgets:** for budgets at the 10th, 20th, ..., 90th percentiles of the
//!   table's cost column (numpy's linear interpolation), the table's best final value within the
//!   budget less the final value of the queried architecture with the best reward within it,
//!   averaged over the 9 budgets (0: every budget's optimum found). A budget no query fits counts
//!   as the worst architecture within it;
//! - **hypervolume:** the queried architectures that no other query beats on both reward and cost,
//!   scored by final value and cost, as a fraction of the hypervolume of the table's true front
//!   (by final value and cost), both from the reference point (lowest final value, highest cost).
//!
//! Costs are table lookups: they cost no query.
use super::report::{checkpoints, Stats};
use super::Trial;
use anyhow::Result;
use enas_shared::cost::Costs;
use enas_shared::pareto::{hypervolume_2d, pareto_front};
use enas_shared::quantile::quantile;
use enas_shared::strategy_config::StrategyKind;
use enas_shared::table::Table;

/// One query as the measure sees it: (reward, final value, cost).
type Query = (f64, f64, f64);

/// The percentiles of the cost budgets.
const PERCENTILES: [f64; 9] = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0];

/// The table's side of the measure: per budget its best and worst final value, and the true front.
pub struct Frontier {
    budgets: Vec<f64>,
    best_within: Vec<f64>,
    worst_within: Vec<f64>,
    reference: (f64, f64),
    true_hypervolume: f64,
}

impl Frontier {
    /// `cost[i]` is the cost of `table.rows[i]`.
    pub fn new(table: &Table, cost: &[f64]) -> Frontier {
        let mut sorted = cost.to_vec();
        sorted.sort_by(f64::total_cmp);
        let budgets: Vec<f64> = PERCENTILES.iter().map(|&p| quantile(&sorted, p / 100.0)).collect();
        let within = |b: f64| table.rows.iter().zip(cost).filter(move |(_, &c)| c <= b).map(|(r, _)| r.report);
        let best_within = budgets.iter().map(|&b| within(b).fold(f64::NEG_INFINITY, f64::max)).collect();
        let worst_within = budgets.iter().map(|&b| within(b).fold(f64::INFINITY, f64::min)).collect();
        let lowest = table.rows.iter().map(|r| r.report).fold(f64::INFINITY, f64::min);
        let reference = (lowest, sorted[sorted.len() - 1]);
        let all: Vec<(f64, f64)> = table.rows.iter().zip(cost).map(|(r, &c)| (r.report, c)).collect();
        Frontier { budgets, best_within, worst_within, reference, true_hypervolume: hypervolume_2d(&all, reference) }
    }

    /// Mean regret over the budgets of `queried` = (reward, final, cost) of each query.
    pub fn regret(&self, queried: &[Query]) -> f64 {
        let mut sum = 0.0;
        for (k, &b) in self.budgets.iter().enumerate() {
            // The best reward within the budget; the first query wins a tie, as in the bench's
            // best-so-far.
            let chosen = queried.iter().filter(|q| q.2 <= b).fold(None::<(f64, f64)>, |best, q| match best {
                Some((r, _)) if q.0 <= r => best,
                _ => Some((q.0, q.1)),
            });
            let got = chosen.map_or(self.worst_within[k], |(_, f)| f);
            sum += self.best_within[k] - got;
        }
        sum / self.budgets.len() as f64
    }

    /// The found front's hypervolume over the true front's.
    pub fn hypervolume(&self, queried: &[Query]) -> f64 {
        let points: Vec<(f64, Vec<f64>)> = queried.iter().map(|q| (q.0, vec![q.2])).collect();
        let front: Vec<(f64, f64)> = pareto_front(&points).into_iter().map(|i| (queried[i].1, queried[i].2)).collect();
        hypervolume_2d(&front, self.reference) / self.true_hypervolume
    }
}

/// Per strategy, per checkpoint: regret and hypervolume stats over trials.
pub struct ParetoSummary {
    /// The 9 cost budgets.
    pub budgets: Vec<f64>,
    pub checkpoints: Vec<usize>,
    pub strategies: Vec<(StrategyKind, Vec<(Stats, Stats)>)>,
    /// For the plot: the table's true front as (cost, final value), by cost; per strategy, the
    /// front its first trial found, and its mean regret at every `plot_step`-th query.
    pub true_front: Vec<(f64, f64)>,
    pub found: Vec<Vec<(f64, f64)>>,
    pub regret_curves: Vec<Vec<(usize, f64)>>,
    /// The regret of a search that queried every architecture of the table: what choosing by
    /// the reward column misses when every architecture is known. A strategy reaches below it
    /// only when the subset it queried happens to leave out architectures whose reward misleads.
    pub floor: f64,
}

/// (cost, final) of the front of `points` = (reward, final, cost) by reward and cost.
fn found_front(points: &[Query]) -> Vec<(f64, f64)> {
    let p: Vec<(f64, Vec<f64>)> = points.iter().map(|q| (q.0, vec![q.2])).collect();
    pareto_front(&p).into_iter().map(|i| (points[i].2, points[i].1)).collect()
}

impl ParetoSummary {
    pub fn new(trials: &[Trial], kinds: &[StrategyKind], budget: usize, table: &Table, costs: &Costs) -> Result<Self> {
        let frontier = Frontier::new(table, &costs.for_table(table)?);
        let checkpoints = checkpoints(budget);
        let mut strategies = Vec::new();
        let (mut found, mut regret_curves) = (Vec::new(), Vec::new());
        let step = (budget / 60).max(1);
        for &kind in kinds {
            let mut per_trial: Vec<Vec<Query>> = Vec::new();
            for t in trials.iter().filter(|t| t.strategy == kind) {
                let q = t
                    .steps
                    .iter()
                    .map(|s| Ok((s.reward, s.report, costs.get(&table.space.parse(&s.arch)?)?)))
                    .collect::<Result<Vec<_>>>()?;
                per_trial.push(q);
            }
            let at = |b: usize, f: &dyn Fn(&[Query]) -> f64| {
                Stats::of(&per_trial.iter().map(|q| f(&q[..b.min(q.len())])).collect::<Vec<_>>())
            };
            let row = checkpoints
                .iter()
                .map(|&b| (at(b, &|q| frontier.regret(q)), at(b, &|q| frontier.hypervolume(q))))
                .collect();
            strategies.push((kind, row));
            found.push(per_trial.first().map(|q| found_front(q)).unwrap_or_default());
            let queries: Vec<usize> = (1..=budget).filter(|q| q % step == 0 || *q == 1).collect();
            regret_curves.push(queries.iter().map(|&b| (b, at(b, &|q| frontier.regret(q)).mean)).collect());
        }
        let table_points: Vec<Query> =
            table.rows.iter().zip(costs.for_table(table)?).map(|(r, c)| (r.report, r.report, c)).collect();
        let true_front = found_front(&table_points);
        let everything: Vec<Query> =
            table.rows.iter().zip(costs.for_table(table)?).map(|(r, c)| (r.reward, r.report, c)).collect();
        Ok(ParetoSummary {
            floor: frontier.regret(&everything),
            budgets: frontier.budgets.clone(),
            checkpoints,
            strategies,
            true_front,
            found,
            regret_curves,
        })
    }

    /// The printed table: per strategy and checkpoint, `regret ± std / hypervolume`.
    pub fn table(&self, cost: &str, trials: usize) -> String {
        let mut out = format!(
            "Pareto ({cost}): mean regret under 9 cost budgets ± std, and mean hypervolume fraction of the true front, \
             over {trials} trials after N queries\ncost budgets (10th to 90th percentile): {}\n",
            self.budgets.iter().map(|b| format!("{b:.4}")).collect::<Vec<_>>().join(", ")
        );
        out.push_str(&format!("{:<17}", "strategy"));
        for b in &self.checkpoints {
            out.push_str(&format!(" {:>20}", format!("N={b}")));
        }
        out.push('\n');
        for (kind, row) in &self.strategies {
            out.push_str(&format!("{:<17}", kind.name()));
            for (r, h) in row {
                out.push_str(&format!(" {:>20}", format!("{:.2} ± {:.2} / {:.3}", r.mean, r.std, h.mean)));
            }
            out.push('\n');
        }
        out.push_str(&format!(
            "regret with every one of the table's architectures queried (the reward's best within each budget): {:.3}\n",
            self.floor
        ));
        out
    }

    /// Adds `regret` and `hypervolume` ({mean, std, sem}) to each strategy's budget entries of
    /// `summary.json`.
    pub fn extend_json(&self, summary: &mut serde_json::Value) {
        let stats = |s: &Stats| serde_json::json!({"mean": s.mean, "std": s.std, "sem": s.sem});
        for (kind, row) in &self.strategies {
            for (b, (r, h)) in self.checkpoints.iter().zip(row) {
                let entry = &mut summary["strategies"][kind.name()]["budgets"][b.to_string()];
                entry["regret"] = stats(r);
                entry["hypervolume"] = stats(h);
            }
        }
        summary["regret_all_queried"] = self.floor.into();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use enas_shared::table::Columns;
    use enas_shared::{Nb201, Space};

    /// 40 NB201 cells with made-up columns: reward = final - noise, cost unrelated to both.
    fn table(dir: &std::path::Path) -> (Table, Vec<f64>) {
        let space = Space::Nb201(Nb201);
        let mut text = String::from("arch,reward,final\n");
        let mut cost = Vec::new();
        for i in 0..40usize {
            let values: Vec<usize> = (0..6).map(|k| (i / 5usize.pow(k as u32 % 3) + k) % 5).collect();
            let arch = space.format(&values).unwrap();
            if text.contains(&arch) {
                continue;
            }
            let fin = 80.0 + ((i * 37) % 17) as f64;
            text.push_str(&format!("{arch},{},{fin}\n", fin - ((i * 13) % 5) as f64));
            cost.push(1.0 + ((i * 29) % 23) as f64);
        }
        let path = dir.join("t.csv");
        std::fs::write(&path, text).unwrap();
        let columns = Columns { arch: "arch".into(), reward: "reward".into(), report: "final".into() };
        (Table::load(&path, &space, &columns).unwrap(), cost)
    }

    /// A strategy that queried the whole table found every budget's optimum and the true front...
    /// when its reward is the final value itself; with a noisy reward the regret is what the
    /// reward's best within each budget misses, computed here independently.
    #[test]
    fn querying_everything_gives_zero_regret_and_the_whole_front() {
        let dir = tempfile::tempdir().unwrap();
        let (t, cost) = table(dir.path());
        let f = Frontier::new(&t, &cost);
        let exact: Vec<Query> = t.rows.iter().zip(&cost).map(|(r, &c)| (r.report, r.report, c)).collect();
        assert_eq!(f.regret(&exact), 0.0);
        assert!((f.hypervolume(&exact) - 1.0).abs() < 1e-12);
        let noisy: Vec<Query> = t.rows.iter().zip(&cost).map(|(r, &c)| (r.reward, r.report, c)).collect();
        // The final values within a budget, from the table itself (not the Frontier's own sums).
        let finals = |b: f64| noisy.iter().filter(move |q| q.2 <= b).map(|q| q.1);
        let mut want = 0.0;
        for &b in &f.budgets {
            let within: Vec<&Query> = noisy.iter().filter(|q| q.2 <= b).collect();
            let top = within.iter().map(|q| q.0).fold(f64::NEG_INFINITY, f64::max);
            let first_top = within.iter().find(|q| q.0 == top).unwrap();
            want += finals(b).fold(f64::NEG_INFINITY, f64::max) - first_top.1;
        }
        assert!((f.regret(&noisy) - want / 9.0).abs() < 1e-12);
        assert!(f.regret(&noisy) > 0.0, "the made-up reward should miss some budget's optimum");
        // Nothing queried: every budget counts its worst architecture.
        let worst: f64 = f
            .budgets
            .iter()
            .map(|&b| finals(b).fold(f64::NEG_INFINITY, f64::max) - finals(b).fold(f64::INFINITY, f64::min))
            .sum::<f64>()
            / 9.0;
        assert!((f.regret(&[]) - worst).abs() < 1e-12);
        assert_eq!(f.hypervolume(&[]), 0.0);
    }
}
