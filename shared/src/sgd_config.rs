//! `SgdConfig`: the weight optimiser's settings, shared by `train.sgd` and `search.sgd`.
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// SGD with Nesterov momentum and a cosine learning rate with warm restarts, as ENAS trains
/// child weights (in search and from scratch).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SgdConfig {
    /// Learning rate at the start of each cosine cycle (ENAS: 0.05).
    pub lr_max: f64,
    /// Learning rate at the end of each cosine cycle (ENAS: 0.0005).
    pub lr_min: f64,
    /// Epochs in the first cosine cycle (ENAS: 10); 0 means one cycle over all epochs.
    pub lr_t0: usize,
    /// Factor by which each cosine cycle is longer than the one before (ENAS: 2).
    pub lr_t_mul: usize,
    /// SGD momentum, with Nesterov's correction (ENAS: 0.9).
    pub momentum: f64,
    /// L2 weight decay added to every gradient (ENAS: 1e-4 in search, 2e-4 for final training).
    pub weight_decay: f64,
    /// Global gradient-norm clipping threshold; 0 disables clipping (ENAS: 5.0).
    pub grad_clip: f64,
}

impl Default for SgdConfig {
    fn default() -> Self {
        SgdConfig {
            lr_max: 0.05,
            lr_min: 0.0005,
            lr_t0: 10,
            lr_t_mul: 2,
            momentum: 0.9,
            weight_decay: 1e-4,
            grad_clip: 5.0,
        }
    }
}

impl SgdConfig {
    /// Range checks; `section` is the key prefix in messages (`train.sgd`).
    pub fn validate(&self, origin: &str, section: &str) -> Result<()> {
        let bad = |key: &str, msg: String| {
            Err(Error::Config { origin: origin.to_string(), msg: format!("{section}.{key}: {msg}") })
        };
        if !(self.lr_max > 0.0 && self.lr_max.is_finite()) {
            return bad("lr_max", format!("must be a positive number, got {}", self.lr_max));
        }
        if !(self.lr_min >= 0.0 && self.lr_min <= self.lr_max) {
            return bad("lr_min", format!("must be in [0, lr_max = {}], got {}", self.lr_max, self.lr_min));
        }
        if self.lr_t_mul == 0 {
            return bad("lr_t_mul", "must be at least 1, got 0".into());
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return bad("momentum", format!("must be in [0, 1), got {}", self.momentum));
        }
        if !(self.weight_decay >= 0.0 && self.weight_decay.is_finite()) {
            return bad("weight_decay", format!("must be >= 0, got {}", self.weight_decay));
        }
        if !(self.grad_clip >= 0.0 && self.grad_clip.is_finite()) {
            return bad("grad_clip", format!("must be >= 0 (0 disables clipping), got {}", self.grad_clip));
        }
        Ok(())
    }
}
