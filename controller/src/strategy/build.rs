//! Building a strategy by kind, and what a run knows of any architecture without a query (its
//! cost, a proxy's score) that the cost-aware strategies read.
use super::{Evolution, LocalSearch, ParetoEvolution, RandomSearch, ReinforceStrategy, Starts, Strategy, Sweep};
use enas_shared::strategy_config::{StrategyConfig, StrategyKind};
use enas_shared::{Error, Result, Space};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

/// What an architecture costs, known without a query (a cost table's lookup or a count of the
/// path's parameters or FLOPs on a supernet: neither is a query). The strategies that search
/// under cost limits (`sweep`) read it before they propose.
pub trait KnownCost: Send + Sync {
    fn cost(&self, values: &[usize]) -> Result<f64>;
}

/// A zero-cost proxy's score of any architecture (higher predicts better), computed without a
/// query; `proxy-sweep` with `strategy.sweep.gate` reads it for the neighbours it may climb to.
pub trait KnownScore: Send + Sync {
    fn score(&self, values: &[usize]) -> Result<f64>;
}

impl KnownCost for enas_shared::cost::Costs {
    fn cost(&self, values: &[usize]) -> Result<f64> {
        self.get(values)
    }
}

/// Builds a strategy for `space`. REINFORCE's controller is built from `controller` (its
/// weights drawn from `rng`); the others read `cfg`.
pub fn build(
    kind: StrategyKind,
    space: &Space,
    cfg: &StrategyConfig,
    controller: &enas_shared::search_config::ControllerConfig,
    rng: &mut ChaCha8Rng,
) -> Result<Box<dyn Strategy>> {
    build_with_starts(kind, space, cfg, controller, Vec::new(), rng)
}

/// [`build`], with the architectures a proxy-guided strategy starts from, best first (see
/// [`warm::rank`]); the other strategies ignore them.
pub fn build_with_starts(
    kind: StrategyKind,
    space: &Space,
    cfg: &StrategyConfig,
    controller: &enas_shared::search_config::ControllerConfig,
    starts: Vec<Vec<usize>>,
    rng: &mut ChaCha8Rng,
) -> Result<Box<dyn Strategy>> {
    build_seeded(kind, space, cfg, controller, starts, None, rng)
}

/// What a run knows of any architecture without a query: its cost (a table's column, or a count on
/// the supernet), and where it can compute one, a zero-cost proxy's score.
pub struct Known {
    pub cost: Arc<dyn KnownCost>,
    pub score: Option<Arc<dyn KnownScore>>,
}

/// [`build_with_starts`] for a run that knows every architecture's cost before querying it, which
/// the `sweep` strategies need; `starts` is their pool.
pub fn build_with_costs(
    kind: StrategyKind,
    space: &Space,
    cfg: &StrategyConfig,
    controller: &enas_shared::search_config::ControllerConfig,
    starts: Vec<Vec<usize>>,
    known: Known,
    rng: &mut ChaCha8Rng,
) -> Result<Box<dyn Strategy>> {
    match kind {
        StrategyKind::Sweep | StrategyKind::ProxySweep => {
            let sweep = Sweep::new(kind, space.decisions(), &cfg.sweep, starts, known.cost)?;
            Ok(Box::new(match (kind, cfg.sweep.gate, known.score) {
                (StrategyKind::ProxySweep, Some(q), Some(score)) => sweep.with_gate(q, score)?,
                (StrategyKind::ProxySweep, Some(_), None) => {
                    return Err(Error::Name(
                        "strategy.sweep.gate needs the proxy's score of any architecture (enas bench)".into(),
                    ))
                }
                _ => sweep,
            }))
        }
        _ => build_with_starts(kind, space, cfg, controller, starts, rng),
    }
}

/// [`build_with_starts`], with the seed of a strategy's own initial weights (REINFORCE's
/// controller) given instead of drawn from `rng`.
pub fn build_seeded(
    kind: StrategyKind,
    space: &Space,
    cfg: &StrategyConfig,
    controller: &enas_shared::search_config::ControllerConfig,
    starts: Vec<Vec<usize>>,
    init_seed: Option<u64>,
    rng: &mut ChaCha8Rng,
) -> Result<Box<dyn Strategy>> {
    let decisions = space.decisions();
    let starts = Starts::new(starts);
    Ok(match kind {
        StrategyKind::Random => Box::new(RandomSearch::new(decisions)),
        StrategyKind::Evolution => Box::new(Evolution::new(decisions, cfg.evolution.clone())),
        StrategyKind::Local => Box::new(LocalSearch::new(decisions, cfg.local.clone())),
        StrategyKind::Reinforce => Box::new(match init_seed {
            Some(seed) => ReinforceStrategy::with_seed(space, controller, seed)?,
            None => ReinforceStrategy::new(space, controller, rng)?,
        }),
        StrategyKind::ProxyEvolution => {
            Box::new(Evolution::new(decisions, cfg.evolution.clone()).with_starts(kind, starts))
        }
        StrategyKind::ProxyLocal | StrategyKind::VoteLocal => {
            Box::new(LocalSearch::new(decisions, cfg.local.clone()).with_starts(kind, starts))
        }
        StrategyKind::ParetoEvolution => Box::new(ParetoEvolution::new(decisions, cfg.evolution.clone())),
        StrategyKind::ProxyPareto => {
            Box::new(ParetoEvolution::new(decisions, cfg.evolution.clone()).with_starts(kind, starts))
        }
        StrategyKind::Sweep | StrategyKind::ProxySweep => {
            return Err(Error::Name(format!(
                "{kind} reads each architecture's cost before querying it: a cost table (enas bench \
                 --cost-table FILE --cost-column NAME) or enas search's objective.cost"
            )))
        }
        StrategyKind::Darts => {
            return Err(Error::Name(
                "darts trains architecture weights by gradient through a supernet: it is a method of \
                 `enas search` (search.strategy: darts), not a strategy that queries architectures"
                    .into(),
            ))
        }
    })
}
