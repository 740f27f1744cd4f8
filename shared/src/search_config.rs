//! `ControllerConfig`: the ENAS LSTM controller and its REINFORCE trainer. The defaults are the
//! numbers of ENAS's CIFAR-10 micro search (`scripts/cifar10_micro_search.sh` and the flag
//! defaults of `src/cifar10/main.py` in melodyguan/enas).
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// The ENAS micro controller (a one-layer LSTM with attention over earlier nodes) and REINFORCE.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ControllerConfig {
    /// Units of each LSTM layer, and the size of every embedding (ENAS: 64).
    pub lstm_size: usize,
    /// Stacked LSTM layers (ENAS: 1).
    pub lstm_layers: usize,
    /// Every weight starts uniform in `[-init_range, init_range]` (ENAS: 0.1).
    pub init_range: f64,
    /// Logits are squashed to `c * tanh(logits)` with this `c`; `null` leaves them raw (ENAS micro: 1.10).
    pub tanh_constant: Option<f64>,
    /// Op logits use `tanh_constant / op_tanh_reduce` as their `c` (ENAS micro: 2.5).
    pub op_tanh_reduce: f64,
    /// Logits are divided by this before the tanh; `null` skips it (ENAS micro search: unset).
    pub temperature: Option<f64>,
    /// Weight of the sampled arc's entropy added to its reward (ENAS: 1e-4).
    pub entropy_weight: f64,
    /// Decay of the moving-average reward baseline (ENAS: 0.99).
    pub baseline_decay: f64,
    /// Adam learning rate, constant (ENAS: 0.0035).
    pub lr: f64,
    /// Adam's first-moment decay (ENAS: 0.0).
    pub adam_beta1: f64,
    /// Adam's second-moment decay (ENAS: 0.999).
    pub adam_beta2: f64,
    /// Adam's epsilon, added to `sqrt(v)` as TensorFlow does (ENAS: 1e-3).
    pub adam_eps: f64,
    /// Sampled arcs whose gradients are averaged into one Adam step (ENAS: 10).
    pub num_aggregate: usize,
    /// Adam steps of the controller per search epoch (ENAS: 30).
    pub train_steps: usize,
    /// Initial value of the trainable op-logit bias (`b_soft`), one per op in OpKind order
    /// sep_conv_3x3, sep_conv_5x5, avg_pool_3x3, max_pool_3x3, identity (ENAS: [10, 10, 0, 0, 0],
    /// a prior for the sep convs; with tanh shaping a bias of 10 saturates and hardly trains).
    pub op_bias_init: Vec<f64>,
    /// Constant bias added to the normal cell's op logits after the shaping, same order (ENAS
    /// `b_soft_no_learn`: [0.25, 0.25, -0.25, -0.25, -0.25]).
    pub normal_op_bias: Vec<f64>,
}

/// Ops the ENAS micro controller chooses among, the length of the op-bias lists.
pub const CONTROLLER_OPS: usize = 5;

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            lstm_size: 64,
            lstm_layers: 1,
            init_range: 0.1,
            tanh_constant: Some(1.10),
            op_tanh_reduce: 2.5,
            temperature: None,
            entropy_weight: 1e-4,
            baseline_decay: 0.99,
            lr: 0.0035,
            adam_beta1: 0.0,
            adam_beta2: 0.999,
            adam_eps: 1e-3,
            num_aggregate: 10,
            train_steps: 30,
            op_bias_init: vec![10.0, 10.0, 0.0, 0.0, 0.0],
            normal_op_bias: vec![0.25, 0.25, -0.25, -0.25, -0.25],
        }
    }
}

impl ControllerConfig {
    /// Range checks; messages name the key as `controller.<key>`, `origin` names the file.
    pub fn validate(&self, origin: &str) -> Result<()> {
        self.validate_section(origin, "controller")
    }

    /// Range checks naming the key as `<section>.<key>` (`bench.controller` for `enas bench`).
    pub fn validate_section(&self, origin: &str, section: &str) -> Result<()> {
        let bad = |key: &str, msg: String| {
            Err(Error::Config { origin: origin.to_string(), msg: format!("{section}.{key}: {msg}") })
        };
        let positive = |x: f64| x > 0.0 && x.is_finite();
        if self.lstm_size == 0 {
            return bad("lstm_size", "must be at least 1, got 0".into());
        }
        if self.lstm_layers == 0 {
            return bad("lstm_layers", "must be at least 1, got 0".into());
        }
        if !positive(self.init_range) {
            return bad("init_range", format!("must be > 0, got {}", self.init_range));
        }
        if let Some(c) = self.tanh_constant {
            if !positive(c) {
                return bad("tanh_constant", format!("must be > 0 or null, got {c}"));
            }
        }
        if !positive(self.op_tanh_reduce) {
            return bad("op_tanh_reduce", format!("must be > 0, got {}", self.op_tanh_reduce));
        }
        if let Some(t) = self.temperature {
            if !positive(t) {
                return bad("temperature", format!("must be > 0 or null, got {t}"));
            }
        }
        for (key, v) in [("op_bias_init", &self.op_bias_init), ("normal_op_bias", &self.normal_op_bias)] {
            if v.len() != CONTROLLER_OPS || !v.iter().all(|x| x.is_finite()) {
                return bad(key, format!("must be {CONTROLLER_OPS} finite numbers (one per op), got {v:?}"));
            }
        }
        if !(self.entropy_weight >= 0.0 && self.entropy_weight.is_finite()) {
            return bad("entropy_weight", format!("must be >= 0, got {}", self.entropy_weight));
        }
        if !(0.0..1.0).contains(&self.baseline_decay) {
            return bad("baseline_decay", format!("must be in [0, 1), got {}", self.baseline_decay));
        }
        if !positive(self.lr) {
            return bad("lr", format!("must be > 0, got {}", self.lr));
        }
        if !(0.0..1.0).contains(&self.adam_beta1) {
            return bad("adam_beta1", format!("must be in [0, 1), got {}", self.adam_beta1));
        }
        if !(0.0..1.0).contains(&self.adam_beta2) {
            return bad("adam_beta2", format!("must be in [0, 1), got {}", self.adam_beta2));
        }
        if !positive(self.adam_eps) {
            return bad("adam_eps", format!("must be > 0, got {}", self.adam_eps));
        }
        if self.num_aggregate == 0 {
            return bad("num_aggregate", "must be at least 1, got 0".into());
        }
        if self.train_steps == 0 {
            return bad("train_steps", "must be at least 1, got 0".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_round_trip_through_yaml() {
        let cfg = ControllerConfig::default();
        cfg.validate("(defaults)").unwrap();
        let text = serde_yaml::to_string(&cfg).unwrap();
        assert!(text.contains("temperature: null"), "{text}");
        assert_eq!(serde_yaml::from_str::<ControllerConfig>(&text).unwrap(), cfg);
        let partial: ControllerConfig = serde_yaml::from_str("lr: 0.01\ntemperature: 5.0").unwrap();
        assert_eq!(partial.temperature, Some(5.0));
        assert_eq!(partial.lstm_size, 64);
    }

    #[test]
    fn unknown_keys_and_bad_ranges_are_named() {
        assert!(serde_yaml::from_str::<ControllerConfig>("lstm_sise: 3").is_err());
        let cfg = ControllerConfig { lr: 0.0, ..Default::default() };
        let err = cfg.validate("a.yaml").unwrap_err().to_string();
        assert!(err.contains("a.yaml") && err.contains("controller.lr: must be > 0, got 0"), "{err}");
        let cfg = ControllerConfig { baseline_decay: 1.0, ..Default::default() };
        assert!(cfg.validate("x").unwrap_err().to_string().contains("controller.baseline_decay"));
        let cfg = ControllerConfig { temperature: Some(-1.0), ..Default::default() };
        assert!(cfg.validate("x").unwrap_err().to_string().contains("controller.temperature"));
        let cfg = ControllerConfig { op_bias_init: vec![0.0; 4], ..Default::default() };
        let err = cfg.validate("x").unwrap_err().to_string();
        assert!(err.contains("controller.op_bias_init: must be 5 finite numbers"), "{err}");
        let cfg = ControllerConfig { normal_op_bias: vec![0.0, 0.0, f64::NAN, 0.0, 0.0], ..Default::default() };
        assert!(cfg.validate("x").unwrap_err().to_string().contains("controller.normal_op_bias"));
    }
}
