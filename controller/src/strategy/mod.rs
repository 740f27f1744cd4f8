//! Search strategies behind one interface. A strategy proposes a vector of choices, is told its
//! reward, and proposes again; it never sees what evaluates the proposals (a table lookup or a
//! supernet), so the loops in `enas bench` and `enas search` run any of them unchanged.
//!
//! A strategy never proposes an architecture whose score it was already told (`History::known`)
//! unless the user allows repeats (`strategy.repeats`); what it learns from a known score it gets
//! from the history for free, so duplicates never count against a budget.
mod build;
mod evolution;
mod local;
mod pareto;
mod random;
mod rl;
mod sweep;
mod tensors_json;
pub mod warm;

pub use build::{build, build_seeded, build_with_costs, build_with_starts, Known, KnownCost, KnownScore};
pub use evolution::Evolution;
pub use local::LocalSearch;
pub use pareto::ParetoEvolution;
pub use random::RandomSearch;
pub use rl::ReinforceStrategy;
pub use sweep::Sweep;

use enas_shared::space::Decision;
use enas_shared::strategy_config::StrategyKind;
use enas_shared::table::{Evaluation, Evaluator};
use enas_shared::{Error, Result, Space};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};

/// The scores a search has seen, by vector of choices.
#[derive(Debug, Clone, Default)]
pub struct History {
    scores: HashMap<Vec<usize>, f64>,
    repeats: bool,
}

impl History {
    /// An empty history; with `repeats`, `known` answers nothing, so strategies may re-propose.
    pub fn new(repeats: bool) -> History {
        History { scores: HashMap::new(), repeats }
    }

    /// The score of `values` if it was queried before and repeats are off.
    pub fn known(&self, values: &[usize]) -> Option<f64> {
        if self.repeats {
            None
        } else {
            self.scores.get(values).copied()
        }
    }

    /// Records a query's reward (the latest one wins when repeats are on).
    pub fn record(&mut self, values: &[usize], reward: f64) {
        self.scores.insert(values.to_vec(), reward);
    }

    /// Distinct architectures queried.
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }
}

/// What a strategy made of the last score it was told, for a run's tables: the reward it learns
/// from (REINFORCE adds an entropy bonus to the accuracy), and the told sample's log-probability
/// and entropy under its policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Told {
    pub reward: f64,
    pub log_prob: f64,
    pub entropy: f64,
}

/// One architecture drawn from what a strategy has learned, with its log-probability.
#[derive(Debug, Clone, PartialEq)]
pub struct Draw {
    pub values: Vec<usize>,
    pub log_prob: f64,
}

/// A search strategy. Calls alternate: `propose`, then `tell` with the proposal's reward.
pub trait Strategy: Send {
    fn kind(&self) -> StrategyKind;

    /// The next architecture to query: one `history` does not know (unless repeats are on).
    fn propose(&mut self, history: &History, rng: &mut ChaCha8Rng) -> Result<Vec<usize>>;

    /// The reward of the last proposal.
    fn tell(&mut self, values: &[usize], reward: f64, rng: &mut ChaCha8Rng) -> Result<()>;

    /// The reward of the last proposal and its cost, where the evaluator knows one; a strategy
    /// that ignores costs is told the reward alone.
    fn tell_cost(&mut self, values: &[usize], reward: f64, _cost: Option<f64>, rng: &mut ChaCha8Rng) -> Result<()> {
        self.tell(values, reward, rng)
    }

    /// Proposals that did not come from the strategy's own rule but from a uniform fallback (a
    /// converged REINFORCE policy); reports print it when it is not zero.
    fn fallbacks(&self) -> usize {
        0
    }

    /// What the last `tell` made of its score; `None`: the score as told, nothing else.
    fn last_told(&self) -> Option<Told> {
        None
    }

    /// The reward baseline of a policy-gradient strategy, for logs.
    fn baseline(&self) -> Option<f64> {
        None
    }

    /// Whether a repeated proposal should be measured again when scores are noisy measurements
    /// (a supernet's accuracy on one minibatch) instead of answered from the history. REINFORCE
    /// learns from fresh scores of its own samples (ENAS scores every sample); the others avoid
    /// repeats.
    fn remeasures_repeats(&self) -> bool {
        false
    }

    /// An architecture drawn from what the strategy has learned (REINFORCE: its policy), without a
    /// query; `None` for strategies that learn no distribution.
    fn draw(&self, _rng: &mut ChaCha8Rng) -> Result<Option<Draw>> {
        Ok(None)
    }

    /// The architecture the strategy would return now if it learns a distribution (REINFORCE:
    /// the policy's most likely choice at every decision); `None`: its best query stands for it.
    fn mode(&self) -> Result<Option<Vec<usize>>> {
        Ok(None)
    }

    /// A uniformly random architecture, drawn with the same use of `rng` as `draw` where the
    /// strategy has one (so the two pair up draw by draw).
    fn draw_uniform(&self, decisions: &[Decision], rng: &mut ChaCha8Rng) -> Result<Vec<usize>> {
        Ok(uniform(decisions, rng))
    }

    /// The log-probability of `values` under the strategy's policy, if it has one.
    fn log_prob(&self, _values: &[usize]) -> Result<Option<f64>> {
        Ok(None)
    }

    /// Everything the strategy carries between proposals, as JSON, for search checkpoints.
    fn state(&self) -> Result<serde_json::Value>;

    /// Restores a state written by `state`.
    fn restore(&mut self, state: serde_json::Value) -> Result<()>;
}

/// Reads a strategy state back, naming the strategy on error.
pub(crate) fn from_state<T: serde::de::DeserializeOwned>(kind: StrategyKind, state: serde_json::Value) -> Result<T> {
    serde_json::from_value(state)
        .map_err(|e| Error::Arch(format!("the saved state of strategy {kind} is invalid: {e}")))
}

/// Writes a strategy state, naming the strategy on error.
pub(crate) fn to_state<T: serde::Serialize>(kind: StrategyKind, state: &T) -> Result<serde_json::Value> {
    serde_json::to_value(state)
        .map_err(|e| Error::Arch(format!("the state of strategy {kind} does not serialise: {e}")))
}

/// Architectures to draw instead of uniform random ones while any is left, in order (a proxy's
/// ranking, best first); those the history already knows are skipped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Starts(VecDeque<Vec<usize>>);

impl Starts {
    pub fn new(ranked: Vec<Vec<usize>>) -> Starts {
        Starts(ranked.into())
    }

    /// The next start not yet known, else a uniform unknown architecture.
    pub fn next(&mut self, decisions: &[Decision], history: &History, rng: &mut ChaCha8Rng) -> Result<Vec<usize>> {
        while let Some(s) = self.0.pop_front() {
            if history.known(&s).is_none() {
                return Ok(s);
            }
        }
        uniform_unknown(decisions, history, rng)
    }
}

/// One query of a run: which it was (0-based), what was proposed, what the evaluator said.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub index: usize,
    pub values: Vec<usize>,
    pub eval: Evaluation,
}

/// Runs `strategy` for `budget` queries of `evaluator`, calling `on_query` after each. A proposal
/// outside the space, or one the history already knows, is an error (a strategy bug), never a
/// silent repeat.
pub fn run(
    strategy: &mut dyn Strategy,
    space: &Space,
    evaluator: &mut dyn Evaluator,
    budget: usize,
    history: &mut History,
    rng: &mut ChaCha8Rng,
    on_query: &mut dyn FnMut(&Query),
) -> Result<()> {
    let mut refused = 0;
    let mut index = 0;
    while index < budget {
        let values = strategy.propose(history, rng)?;
        space.validate(&values)?;
        if history.known(&values).is_some() {
            return Err(Error::Arch(format!(
                "strategy {} proposed an architecture it was already told the score of: {}",
                strategy.kind(),
                space.format(&values)?
            )));
        }
        if let Some(cost) = evaluator.refuses(&values)? {
            refuse(strategy, history, &values, Some(cost), &mut refused, rng)?;
            continue;
        }
        refused = 0;
        let eval = evaluator.evaluate(&values)?;
        history.record(&values, eval.reward);
        strategy.tell_cost(&values, eval.reward, eval.cost, rng)?;
        on_query(&Query { index, values, eval });
        index += 1;
    }
    Ok(())
}

/// What a strategy is told for an architecture a constraint refuses: the lowest accuracy.
pub const REFUSED_REWARD: f64 = 0.0;

/// An architecture a constraint refuses at `cost`, before any query: the strategy learns the
/// lowest reward and the history keeps it from proposing it again. `refused` counts refusals in a
/// row (the caller resets it at each query); past `MAX_DRAWS` the limit is taken to be impossible.
pub fn refuse(
    strategy: &mut dyn Strategy,
    history: &mut History,
    values: &[usize],
    cost: Option<f64>,
    refused: &mut usize,
    rng: &mut ChaCha8Rng,
) -> Result<()> {
    *refused += 1;
    if *refused > MAX_DRAWS {
        return Err(Error::Arch(format!(
            "strategy {} proposed {MAX_DRAWS} architectures in a row that the objective's constraint refuses; is \
             objective.limit below every architecture's cost?",
            strategy.kind()
        )));
    }
    history.record(values, REFUSED_REWARD);
    strategy.tell_cost(values, REFUSED_REWARD, cost, rng)
}

/// Draws tried before a strategy gives up finding an architecture the history does not know.
pub const MAX_DRAWS: usize = 10_000;

/// A uniformly random vector of choices.
pub fn uniform(decisions: &[Decision], rng: &mut ChaCha8Rng) -> Vec<usize> {
    decisions.iter().map(|d| rng.random_range(0..d.choices)).collect()
}

/// Spaces up to this size are enumerated when rejection sampling fails (nearly all queried).
const ENUMERABLE: f64 = 1e7;

/// Every architecture one decision away from `values`, in decision order, then value order.
pub(crate) fn neighbours(decisions: &[Decision], values: &[usize]) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    for (pos, d) in decisions.iter().enumerate() {
        for v in (0..d.choices).filter(|&v| v != values[pos]) {
            let mut n = values.to_vec();
            n[pos] = v;
            out.push(n);
        }
    }
    out
}

/// A uniformly random architecture the history does not know: rejection sampling, and for a
/// small space whose unknown part is too rare to hit, a uniform pick among the enumerated
/// unknown architectures.
pub fn uniform_unknown(decisions: &[Decision], history: &History, rng: &mut ChaCha8Rng) -> Result<Vec<usize>> {
    for _ in 0..MAX_DRAWS {
        let v = uniform(decisions, rng);
        if history.known(&v).is_none() {
            return Ok(v);
        }
    }
    let size: f64 = decisions.iter().map(|d| d.choices as f64).product();
    if size <= ENUMERABLE {
        let unknown: Vec<Vec<usize>> = (0..size as usize)
            .map(|mut i| {
                decisions
                    .iter()
                    .map(|d| {
                        let v = i % d.choices;
                        i /= d.choices;
                        v
                    })
                    .collect()
            })
            .filter(|v: &Vec<usize>| history.known(v).is_none())
            .collect();
        if !unknown.is_empty() {
            return Ok(unknown[rng.random_range(0..unknown.len())].clone());
        }
    }
    Err(exhausted("uniform sampling", decisions, history))
}

/// The error of a strategy that found nothing new in `MAX_DRAWS` draws.
pub(crate) fn exhausted(what: &str, decisions: &[Decision], history: &History) -> Error {
    let size: f64 = decisions.iter().map(|d| d.choices as f64).product();
    Error::Arch(format!(
        "{what} drew {MAX_DRAWS} architectures without finding one not yet queried ({} of {size} queried); \
         lower the budget or allow repeats (strategy.repeats=true)",
        history.len()
    ))
}
