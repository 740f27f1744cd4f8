//! Where a search's arcs come from: the controller's samples (ENAS), or another strategy's
//! proposals scored by the supernet and told back.
use super::checkpoint::Cursor;
use super::Search;
use anyhow::Result;
use enas_controller::strategy;
use enas_controller::Sample;
use enas_shared::data::Batch;
use enas_shared::Arch;
use rand_chacha::ChaCha8Rng;

impl Search {
    /// The arc of one shared-weight step: a sample from the controller (no gradient to it), or
    /// uniformly random when another strategy searches.
    pub(super) fn sample_arch(&mut self, cursor: &mut Cursor) -> Result<Arch> {
        let values = match self.strategy {
            None => self.controller.sample(&mut cursor.rng)?.values,
            Some(_) => strategy::uniform(&self.space.decisions(), &mut cursor.rng),
        };
        Ok(self.space.from_values(&values)?)
    }

    /// One reward query on `batch`: a controller sample, or the strategy's proposal, which is
    /// then told its accuracy. Returns the sample (controller only), the arc and its accuracy.
    pub(super) fn query(&mut self, batch: &Batch, rng: &mut ChaCha8Rng) -> Result<(Option<Sample>, Arch, f64)> {
        match self.strategy {
            None => {
                let sample = self.controller.sample(rng)?;
                let arch = self.space.from_values(&sample.values)?;
                let acc = self.reward_accuracy(batch, &arch)?;
                Ok((Some(sample), arch, acc))
            }
            Some(_) => {
                let strategy = self.strategy.as_mut().expect("matched Some");
                let values = strategy.propose(&self.history, rng)?;
                let arch = self.space.from_values(&values)?;
                let acc = self.reward_accuracy(batch, &arch)?;
                self.history.record(&values, acc);
                self.strategy.as_mut().expect("matched Some").tell(&values, acc, rng)?;
                Ok((None, arch, acc))
            }
        }
    }
}
