//! DARTS's second-order architecture gradient (Liu et al. 2019, eq. 7-8, and `architect.py`):
//! the gradient of the validation loss after one virtual SGD step of the weights,
//!   ∇α L_val(w', α) − ξ ∇²α,w L_train(w, α) ∇w' L_val(w', α),   w' = w − ξ (m·buf + ∇w L_train(w, α) + λ w),
//! the Hessian-vector product by central finite differences,
//!   (∇α L_train(w⁺, α) − ∇α L_train(w⁻, α)) / 2ε,   w± = w ± ε ∇w' L_val(w', α),   ε = 0.01 / ‖∇w' L_val‖.
//! The shared weights are moved for the virtual step and the differences and restored exactly
//! (their values are saved first). The NAS-Bench-201 supernet keeps no BatchNorm statistics;
//! the DARTS-space one updates its running statistics in these passes too, as DARTS's own
//! unrolled passes run in training mode (search scores with batch statistics, never these).
use super::supernet::{Path, Supernet, WeightStep};
use anyhow::{Context, Result};
use candle_core::{Tensor, Var};
use enas_child::{cross_entropy, BnMode};

/// The mixture's weights from α (softmax per row, and any auxiliary skip).
pub type Mix<'a> = &'a dyn Fn(&Tensor) -> candle_core::Result<Tensor>;

/// The loss of the mixed network at `mix(alpha)` on (`x`, `y`), and its gradients: with
/// respect to `alpha`, and (when `weights`) to every shared weight, in the store's order (a
/// weight the loss does not reach gets zeros). BatchNorm runs in `mode`.
pub(super) fn loss_grads(
    net: &dyn Supernet,
    mix: Mix,
    alpha: &Var,
    (x, y): (&Tensor, &Tensor),
    weights: bool,
    mode: BnMode,
) -> Result<(f64, Vec<f64>, Vec<Tensor>)> {
    let logits = net.forward(x, &Path::Mixed(mix(alpha.as_tensor())?), mode)?;
    let loss = cross_entropy(&logits, y)?;
    let grads = loss.backward()?;
    let ga = grads.get(alpha.as_tensor()).context("no gradient reached the architecture weights")?;
    let ga: Vec<f64> = ga.flatten_all()?.to_vec1::<f32>()?.into_iter().map(f64::from).collect();
    let gw = if weights {
        net.store()
            .vars
            .iter()
            .map(|v| Ok(grads.get(v.as_tensor()).map(|g| g.detach()).unwrap_or(v.as_tensor().zeros_like()?)))
            .collect::<Result<Vec<_>>>()?
    } else {
        Vec::new()
    };
    Ok((loss.to_scalar::<f32>()? as f64, ga, gw))
}

/// Sets every shared weight to `base + scale * dir` (or to `base` when `dir` is `None`).
fn set_weights(net: &dyn Supernet, base: &[Tensor], dir: Option<(&[Tensor], f64)>) -> Result<()> {
    for (i, v) in net.store().vars.iter().enumerate() {
        match dir {
            Some((d, scale)) => v.set(&(&base[i] + (&d[i] * scale)?)?)?,
            None => v.set(&base[i])?,
        }
    }
    Ok(())
}

/// The second-order gradient of the validation loss on (`xv`, `yv`) with respect to `alpha`,
/// through the virtual weight step `step` on its training batch. Restores the weights.
pub fn alpha_grad(
    net: &dyn Supernet,
    mix: Mix,
    alpha: &Var,
    xv: &Tensor,
    yv: &Tensor,
    step: &WeightStep,
) -> Result<Vec<f64>> {
    let device = alpha.device();
    let (xt, yt) = (step.batch.x.to_device(device)?, step.batch.y.to_device(device)?);
    let vars = &net.store().vars;
    let w0: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().detach().copy()).collect::<candle_core::Result<_>>()?;
    let result = (|| -> Result<Vec<f64>> {
        // The virtual step: w' = w - ξ (momentum * buf + ∇w L_train + λ w), as DARTS's
        // `_compute_unrolled_model` takes it.
        let (_, _, gw) = loss_grads(net, mix, alpha, (&xt, &yt), true, BnMode::Train)?;
        let bufs = step.opt.momentum_buffers();
        let mut unrolled = Vec::with_capacity(vars.len());
        for (i, w) in w0.iter().enumerate() {
            let mut d = (&gw[i] + (w * step.opt.weight_decay)?)?;
            if let Some(Some(b)) = bufs.get(i) {
                d = (d + (b * step.opt.momentum)?)?;
            }
            unrolled.push((w - (d * step.lr)?)?);
        }
        set_weights(net, &unrolled, None)?;
        let (_, g_alpha, dw) = loss_grads(net, mix, alpha, (xv, yv), true, BnMode::Train)?;
        // ε = 0.01 / ‖∇w' L_val‖ (DARTS's `r / concat(vector).norm()`).
        let norm: f64 = dw
            .iter()
            .map(|g| g.sqr()?.sum_all()?.to_scalar::<f32>().map(f64::from))
            .sum::<candle_core::Result<f64>>()?
            .sqrt();
        anyhow::ensure!(
            norm > 0.0 && norm.is_finite(),
            "the validation gradient of the weights is {norm}; no Hessian step"
        );
        let eps = 0.01 / norm;
        set_weights(net, &w0, Some((&dw, eps)))?;
        let (_, g_plus, _) = loss_grads(net, mix, alpha, (&xt, &yt), false, BnMode::Train)?;
        set_weights(net, &w0, Some((&dw, -eps)))?;
        let (_, g_minus, _) = loss_grads(net, mix, alpha, (&xt, &yt), false, BnMode::Train)?;
        Ok(g_alpha
            .iter()
            .zip(g_plus.iter().zip(&g_minus))
            .map(|(g, (p, m))| g - step.lr * (p - m) / (2.0 * eps))
            .collect())
    })();
    set_weights(net, &w0, None)?;
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::supernet::PathInfo;
    use candle_core::{DType, Device};
    use enas_child::{ParamStore, SgdNesterov};
    use enas_shared::data::Batch;
    use enas_shared::Space;

    /// A smooth stand-in for a mixed supernet (a finite difference of a gradient across a ReLU
    /// kink is meaningless, and a real supernet has thousands of units near one): decision `k`'s
    /// choice `j` is `tanh(x A_kj)`, the mixture of all of them feeds a linear classifier.
    struct Smooth {
        space: Space,
        store: ParamStore,
    }

    impl Smooth {
        fn new() -> Smooth {
            let dev = Device::Cpu;
            let mut vars = Vec::new();
            for i in 0..31 {
                let shape: &[usize] = if i < 30 { &[12, 4] } else { &[4, 10] };
                let n: usize = shape.iter().product();
                let v: Vec<f32> =
                    (0..n).map(|k| (((k * 7919 + i * 104_729) % 1000) as f32 / 1000.0 - 0.5) * 0.8).collect();
                vars.push(Var::from_tensor(&Tensor::from_vec(v, shape, &dev).unwrap()).unwrap());
            }
            let names = (0..31).map(|i| format!("w{i}")).collect();
            Smooth {
                space: Space::Nb201(enas_shared::Nb201),
                store: ParamStore { names, vars, buffer_names: vec![], buffers: vec![] },
            }
        }
    }

    impl Supernet for Smooth {
        fn space(&self) -> &Space {
            &self.space
        }
        fn forward(&self, x: &Tensor, path: &Path, _mode: BnMode) -> Result<Tensor> {
            let Path::Mixed(w) = path else { anyhow::bail!("mixed only") };
            let x = x.flatten_from(1)?;
            let mut h: Option<Tensor> = None;
            for k in 0..6 {
                for j in 0..5 {
                    let y =
                        x.matmul(self.store.vars[k * 5 + j].as_tensor())?.tanh()?.broadcast_mul(&w.get(k)?.get(j)?)?;
                    h = Some(match h {
                        None => y,
                        Some(s) => (s + y)?,
                    });
                }
            }
            Ok(h.unwrap().matmul(self.store.vars[30].as_tensor())?)
        }
        fn store(&self) -> &ParamStore {
            &self.store
        }
        fn describe(&self, _values: &[usize]) -> Result<PathInfo> {
            anyhow::bail!("unused")
        }
        fn costs(&self, _values: &[usize]) -> Result<(usize, usize)> {
            anyhow::bail!("unused")
        }
    }

    fn batch(seed: usize) -> Batch {
        let x: Vec<f32> = (0..8 * 12).map(|k| (((k * 31 + seed * 17) % 23) as f32 / 23.0 - 0.5) * 2.0).collect();
        let y: Vec<u32> = (0..8).map(|k| ((k * 3 + seed) % 10) as u32).collect();
        Batch {
            x: Tensor::from_vec(x, (8, 3, 2, 2), &Device::Cpu).unwrap(),
            y: Tensor::from_vec(y, 8, &Device::Cpu).unwrap(),
            n: 8,
        }
    }

    fn cosine(a: &[f64], b: &[f64]) -> f64 {
        let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        let n = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
        dot / (n(a) * n(b))
    }

    /// DARTS's second-order gradient equals the derivative of the unrolled validation loss
    /// f(α) = L_val(w − ξ(m·buf + ∇w L_train(w, α) + λw), α), taken by central differences of f
    /// itself (independent of the Hessian-vector formula under test), with momentum buffers in
    /// the virtual step; the first-order gradient does not (the check can tell them apart); the
    /// weights come back exactly.
    fn softmax(a: &Tensor) -> candle_core::Result<Tensor> {
        crate::search::darts::softmax_rows(a)
    }

    #[test]
    fn the_second_order_gradient_matches_differences_of_the_unrolled_loss() {
        let net = Smooth::new();
        let (train, valid) = (batch(1), batch(2));
        let mut opt = SgdNesterov::new(net.store().vars.clone(), 0.9, 3e-4);
        let bufs =
            net.store().vars.iter().map(|v| Some((v.as_tensor().ones_like().unwrap() * 0.01).unwrap())).collect();
        opt.set_momentum_buffers(bufs).unwrap();
        let (lr, wd, mom) = (0.5, 3e-4, 0.9);
        let step = WeightStep { batch: &train, lr, opt: &opt };
        let alpha0: Vec<f32> = (0..30).map(|i| ((i * 37 % 11) as f32 - 5.0) * 0.1).collect();
        let var = |a: &[f32]| Var::from_tensor(&Tensor::from_vec(a.to_vec(), (6, 5), &Device::Cpu).unwrap()).unwrap();
        let got = alpha_grad(&net, &softmax, &var(&alpha0), &valid.x, &valid.y, &step).unwrap();
        let first = loss_grads(&net, &softmax, &var(&alpha0), (&valid.x, &valid.y), false, BnMode::Train).unwrap().1;

        let w0: Vec<Tensor> = net.store().vars.iter().map(|v| v.as_tensor().copy().unwrap()).collect();
        let unrolled_loss = |a: &[f32]| -> f64 {
            let (_, _, gw) = loss_grads(&net, &softmax, &var(a), (&train.x, &train.y), true, BnMode::Train).unwrap();
            let w1: Vec<Tensor> = w0
                .iter()
                .zip(&gw)
                .map(|(w, g)| {
                    let d =
                        ((g + (w * wd).unwrap()).unwrap() + (w.ones_like().unwrap() * (0.01 * mom)).unwrap()).unwrap();
                    (w - (d * lr).unwrap()).unwrap()
                })
                .collect();
            set_weights(&net, &w1, None).unwrap();
            let l = loss_grads(&net, &softmax, &var(a), (&valid.x, &valid.y), false, BnMode::Train).unwrap().0;
            set_weights(&net, &w0, None).unwrap();
            l
        };
        let h = 1e-2f32;
        let numeric: Vec<f64> = (0..30)
            .map(|i| {
                let (mut p, mut m) = (alpha0.clone(), alpha0.clone());
                p[i] += h;
                m[i] -= h;
                (unrolled_loss(&p) - unrolled_loss(&m)) / (2.0 * h as f64)
            })
            .collect();
        let rel = |g: &[f64]| {
            let d: f64 = g.iter().zip(&numeric).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt();
            d / numeric.iter().map(|x| x * x).sum::<f64>().sqrt()
        };
        let (r2, r1) = (rel(&got), rel(&first));
        eprintln!("relative error against the differences: second order {r2:.2e}, first order {r1:.2e}");
        assert!(
            cosine(&got, &numeric) > 0.9999 && r2 < 0.01,
            "second order vs differences: relative error {r2}\n{got:?}\n{numeric:?}"
        );
        assert!(r1 > 10.0 * r2, "the first-order gradient is as close ({r1} vs {r2}): the test cannot tell them apart");
        for (v, w) in net.store().vars.iter().zip(&w0) {
            let d = (v.as_tensor() - w).unwrap().abs().unwrap().sum_all().unwrap().to_dtype(DType::F32).unwrap();
            assert_eq!(d.to_scalar::<f32>().unwrap(), 0.0, "a weight was not restored");
        }
    }
}
