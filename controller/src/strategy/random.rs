//! Random search: every decision uniform, independently; a draw the history already knows is
//! rejected and drawn again.
use super::{uniform_unknown, History, Strategy};
use enas_shared::space::Decision;
use enas_shared::strategy_config::StrategyKind;
use enas_shared::Result;
use rand_chacha::ChaCha8Rng;

pub struct RandomSearch {
    decisions: Vec<Decision>,
}

impl RandomSearch {
    pub fn new(decisions: Vec<Decision>) -> RandomSearch {
        RandomSearch { decisions }
    }
}

impl Strategy for RandomSearch {
    fn kind(&self) -> StrategyKind {
        StrategyKind::Random
    }

    fn propose(&mut self, history: &History, rng: &mut ChaCha8Rng) -> Result<Vec<usize>> {
        uniform_unknown(&self.decisions, history, rng)
    }

    fn tell(&mut self, _values: &[usize], _reward: f64, _rng: &mut ChaCha8Rng) -> Result<()> {
        Ok(())
    }

    /// Random search carries nothing between proposals.
    fn state(&self) -> Result<serde_json::Value> {
        Ok(serde_json::Value::Null)
    }

    fn restore(&mut self, _state: serde_json::Value) -> Result<()> {
        Ok(())
    }
}
