//! The ε-constraint sweep for accuracy against a cost (the ε-constraint method of multi-objective
//! optimisation, Haimes et al. 1971, with local search as the single-objective solver): the
//! cost range is cut into `levels` limits at the quantiles of a pool's costs, the last one
//! unbounded; the proposals go round the levels, cheapest first, and at each level climb from the
//! best queried architecture within that level's limit, querying one of its unknown neighbours
//! (one decision changed) within the limit, drawn uniformly. Where the level has no queried
//! architecture yet, or its best has no unknown neighbour within the limit (a local optimum), the
//! next start is the pool's next architecture whose cost falls in the level's band (between the
//! previous limit and its own): in draw order for `sweep`, best first by a zero-cost proxy for
//! `proxy-sweep`. The levels share every query: a cheap architecture found at one level is the
//! incumbent of every level whose limit it meets.
//!
//! Costs are read before a query (a table lookup or a count: neither is a query), so a neighbour over
//! the limit is never queried; that is why the strategy needs a [`KnownCost`].
use super::{from_state, neighbours, to_state, uniform_unknown, History, KnownCost, KnownScore, Strategy};
use enas_shared::quantile::{interpolate, quantile};
use enas_shared::space::Decision;
use enas_shared::strategy_config::{StrategyKind, SweepConfig};
use enas_shared::{Error, Result};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::Arc;

pub struct Sweep {
    kind: StrategyKind,
    decisions: Vec<Decision>,
    costs: Arc<dyn KnownCost>,
    /// `strategy.sweep.gate`: the proxy, and per level the score a neighbour in that level's band
    /// must reach to be queried.
    gate: Option<(Arc<dyn KnownScore>, Vec<f64>)>,
    st: SweepState,
}

/// What the sweep carries between proposals.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SweepState {
    /// The finite cost limits, increasing; the last level has none.
    limits: Vec<f64>,
    /// Per level, the pool's architectures in its band not yet proposed, in start order.
    bands: Vec<VecDeque<Vec<usize>>>,
    /// Every told query: (choices, reward, cost), in order.
    told: Vec<(Vec<usize>, f64, f64)>,
    /// The level of the next proposal.
    next: usize,
    /// Proposals drawn uniformly because a level had neither a neighbour nor a start left.
    fallbacks: usize,
}

impl Sweep {
    /// A sweep over `cfg.levels` levels whose limits are the quantiles of the costs of `pool`
    /// (which also gives each level's starts, in its order). An empty pool is an error: the levels
    /// come from it.
    pub fn new(
        kind: StrategyKind,
        decisions: Vec<Decision>,
        cfg: &SweepConfig,
        pool: Vec<Vec<usize>>,
        costs: Arc<dyn KnownCost>,
    ) -> Result<Sweep> {
        if pool.is_empty() {
            return Err(Error::Name(format!(
                "{kind} needs a pool of architectures (strategy.proxy.pool) to set its levels"
            )));
        }
        let pool_costs = pool.iter().map(|v| costs.cost(v)).collect::<Result<Vec<f64>>>()?;
        let limits = quantile_limits(&pool_costs, cfg.levels);
        let mut bands = vec![VecDeque::new(); cfg.levels];
        for (v, c) in pool.into_iter().zip(pool_costs) {
            bands[level_of(&limits, c)].push_back(v);
        }
        let st = SweepState { limits, bands, told: Vec::new(), next: 0, fallbacks: 0 };
        Ok(Sweep { kind, decisions, costs, gate: None, st })
    }

    /// Climbs only to neighbours whose proxy score is at least the `q` quantile of the scores of
    /// the pool's architectures in the neighbour's own cost band (an empty band lets any through).
    pub fn with_gate(mut self, q: f64, score: Arc<dyn KnownScore>) -> Result<Sweep> {
        let mut thresholds = Vec::with_capacity(self.st.bands.len());
        for band in &self.st.bands {
            let mut s = band.iter().map(|v| score.score(v)).collect::<Result<Vec<f64>>>()?;
            s.retain(|x| !x.is_nan());
            s.sort_by(f64::total_cmp);
            thresholds.push(match s.is_empty() {
                true => f64::NEG_INFINITY,
                false => quantile(&s, q),
            });
        }
        self.gate = Some((score, thresholds));
        Ok(self)
    }

    /// Whether the gate (if any) lets `values` through.
    fn passes(&self, values: &[usize], cost: f64) -> Result<bool> {
        Ok(match &self.gate {
            None => true,
            Some((score, thresholds)) => score.score(values)? >= thresholds[level_of(&self.st.limits, cost)],
        })
    }

    /// The best told architecture within `limit` (the first told among equal rewards).
    fn incumbent(&self, limit: Option<f64>) -> Option<&[usize]> {
        let mut best: Option<&(Vec<usize>, f64, f64)> = None;
        for t in self.st.told.iter().filter(|t| within(limit, t.2)) {
            if !matches!(best, Some(b) if t.1 <= b.1) {
                best = Some(t);
            }
        }
        best.map(|t| t.0.as_slice())
    }

    /// The unknown neighbours of `values` within `limit` that the gate lets through, in decision
    /// order.
    fn climbable(&self, values: &[usize], limit: Option<f64>, history: &History) -> Result<Vec<Vec<usize>>> {
        let mut out = Vec::new();
        for n in neighbours(&self.decisions, values).into_iter().filter(|n| history.known(n).is_none()) {
            let cost = self.costs.cost(&n)?;
            if within(limit, cost) && self.passes(&n, cost)? {
                out.push(n);
            }
        }
        Ok(out)
    }
}

/// `levels - 1` limits at the quantiles k / levels (k = 1..levels-1) of `costs`, interpolated
/// linearly between order statistics as numpy does, the position k (n - 1) / levels exact.
fn quantile_limits(costs: &[f64], levels: usize) -> Vec<f64> {
    let mut sorted = costs.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    (1..levels)
        .map(|k| {
            // Position k (n - 1) / levels, its whole part and fraction in integers (a float
            // product can land just under a whole position).
            let num = k * (n - 1);
            interpolate(&sorted, num / levels, (num % levels) as f64 / levels as f64)
        })
        .collect()
}

/// The level whose band holds `cost`: the first limit at or above it, else the last level.
fn level_of(limits: &[f64], cost: f64) -> usize {
    limits.iter().position(|&l| cost <= l).unwrap_or(limits.len())
}

/// No limit, or `cost` within it.
fn within(limit: Option<f64>, cost: f64) -> bool {
    !matches!(limit, Some(l) if cost > l)
}

impl Strategy for Sweep {
    fn kind(&self) -> StrategyKind {
        self.kind
    }

    fn propose(&mut self, history: &History, rng: &mut ChaCha8Rng) -> Result<Vec<usize>> {
        let level = self.st.next % self.st.bands.len();
        self.st.next += 1;
        let limit = self.st.limits.get(level).copied();
        if let Some(inc) = self.incumbent(limit) {
            let inc = inc.to_vec();
            let mut around = self.climbable(&inc, limit, history)?;
            if !around.is_empty() {
                return Ok(around.swap_remove(rng.random_range(0..around.len())));
            }
        }
        while let Some(s) = self.st.bands[level].pop_front() {
            if history.known(&s).is_none() {
                return Ok(s);
            }
        }
        self.st.fallbacks += 1;
        uniform_unknown(&self.decisions, history, rng)
    }

    fn fallbacks(&self) -> usize {
        self.st.fallbacks
    }

    fn tell(&mut self, values: &[usize], reward: f64, rng: &mut ChaCha8Rng) -> Result<()> {
        self.tell_cost(values, reward, None, rng)
    }

    fn tell_cost(&mut self, values: &[usize], reward: f64, cost: Option<f64>, _rng: &mut ChaCha8Rng) -> Result<()> {
        let cost = match cost {
            Some(c) => c,
            None => self.costs.cost(values)?,
        };
        self.st.told.push((values.to_vec(), reward, cost));
        Ok(())
    }

    fn state(&self) -> Result<serde_json::Value> {
        to_state(self.kind, &self.st)
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<()> {
        let st: SweepState = from_state(self.kind, state)?;
        let n = self.decisions.len();
        if st.bands.len() != st.limits.len() + 1 || st.told.iter().any(|t| t.0.len() != n) {
            return Err(Error::Arch(format!(
                "the saved state of strategy {} is invalid: {} bands for {} limits, or a told architecture \
                 without {n} choices",
                self.kind,
                st.bands.len(),
                st.limits.len()
            )));
        }
        self.st = st;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
