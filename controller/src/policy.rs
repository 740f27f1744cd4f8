//! Sampling an architecture, and scoring a given one. Two walks over a space's decisions:
//!
//! **Op decisions only** (NAS-Bench-201, any space without input decisions): from the zero state
//! and input `g_emb`, one LSTM step per decision in order, logits `h · w_soft + b_soft`, next input
//! = the chosen op's embedding. This is ENAS's op choice without the attention.
//!
//! **ENAS micro** (and DARTS's cell space, the same decisions over its seven ops), exactly as
//! ENAS's `MicroController._build_sampler`. Per cell, from the carried LSTM state (zeros before the normal cell; the reduction cell goes on
//! from where the normal cell ended):
//! 1. two LSTM steps fed `g_emb` make the cell inputs' attention keys `h · w_attn_1`; the inputs'
//!    anchors themselves (what a choice of them feeds back) are zeros;
//! 2. per node, from input `g_emb`: two input choices (x, then y), each an LSTM step and attention
//!    logits `v · tanh(key_j + h · w_attn_2)` over the anchors so far, next input = chosen anchor;
//!    then two op choices (x, then y), each an LSTM step and logits `h · w_soft + b_soft`, next input
//!    = chosen op's embedding; then one more LSTM step whose `h` is the node's anchor.
//!
//! Logits are shaped `c * tanh(logits / temperature)` (each part when configured), with
//! `c = tanh_constant` for inputs and `tanh_constant / op_tanh_reduce` for ops; the normal cell's op
//! logits also get the constant `controller.normal_op_bias` (ENAS: `[0.25, 0.25, -0.25, -0.25,
//! -0.25]`) after the tanh.
use crate::lstm::{op_values, Controller};
use candle_core::{DType, Tensor, D};
use enas_shared::{Darts, EnasMicro, Error, Result, Space};
use rand::Rng;
use std::collections::BTreeMap;

/// A sampled (or scored) arc with its log-probability under the controller.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The choices in the space's decision order (ENAS micro: `x_input x_op y_input y_op` per
    /// node, the normal cell's nodes, then the reduction cell's).
    pub values: Vec<usize>,
    /// Scalar: the sum of `log π` of every choice, differentiable w.r.t. the controller's variables.
    pub log_prob: Tensor,
    /// Scalar: the sum of the entropies of every decision's (shaped) distribution, detached as in
    /// ENAS (`tf.stop_gradient`).
    pub entropy: Tensor,
}

impl Sample {
    /// `log_prob` as a number.
    pub fn log_prob_value(&self) -> Result<f64> {
        Ok(self.log_prob.to_dtype(DType::F64)?.to_scalar::<f64>()?)
    }

    /// `entropy` as a number.
    pub fn entropy_value(&self) -> Result<f64> {
        Ok(self.entropy.to_dtype(DType::F64)?.to_scalar::<f64>()?)
    }
}

/// What a rollout collects, decision by decision.
struct Trace {
    values: Vec<usize>,
    probs: Vec<Vec<f32>>,
    /// Each decision's `[1, k]` logits and choice, grouped by `k`, for one batched log-softmax per
    /// group once the rollout is done (far fewer graph nodes than one per decision).
    chosen: BTreeMap<usize, (Vec<Tensor>, Vec<u32>)>,
    entropy: f64,
}

impl Trace {
    /// `sum log π(choice)` over every decision, as one differentiable scalar.
    fn log_prob(&self) -> Result<Tensor> {
        let mut parts = Vec::with_capacity(self.chosen.len());
        for (logits, idx) in self.chosen.values() {
            let log_p = candle_nn::ops::log_softmax(&Tensor::cat(logits, 0)?, D::Minus1)?;
            let idx = Tensor::from_slice(idx, (idx.len(), 1), log_p.device())?;
            parts.push(log_p.gather(&idx, 1)?.sum_all()?);
        }
        Ok(Tensor::stack(&parts, 0)?.sum_all()?)
    }
}

impl Controller {
    /// Samples an arc, drawing every choice with `rng` from the softmax of its shaped logits (so an
    /// arc is reproducible from the RNG's state). `log_prob` refers to the current weights: use the
    /// sample for an update before the weights change.
    pub fn sample(&self, rng: &mut impl Rng) -> Result<Sample> {
        Ok(self.rollout(&mut |_, probs| Ok(draw(probs, rng)))?.0)
    }

    /// An arc drawn uniformly at random, every decision independently, that consumes `rng` exactly
    /// as `sample` does (one number per decision, same order, same inverse-CDF draw): from equal
    /// RNG states the two make paired draws, identical wherever the controller is uniform, so
    /// comparing them measures what the controller changed at a fraction of the noise. The
    /// sample's `log_prob` and `entropy` are the controller's for that arc.
    pub fn sample_uniform(&self, rng: &mut impl Rng) -> Result<Sample> {
        Ok(self.rollout(&mut |_, probs| Ok(draw(&vec![1.0; probs.len()], rng)))?.0)
    }

    /// The most likely choice at every decision, in sampling order (greedy decoding): the arc the
    /// policy would return if asked for one without sampling.
    pub fn greedy(&self) -> Result<Sample> {
        let argmax = |probs: &[f32]| probs.iter().enumerate().fold(0, |b, (i, p)| if *p > probs[b] { i } else { b });
        Ok(self.rollout(&mut |_, probs| Ok(argmax(probs)))?.0)
    }

    /// Scores given choices (teacher forcing): the same computation as `sample`, with the choices
    /// taken from `values` instead of drawn.
    pub fn evaluate(&self, values: &[usize]) -> Result<Sample> {
        self.space.validate(values)?;
        Ok(self.rollout(&mut |pos, _| Ok(values[pos]))?.0)
    }

    /// The probabilities of every decision given the choices before it in `values` (teacher
    /// forcing), in `values` order: `[pos][choice]`.
    pub fn distributions(&self, values: &[usize]) -> Result<Vec<Vec<f32>>> {
        self.space.validate(values)?;
        Ok(self.rollout(&mut |pos, _| Ok(values[pos]))?.1)
    }

    /// The walk for the controller's space; `pick(position, probabilities)` makes each choice.
    fn rollout(&self, pick: &mut dyn FnMut(usize, &[f32]) -> Result<usize>) -> Result<(Sample, Vec<Vec<f32>>)> {
        let len = self.space.decisions().len();
        let mut trace =
            Trace { values: vec![0; len], probs: vec![Vec::new(); len], chosen: BTreeMap::new(), entropy: 0.0 };
        match &self.space {
            Space::EnasMicro(EnasMicro { nodes }) | Space::Darts(Darts { nodes }) => {
                self.rollout_micro(*nodes, pick, &mut trace)?
            }
            _ => self.rollout_ops(len, pick, &mut trace)?,
        }
        let log_prob = trace.log_prob()?;
        let entropy = Tensor::new(trace.entropy as f32, &self.device)?;
        Ok((Sample { values: trace.values, log_prob, entropy }, trace.probs))
    }

    /// A space of op decisions only: one LSTM step and one op softmax per decision.
    fn rollout_ops(
        &self,
        len: usize,
        pick: &mut dyn FnMut(usize, &[f32]) -> Result<usize>,
        trace: &mut Trace,
    ) -> Result<()> {
        let op_c = self.cfg.tanh_constant.map(|c| c / self.cfg.op_tanh_reduce);
        let mut state = self.zero_state()?;
        let mut inputs = self.g_emb().clone();
        for pos in 0..len {
            state = self.lstm_step(&inputs, &state)?;
            let raw = last_h(&state).matmul(self.w_soft())?.broadcast_add(self.b_soft())?;
            let logits = self.shape(raw, op_c)?;
            let idx = self.decide(&logits, pos, pick, trace)?;
            inputs = self.w_emb().narrow(0, idx, 1)?;
        }
        Ok(())
    }

    /// ENAS's micro sampler for both cells (ENAS micro's or DARTS's: the op count is the space's).
    fn rollout_micro(
        &self,
        nodes: usize,
        pick: &mut dyn FnMut(usize, &[f32]) -> Result<usize>,
        trace: &mut Trace,
    ) -> Result<()> {
        let n = self.cfg.lstm_size;
        let op_c = self.cfg.tanh_constant.map(|c| c / self.cfg.op_tanh_reduce);
        let bias = op_values(&self.cfg.normal_op_bias, &self.space);
        let normal_bias = Tensor::from_vec(bias, (1, self.b_soft().dim(1)?), &self.device)?;
        let zeros = Tensor::zeros((1, n), DType::F32, &self.device)?;
        let mut state = self.zero_state()?;
        for cell in 0..2 {
            let normal = cell == 0;
            let mut anchors = vec![zeros.clone(), zeros.clone()];
            let mut keys = Vec::with_capacity(nodes + 2);
            for _ in 0..2 {
                state = self.lstm_step(self.g_emb(), &state)?;
                keys.push(last_h(&state).matmul(self.w_attn_1())?);
            }
            for node in 0..nodes {
                let start = 4 * nodes * cell + 4 * node;
                let key_mat = Tensor::cat(&keys, 0)?;
                let mut inputs = self.g_emb().clone();
                for branch in 0..2 {
                    state = self.lstm_step(&inputs, &state)?;
                    let query = last_h(&state).matmul(self.w_attn_2())?;
                    let scores = key_mat.broadcast_add(&query)?.tanh()?.matmul(self.v_attn())?;
                    let logits = self.shape(scores.reshape((1, node + 2))?, self.cfg.tanh_constant)?;
                    let idx = self.decide(&logits, start + 2 * branch, pick, trace)?;
                    inputs = anchors[idx].clone();
                }
                for branch in 0..2 {
                    state = self.lstm_step(&inputs, &state)?;
                    let raw = last_h(&state).matmul(self.w_soft())?.broadcast_add(self.b_soft())?;
                    let mut logits = self.shape(raw, op_c)?;
                    if normal {
                        logits = (logits + &normal_bias)?;
                    }
                    let idx = self.decide(&logits, start + 2 * branch + 1, pick, trace)?;
                    inputs = self.w_emb().narrow(0, idx, 1)?;
                }
                state = self.lstm_step(&inputs, &state)?;
                let h = last_h(&state).clone();
                keys.push(h.matmul(self.w_attn_1())?);
                anchors.push(h);
            }
        }
        Ok(())
    }

    /// `c * tanh(logits / temperature)`, each part only when configured.
    fn shape(&self, logits: Tensor, c: Option<f64>) -> Result<Tensor> {
        let logits = match self.cfg.temperature {
            Some(t) => (logits / t)?,
            None => logits,
        };
        Ok(match c {
            Some(c) => (logits.tanh()? * c)?,
            None => logits,
        })
    }

    /// Makes the decision at `pos` from `[1, k]` logits: the probabilities are computed from the
    /// logits' values (in f64), the log-probability term is kept for `Trace::log_prob`.
    fn decide(
        &self,
        logits: &Tensor,
        pos: usize,
        pick: &mut dyn FnMut(usize, &[f32]) -> Result<usize>,
        trace: &mut Trace,
    ) -> Result<usize> {
        let raw: Vec<f32> = logits.flatten_all()?.to_vec1()?;
        let max = raw.iter().fold(f64::NEG_INFINITY, |m, x| m.max(*x as f64));
        let lse = max + raw.iter().map(|x| (*x as f64 - max).exp()).sum::<f64>().ln();
        let log_p: Vec<f64> = raw.iter().map(|x| *x as f64 - lse).collect();
        let probs: Vec<f32> = log_p.iter().map(|l| l.exp() as f32).collect();
        let idx = pick(pos, &probs)?;
        if idx >= probs.len() {
            return Err(Error::Arch(format!("choice {idx} at position {pos} is out of range 0..{}", probs.len())));
        }
        trace.entropy -= log_p.iter().map(|l| l.exp() * l).filter(|x| x.is_finite()).sum::<f64>();
        let group = trace.chosen.entry(raw.len()).or_default();
        group.0.push(logits.clone());
        group.1.push(idx as u32);
        trace.values[pos] = idx;
        trace.probs[pos] = probs;
        Ok(idx)
    }
}

/// The top layer's `h`.
fn last_h(state: &[(Tensor, Tensor)]) -> &Tensor {
    &state.last().expect("at least one LSTM layer").1
}

/// Draws an index from (nearly normalised) probabilities with one uniform number from `rng`.
fn draw(probs: &[f32], rng: &mut impl Rng) -> usize {
    let total: f64 = probs.iter().map(|p| *p as f64).sum();
    let u = rng.random::<f64>() * total;
    let mut acc = 0.0;
    for (i, p) in probs.iter().enumerate() {
        acc += *p as f64;
        if u < acc {
            return i;
        }
    }
    probs.iter().rposition(|p| *p > 0.0).unwrap_or(0)
}
