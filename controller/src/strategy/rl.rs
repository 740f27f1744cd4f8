//! REINFORCE as a strategy: ENAS's LSTM controller (`Controller`) trained by ENAS's REINFORCE
//! (`Reinforce`: moving-average baseline, Adam), on any space the controller walks. Every
//! `num_aggregate` scored samples make one update. A sample whose score the history knows is
//! scored from it at no query cost and joins the batch like any other.
//!
//! A policy that has converged samples only architectures it has already seen. After
//! `STUCK_DRAWS` such samples in a row the proposal falls back to a uniformly random unqueried
//! architecture, which the policy is not trained on (it did not sample it); `fallbacks` counts
//! them so a report can say how much of a budget went that way.
//!
//! Its state (`state`/`restore`) is everything it carries: the controller's weights, Adam's step
//! and moments, the baseline, the fallback count, and the samples of an update still being
//! gathered (their choices and rewards; their log-probabilities are recomputed from the restored
//! weights, which are the ones they were drawn from).
use super::{tensors_json, uniform_unknown, Draw, History, Strategy, Told};
use crate::{Controller, Reinforce, Sample};
use candle_core::Device;
use enas_shared::search_config::ControllerConfig;
use enas_shared::space::Decision;
use enas_shared::strategy_config::StrategyKind;
use enas_shared::{Error, Result, Space};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Known samples in a row after which a proposal falls back to uniform.
pub const STUCK_DRAWS: usize = 50;

/// Samples a proposal tries while the policy is stuck (its last proposal was a fallback): one, so
/// that a policy which has collapsed onto known architectures costs one sample a query, not 50,
/// until it samples something new again.
const STUCK_RETRY_DRAWS: usize = 1;

pub struct ReinforceStrategy {
    controller: Controller,
    fallbacks: usize,
    /// Whether the last proposal was a fallback.
    stuck: bool,
    trainer: Reinforce,
    num_aggregate: usize,
    batch: Vec<(Sample, f64)>,
    pending: Option<Sample>,
    told: Option<Told>,
}

/// What `state` writes.
#[derive(Serialize, Deserialize)]
struct State {
    controller: serde_json::Value,
    trainer: serde_json::Value,
    fallbacks: usize,
    #[serde(default)]
    stuck: bool,
    /// The samples of the update being gathered: choices and rewards.
    batch: Vec<(Vec<usize>, f64)>,
}

impl ReinforceStrategy {
    /// A fresh controller on `space`, its weights seeded from `rng`.
    pub fn new(space: &Space, cfg: &ControllerConfig, rng: &mut ChaCha8Rng) -> Result<ReinforceStrategy> {
        ReinforceStrategy::with_seed(space, cfg, rng.random())
    }

    /// A fresh controller on `space` whose weights are drawn from `seed`.
    pub fn with_seed(space: &Space, cfg: &ControllerConfig, seed: u64) -> Result<ReinforceStrategy> {
        let controller = Controller::new(cfg, space, seed, &Device::Cpu)?;
        let trainer = Reinforce::new(cfg, &controller)?;
        Ok(ReinforceStrategy {
            controller,
            fallbacks: 0,
            stuck: false,
            trainer,
            num_aggregate: cfg.num_aggregate,
            batch: Vec::new(),
            pending: None,
            told: None,
        })
    }

    /// The controller, to read its distributions.
    pub fn controller(&self) -> &Controller {
        &self.controller
    }

    fn observe(&mut self, sample: Sample, reward: f64) -> Result<()> {
        self.batch.push((sample, reward));
        if self.batch.len() >= self.num_aggregate {
            self.trainer.update(&self.controller, &self.batch)?;
            self.batch.clear();
        }
        Ok(())
    }
}

impl Strategy for ReinforceStrategy {
    fn kind(&self) -> StrategyKind {
        StrategyKind::Reinforce
    }

    fn propose(&mut self, history: &History, rng: &mut ChaCha8Rng) -> Result<Vec<usize>> {
        let draws = if self.stuck { STUCK_RETRY_DRAWS } else { STUCK_DRAWS };
        for _ in 0..draws {
            let sample = self.controller.sample(rng)?;
            match history.known(&sample.values) {
                Some(reward) => self.observe(sample, reward)?,
                None => {
                    let values = sample.values.clone();
                    self.pending = Some(sample);
                    self.stuck = false;
                    return Ok(values);
                }
            }
        }
        self.fallbacks += 1;
        self.stuck = true;
        self.pending = None;
        uniform_unknown(&self.controller.space().decisions(), history, rng)
    }

    fn tell(&mut self, values: &[usize], reward: f64, _rng: &mut ChaCha8Rng) -> Result<()> {
        self.told = None;
        match self.pending.take() {
            Some(sample) if sample.values == values => {
                let (log_prob, entropy) = (sample.log_prob_value()?, sample.entropy_value()?);
                self.told = Some(Told { reward: self.trainer.reward(reward, entropy), log_prob, entropy });
                self.observe(sample, reward)
            }
            Some(_) => Err(Error::Arch("REINFORCE was told the score of an architecture it did not propose".into())),
            // A fallback proposal: not the policy's sample, so not trained on.
            None => Ok(()),
        }
    }

    fn last_told(&self) -> Option<Told> {
        self.told
    }

    fn baseline(&self) -> Option<f64> {
        Some(self.trainer.baseline())
    }

    /// ENAS scores every arc its controller samples, repeats included, each on its own minibatch.
    fn remeasures_repeats(&self) -> bool {
        true
    }

    fn draw(&self, rng: &mut ChaCha8Rng) -> Result<Option<Draw>> {
        let sample = self.controller.sample(rng)?;
        Ok(Some(Draw { log_prob: sample.log_prob_value()?, values: sample.values }))
    }

    fn mode(&self) -> Result<Option<Vec<usize>>> {
        Ok(Some(self.controller.greedy()?.values))
    }

    /// Paired with `draw`: the controller's walk with uniform choices, same use of `rng`.
    fn draw_uniform(&self, _decisions: &[Decision], rng: &mut ChaCha8Rng) -> Result<Vec<usize>> {
        Ok(self.controller.sample_uniform(rng)?.values)
    }

    fn log_prob(&self, values: &[usize]) -> Result<Option<f64>> {
        Ok(Some(self.controller.evaluate(values)?.log_prob_value()?))
    }

    fn fallbacks(&self) -> usize {
        self.fallbacks
    }

    fn state(&self) -> Result<serde_json::Value> {
        let controller = self.controller.vars().iter().map(|(k, v)| (k.clone(), v.as_tensor().clone())).collect();
        let state = State {
            controller: tensors_json::to_json(&controller)?,
            trainer: tensors_json::to_json(&self.trainer.state_tensors()?)?,
            fallbacks: self.fallbacks,
            stuck: self.stuck,
            batch: self.batch.iter().map(|(s, r)| (s.values.clone(), *r)).collect(),
        };
        super::to_state(StrategyKind::Reinforce, &state)
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<()> {
        let state: State = super::from_state(StrategyKind::Reinforce, state)?;
        let origin = std::path::Path::new("strategy state");
        let mut weights = tensors_json::from_json(&state.controller)?;
        for (name, var) in self.controller.vars() {
            let t = weights.remove(name).ok_or_else(|| Error::format(origin, format!("missing tensor `{name}`")))?;
            if t.dims() != var.dims() {
                let msg = format!("tensor `{name}` has shape {:?}, the controller expects {:?}", t.dims(), var.dims());
                return Err(Error::format(origin, msg));
            }
            var.set(&t)?;
        }
        if let Some(extra) = weights.keys().min() {
            return Err(Error::format(origin, format!("unexpected tensor `{extra}` (a different controller config?)")));
        }
        self.trainer.set_state_tensors(tensors_json::from_json(&state.trainer)?, origin)?;
        self.fallbacks = state.fallbacks;
        self.stuck = state.stuck;
        self.batch = state
            .batch
            .into_iter()
            .map(|(values, reward)| Ok((self.controller.evaluate(&values)?, reward)))
            .collect::<Result<_>>()?;
        self.pending = None;
        self.told = None;
        Ok(())
    }
}
