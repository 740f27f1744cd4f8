//! Regularized evolution (Real et al., AAAI 2019, "aging evolution"): the population is the
//! `population` most recently evaluated architectures. The first `population` proposals are
//! uniform random; after that each proposal mutates the best of `tournament` members drawn
//! uniformly with replacement (as NAS-Bench-201's REA does), and when its score comes back it
//! joins the population and the oldest member leaves, whatever its score. With starts
//! (`proxy-evolution`), the first population is the best of a pool by a zero-cost proxy.
use super::{from_state, to_state, uniform_unknown, History, Starts, Strategy, MAX_DRAWS};
use enas_shared::space::Decision;
use enas_shared::strategy_config::{EvolutionConfig, StrategyKind};
use enas_shared::Result;
use rand::seq::index::sample;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

pub struct Evolution {
    kind: StrategyKind,
    decisions: Vec<Decision>,
    cfg: EvolutionConfig,
    state: EvolutionState,
}

/// What evolution carries between proposals: the population, oldest first, and how many scores
/// it has been told.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct EvolutionState {
    population: VecDeque<(Vec<usize>, f64)>,
    told: usize,
    /// What the first population is drawn from before uniform draws (a proxy's best, for
    /// `proxy-evolution`; empty for plain evolution).
    #[serde(default)]
    starts: Starts,
    /// Proposals drawn uniformly among the unknown architectures because no mutation of the
    /// population was new (a budget near the space's size).
    #[serde(default)]
    fallbacks: usize,
    /// Whether the last proposal was such a fallback: the next tries fewer mutations first.
    #[serde(default)]
    stuck: bool,
}

/// Mutations a proposal tries while evolution is stuck (its last proposal was a fallback).
const STUCK_RETRY_DRAWS: usize = 100;

impl Evolution {
    pub fn new(decisions: Vec<Decision>, cfg: EvolutionConfig) -> Evolution {
        Evolution { kind: StrategyKind::Evolution, decisions, cfg, state: EvolutionState::default() }
    }

    /// The first population comes from `starts` (best first) instead of uniform draws.
    pub fn with_starts(mut self, kind: StrategyKind, starts: Starts) -> Evolution {
        self.kind = kind;
        self.state.starts = starts;
        self
    }

    /// `parent` with `mutations` distinct decisions (among those with a choice) each changed to
    /// another value, uniformly.
    pub fn mutate(&self, parent: &[usize], rng: &mut ChaCha8Rng) -> Vec<usize> {
        mutate(&self.decisions, self.cfg.mutations, parent, rng)
    }
}

/// `parent` with `mutations` distinct decisions (among those with a choice) each changed to
/// another value, uniformly.
fn mutate(decisions: &[Decision], mutations: usize, parent: &[usize], rng: &mut ChaCha8Rng) -> Vec<usize> {
    let free: Vec<usize> = (0..decisions.len()).filter(|&i| decisions[i].choices > 1).collect();
    let mut child = parent.to_vec();
    for i in sample(rng, free.len(), mutations.min(free.len())) {
        let pos = free[i];
        let other = rng.random_range(0..decisions[pos].choices - 1);
        child[pos] = if other >= parent[pos] { other + 1 } else { other };
    }
    child
}

/// How a mutating strategy keeps its proposals new: whether its last proposal was a fallback, and
/// how many were.
pub(super) struct Retries<'a> {
    pub stuck: &'a mut bool,
    pub fallbacks: &'a mut usize,
}

/// A mutation (`mutations` decisions) of a parent drawn by `parent` that the history does not
/// know, tried `MAX_DRAWS` times (`STUCK_RETRY_DRAWS` while stuck); failing that (the budget
/// nears the space's size), a uniform unknown architecture, enumerated if need be, so that the
/// budget is always spent, counted as a fallback.
pub(super) fn new_mutant<'p>(
    decisions: &[Decision],
    mutations: usize,
    retries: Retries,
    history: &History,
    rng: &mut ChaCha8Rng,
    mut parent: impl FnMut(&mut ChaCha8Rng) -> &'p [usize],
) -> Result<Vec<usize>> {
    let draws = if *retries.stuck { STUCK_RETRY_DRAWS } else { MAX_DRAWS };
    for _ in 0..draws {
        let p = parent(rng);
        let child = mutate(decisions, mutations, p, rng);
        if history.known(&child).is_none() {
            *retries.stuck = false;
            return Ok(child);
        }
    }
    *retries.fallbacks += 1;
    *retries.stuck = true;
    uniform_unknown(decisions, history, rng)
}

impl Strategy for Evolution {
    fn kind(&self) -> StrategyKind {
        self.kind
    }

    fn propose(&mut self, history: &History, rng: &mut ChaCha8Rng) -> Result<Vec<usize>> {
        if self.state.told < self.cfg.population || self.state.population.is_empty() {
            return self.state.starts.next(&self.decisions, history, rng);
        }
        let EvolutionState { population, stuck, fallbacks, .. } = &mut self.state;
        let population = &*population;
        let tournament = self.cfg.tournament;
        let retries = Retries { stuck, fallbacks };
        new_mutant(&self.decisions, self.cfg.mutations, retries, history, rng, |rng| {
            let best = (0..tournament)
                .map(|_| &population[rng.random_range(0..population.len())])
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .expect("tournament >= 1");
            &best.0
        })
    }

    fn fallbacks(&self) -> usize {
        self.state.fallbacks
    }

    fn tell(&mut self, values: &[usize], reward: f64, _rng: &mut ChaCha8Rng) -> Result<()> {
        self.state.told += 1;
        self.state.population.push_back((values.to_vec(), reward));
        if self.state.population.len() > self.cfg.population {
            self.state.population.pop_front();
        }
        Ok(())
    }

    fn state(&self) -> Result<serde_json::Value> {
        to_state(self.kind(), &self.state)
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<()> {
        self.state = from_state(self.kind(), state)?;
        Ok(())
    }
}
