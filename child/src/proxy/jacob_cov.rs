//! jacob_cov: the first score of Mellor et al.'s "Neural Architecture Search without Training"
//! (arXiv v1), as zero-cost-nas computes it. The Jacobian of `Σ output` with respect to each input
//! image (one backward pass of the whole minibatch, BatchNorm on batch statistics), flattened per
//! image; `C` = the images' correlation matrix (numpy's `corrcoef`); the score is
//! `-Σ_i (ln(λ_i + k) + 1/(λ_i + k))` over `C`'s eigenvalues, `k = 1e-5`. `C` is symmetric, so a
//! symmetric eigensolver stands in for numpy's general `eig` (same eigenvalues, all real). NaN when
//! an image's Jacobian is constant (its correlations are undefined, as numpy's are).
use candle_core::{DType, Result, Tensor};
use nalgebra::DMatrix;

const K: f64 = 1e-5;

/// The score of the Jacobian `∂ Σ output / ∂ images`, `(N, C, H, W)`.
pub(super) fn jacob_cov(jac: &Tensor) -> Result<f64> {
    let rows: Vec<Vec<f64>> = jac.flatten_from(1)?.to_dtype(DType::F64)?.to_vec2()?;
    Ok(score_from_rows(&rows))
}

/// The score of Jacobian rows (one per image).
pub(crate) fn score_from_rows(rows: &[Vec<f64>]) -> f64 {
    let n = rows.len();
    let centred: Vec<Vec<f64>> = rows
        .iter()
        .map(|r| {
            let mean = r.iter().sum::<f64>() / r.len() as f64;
            let c: Vec<f64> = r.iter().map(|v| v - mean).collect();
            let norm = c.iter().map(|v| v * v).sum::<f64>().sqrt();
            c.iter().map(|v| v / norm).collect()
        })
        .collect();
    let corr = DMatrix::from_fn(n, n, |i, j| centred[i].iter().zip(&centred[j]).map(|(a, b)| a * b).sum::<f64>());
    if corr.iter().any(|v| !v.is_finite()) {
        return f64::NAN;
    }
    let eig = corr.symmetric_eigenvalues();
    -eig.iter().map(|&l| (l + K).ln() + 1.0 / (l + K)).sum::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_rows_give_the_eigenvalues_one_plus_and_minus_their_correlation() {
        // numpy: np.corrcoef([[1, 2, 3], [1, 2, 4]])[0, 1] = 9 / sqrt(84) = 0.98198050606...
        let r = 9.0 / 84f64.sqrt();
        let expected = -[1.0 + r, 1.0 - r].iter().map(|l| (l + K).ln() + 1.0 / (l + K)).sum::<f64>();
        let got = score_from_rows(&[vec![1.0, 2.0, 3.0], vec![1.0, 2.0, 4.0]]);
        assert!((got - expected).abs() < 1e-9, "{got} vs {expected}");
        // Uncorrelated rows: the identity, eigenvalues 1 and 1.
        let got = score_from_rows(&[vec![1.0, 0.0, -1.0], vec![1.0, -2.0, 1.0]]);
        assert!((got + 2.0 * ((1.0 + K).ln() + 1.0 / (1.0 + K))).abs() < 1e-9, "{got}");
        // A constant row has no correlation.
        assert!(score_from_rows(&[vec![1.0, 1.0, 1.0], vec![1.0, 2.0, 4.0]]).is_nan());
    }
}
