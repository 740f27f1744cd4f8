//! Configuration of the search strategies (`strategy:`) and of `enas bench` on a tabular
//! benchmark (`bench:`). The strategy hyperparameters are shared by `enas bench` and by
//! `enas search` with `search.strategy` other than `reinforce`.
use crate::search_config::ControllerConfig;
use crate::{Error, ProxyKind, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A search strategy, by its command-line name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StrategyKind {
    /// The LSTM controller trained by REINFORCE (ENAS).
    Reinforce,
    /// Uniform over the space.
    Random,
    /// Regularized (aging) evolution, Real et al. 2019.
    Evolution,
    /// Local search over one-decision neighbours with random restarts, White et al. 2021.
    Local,
    /// Regularized evolution whose first population is the best of a pool by a zero-cost proxy
    /// (`strategy.proxy.score`), Abdelfattah et al.'s warm-up.
    #[serde(rename = "proxy-evolution")]
    ProxyEvolution,
    /// Local search that starts (and restarts) from the best of a pool by a zero-cost proxy.
    #[serde(rename = "proxy-local")]
    ProxyLocal,
    /// `proxy-local` with the pool ranked by a vote of several proxies (`strategy.proxy.vote`).
    #[serde(rename = "vote-local")]
    VoteLocal,
    /// Pareto evolution for accuracy against a cost (NSGA-II's selection, Deb et al. 2002): the
    /// population keeps the `strategy.evolution.population` best by non-dominated rank and
    /// crowding distance; each child mutates a parent drawn from the population's Pareto front.
    /// It needs a cost per architecture (`enas bench --objective pareto`).
    #[serde(rename = "pareto-evolution")]
    ParetoEvolution,
    /// `pareto-evolution` whose first population is the head of a pool ranked by NSGA-II on
    /// (zero-cost proxy `strategy.proxy.score`, cost): both cost no query.
    #[serde(rename = "proxy-pareto")]
    ProxyPareto,
    /// The ε-constraint sweep for accuracy against a cost: `strategy.sweep.levels` cost limits at
    /// the quantiles of a pool's costs; the proposals go round the limits, each climbing (local
    /// search) from the best queried architecture within its limit, restarting from the pool. It
    /// reads each architecture's cost before querying it: a table's column, or in `enas search`
    /// the path's params or FLOPs counted on the supernet.
    Sweep,
    /// `sweep` whose restarts in each cost band are the pool's best there by a zero-cost proxy
    /// (`strategy.proxy.score`).
    #[serde(rename = "proxy-sweep")]
    ProxySweep,
    /// DARTS (Liu et al. 2019): architecture weights trained by gradient through the mixed
    /// supernet (`darts:`); `enas search` only (it needs a supernet, not a table).
    Darts,
}

impl StrategyKind {
    /// Every strategy, in the order tables list them.
    pub const ALL: [StrategyKind; 11] = [
        StrategyKind::Random,
        StrategyKind::Evolution,
        StrategyKind::Local,
        StrategyKind::Reinforce,
        StrategyKind::ProxyEvolution,
        StrategyKind::ProxyLocal,
        StrategyKind::VoteLocal,
        StrategyKind::ParetoEvolution,
        StrategyKind::ProxyPareto,
        StrategyKind::Sweep,
        StrategyKind::ProxySweep,
    ];

    pub fn name(self) -> &'static str {
        match self {
            StrategyKind::Reinforce => "reinforce",
            StrategyKind::Random => "random",
            StrategyKind::Evolution => "evolution",
            StrategyKind::Local => "local",
            StrategyKind::ProxyEvolution => "proxy-evolution",
            StrategyKind::ProxyLocal => "proxy-local",
            StrategyKind::VoteLocal => "vote-local",
            StrategyKind::ParetoEvolution => "pareto-evolution",
            StrategyKind::ProxyPareto => "proxy-pareto",
            StrategyKind::Sweep => "sweep",
            StrategyKind::ProxySweep => "proxy-sweep",
            StrategyKind::Darts => "darts",
        }
    }

    /// The zero-cost proxies that rank this strategy's starting pool (none for the others).
    pub fn proxies(self, cfg: &ProxyConfig) -> Vec<ProxyKind> {
        match self {
            StrategyKind::ProxyEvolution
            | StrategyKind::ProxyLocal
            | StrategyKind::ProxyPareto
            | StrategyKind::ProxySweep => vec![cfg.score],
            StrategyKind::VoteLocal => cfg.vote.clone(),
            _ => Vec::new(),
        }
    }

    /// Whether the strategy needs a cost beside the reward of every query (Pareto search).
    pub fn needs_cost(self) -> bool {
        matches!(
            self,
            StrategyKind::ParetoEvolution | StrategyKind::ProxyPareto | StrategyKind::Sweep | StrategyKind::ProxySweep
        )
    }

    /// Whether the strategy reads architectures' costs before querying them (a cost table's
    /// column, or in `enas search` the path's params or flops counted on the supernet).
    pub fn reads_costs_first(self) -> bool {
        matches!(self, StrategyKind::Sweep | StrategyKind::ProxySweep)
    }

    /// Whether the strategy starts from a pool of `strategy.proxy.pool` architectures: the
    /// proxy-guided ones (ranked) and `sweep` (in draw order).
    pub fn uses_pool(self, cfg: &ProxyConfig) -> bool {
        self == StrategyKind::Sweep || !self.proxies(cfg).is_empty()
    }

    /// Whether the pool is ranked on (proxy, cost) by NSGA-II rather than by the proxy alone.
    pub fn ranks_pool_with_cost(self) -> bool {
        self == StrategyKind::ProxyPareto
    }

    /// Parses a name; the error lists the known ones.
    pub fn parse(name: &str) -> Result<StrategyKind> {
        StrategyKind::ALL.into_iter().find(|k| k.name() == name).ok_or_else(|| {
            let names: Vec<_> = StrategyKind::ALL.iter().map(|k| k.name()).collect();
            let name = crate::error::clip(name);
            Error::Name(format!("unknown strategy `{name}`; expected one of {} (or `all`)", names.join(", ")))
        })
    }
}

impl fmt::Display for StrategyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for StrategyKind {
    type Err = Error;

    fn from_str(name: &str) -> Result<StrategyKind> {
        StrategyKind::parse(name)
    }
}

/// Hyperparameters of the strategies other than REINFORCE (which reads `controller:`, or
/// `bench.controller` in `enas bench`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StrategyConfig {
    /// Allow a strategy to propose an architecture it was already told the score of (each
    /// repeat is then a query). Off: repeats are answered from memory and cost nothing.
    pub repeats: bool,
    pub evolution: EvolutionConfig,
    pub local: LocalConfig,
    pub proxy: ProxyConfig,
    pub sweep: SweepConfig,
}

/// The ε-constraint sweep (`sweep`, `proxy-sweep`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SweepConfig {
    /// Cost levels: `levels - 1` limits at the quantiles k / levels of the pool's costs, and one
    /// level without a limit. 9 puts the limits at the pool's ninths.
    pub levels: usize,
    /// `proxy-sweep` only (`enas bench`): climb only to neighbours whose proxy score
    /// (`strategy.proxy.score`) is at least this quantile of the pool's scores in the neighbour's
    /// cost band; each neighbour weighed is one more proxy evaluation (no query). Off: null.
    pub gate: Option<f64>,
}

impl Default for SweepConfig {
    fn default() -> Self {
        SweepConfig { levels: 9, gate: None }
    }
}

/// The proxy-guided strategies: each trial draws `pool` distinct architectures uniformly, scores
/// them with zero-cost proxies (no query: proxy time is reported beside the budget), and starts
/// from the best. Proxies by name ([`ProxyKind`]): synflow, grad_norm, snip, jacob_cov, naswot,
/// params, flops; the data proxies need `--data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProxyConfig {
    /// Architectures scored per trial (Abdelfattah et al.'s warm-up scored 3,000).
    pub pool: usize,
    /// The proxy of `proxy-evolution` and `proxy-local`.
    pub score: ProxyKind,
    /// The proxies of `vote-local`: the pool is ranked by the sum of each proxy's ranks (a Borda
    /// count, which orders most pairs as Abdelfattah et al.'s majority vote does). The default pair
    /// needs no data; on NAS-Bench-201 `params` and `flops` rank cells identically, so naming both
    /// would weigh the same ranking twice.
    pub vote: Vec<ProxyKind>,
    /// Images in the minibatch of the data proxies.
    pub batch_size: usize,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            pool: 1000,
            score: ProxyKind::Synflow,
            vote: vec![ProxyKind::Synflow, ProxyKind::Params],
            batch_size: 64,
        }
    }
}

/// Regularized evolution: a population of the latest `population` evaluated architectures; each
/// child mutates the best of `tournament` members drawn at random (with replacement); the
/// oldest member dies when a child joins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvolutionConfig {
    /// Population size; the first `population` queries are uniform random (Real et al.: 100 for
    /// long runs; NAS-Bench-201's REA runs use 10).
    pub population: usize,
    /// Members drawn per tournament (NAS-Bench-201's REA: 3... 10; Real et al.: 25 of 100).
    pub tournament: usize,
    /// Decisions a mutation changes, each to a different value (Real et al.: 1).
    pub mutations: usize,
}

/// Local search: from the best of `init_samples` random architectures, query its one-decision
/// neighbours in random order and move to a better one; at a local optimum restart from a new
/// random architecture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LocalConfig {
    /// Random architectures queried before the first climb (and after each restart: 1).
    pub init_samples: usize,
    /// Move as soon as a neighbour beats the current architecture (true), or only after the whole
    /// neighbourhood is queried, to its best (false, White et al.'s `query_full_nbhd`).
    pub first_improvement: bool,
}

impl Default for EvolutionConfig {
    fn default() -> Self {
        EvolutionConfig { population: 10, tournament: 3, mutations: 1 }
    }
}

impl Default for LocalConfig {
    fn default() -> Self {
        LocalConfig { init_samples: 10, first_improvement: true }
    }
}

impl StrategyConfig {
    /// Range checks naming `strategy.<key>`.
    pub fn validate(&self, origin: &str) -> Result<()> {
        let bad = |key: &str, msg: String| {
            Err(Error::Config { origin: origin.to_string(), msg: format!("strategy.{key}: {msg}") })
        };
        let e = &self.evolution;
        for (key, v) in [
            ("evolution.population", e.population),
            ("evolution.tournament", e.tournament),
            ("evolution.mutations", e.mutations),
            ("local.init_samples", self.local.init_samples),
            ("proxy.pool", self.proxy.pool),
            ("proxy.batch_size", self.proxy.batch_size),
            ("sweep.levels", self.sweep.levels),
        ] {
            if v == 0 {
                return bad(key, "must be at least 1, got 0".into());
            }
        }
        if self.sweep.levels > self.proxy.pool {
            let msg = format!(
                "{} is more than strategy.proxy.pool ({}), whose costs set them",
                self.sweep.levels, self.proxy.pool
            );
            return bad("sweep.levels", msg);
        }
        if let Some(q) = self.sweep.gate {
            if !(0.0..1.0).contains(&q) {
                return bad("sweep.gate", format!("must be a quantile in [0, 1), got {q}"));
            }
        }
        if self.proxy.vote.is_empty() {
            return bad("proxy.vote", "needs at least one proxy".into());
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = self.proxy.vote.iter().find(|&&v| !seen.insert(v)) {
            return bad("proxy.vote", format!("names `{dup}` twice"));
        }
        Ok(())
    }
}

/// `enas bench`: which columns of the table a strategy sees and what is reported, and the
/// controller REINFORCE uses on a table (a 6-decision space searched in a few hundred queries
/// needs a faster learner than ENAS's 150-epoch schedule).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BenchConfig {
    /// The column holding the architecture's text.
    pub arch_column: String,
    /// The column a strategy is told as reward (NAS-Bench-201: `valid_acc_12ep`).
    pub reward_column: String,
    /// The column reported for the best-rewarded architecture (NAS-Bench-201: `test_acc_200ep`).
    pub final_column: String,
    /// REINFORCE's controller and trainer on a table.
    pub controller: ControllerConfig,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            arch_column: "arch".into(),
            reward_column: "valid_acc_12ep".into(),
            final_column: "test_acc_200ep".into(),
            controller: ControllerConfig {
                lstm_size: 32,
                tanh_constant: None,
                entropy_weight: 0.0,
                baseline_decay: 0.9,
                lr: 0.003,
                adam_beta1: 0.9,
                adam_eps: 1e-8,
                num_aggregate: 1,
                op_bias_init: vec![0.0; 5],
                normal_op_bias: vec![0.0; 5],
                ..ControllerConfig::default()
            },
        }
    }
}
