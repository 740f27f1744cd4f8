//! Inverted dropout with a caller-supplied seed. candle's own dropout draws from an RNG that
//! cannot be seeded; here the mask comes from a ChaCha8 stream seeded by the caller, so the same
//! seed gives the same mask on every run and every thread count.
use candle_core::{Device, Result, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Dropout with keep probability `keep`, its mask drawn from `ChaCha8Rng::seed_from_u64(seed)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dropout {
    /// Probability of keeping a unit, in (0, 1]; 1 is the identity.
    pub keep: f64,
    /// Seed of the mask. The caller derives a fresh one per step (e.g. from the run's seed and
    /// the step number) so that masks differ between steps but replay exactly.
    pub seed: u64,
}

impl Dropout {
    /// The mask for `n` elements: each is `1/keep` with probability `keep` (a uniform draw in
    /// [0, 1) below `keep`), else 0, in row-major order of the elements.
    pub fn mask_values(&self, n: usize) -> Result<Vec<f32>> {
        if !(self.keep > 0.0 && self.keep <= 1.0) {
            candle_core::bail!("dropout keep probability must be in (0, 1], got {}", self.keep);
        }
        let scale = (1.0 / self.keep) as f32;
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        Ok((0..n).map(|_| if rng.random::<f64>() < self.keep { scale } else { 0.0 }).collect())
    }

    /// The mask as a tensor of `dims` on `device` (no gradient).
    pub fn mask(&self, dims: &[usize], device: &Device) -> Result<Tensor> {
        Tensor::from_vec(self.mask_values(dims.iter().product())?, dims, device)
    }

    /// `x * mask`: kept units scaled by `1/keep`, so the expected value is unchanged. With
    /// `keep == 1` this returns `x` itself, untouched.
    pub fn apply(&self, x: &Tensor) -> Result<Tensor> {
        if self.keep == 1.0 {
            return Ok(x.clone());
        }
        x.mul(&self.mask(x.dims(), x.device())?.to_dtype(x.dtype())?)
    }
}
