//! DARTS (Liu et al., ICLR 2019) as one more method of the search loop: every edge of the
//! supernet is the softmax(α)-weighted sum of its ops (`Path::Mixed`); the shared weights train
//! on that mixture with α fixed (a detached tensor), and an architecture step before each weight
//! step moves α by Adam along the gradient of the validation loss: at the current weights (first
//! order) or after a virtual step of them (second order, `unrolled.rs`). The derived cell is the
//! space's rule on softmax(α): each edge's strongest op on NAS-Bench-201, each node's two
//! strongest edges other than `none` on the DARTS space.
//!
//! PC-DARTS (Xu et al., ICLR 2020) is two options of the same method: `darts.partial_channels`
//! (the supernet's edges run their ops on 1/K of the channels; the mixture gains a column
//! weighing each edge's bypassed channels) and `darts.edge_norm` (a β per edge, stored as α's
//! last column and stepped by the same Adam; each node's edges weighted by the softmax of their
//! β, which the derivation multiplies in).
//!
//! DrNAS (Chen et al., ICLR 2021) is `darts.relaxation: dirichlet` (the mixture a Dirichlet
//! sample, `dirichlet.rs`), and progressive pruning of ops (P-DARTS, DrNAS's progressive search)
//! is `darts.prune_at` / `darts.prune_keep` (`darts_mixture.rs`).
use super::method::{Candidates, Method, Scored};
use super::supernet::{ArchContext, Path};
use super::ArchRow;
use anyhow::{Context, Result};
use candle_core::{Device, Tensor, Var};
use enas_child::{correct, cross_entropy, BnMode};
use enas_controller::strategy::{self, Draw};
use enas_shared::darts_config::DartsConfig;
use enas_shared::{OpKind, Space};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Adam's ε (PyTorch's default, which DARTS keeps).
const ADAM_EPS: f64 = 1e-8;

pub struct Darts {
    cfg: DartsConfig,
    space: Space,
    /// Rows (edges) and columns of α: `Space::mixture`'s ops, and β's column with edge
    /// normalisation.
    shape: (usize, usize),
    /// The op columns of α.
    ops: usize,
    /// With edge normalisation: `same[r * rows + s]` is 1 when rows r and s feed the same node.
    same_node: Option<Vec<f32>>,
    /// The epoch under way (for `darts.arch_warmup_epochs`).
    epoch: usize,
    /// The column of `skip_connect`, for DARTS-'s auxiliary skip.
    skip: Option<usize>,
    /// This epoch's weight of the auxiliary skip (DARTS-), 0 when off.
    aux_weight: f64,
    /// The Dirichlet draw the mixture uses (DrNAS), redrawn before every forward pass.
    draw: Option<super::dirichlet::Draw>,
    state: State,
}

/// α (with β as its last column under edge normalisation) and its Adam moments, row-major, in
/// f64 (the tensors the steps use are f32 copies).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct State {
    alpha: Vec<f64>,
    m: Vec<f64>,
    v: Vec<f64>,
    /// Adam steps taken.
    t: u64,
    /// After every epoch: the derived cell, and (RobustDARTS) the Hessian's dominant eigenvalue.
    #[serde(default)]
    derived: Vec<Vec<usize>>,
    #[serde(default)]
    eigen: Vec<f64>,
    /// With progressive pruning: the ops still in the search (`rows x ops`), and how many
    /// pruning stages have been applied.
    #[serde(default)]
    keep: Option<Vec<bool>>,
    #[serde(default)]
    pruned: usize,
}

impl Darts {
    /// α drawn as `init_std` x standard normal from `rng` (DARTS: 1e-3 * randn).
    pub fn new(cfg: &DartsConfig, space: &Space, rng: &mut ChaCha8Rng) -> Result<Darts> {
        let (rows, ops) = space.mixture().with_context(|| {
            format!(
                "search.strategy darts needs a space with a continuous relaxation (nb201 or darts); the {} space \
                 has no mixed supernet",
                space.name()
            )
        })?;
        let n_ops = ops.len();
        let same_node = if cfg.edge_norm {
            let nodes = space.mixture_nodes().context("edge normalisation needs the space's nodes")?;
            Some(nodes.iter().flat_map(|a| nodes.iter().map(move |b| f32::from(u8::from(a == b)))).collect())
        } else {
            None
        };
        let cols = n_ops + usize::from(cfg.edge_norm);
        let n = rows * cols;
        // PC-DARTS draws β as α: 1e-3 x standard normal.
        let alpha = (0..n).map(|_| cfg.init_std * standard_normal(rng)).collect();
        let state = State {
            alpha,
            m: vec![0.0; n],
            v: vec![0.0; n],
            t: 0,
            derived: vec![],
            eigen: vec![],
            keep: None,
            pruned: 0,
        };
        let skip = ops.iter().position(|&op| op == OpKind::Identity);
        anyhow::ensure!(
            cfg.aux_skip == 0.0 || skip.is_some(),
            "darts.aux_skip needs a skip_connect op, and the {} space has none",
            space.name()
        );
        if let Some(&k) = cfg.prune_keep.first() {
            anyhow::ensure!(
                k < n_ops,
                "darts.prune_keep {:?}: the {} space's edges have {n_ops} ops, so each stage must keep fewer",
                cfg.prune_keep,
                space.name()
            );
        }
        Ok(Darts {
            cfg: cfg.clone(),
            space: space.clone(),
            shape: (rows, cols),
            ops: n_ops,
            same_node,
            epoch: 0,
            skip,
            aux_weight: 0.0,
            draw: None,
            state,
        })
    }

    fn alpha_tensor(&self, device: &Device) -> Result<Tensor> {
        let a: Vec<f32> = self.state.alpha.iter().map(|&x| x as f32).collect();
        Ok(Tensor::from_vec(a, self.shape, device)?)
    }

    /// α, row-major.
    #[cfg(test)]
    pub fn alpha_values(&self) -> Vec<f64> {
        self.state.alpha.clone()
    }

    /// RobustDARTS's early stop: the epoch whose cell to return, once its rule has fired.
    fn eigen_stop(&self) -> Option<usize> {
        let c = &self.cfg;
        super::hessian::early_stop(&self.state.eigen, c.eigen_window, c.eigen_window, c.stop_eigen_ratio)
    }

    /// The cell the method returns: the derived one, or the one of the epoch RobustDARTS's
    /// early stop went back to.
    fn chosen(&self) -> Result<Vec<usize>> {
        match self.eigen_stop().and_then(|i| self.state.derived.get(i)) {
            Some(values) => Ok(values.clone()),
            None => self.derive(),
        }
    }

    /// The derived architecture: the space's rule on softmax(α) (NAS-Bench-201: each edge's
    /// strongest op; DARTS: each node's two strongest edges other than `none`).
    /// With `darts.max_skips` (P-DARTS), while the normal cell holds more skip connections than
    /// that, the smallest non-zero skip weight of the normal cell's rows is set to 0 and the cell
    /// derived again.
    pub fn derive(&self) -> Result<Vec<usize>> {
        let mut w = self.weights();
        let mut values = self.space.derive(&w)?;
        let (Some(skip), max) = (self.skip, self.cfg.max_skips) else { return Ok(values) };
        let normal_rows = self.space.normal_rows().context("a space with a relaxation has a normal cell")?;
        let skips = |v: &[usize]| -> Result<usize> {
            Ok(self.space.normal_ops(v)?.iter().filter(|&&op| op == OpKind::Identity).count())
        };
        while max > 0 && skips(&values)? > max {
            let weakest = (0..normal_rows)
                .map(|r| r * self.ops + skip)
                .filter(|&i| w[i] > 0.0)
                .min_by(|&a, &b| w[a].total_cmp(&w[b]));
            let Some(i) = weakest else { break };
            w[i] = 0.0;
            values = self.space.derive(&w)?;
        }
        Ok(values)
    }

    /// One Adam step of α along `grad` (PyTorch's Adam with L2 weight decay).
    fn adam(&mut self, grad: &[f64]) {
        let c = &self.cfg;
        let s = &mut self.state;
        s.t += 1;
        let (bc1, bc2) = (1.0 - c.arch_beta1.powi(s.t as i32), 1.0 - c.arch_beta2.powi(s.t as i32));
        for (((a, m), v), &grad) in s.alpha.iter_mut().zip(&mut s.m).zip(&mut s.v).zip(grad) {
            let g = grad + c.arch_weight_decay * *a;
            *m = c.arch_beta1 * *m + (1.0 - c.arch_beta1) * g;
            *v = c.arch_beta2 * *v + (1.0 - c.arch_beta2) * g * g;
            *a -= c.arch_lr * (*m / bc1) / ((*v / bc2).sqrt() + ADAM_EPS);
        }
    }
}

/// A standard normal draw (Box-Muller), from the method's seeded stream.
pub(super) fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

impl Method for Darts {
    /// The mixture at the current α, detached: the weight step does not move α. It is built on the
    /// host, where α lives; the loop moves it to the supernet's device.
    fn train_path(&mut self, rng: &mut ChaCha8Rng) -> Result<Path> {
        self.redraw(rng);
        Ok(Path::Mixed(self.mixture(&self.alpha_tensor(&Device::Cpu)?)?.detach()))
    }

    /// DARTS-'s auxiliary skip weight for the epoch: `aux_skip * (1 - epoch / epochs)`; the
    /// pruning stages due.
    fn start_epoch(&mut self, epoch: usize, epochs: usize) {
        self.epoch = epoch;
        self.prune_due(epoch);
        self.aux_weight = self.cfg.aux_skip * (1.0 - epoch as f64 / epochs.max(1) as f64);
    }

    /// DARTS+'s first criterion (the derived normal cell holds `stop_at_skips` skips), then
    /// RobustDARTS's (the Hessian's eigenvalue rose by the ratio over the window).
    fn stop_reason(&self) -> Result<Option<String>> {
        let k = self.cfg.stop_at_skips;
        if k > 0 {
            let skips = self.space.normal_ops(&self.derive()?)?.iter().filter(|&&op| op == OpKind::Identity).count();
            if skips >= k {
                return Ok(Some(format!(
                    "the derived normal cell holds {skips} skip connections (darts.stop_at_skips = {k}, DARTS+)"
                )));
            }
        }
        Ok(self.eigen_stop().map(|i| {
            let w = self.cfg.eigen_window;
            format!(
                "the Hessian's dominant eigenvalue, averaged over {w} epochs, rose past 1/{} of its value {w} epochs \
                 before (darts.stop_eigen_ratio, RobustDARTS); returning the cell of epoch {}",
                self.cfg.stop_eigen_ratio,
                i + 1
            )
        }))
    }

    /// Records the epoch's derived cell, and measures RobustDARTS's eigenvalue on the next
    /// validation minibatch when `darts.hessian_eigen`.
    fn end_epoch(&mut self, ctx: &mut ArchContext, rng: &mut ChaCha8Rng) -> Result<()> {
        self.state.derived.push(self.derive()?);
        if self.cfg.hessian_eigen {
            self.redraw(rng);
            let batch = ctx.valid.next_batch()?;
            let (x, y) = (batch.x.to_device(ctx.device)?, batch.y.to_device(ctx.device)?);
            let mix = |a: &Tensor| self.mixture(a);
            let alpha = self.state.alpha.clone();
            let lambda = super::hessian::dominant_eigenvalue(ctx.net, &mix, &alpha, self.shape, &x, &y, rng)?;
            self.state.eigen.push(lambda);
        }
        Ok(())
    }

    fn curvature(&self) -> Option<f64> {
        self.cfg.hessian_eigen.then(|| self.state.eigen.last().copied()).flatten()
    }

    /// No architecture steps after the weight steps: they come one before each weight step.
    fn arch_steps(&self) -> usize {
        0
    }

    fn arch_every(&self) -> Option<usize> {
        Some(1)
    }

    fn distribution(&self) -> Option<Vec<Vec<f64>>> {
        Some(self.weights().chunks(self.ops).map(|r| r.to_vec()).collect())
    }

    /// First order: the validation loss of the mixed network at the current weights on the next
    /// minibatch, its gradient with respect to α, one Adam step. Reports the derived cell and the
    /// mixed network's accuracy on that minibatch.
    /// None during `darts.arch_warmup_epochs`.
    fn arch_step(&mut self, ctx: &mut ArchContext, rng: &mut ChaCha8Rng) -> Result<Vec<Scored>> {
        if self.epoch < self.cfg.arch_warmup_epochs {
            return Ok(vec![]);
        }
        self.redraw(rng);
        let batch = ctx.valid.next_batch()?;
        let (x, y) = (batch.x.to_device(ctx.device)?, batch.y.to_device(ctx.device)?);
        let alpha = Var::from_tensor(&self.alpha_tensor(ctx.device)?)?;
        let logits = ctx.net.forward(&x, &Path::Mixed(self.mixture(alpha.as_tensor())?), BnMode::Train)?;
        let loss = cross_entropy(&logits, &y)?;
        let g = if self.cfg.order == 2 {
            let step = ctx.next_step.as_ref().context(
                "second-order DARTS needs the weight step that follows its architecture step (an interleaved step)",
            )?;
            super::unrolled::alpha_grad(ctx.net, &|a| self.mixture(a), &alpha, &x, &y, step)?
        } else {
            let grads = loss.backward()?;
            let g = grads.get(alpha.as_tensor()).context("no gradient reached the architecture weights")?;
            g.flatten_all()?.to_vec1::<f32>()?.into_iter().map(f64::from).collect()
        };
        anyhow::ensure!(
            g.iter().all(|x| x.is_finite()),
            "the architecture gradient is not finite (validation loss {}); lower darts.arch_lr or search.sgd.lr_max",
            loss.to_scalar::<f32>()?
        );
        self.adam(&g);
        let valid_acc = correct(&logits, &y)? as f64 / batch.n as f64;
        Ok(vec![Scored { values: self.derive()?, valid_acc, reward: valid_acc, cost: None, told: None }])
    }

    fn baseline(&self) -> f64 {
        f64::NAN
    }

    /// The derived cell only: DARTS's rule leaves no choice to score.
    fn candidates(&self, _n: usize, _rng: &mut ChaCha8Rng, _queried: &[ArchRow]) -> Result<Candidates> {
        Ok(Candidates { kind: "derived from the architecture weights", draws: vec![(self.chosen()?, f64::NAN, 1)] })
    }

    fn current(&self, _queried: &[ArchRow]) -> Result<Option<Vec<usize>>> {
        Ok(Some(self.chosen()?))
    }

    fn draw_uniform(&self, rng: &mut ChaCha8Rng) -> Result<Vec<usize>> {
        Ok(strategy::uniform(&self.space.decisions(), rng))
    }

    fn draw(&self, _rng: &mut ChaCha8Rng) -> Result<Option<Draw>> {
        Ok(None)
    }

    fn log_prob(&self, _values: &[usize]) -> Result<Option<f64>> {
        Ok(None)
    }

    fn state(&self) -> Result<serde_json::Value> {
        Ok(serde_json::to_value(&self.state)?)
    }

    fn restore(&mut self, state: serde_json::Value, _queried: &[ArchRow]) -> Result<()> {
        let state: State = serde_json::from_value(state).context("not a DARTS state (alpha, m, v, t)")?;
        let n = self.shape.0 * self.shape.1;
        anyhow::ensure!(
            [state.alpha.len(), state.m.len(), state.v.len()] == [n; 3],
            "the DARTS state holds {} architecture weights, this space has {n}",
            state.alpha.len()
        );
        self.state = state;
        Ok(())
    }
}

#[path = "darts_mixture.rs"]
mod mixture;
pub use mixture::softmax_rows;

#[cfg(test)]
#[path = "darts_tests.rs"]
mod tests;
