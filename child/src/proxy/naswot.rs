//! NASWOT (Mellor et al., ICML 2021): each image's binary code is which ReLUs it activates (input
//! above 0) over every ReLU of the network, in one forward pass of the minibatch with BatchNorm
//! on batch statistics; `K[a][b]` counts the units on which images `a` and `b` agree
//! (`c cᵀ + (1 - c)(1 - c)ᵀ`, summed over ReLUs, as the authors' hooks accumulate it); the score
//! is `ln |det K|` (numpy's `slogdet`), from an LU factorisation in f64. `-inf` when `K` is
//! singular (two images with the same code).
use candle_core::{DType, Result, Tensor};
use nalgebra::DMatrix;

/// The score of the inputs of every ReLU, each `(N, ...)`, for a minibatch of `n` images.
pub(super) fn naswot(relu_inputs: &[Tensor], n: usize) -> Result<f64> {
    let mut k = DMatrix::<f64>::zeros(n, n);
    for r in relu_inputs {
        let c = r.flatten_from(1)?.gt(0.0)?.to_dtype(DType::F32)?;
        let nc = (1.0 - &c)?;
        let agree = (c.matmul(&c.t()?)? + nc.matmul(&nc.t()?)?)?.to_dtype(DType::F64)?;
        let rows: Vec<Vec<f64>> = agree.to_vec2()?;
        for (i, row) in rows.iter().enumerate() {
            for (j, v) in row.iter().enumerate() {
                k[(i, j)] += v;
            }
        }
    }
    Ok(log_abs_det(k))
}

/// `ln |det m|` from the diagonal of an LU factorisation (no overflow: `det K` of a 64-image
/// minibatch is far beyond f64's range).
pub(crate) fn log_abs_det(m: DMatrix<f64>) -> f64 {
    let u = m.lu().u();
    u.diagonal().iter().map(|d| d.abs().ln()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_abs_det_of_small_matrices() {
        let m = |v: &[f64]| DMatrix::from_row_slice(2, 2, v);
        assert!((log_abs_det(m(&[4.0, 2.0, 2.0, 3.0])) - 8f64.ln()).abs() < 1e-12);
        assert!(log_abs_det(m(&[0.0, 1.0, 1.0, 0.0])).abs() < 1e-12); // det -1
        assert_eq!(log_abs_det(m(&[1.0, 2.0, 2.0, 4.0])), f64::NEG_INFINITY);
        // Far beyond f64's range as a determinant, fine as a log.
        let big = DMatrix::from_diagonal_element(64, 64, 1e10);
        assert!((log_abs_det(big) - 64.0 * 1e10f64.ln()).abs() < 1e-6);
    }
}
