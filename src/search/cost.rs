//! The cost of an architecture in `enas search` with an objective that reads one
//! (`objective.kind` constraint, soft or pareto): a column of a cost table joined on the
//! architecture, or the path's parameters or multiply-adds counted from the supernet. A cost
//! costs no query, so a strategy may read it before proposing (`sweep`).
use super::supernet::Supernet;
use anyhow::{Context, Result};
use enas_controller::strategy::KnownCost;
use enas_shared::cost::Costs;
use enas_shared::objective::CostKind;
use enas_shared::{Config, Space};
use std::sync::Arc;

#[derive(Clone)]
pub struct ArchCost {
    kind: CostKind,
    table: Option<Costs>,
}

impl ArchCost {
    /// The configured cost; `None` when the objective reads none.
    pub fn new(cfg: &Config, space: &Space) -> Result<Option<ArchCost>> {
        let o = &cfg.objective;
        if !o.kind.needs_cost() {
            return Ok(None);
        }
        let table = match o.cost() {
            Some((path, column)) => {
                let what = || {
                    format!("objective.cost_table {} (architectures of search.space {})", path.display(), space.name())
                };
                let costs = Costs::load(&path, space, &cfg.bench.arch_column, &column).with_context(what)?;
                // The search may sample any architecture of the space: checked now, not when a
                // missing one is sampled mid-run.
                anyhow::ensure!(
                    costs.len() as f64 >= space.size(),
                    "{}: costs {} architectures of the space's {}; enas search may sample any of them, so \
                     its cost table must cover the space (or use objective.cost params or flops)",
                    what(),
                    costs.len(),
                    count(space.size())
                );
                Some(costs)
            }
            None => None,
        };
        Ok(Some(ArchCost { kind: o.cost, table }))
    }

    /// What the cost is called in tables: the cost table's column, `params` or `flops`.
    pub fn name(&self) -> &str {
        match &self.table {
            Some(t) => &t.column,
            None => self.kind.name(),
        }
    }

    /// This cost of any architecture, for a strategy to read before it proposes.
    pub fn known(&self, net: Arc<dyn Supernet>) -> KnownArchCost {
        KnownArchCost { cost: self.clone(), net }
    }

    pub fn of(&self, net: &dyn Supernet, values: &[usize]) -> Result<f64> {
        Ok(match (&self.table, self.kind) {
            (Some(t), _) => t.get(values)?,
            (None, CostKind::Params) => net.costs(values)?.0 as f64,
            (None, CostKind::Flops) => net.costs(values)?.1 as f64,
            (None, CostKind::Table) => anyhow::bail!("objective.cost table without objective.cost_table"),
        })
    }
}

/// A count of architectures: whole below 10^15, else in scientific notation (ENAS's micro space
/// has about 10^30 for 5 nodes).
fn count(n: f64) -> String {
    if n < 1e15 {
        format!("{n:.0}")
    } else {
        format!("{n:.2e}")
    }
}

/// The configured cost as a strategy reads it before a query (`sweep`): the table's column, or
/// the path's parameters or multiply-adds counted on the supernet the strategy is handed.
pub struct KnownArchCost {
    cost: ArchCost,
    net: Arc<dyn Supernet>,
}

impl KnownCost for KnownArchCost {
    fn cost(&self, values: &[usize]) -> enas_shared::Result<f64> {
        self.cost.of(&*self.net, values).map_err(|e| enas_shared::Error::Arch(format!("{e:#}")))
    }
}

/// A row of `pareto.csv`: an arc no other scored arc beats on both its mean minibatch accuracy
/// and its cost.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ParetoRow {
    pub arc: String,
    /// The mean of its minibatch accuracies over the search, and how many there were.
    pub valid_acc: f64,
    pub scores: usize,
    pub cost: f64,
}

/// The front of the scored arcs of `rows` (those with a cost), cheapest first.
pub fn pareto_rows(rows: &[super::ArchRow]) -> Vec<ParetoRow> {
    let mut by_arc: std::collections::BTreeMap<&str, (f64, usize, f64)> = Default::default();
    for r in rows {
        if let Some(c) = r.cost {
            let e = by_arc.entry(&r.arc).or_insert((0.0, 0, c));
            e.0 += r.valid_acc;
            e.1 += 1;
        }
    }
    let arcs: Vec<ParetoRow> = by_arc
        .into_iter()
        .map(|(arc, (sum, n, cost))| ParetoRow { arc: arc.to_string(), valid_acc: sum / n as f64, scores: n, cost })
        .collect();
    let points: Vec<enas_shared::pareto::Point> = arcs.iter().map(|a| (a.valid_acc, vec![a.cost])).collect();
    let mut front: Vec<ParetoRow> =
        enas_shared::pareto::pareto_front(&points).into_iter().map(|i| arcs[i].clone()).collect();
    front.sort_by(|a, b| a.cost.total_cmp(&b.cost).then(b.valid_acc.total_cmp(&a.valid_acc)));
    front
}
