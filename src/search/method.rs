//! A weight-sharing search method, as the search loop sees it: which paths the shared weights
//! train on, what the method does in its architecture steps, and which architectures it offers
//! at the end. The loop holds one `Method` and names none.
//!
//! `Sampled` is every method that proposes vectors of choices and learns from their scores: any
//! `Strategy` of the controller crate (ENAS's REINFORCE controller, random, evolution, local
//! search, the proxy-guided ones), the same objects `enas bench` runs on a table. A gradient
//! method (DARTS) is another implementation: its weight steps ask for a mixture `Path`, its
//! architecture step differentiates the validation loss through `ArchContext::net`, and its
//! candidates come from its architecture weights.
use super::cost::ArchCost;
use super::supernet::{ArchContext, Path};
use super::ArchRow;
use anyhow::{Context, Result};
use enas_controller::strategy::{self, Draw, History, Strategy, Told};
use enas_shared::objective::{Objective, RewardOnly};
use enas_shared::table::Evaluator;
use enas_shared::Space;
use rand_chacha::ChaCha8Rng;

/// One architecture a step scored.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    pub values: Vec<usize>,
    /// Accuracy on the validation minibatch it was scored on.
    pub valid_acc: f64,
    /// What the strategy was told: the objective's value of the accuracy and the cost.
    pub reward: f64,
    /// The cost the objective reads, if any.
    pub cost: Option<f64>,
    /// What the method made of it (reward, log-probability, entropy), if more than the accuracy.
    pub told: Option<Told>,
}

/// The final candidates of a method: what it drew, or the best it queried.
pub struct Candidates {
    /// How they were chosen, for messages ("policy-sampled", "best-queried").
    pub kind: &'static str,
    /// Choices, log-probability under the method (NaN: none), and position in their stream.
    pub draws: Vec<(Vec<usize>, f64, usize)>,
}

pub trait Method {
    /// The path of one shared-weight step.
    fn train_path(&mut self, rng: &mut ChaCha8Rng) -> Result<Path>;

    /// Architecture steps per epoch, after its weight steps.
    fn arch_steps(&self) -> usize;

    /// The method's distribution over each decision's choices, if it keeps one as weights
    /// (DARTS: softmax(α) per edge); written to `genotypes.csv` after every epoch.
    fn distribution(&self) -> Option<Vec<Vec<f64>>> {
        None
    }

    /// Architecture steps interleaved with the weight steps: one before every `k`-th weight step
    /// (DARTS alternates one and one); `None` for none.
    fn arch_every(&self) -> Option<usize> {
        None
    }

    /// Called at the start of every epoch (a resumed one included), before its steps.
    fn start_epoch(&mut self, _epoch: usize, _epochs: usize) {}

    /// Why the search should end now, before its configured epochs (an early-stopping rule of
    /// the method); asked after every epoch.
    fn stop_reason(&self) -> Result<Option<String>> {
        Ok(None)
    }

    /// Called after every epoch's steps, with the supernet and the epoch's validation stream
    /// (RobustDARTS measures its curvature here).
    fn end_epoch(&mut self, _ctx: &mut ArchContext, _rng: &mut ChaCha8Rng) -> Result<()> {
        Ok(())
    }

    /// The dominant eigenvalue of the validation loss's Hessian with respect to the method's
    /// architecture weights at the last epoch's end, if it measures one; for `genotypes.csv`.
    fn curvature(&self) -> Option<f64> {
        None
    }

    /// One architecture step; returns what it scored, in order.
    fn arch_step(&mut self, ctx: &mut ArchContext, rng: &mut ChaCha8Rng) -> Result<Vec<Scored>>;

    /// The reward baseline (NaN when the method has none), for `epochs.csv`.
    fn baseline(&self) -> f64;

    /// `n` final candidates: draws from what the method learned (from `rng`), else the best
    /// distinct architectures it queried (`queried`, the run's `architectures.csv`).
    fn candidates(&self, n: usize, rng: &mut ChaCha8Rng, queried: &[ArchRow]) -> Result<Candidates>;

    /// The architecture the method would return now, without scoring anything new (a policy's
    /// most likely arc, else the best it queried by minibatch accuracy); `None` before any query.
    fn current(&self, queried: &[ArchRow]) -> Result<Option<Vec<usize>>>;

    /// A uniformly random architecture, using `rng` as the method's own draws do (paired).
    fn draw_uniform(&self, rng: &mut ChaCha8Rng) -> Result<Vec<usize>>;

    /// A draw from what the method learned, if it learns a distribution.
    fn draw(&self, rng: &mut ChaCha8Rng) -> Result<Option<Draw>>;

    /// The log-probability of `values` under the method's policy, if it has one.
    fn log_prob(&self, values: &[usize]) -> Result<Option<f64>>;

    /// Everything the method carries between epochs, for checkpoints.
    fn state(&self) -> Result<serde_json::Value>;

    /// Restores `state`; `queried` is the run's `architectures.csv` up to the checkpoint.
    fn restore(&mut self, state: serde_json::Value, queried: &[ArchRow]) -> Result<()>;
}

/// A strategy searching with the supernet as its evaluator.
pub struct Sampled {
    pub strategy: Box<dyn Strategy>,
    pub space: Space,
    pub history: History,
    /// Queries per architecture step (ENAS: `controller.num_aggregate`).
    pub per_step: usize,
    pub steps: usize,
    /// What the strategy is told of an accuracy and a cost (`objective:`).
    pub objective: Box<dyn Objective>,
    pub cost: Option<ArchCost>,
}

impl Sampled {
    /// `repeats`: the user's `strategy.repeats`; a strategy that learns from fresh measurements
    /// (`Strategy::remeasures_repeats`) gets them regardless.
    pub fn new(strategy: Box<dyn Strategy>, space: Space, repeats: bool, per_step: usize, steps: usize) -> Sampled {
        let history = History::new(repeats || strategy.remeasures_repeats());
        Sampled { strategy, space, history, per_step, steps, objective: Box::new(RewardOnly), cost: None }
    }

    /// The strategy is told `objective`'s value of each accuracy and `cost`.
    pub fn with_objective(mut self, objective: Box<dyn Objective>, cost: Option<ArchCost>) -> Sampled {
        self.objective = objective;
        self.cost = cost;
        self
    }
}

impl Method for Sampled {
    /// A draw from the strategy's policy (ENAS trains the shared weights on its controller's
    /// samples), else a uniformly random path (single-path one-shot).
    fn train_path(&mut self, rng: &mut ChaCha8Rng) -> Result<Path> {
        let values = match self.strategy.draw(rng)? {
            Some(d) => d.values,
            None => strategy::uniform(&self.space.decisions(), rng),
        };
        Ok(Path::Single(values))
    }

    fn arch_steps(&self) -> usize {
        self.steps
    }

    fn arch_step(&mut self, ctx: &mut ArchContext, rng: &mut ChaCha8Rng) -> Result<Vec<Scored>> {
        let mut out = Vec::with_capacity(self.per_step);
        let mut refused = 0;
        while out.len() < self.per_step {
            let values = self.strategy.propose(&self.history, rng)?;
            let cost = self.cost.as_ref().map(|c| c.of(ctx.net, &values)).transpose()?;
            if self.objective.value(0.0, cost).is_none() {
                strategy::refuse(self.strategy.as_mut(), &mut self.history, &values, cost, &mut refused, rng)?;
                continue;
            }
            let valid_acc = ctx.evaluate(&values)?.reward;
            let reward = self.objective.value(valid_acc, cost).unwrap_or(strategy::REFUSED_REWARD);
            self.history.record(&values, reward);
            self.strategy.tell_cost(&values, reward, cost, rng)?;
            out.push(Scored { told: self.strategy.last_told(), values, valid_acc, reward, cost });
        }
        Ok(out)
    }

    fn baseline(&self) -> f64 {
        self.strategy.baseline().unwrap_or(f64::NAN)
    }

    fn candidates(&self, n: usize, rng: &mut ChaCha8Rng, queried: &[ArchRow]) -> Result<Candidates> {
        let mut draws = Vec::with_capacity(n);
        for k in 0..n {
            match self.strategy.draw(rng)? {
                Some(d) => draws.push((d.values, d.log_prob, k + 1)),
                None => return Ok(Candidates { kind: "best-queried", draws: best_queried(&self.space, queried, n)? }),
            }
        }
        Ok(Candidates { kind: "policy-sampled", draws })
    }

    fn current(&self, queried: &[ArchRow]) -> Result<Option<Vec<usize>>> {
        if let Some(mode) = self.strategy.mode()? {
            return Ok(Some(mode));
        }
        if queried.is_empty() {
            return Ok(None);
        }
        Ok(best_queried(&self.space, queried, 1)?.pop().map(|(values, _, _)| values))
    }

    fn draw_uniform(&self, rng: &mut ChaCha8Rng) -> Result<Vec<usize>> {
        Ok(self.strategy.draw_uniform(&self.space.decisions(), rng)?)
    }

    fn draw(&self, rng: &mut ChaCha8Rng) -> Result<Option<Draw>> {
        Ok(self.strategy.draw(rng)?)
    }

    fn log_prob(&self, values: &[usize]) -> Result<Option<f64>> {
        Ok(self.strategy.log_prob(values)?)
    }

    fn state(&self) -> Result<serde_json::Value> {
        Ok(self.strategy.state()?)
    }

    fn restore(&mut self, state: serde_json::Value, queried: &[ArchRow]) -> Result<()> {
        self.strategy.restore(state)?;
        // What the strategy was told is the queries so far.
        for (i, row) in queried.iter().enumerate() {
            let values = self.space.parse(&row.arc).with_context(|| format!("architectures.csv row {}: arc", i + 1))?;
            self.history.record(&values, row.valid_acc);
        }
        Ok(())
    }
}

/// The `n` best distinct arcs of `architectures.csv` by minibatch accuracy (a later query wins a
/// tie), with their row number there as the stream position.
fn best_queried(space: &Space, queried: &[ArchRow], n: usize) -> Result<Vec<(Vec<usize>, f64, usize)>> {
    let mut rows: Vec<(usize, &ArchRow)> = queried.iter().enumerate().collect();
    anyhow::ensure!(!rows.is_empty(), "the search has queried no architecture yet");
    rows.sort_by(|a, b| b.1.valid_acc.total_cmp(&a.1.valid_acc).then(b.0.cmp(&a.0)));
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(n);
    for (i, row) in rows {
        if out.len() == n {
            break;
        }
        if seen.insert(row.arc.clone()) {
            out.push((space.parse(&row.arc)?, f64::NAN, i + 1));
        }
    }
    Ok(out)
}
