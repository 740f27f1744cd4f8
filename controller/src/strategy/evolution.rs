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
        let free: Vec<usize> = (0..self.decisions.len()).filter(|&i| self.decisions[i].choices > 1).collect();
        let mut child = parent.to_vec();
        let k = self.cfg.mutations.min(free.len());
        for i in sample(rng, free.len(), k) {
            let pos = free[i];
            let other = rng.random_range(0..self.decisions[pos].choices - 1);
            child[pos] = if other >= parent[pos] { other + 1 } else { other };
        }
        child
    }
}

impl Strategy for Evolution {
    fn kind(&self) -> StrategyKind {
        self.kind
    }

    fn propose(&mut self, history: &History, rng: &mut ChaCha8Rng) -> Result<Vec<usize>> {
        if self.state.told < self.cfg.population || self.state.population.is_empty() {
            return self.state.starts.next(&self.decisions, history, rng);
        }
        let draws = if self.state.stuck { STUCK_RETRY_DRAWS } else { MAX_DRAWS };
        for _ in 0..draws {
            let parent = (0..self.cfg.tournament)
                .map(|_| &self.state.population[rng.random_range(0..self.state.population.len())])
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .expect("tournament >= 1");
            let child = self.mutate(&parent.0, rng);
            if history.known(&child).is_none() {
                self.state.stuck = false;
                return Ok(child);
            }
        }
        // Every mutation tried is known (the budget nears the space's size): a uniform unknown
        // architecture, enumerated if need be, so that the budget is always spent.
        self.state.fallbacks += 1;
        self.state.stuck = true;
        uniform_unknown(&self.decisions, history, rng)
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
