//! DARTS (Liu et al., ICLR 2019) as one more method of the search loop: every edge of the
//! supernet is the softmax(α)-weighted sum of its ops (`Path::Mixed`); the shared weights train
//! on that mixture with α fixed (a detached tensor), and an architecture step before each weight
//! step moves α by Adam along the gradient of the validation loss: at the current weights (first
//! order) or after a virtual step of them (second order, `unrolled.rs`). The derived cell is the
//! space's rule on softmax(α): each edge's strongest op on NAS-Bench-201, each node's two
//! strongest edges other than `none` on the DARTS space.
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
    /// Rows (edges) and columns (ops) of α: `Space::mixture`.
    shape: (usize, usize),
    /// The column of `skip_connect`, for DARTS-'s auxiliary skip.
    skip: Option<usize>,
    /// This epoch's weight of the auxiliary skip (DARTS-), 0 when off.
    beta: f64,
    state: State,
}

/// α and its Adam moments, row-major, in f64 (the tensors the steps use are f32 copies).
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
        let n = rows * ops.len();
        let alpha = (0..n).map(|_| cfg.init_std * standard_normal(rng)).collect();
        let state = State { alpha, m: vec![0.0; n], v: vec![0.0; n], t: 0, derived: vec![], eigen: vec![] };
        let skip = ops.iter().position(|&op| op == OpKind::Identity);
        anyhow::ensure!(
            cfg.aux_skip == 0.0 || skip.is_some(),
            "darts.aux_skip needs a skip_connect op, and the {} space has none",
            space.name()
        );
        Ok(Darts { cfg: cfg.clone(), space: space.clone(), shape: (rows, ops.len()), skip, beta: 0.0, state })
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

    /// softmax(α) per row, as numbers.
    pub fn weights(&self) -> Vec<f64> {
        let (rows, cols) = self.shape;
        let mut out = Vec::with_capacity(rows * cols);
        for r in 0..rows {
            let row = &self.state.alpha[r * cols..(r + 1) * cols];
            let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = row.iter().map(|&a| (a - max).exp()).collect();
            let sum: f64 = e.iter().sum();
            out.extend(e.iter().map(|x| x / sum));
        }
        out
    }

    /// The mixture's weights from α's tensor: softmax per row, plus DARTS-'s auxiliary skip
    /// (`beta` on the skip column, outside the softmax) when on.
    pub(super) fn mixture(&self, alpha: &Tensor) -> candle_core::Result<Tensor> {
        let w = softmax_rows(alpha)?;
        match self.skip {
            Some(j) if self.beta > 0.0 => {
                let (rows, cols) = self.shape;
                let mut offset = vec![0f32; rows * cols];
                offset.iter_mut().skip(j).step_by(cols).for_each(|x| *x = self.beta as f32);
                w + Tensor::from_vec(offset, self.shape, alpha.device())?
            }
            _ => Ok(w),
        }
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
    pub fn derive(&self) -> Result<Vec<usize>> {
        Ok(self.space.derive(&self.weights())?)
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

/// Row-wise softmax of a 2-D tensor, differentiable.
pub fn softmax_rows(a: &Tensor) -> candle_core::Result<Tensor> {
    let e = a.broadcast_sub(&a.max_keepdim(1)?)?.exp()?;
    e.broadcast_div(&e.sum_keepdim(1)?)
}

impl Method for Darts {
    /// The mixture at the current α, detached: the weight step does not move α.
    fn train_path(&mut self, _rng: &mut ChaCha8Rng) -> Result<Path> {
        Ok(Path::Mixed(self.mixture(&self.alpha_tensor(&Device::Cpu)?)?.detach()))
    }

    /// DARTS-'s auxiliary skip weight for the epoch: `aux_skip * (1 - epoch / epochs)`.
    fn start_epoch(&mut self, epoch: usize, epochs: usize) {
        self.beta = self.cfg.aux_skip * (1.0 - epoch as f64 / epochs.max(1) as f64);
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
        Some(self.weights().chunks(self.shape.1).map(|r| r.to_vec()).collect())
    }

    /// First order: the validation loss of the mixed network at the current weights on the next
    /// minibatch, its gradient with respect to α, one Adam step. Reports the derived cell and the
    /// mixed network's accuracy on that minibatch.
    fn arch_step(&mut self, ctx: &mut ArchContext, _rng: &mut ChaCha8Rng) -> Result<Vec<Scored>> {
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
        Ok(vec![Scored { values: self.derive()?, valid_acc, told: None }])
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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn darts() -> Darts {
        Darts::new(&DartsConfig::default(), &Space::Nb201(enas_shared::Nb201), &mut ChaCha8Rng::seed_from_u64(1))
            .unwrap()
    }

    /// `torch.optim.Adam([a], lr=0.1, betas=(0.5, 0.999), weight_decay=0.01)` by its documented
    /// update (g += wd*a; bias-corrected moments; a -= lr*m̂/(√v̂ + 1e-8)), with a = 1.0 and
    /// gradients 0.2 then -0.4: Adam's first step moves by exactly lr (to 0.9), the second as
    /// written out below.
    #[test]
    fn adam_follows_pytorch() {
        let mut d = darts();
        d.cfg = DartsConfig { arch_lr: 0.1, arch_beta1: 0.5, arch_beta2: 0.999, arch_weight_decay: 0.01, ..d.cfg };
        let n = d.state.alpha.len();
        d.state.alpha = vec![1.0; n];
        d.adam(&vec![0.2; n]);
        // |m̂| = √v̂ = |g|: a step of lr, less the ε in the denominator.
        let step1 = 1.0 - 0.1 * 0.21 / (0.21 + 1e-8);
        assert!((d.state.alpha[0] - step1).abs() < 1e-12, "{}", d.state.alpha[0]);
        d.adam(&vec![-0.4; n]);
        // Step 2 by the formulas: g = -0.4 + 0.01*0.9 = -0.391.
        let g1: f64 = 0.2 + 0.01;
        let g2: f64 = -0.4 + 0.01 * step1;
        let m = 0.5 * (0.5 * g1) + 0.5 * g2;
        let v = 0.999 * (0.001 * g1 * g1) + 0.001 * g2 * g2;
        let expected = step1 - 0.1 * (m / 0.75) / ((v / (1.0 - 0.999f64.powi(2))).sqrt() + 1e-8);
        assert!((d.state.alpha[0] - expected).abs() < 1e-12, "{} vs {expected}", d.state.alpha[0]);
    }

    #[test]
    fn weights_are_row_softmaxes_and_nb201_derives_the_largest() {
        let mut d = darts();
        d.state.alpha = (0..30).map(|i| ((i * 7) % 5) as f64).collect();
        let w = d.weights();
        for row in w.chunks(5) {
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
        let derived = d.derive().unwrap();
        for (r, &j) in derived.iter().enumerate() {
            let row = &d.state.alpha[r * 5..r * 5 + 5];
            assert!(row.iter().all(|&a| a <= row[j]));
        }
        let t = softmax_rows(&d.alpha_tensor(&Device::Cpu).unwrap())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        for (a, b) in t.iter().zip(&w) {
            assert!((*a as f64 - b).abs() < 1e-6);
        }
    }

    /// The architecture step moves α and no shared weight; the weight step's mixture is a
    /// constant (no gradient can reach α through it).
    #[test]
    fn the_architect_moves_alpha_only() {
        use crate::search::nb201::Nb201Search;
        use crate::search::supernet::{Supernet, ValidStream};
        use enas_child::{InitRoot, Nb201Shape, Nb201Supernet};
        let root = InitRoot::new(0, &Device::Cpu);
        let shape = Nb201Shape { in_channels: 3, channels: 4, cells: 1, classes: 10 };
        let net = Nb201Supernet::new(shape, root.init()).unwrap();
        let net = Nb201Search { net, store: root.finish(), space: Space::Nb201(enas_shared::Nb201), hw: (32, 32) };
        let data = std::sync::Arc::new(enas_shared::data::synthetic::generate_set(40, 3, 1));
        let mut valid = ValidStream::new(data, 20, 0, 0, 0);
        let mut d = darts();
        let before_w: Vec<Vec<f32>> =
            net.store().vars.iter().map(|v| v.as_tensor().flatten_all().unwrap().to_vec1().unwrap()).collect();
        let before_alpha = d.state.alpha.clone();
        let mut ctx =
            ArchContext { net: &net, device: &Device::Cpu, valid: &mut valid, dropout_seed: 0, next_step: None };
        let scored = d.arch_step(&mut ctx, &mut ChaCha8Rng::seed_from_u64(0)).unwrap();
        assert_eq!(scored.len(), 1);
        assert_eq!(scored[0].values, d.derive().unwrap());
        assert_ne!(d.state.alpha, before_alpha, "the architecture step did not move alpha");
        assert_eq!(d.state.t, 1);
        let after_w: Vec<Vec<f32>> =
            net.store().vars.iter().map(|v| v.as_tensor().flatten_all().unwrap().to_vec1().unwrap()).collect();
        assert_eq!(before_w, after_w, "the architecture step changed a shared weight");
        let Path::Mixed(w) = d.train_path(&mut ChaCha8Rng::seed_from_u64(0)).unwrap() else { panic!("not mixed") };
        assert!(!w.is_variable() && !w.track_op(), "the weight step's mixture carries a graph back to alpha");
    }

    /// DARTS-: β = aux_skip x (1 - epoch / epochs) is added to the skip column of every edge,
    /// outside the softmax; the other columns are softmax(α) unchanged; gradients still reach α.
    #[test]
    fn the_auxiliary_skip_decays_linearly_and_adds_to_the_skip_column_only() {
        let mut d = darts();
        d.cfg.aux_skip = 1.0;
        let skip = enas_shared::space::nb201::NB201_OPS.iter().position(|&o| o == OpKind::Identity).unwrap();
        assert_eq!(d.skip, Some(skip));
        for (epoch, beta) in [(0, 1.0), (5, 0.5), (9, 0.1)] {
            d.start_epoch(epoch, 10);
            assert!((d.beta - beta).abs() < 1e-12, "epoch {epoch}: {}", d.beta);
        }
        d.start_epoch(5, 10);
        let alpha = Var::from_tensor(&d.alpha_tensor(&Device::Cpu).unwrap()).unwrap();
        let mixed = d.mixture(alpha.as_tensor()).unwrap();
        let plain = softmax_rows(alpha.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        for (i, (m, p)) in mixed.flatten_all().unwrap().to_vec1::<f32>().unwrap().iter().zip(&plain).enumerate() {
            let extra = if i % 5 == skip { 0.5 } else { 0.0 };
            assert!((m - p - extra).abs() < 1e-6, "entry {i}: {m} vs {p} + {extra}");
        }
        let g = mixed.sqr().unwrap().sum_all().unwrap().backward().unwrap();
        assert!(g.get(alpha.as_tensor()).is_some());
        // Off (the default): the mixture is the softmax.
        let d = darts();
        let mixed = d.mixture(&d.alpha_tensor(&Device::Cpu).unwrap()).unwrap();
        assert_eq!(mixed.flatten_all().unwrap().to_vec1::<f32>().unwrap(), plain);
    }

    #[test]
    fn the_micro_space_is_refused() {
        let e = Darts::new(
            &DartsConfig::default(),
            &Space::from(&enas_shared::EnasMicro::new(5)),
            &mut ChaCha8Rng::seed_from_u64(1),
        );
        assert!(e.err().unwrap().to_string().contains("nb201 or darts"));
    }
}
