//! Local search (White et al., "Local search is state of the art for NAS benchmarks", 2021): query
//! `init_samples` uniform random architectures and start from the best; query the current
//! architecture's neighbours (every architecture that differs in one decision) in random order;
//! move to a better neighbour — the first one found (`first_improvement`) or the best of the whole
//! neighbourhood — and continue from there; at a local optimum (no neighbour better), restart from
//! one new random architecture. With starts (`proxy-local`, `vote-local`) the initial and restart
//! architectures are the next best of a pool by zero-cost proxies instead of random ones.
//! Neighbours whose score the history already knows are weighed without a query.
use super::{from_state, neighbours, to_state, History, Starts, Strategy};
use enas_shared::space::Decision;
use enas_shared::strategy_config::{LocalConfig, StrategyKind};
use enas_shared::Result;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub struct LocalSearch {
    kind: StrategyKind,
    decisions: Vec<Decision>,
    cfg: LocalConfig,
    st: LocalState,
}

/// What local search carries between proposals.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LocalState {
    /// Random architectures still to query before the next climb starts.
    init_left: usize,
    /// The best of the current random start, while `init_left > 0`.
    init_best: Option<(Vec<usize>, f64)>,
    /// Where the climb stands.
    current: Option<(Vec<usize>, f64)>,
    /// The current architecture's neighbours not yet weighed, in the order to query them.
    queue: Vec<Vec<usize>>,
    /// The best neighbour weighed so far.
    best_neighbour: Option<(Vec<usize>, f64)>,
    /// What starts and restarts are drawn from before uniform draws (a proxy's ranking, for
    /// `proxy-local` and `vote-local`; empty for plain local search).
    #[serde(default)]
    starts: Starts,
}

impl LocalSearch {
    pub fn new(decisions: Vec<Decision>, cfg: LocalConfig) -> LocalSearch {
        let st = LocalState {
            init_left: cfg.init_samples,
            init_best: None,
            current: None,
            queue: Vec::new(),
            best_neighbour: None,
            starts: Starts::default(),
        };
        LocalSearch { kind: StrategyKind::Local, decisions, cfg, st }
    }

    /// Starts and restarts come from `starts` (best first) instead of uniform draws.
    pub fn with_starts(mut self, kind: StrategyKind, starts: Starts) -> LocalSearch {
        self.kind = kind;
        self.st.starts = starts;
        self
    }

    /// Every architecture one decision away from `values`, shuffled.
    pub fn neighbours(&self, values: &[usize], rng: &mut ChaCha8Rng) -> Vec<Vec<usize>> {
        let mut out = neighbours(&self.decisions, values);
        out.shuffle(rng);
        out
    }

    fn move_to(&mut self, at: (Vec<usize>, f64), rng: &mut ChaCha8Rng) {
        self.st.queue = self.neighbours(&at.0, rng);
        self.st.queue.reverse(); // popped from the back
        self.st.current = Some(at);
        self.st.best_neighbour = None;
    }

    /// Weighs a neighbour's score; with first improvement a better one becomes the current.
    fn weigh(&mut self, values: &[usize], reward: f64, rng: &mut ChaCha8Rng) {
        if !self.st.best_neighbour.as_ref().is_some_and(|b| reward <= b.1) {
            self.st.best_neighbour = Some((values.to_vec(), reward));
        }
        let current = self.st.current.as_ref().map_or(f64::NEG_INFINITY, |c| c.1);
        if self.cfg.first_improvement && reward > current {
            self.move_to((values.to_vec(), reward), rng);
        }
    }
}

impl Strategy for LocalSearch {
    fn kind(&self) -> StrategyKind {
        self.kind
    }

    fn propose(&mut self, history: &History, rng: &mut ChaCha8Rng) -> Result<Vec<usize>> {
        loop {
            if self.st.init_left > 0 || self.st.current.is_none() {
                return self.st.starts.next(&self.decisions, history, rng);
            }
            if let Some(n) = self.st.queue.pop() {
                match history.known(&n) {
                    Some(reward) => self.weigh(&n, reward, rng),
                    None => {
                        // Put it back until its score comes (`tell` pops it for good).
                        self.st.queue.push(n.clone());
                        return Ok(n);
                    }
                }
                continue;
            }
            // The neighbourhood is weighed: move to its best if better, else restart.
            let current = self.st.current.as_ref().map_or(f64::NEG_INFINITY, |c| c.1);
            match self.st.best_neighbour.take() {
                Some(best) if best.1 > current => self.move_to(best, rng),
                _ => {
                    self.st.current = None;
                    self.st.init_left = 1;
                    self.st.init_best = None;
                }
            }
        }
    }

    fn tell(&mut self, values: &[usize], reward: f64, rng: &mut ChaCha8Rng) -> Result<()> {
        if self.st.init_left > 0 || self.st.current.is_none() {
            if !self.st.init_best.as_ref().is_some_and(|b| reward <= b.1) {
                self.st.init_best = Some((values.to_vec(), reward));
            }
            self.st.init_left = self.st.init_left.saturating_sub(1);
            if self.st.init_left == 0 {
                let start = self.st.init_best.take().expect("at least one random architecture was told");
                self.move_to(start, rng);
            }
            return Ok(());
        }
        if self.st.queue.last().map(|n| n.as_slice()) == Some(values) {
            self.st.queue.pop();
        }
        self.weigh(values, reward, rng);
        Ok(())
    }

    fn state(&self) -> Result<serde_json::Value> {
        to_state(self.kind(), &self.st)
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<()> {
        self.st = from_state(self.kind(), state)?;
        Ok(())
    }
}
