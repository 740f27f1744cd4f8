//! REINFORCE as a strategy: ENAS's LSTM controller (`Controller`) trained by ENAS's REINFORCE
//! (`Reinforce`: moving-average baseline, Adam), on any space the controller walks. Every
//! `num_aggregate` scored samples make one update. A sample whose score the history knows is
//! scored from it at no query cost and joins the batch like any other.
use super::{exhausted, History, Strategy, MAX_DRAWS};
use crate::{Controller, Reinforce, Sample};
use candle_core::Device;
use enas_shared::search_config::ControllerConfig;
use enas_shared::strategy_config::StrategyKind;
use enas_shared::{Error, Result, Space};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

pub struct ReinforceStrategy {
    controller: Controller,
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
        for _ in 0..MAX_DRAWS {
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
        Err(exhausted("the REINFORCE controller", &self.controller.space().decisions(), history))
    }

    fn tell(&mut self, values: &[usize], reward: f64, _rng: &mut ChaCha8Rng) -> Result<()> {
        let sample =
            self.pending.take().filter(|s| s.values == values).ok_or_else(|| {
                Error::Arch("REINFORCE was told the score of an architecture it did not propose".into())
            })?;
        self.observe(sample, reward)
    }
}
