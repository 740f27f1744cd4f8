//! Local search (White et al., "Local search is state of the art for NAS benchmarks", 2021): query
//! `init_samples` uniform random architectures and start from the best; query the current
//! architecture's neighbours (every architecture that differs in one decision) in random order;
//! move to a better neighbour — the first one found (`first_improvement`) or the best of the whole
//! neighbourhood — and continue from there; at a local optimum (no neighbour better), restart from
//! one new random architecture. Neighbours whose score the history already knows are weighed
//! without a query.
use super::{uniform_unknown, History, Strategy};
use enas_shared::space::Decision;
use enas_shared::strategy_config::{LocalConfig, StrategyKind};
use enas_shared::Result;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

pub struct LocalSearch {
    decisions: Vec<Decision>,
    cfg: LocalConfig,
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
}

impl LocalSearch {
    pub fn new(decisions: Vec<Decision>, cfg: LocalConfig) -> LocalSearch {
        let init_left = cfg.init_samples;
        LocalSearch {
            decisions,
            cfg,
            init_left,
            init_best: None,
            current: None,
            queue: Vec::new(),
            best_neighbour: None,
        }
    }

    /// Every architecture one decision away from `values`, shuffled.
    pub fn neighbours(&self, values: &[usize], rng: &mut ChaCha8Rng) -> Vec<Vec<usize>> {
        let mut out = Vec::new();
        for (pos, d) in self.decisions.iter().enumerate() {
            for v in (0..d.choices).filter(|&v| v != values[pos]) {
                let mut n = values.to_vec();
                n[pos] = v;
                out.push(n);
            }
        }
        out.shuffle(rng);
        out
    }

    fn move_to(&mut self, at: (Vec<usize>, f64), rng: &mut ChaCha8Rng) {
        self.queue = self.neighbours(&at.0, rng);
        self.queue.reverse(); // popped from the back
        self.current = Some(at);
        self.best_neighbour = None;
    }

    /// Weighs a neighbour's score; with first improvement a better one becomes the current.
    fn weigh(&mut self, values: &[usize], reward: f64, rng: &mut ChaCha8Rng) {
        if !self.best_neighbour.as_ref().is_some_and(|b| reward <= b.1) {
            self.best_neighbour = Some((values.to_vec(), reward));
        }
        let current = self.current.as_ref().map_or(f64::NEG_INFINITY, |c| c.1);
        if self.cfg.first_improvement && reward > current {
            self.move_to((values.to_vec(), reward), rng);
        }
    }
}

impl Strategy for LocalSearch {
    fn kind(&self) -> StrategyKind {
        StrategyKind::Local
    }

    fn propose(&mut self, history: &History, rng: &mut ChaCha8Rng) -> Result<Vec<usize>> {
        loop {
            if self.init_left > 0 || self.current.is_none() {
                return uniform_unknown(&self.decisions, history, rng);
            }
            if let Some(n) = self.queue.pop() {
                match history.known(&n) {
                    Some(reward) => self.weigh(&n, reward, rng),
                    None => {
                        // Put it back until its score comes (`tell` pops it for good).
                        self.queue.push(n.clone());
                        return Ok(n);
                    }
                }
                continue;
            }
            // The neighbourhood is weighed: move to its best if better, else restart.
            let current = self.current.as_ref().map_or(f64::NEG_INFINITY, |c| c.1);
            match self.best_neighbour.take() {
                Some(best) if best.1 > current => self.move_to(best, rng),
                _ => {
                    self.current = None;
                    self.init_left = 1;
                    self.init_best = None;
                }
            }
        }
    }

    fn tell(&mut self, values: &[usize], reward: f64, rng: &mut ChaCha8Rng) -> Result<()> {
        if self.init_left > 0 || self.current.is_none() {
            if !self.init_best.as_ref().is_some_and(|b| reward <= b.1) {
                self.init_best = Some((values.to_vec(), reward));
            }
            self.init_left = self.init_left.saturating_sub(1);
            if self.init_left == 0 {
                let start = self.init_best.take().expect("at least one random architecture was told");
                self.move_to(start, rng);
            }
            return Ok(());
        }
        if self.queue.last().map(|n| n.as_slice()) == Some(values) {
            self.queue.pop();
        }
        self.weigh(values, reward, rng);
        Ok(())
    }
}
