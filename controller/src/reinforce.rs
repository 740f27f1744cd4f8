//! REINFORCE as ENAS trains its controller (`MicroController.build_trainer` and `get_train_ops`
//! with `sync_replicas` in melodyguan/enas). For each sampled arc, in order:
//! `reward = valid_acc + entropy_weight * entropy` (entropy detached), then the baseline moves
//! first, `baseline -= (1 - baseline_decay) * (baseline - reward)` (starting at 0), and the arc's
//! loss is `-(reward - baseline) * log_prob` with the updated baseline. The gradients of the
//! `num_aggregate` arcs of one step are averaged (TensorFlow's `SyncReplicasOptimizer`) into one
//! Adam step (`adam.rs`). No weight decay, no gradient clipping, constant learning rate: ENAS's
//! micro search uses none of them for the controller.
use crate::adam::Adam;
use crate::lstm::Controller;
use crate::policy::Sample;
use candle_core::{Tensor, Var};
use enas_shared::search_config::ControllerConfig;
use enas_shared::{Error, Result};
use std::borrow::Borrow;
use std::collections::HashMap;
use std::path::Path;

/// What one update did, for logs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UpdateStats {
    /// Mean reward (`valid_acc + entropy_weight * entropy`) of the batch.
    pub mean_reward: f64,
    /// The baseline after the batch.
    pub baseline: f64,
    /// The averaged loss `mean(-(reward - baseline) * log_prob)` that was differentiated.
    pub loss: f64,
    /// Mean entropy of the batch's samples.
    pub mean_entropy: f64,
    /// Global L2 norm of the averaged gradient (ENAS logs it as `|g|`).
    pub grad_norm: f64,
}

/// The controller's trainer: the moving-average baseline and Adam's state.
#[derive(Debug, Clone)]
pub struct Reinforce {
    entropy_weight: f64,
    baseline_decay: f64,
    baseline: f64,
    names: Vec<String>,
    adam: Adam,
}

impl Reinforce {
    /// A trainer for `controller`'s variables: baseline 0, Adam at step 0 with zero moments.
    pub fn new(cfg: &ControllerConfig, controller: &Controller) -> Result<Reinforce> {
        cfg.validate("(controller)")?;
        let vars: Vec<Var> = controller.vars().iter().map(|(_, v)| v.clone()).collect();
        Ok(Reinforce {
            entropy_weight: cfg.entropy_weight,
            baseline_decay: cfg.baseline_decay,
            baseline: 0.0,
            names: controller.vars().iter().map(|(k, _)| k.clone()).collect(),
            adam: Adam::new(&vars, cfg.lr, cfg.adam_beta1, cfg.adam_beta2, cfg.adam_eps)?,
        })
    }

    /// The reward of one scored arc: `valid_acc + entropy_weight * entropy`.
    pub fn reward(&self, valid_acc: f64, entropy: f64) -> f64 {
        valid_acc + self.entropy_weight * entropy
    }

    /// The moving-average baseline.
    pub fn baseline(&self) -> f64 {
        self.baseline
    }

    /// Sets the baseline (to restore a checkpoint).
    pub fn set_baseline(&mut self, baseline: f64) {
        self.baseline = baseline;
    }

    /// The optimiser, to read its state.
    pub fn optimizer(&self) -> &Adam {
        &self.adam
    }

    /// The optimiser, to restore its state.
    pub fn optimizer_mut(&mut self) -> &mut Adam {
        &mut self.adam
    }

    /// One REINFORCE step from `batch` (sample, validation accuracy), all sampled from
    /// `controller`'s current weights: the baseline moves once per sample, the losses are averaged
    /// and Adam updates the controller once.
    pub fn update<S: Borrow<Sample>>(&mut self, controller: &Controller, batch: &[(S, f64)]) -> Result<UpdateStats> {
        let vars = self.check_vars(controller)?;
        if batch.is_empty() {
            return Err(Error::Candle(candle_core::Error::Msg("a REINFORCE update needs at least one sample".into())));
        }
        let scale = 1.0 / batch.len() as f64;
        let (mut reward_sum, mut entropy_sum) = (0.0, 0.0);
        let mut terms = Vec::with_capacity(batch.len());
        for (sample, valid_acc) in batch {
            let sample = sample.borrow();
            let entropy = sample.entropy_value()?;
            let reward = self.reward(*valid_acc, entropy);
            self.baseline -= (1.0 - self.baseline_decay) * (self.baseline - reward);
            terms.push((&sample.log_prob * (-(reward - self.baseline) * scale))?);
            reward_sum += reward;
            entropy_sum += entropy;
        }
        let loss = Tensor::stack(&terms, 0)?.sum_all()?;
        let grads = loss.backward()?;
        let grads: Vec<Option<Tensor>> = vars.iter().map(|v| grads.get(v.as_tensor()).map(|g| g.detach())).collect();
        let mut norm_sq = 0.0;
        for g in grads.iter().flatten() {
            norm_sq += g.sqr()?.sum_all()?.to_dtype(candle_core::DType::F64)?.to_scalar::<f64>()?;
        }
        let loss_value = loss.to_dtype(candle_core::DType::F64)?.to_scalar::<f64>()?;
        if !loss_value.is_finite() || !norm_sq.is_finite() {
            let msg = format!(
                "REINFORCE diverged: the update's loss is {loss_value} and its gradient norm {} (rewards {:?}); \
                 rewards must be finite and of a sane scale",
                norm_sq.sqrt(),
                batch.iter().map(|(_, r)| *r).collect::<Vec<_>>()
            );
            return Err(Error::Candle(candle_core::Error::Msg(msg)));
        }
        self.adam.step(&vars, &grads)?;
        Ok(UpdateStats {
            mean_reward: reward_sum * scale,
            baseline: self.baseline,
            loss: loss_value,
            mean_entropy: entropy_sum * scale,
            grad_norm: norm_sq.sqrt(),
        })
    }

    /// The controller's variables, checked against the names this trainer was built for.
    fn check_vars(&self, controller: &Controller) -> Result<Vec<Var>> {
        let names: Vec<&String> = controller.vars().iter().map(|(k, _)| k).collect();
        if names.len() != self.names.len() || names.iter().zip(&self.names).any(|(a, b)| *a != b) {
            let msg = "REINFORCE was built for a controller with different variables".to_string();
            return Err(Error::Candle(candle_core::Error::Msg(msg)));
        }
        Ok(controller.vars().iter().map(|(_, v)| v.clone()).collect())
    }

    /// The trainer's state as named tensors: `baseline` (f64), `adam.step` (i64), and
    /// `adam.m.<var>` / `adam.v.<var>` per controller variable.
    pub fn state_tensors(&self) -> Result<HashMap<String, Tensor>> {
        let dev = self.adam.first_moments().first().map(|t| t.device().clone()).unwrap_or(candle_core::Device::Cpu);
        let mut map = HashMap::new();
        map.insert("baseline".to_string(), Tensor::new(&[self.baseline], &dev)?);
        map.insert("adam.step".to_string(), Tensor::new(&[self.adam.step_count() as i64], &dev)?);
        for (name, (m, v)) in self.names.iter().zip(self.adam.first_moments().iter().zip(self.adam.second_moments())) {
            map.insert(format!("adam.m.{name}"), m.clone());
            map.insert(format!("adam.v.{name}"), v.clone());
        }
        Ok(map)
    }

    /// Restores a state from `state_tensors`' names; `origin` names the source in errors.
    pub fn set_state_tensors(&mut self, mut map: HashMap<String, Tensor>, origin: &Path) -> Result<()> {
        let mut take =
            |key: String| map.remove(&key).ok_or_else(|| Error::format(origin, format!("missing tensor `{key}`")));
        let baseline = take("baseline".into())?.flatten_all()?.to_vec1::<f64>()?;
        let step = take("adam.step".into())?.flatten_all()?.to_vec1::<i64>()?;
        let (Some(&baseline), Some(&step)) = (baseline.first(), step.first()) else {
            return Err(Error::format(origin, "empty `baseline` or `adam.step`"));
        };
        let mut m = Vec::with_capacity(self.names.len());
        let mut v = Vec::with_capacity(self.names.len());
        for name in &self.names {
            m.push(take(format!("adam.m.{name}"))?);
            v.push(take(format!("adam.v.{name}"))?);
        }
        if let Some(extra) = map.keys().min() {
            return Err(Error::format(origin, format!("unexpected tensor `{extra}`")));
        }
        let step = u64::try_from(step).map_err(|_| Error::format(origin, format!("negative Adam step {step}")))?;
        self.adam.set_state(step, m, v).map_err(|e| Error::format(origin, e.to_string()))?;
        self.baseline = baseline;
        Ok(())
    }

    /// Writes the baseline and Adam's state to a safetensors file (atomically).
    pub fn save(&self, path: &Path) -> Result<()> {
        enas_shared::export::save_safetensors(path, &self.state_tensors()?)
    }

    /// Reads a state written by `save`.
    pub fn load(&mut self, path: &Path) -> Result<()> {
        let dev = self.adam.first_moments().first().map(|t| t.device().clone()).unwrap_or(candle_core::Device::Cpu);
        let map = candle_core::safetensors::load(path, &dev)?;
        self.set_state_tensors(map, path)
    }
}
