//! REINFORCE as a strategy: ENAS's LSTM controller (`Controller`) trained by ENAS's REINFORCE
//! (`Reinforce`: moving-average baseline, Adam), on any space the controller walks. Every
//! `num_aggregate` scored samples make one update. A sample whose score the history knows is
//! scored from it at no query cost and joins the batch like any other.
//!
//! A policy that has converged samples only architectures it has already seen. After
//! `STUCK_DRAWS` such samples in a row the proposal falls back to a uniformly random unqueried
//! architecture, which the policy is not trained on (it did not sample it); `fallbacks` counts
//! them so a report can say how much of a budget went that way.
use super::{uniform_unknown, History, Strategy};
use crate::{Controller, Reinforce, Sample};
use candle_core::Device;
use enas_shared::search_config::ControllerConfig;
use enas_shared::strategy_config::StrategyKind;
use enas_shared::{Error, Result, Space};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Known samples in a row after which a proposal falls back to uniform.
pub const STUCK_DRAWS: usize = 50;

pub struct ReinforceStrategy {
    controller: Controller,
    fallbacks: usize,
    trainer: Reinforce,
    num_aggregate: usize,
    batch: Vec<(Sample, f64)>,
    pending: Option<Sample>,
}

impl ReinforceStrategy {
    /// A fresh controller on `space`, its weights seeded from `rng`.
    pub fn new(space: &Space, cfg: &ControllerConfig, rng: &mut ChaCha8Rng) -> Result<ReinforceStrategy> {
        let controller = Controller::new(cfg, space, rng.random(), &Device::Cpu)?;
        let trainer = Reinforce::new(cfg, &controller)?;
        Ok(ReinforceStrategy {
            controller,
            fallbacks: 0,
            trainer,
            num_aggregate: cfg.num_aggregate,
            batch: Vec::new(),
            pending: None,
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
        for _ in 0..STUCK_DRAWS {
            let sample = self.controller.sample(rng)?;
            match history.known(&sample.values) {
                Some(reward) => self.observe(sample, reward)?,
                None => {
                    let values = sample.values.clone();
                    self.pending = Some(sample);
                    return Ok(values);
                }
            }
        }
        self.fallbacks += 1;
        self.pending = None;
        uniform_unknown(&self.controller.space().decisions(), history, rng)
    }

    fn tell(&mut self, values: &[usize], reward: f64, _rng: &mut ChaCha8Rng) -> Result<()> {
        match self.pending.take() {
            Some(sample) if sample.values == values => self.observe(sample, reward),
            Some(_) => Err(Error::Arch("REINFORCE was told the score of an architecture it did not propose".into())),
            // A fallback proposal: not the policy's sample, so not trained on.
            None => Ok(()),
        }
    }

    fn fallbacks(&self) -> usize {
        self.fallbacks
    }

    /// REINFORCE's state is the controller's weights and Adam's moments, which `enas search`
    /// checkpoints as safetensors through its own ENAS loop; this strategy object serves the
    /// checkpoint-free `enas bench`.
    fn state(&self) -> Result<serde_json::Value> {
        Err(Error::Arch(
            "REINFORCE as a strategy object has no JSON state; enas search checkpoints its controller".into(),
        ))
    }

    fn restore(&mut self, _state: serde_json::Value) -> Result<()> {
        self.state().map(|_| ())
    }
}
