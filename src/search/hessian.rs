//! RobustDARTS (Zela et al., ICLR 2020): the dominant eigenvalue of the Hessian of the validation
//! loss with respect to the architecture weights α, whose rise marks DARTS's drift into
//! parameter-free cells, and its early-stopping rule (DARTS-ES): with λ̄ the eigenvalue averaged
//! over the last `w` epochs, stop at epoch i once λ̄(i − k) / λ̄(i) < r (R-DARTS: k = w = 5,
//! r = 0.75) and return the cell of epoch i − k.
//!
//! The eigenvalue is taken by power iteration on Hessian-vector products, each the central
//! difference of two α-gradients: H v ≈ (∇α L(α + εv) − ∇α L(α − εv)) / 2ε, ε = 0.01, ‖v‖ = 1.
use super::supernet::Supernet;
use super::unrolled::Mix;
use anyhow::Result;
use candle_core::{Tensor, Var};
use enas_child::BnMode;
use rand_chacha::ChaCha8Rng;

/// Power iterations per measurement (two gradient passes each).
pub const POWER_ITERS: usize = 20;
const EPS: f64 = 0.01;

/// ∇α of the loss of the mixed network at `mix(α)` on (`x`, `y`), batch statistics (no running
/// statistics change).
pub(super) fn grad(
    net: &dyn Supernet,
    mix: Mix,
    alpha: &[f64],
    shape: (usize, usize),
    x: &Tensor,
    y: &Tensor,
) -> Result<Vec<f64>> {
    let a: Vec<f32> = alpha.iter().map(|&v| v as f32).collect();
    let var = Var::from_tensor(&Tensor::from_vec(a, shape, x.device())?)?;
    Ok(super::unrolled::loss_grads(net, mix, &var, (x, y), false, BnMode::BatchStats)?.1)
}

fn normalise(v: &mut [f64]) -> f64 {
    let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
    n
}

/// The eigenvalue of largest magnitude of ∇²α L at `alpha` (row-major, `shape`) on one batch,
/// by `POWER_ITERS` power iterations from a random unit vector drawn from `rng`.
pub fn dominant_eigenvalue(
    net: &dyn Supernet,
    mix: Mix,
    alpha: &[f64],
    shape: (usize, usize),
    x: &Tensor,
    y: &Tensor,
    rng: &mut ChaCha8Rng,
) -> Result<f64> {
    let mut v: Vec<f64> = (0..alpha.len()).map(|_| super::darts::standard_normal(rng)).collect();
    normalise(&mut v);
    let mut lambda = 0.0;
    for _ in 0..POWER_ITERS {
        let shifted = |s: f64| -> Vec<f64> { alpha.iter().zip(&v).map(|(a, d)| a + s * d).collect() };
        let plus = grad(net, mix, &shifted(EPS), shape, x, y)?;
        let minus = grad(net, mix, &shifted(-EPS), shape, x, y)?;
        let mut hv: Vec<f64> = plus.iter().zip(&minus).map(|(p, m)| (p - m) / (2.0 * EPS)).collect();
        lambda = hv.iter().zip(&v).map(|(h, d)| h * d).sum();
        anyhow::ensure!(lambda.is_finite(), "the Hessian-vector product is not finite");
        if normalise(&mut hv) == 0.0 {
            return Ok(0.0);
        }
        v = hv;
    }
    Ok(lambda)
}

/// DARTS-ES: the epoch (0-based index into `eigen`, one value per epoch) whose cell to return, if
/// the rule fires at the last epoch: λ̄ over `window` epochs, `lag` epochs apart, ratio below `r`.
pub fn early_stop(eigen: &[f64], window: usize, lag: usize, r: f64) -> Option<usize> {
    let i = eigen.len().checked_sub(1)?;
    if r <= 0.0 || window == 0 || i + 1 < window + lag {
        return None;
    }
    let mean = |end: usize| eigen[end + 1 - window..=end].iter().sum::<f64>() / window as f64;
    let (then, now) = (mean(i - lag), mean(i));
    (now > 0.0 && then > 0.0 && then / now < r).then_some(i - lag)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// By hand: window 2, lag 2; eigenvalues 1, 1, 1, 1, 2, 2: at the last epoch λ̄(5) = 2 and
    /// λ̄(3) = 1, ratio 0.5 < 0.75: return epoch 3. One epoch earlier λ̄(4) = 1.5, λ̄(2) = 1,
    /// ratio 0.67 < 0.75 too: the rule fires there first (epoch 2). Flat curves never fire.
    #[test]
    fn the_early_stopping_rule_by_hand() {
        let e = [1.0, 1.0, 1.0, 1.0, 2.0, 2.0];
        assert_eq!(early_stop(&e, 2, 2, 0.75), Some(3));
        assert_eq!(early_stop(&e[..5], 2, 2, 0.75), Some(2));
        assert_eq!(early_stop(&e[..4], 2, 2, 0.75), None);
        assert_eq!(early_stop(&[1.0; 12], 5, 5, 0.75), None);
        assert_eq!(early_stop(&e, 2, 2, 0.0), None, "ratio 0 is off");
        assert_eq!(early_stop(&e[..3], 2, 2, 0.75), None, "too few epochs");
        assert_eq!(early_stop(&[-1.0, 1.0], 1, 1, 0.75), None, "a negative curvature is no rise");
    }
}
