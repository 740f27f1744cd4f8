//! Adam as TensorFlow 1's `tf.train.AdamOptimizer` computes it (what ENAS trains its controller
//! with): `lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t)`, `var -= lr_t * m / (sqrt(v) + eps)`.
//! This differs from the Adam paper's form (which candle-nn's `AdamW` follows) in where `eps`
//! sits; with ENAS's `eps = 1e-3` the difference is not negligible. The state (step count and
//! both moments) is exposed so a checkpoint can restore it exactly.
use candle_core::{Tensor, Var};
use enas_shared::{Error, Result};

/// Adam with TensorFlow's placement of epsilon, over a fixed ordered list of variables.
#[derive(Debug, Clone)]
pub struct Adam {
    /// Learning rate.
    pub lr: f64,
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// Added to `sqrt(v)` in the denominator.
    pub eps: f64,
    step: u64,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
}

impl Adam {
    /// Zero moments shaped like `vars`, step 0.
    pub fn new(vars: &[Var], lr: f64, beta1: f64, beta2: f64, eps: f64) -> Result<Adam> {
        let zeros = vars.iter().map(|v| v.as_tensor().zeros_like()).collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Adam { lr, beta1, beta2, eps, step: 0, m: zeros.clone(), v: zeros })
    }

    /// Steps taken so far (TensorFlow's `beta1_power = beta1^step`).
    pub fn step_count(&self) -> u64 {
        self.step
    }

    /// First moments, one per variable.
    pub fn first_moments(&self) -> &[Tensor] {
        &self.m
    }

    /// Second moments, one per variable.
    pub fn second_moments(&self) -> &[Tensor] {
        &self.v
    }

    /// Restores a state read from a checkpoint; the moments must match the variables' shapes.
    pub fn set_state(&mut self, step: u64, m: Vec<Tensor>, v: Vec<Tensor>) -> Result<()> {
        if m.len() != self.m.len() || v.len() != self.v.len() {
            let msg = format!("Adam state for {} variables, got {} and {} moments", self.m.len(), m.len(), v.len());
            return Err(Error::Candle(candle_core::Error::Msg(msg)));
        }
        for (old, new) in self.m.iter().zip(&m).chain(self.v.iter().zip(&v)) {
            if old.dims() != new.dims() {
                let msg = format!("Adam moment of shape {:?} where {:?} is expected", new.dims(), old.dims());
                return Err(Error::Candle(candle_core::Error::Msg(msg)));
            }
        }
        self.step = step;
        self.m = m;
        self.v = v;
        Ok(())
    }

    /// One update of `vars` (the list `new` was given) with `grads`; a `None` gradient leaves that
    /// variable and its moments untouched, as TensorFlow does for variables outside the graph.
    pub fn step(&mut self, vars: &[Var], grads: &[Option<Tensor>]) -> Result<()> {
        if vars.len() != self.m.len() || grads.len() != vars.len() {
            let msg =
                format!("Adam over {} variables got {} variables, {} gradients", self.m.len(), vars.len(), grads.len());
            return Err(Error::Candle(candle_core::Error::Msg(msg)));
        }
        self.step += 1;
        let t = self.step as f64;
        let lr_t = self.lr * (1.0 - self.beta2.powf(t)).sqrt() / (1.0 - self.beta1.powf(t));
        for (i, (var, grad)) in vars.iter().zip(grads).enumerate() {
            let Some(g) = grad else { continue };
            // Detached, so the moments carry no autograd history from step to step.
            let g = g.detach();
            let g = &g;
            let m = ((&self.m[i] * self.beta1)? + (g * (1.0 - self.beta1))?)?;
            let v = ((&self.v[i] * self.beta2)? + (g.sqr()? * (1.0 - self.beta2))?)?;
            let delta = ((&m * lr_t)? / (v.sqrt()? + self.eps)?)?;
            var.set(&(var.as_tensor() - delta)?)?;
            self.m[i] = m;
            self.v[i] = v;
        }
        Ok(())
    }
}
