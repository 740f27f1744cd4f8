//! DrNAS's relaxation (Chen et al., ICLR 2021): each edge's op weights are a sample of
//! Dirichlet(elu(α) + 1), drawn anew for every forward pass, and α learns through the sample by
//! implicit reparameterisation (Figurnov et al. 2018), as PyTorch's `Dirichlet.rsample`: a Gamma
//! draw `g ~ Gamma(c, 1)` per op moves with its concentration as `dg/dc = -(∂P(c, g)/∂c) /
//! p(g; c)`, P the regularised lower incomplete gamma function (Gamma's CDF) and p its density,
//! and the weights are `g / Σ g` over the edge's ops.
//!
//! The draw happens on the host, in f64, from the method's seeded stream; the tensor the network
//! sees is `g0 + (c - c0) dg/dc` normalised per row, which equals the draw at the α it was drawn
//! for (c = c0) and carries its implicit gradient to α.
use candle_core::{Result, Tensor};
use rand::Rng;
use rand_distr::{Distribution, Gamma};
use statrs::function::gamma::{gamma_lr, ln_gamma};

/// Gamma draws below this are raised to it (as PyTorch clamps its Gamma samples to the
/// smallest normal float), so a row never sums to zero in f32.
const FLOOR: f64 = f32::MIN_POSITIVE as f64;

/// The concentration DrNAS maps α to: `elu(α) + 1`, positive.
pub fn concentration(alpha: f64) -> f64 {
    if alpha > 0.0 {
        alpha + 1.0
    } else {
        alpha.exp()
    }
}

/// `dg/dc` for a draw `g` of Gamma(c, 1): implicit differentiation of `P(c, g) = u` with u
/// fixed, the CDF's derivative in c by central differences.
pub fn gamma_grad(g: f64, c: f64) -> f64 {
    let h = 1e-5 * c;
    let dp_dc = (gamma_lr(c + h, g) - gamma_lr(c - h, g)) / (2.0 * h);
    let log_density = (c - 1.0) * g.ln() - g - ln_gamma(c);
    -dp_dc / log_density.exp()
}

/// One Dirichlet draw of every row of α (`rows x cols`, row-major) over the columns where
/// `keep` is true (all when `None`): the Gamma draws, their concentrations and `dg/dc`, zero
/// where an op is pruned.
#[derive(Debug, Clone)]
pub struct Draw {
    g: Vec<f32>,
    c: Vec<f32>,
    dg_dc: Vec<f32>,
    keep: Vec<f32>,
    shape: (usize, usize),
}

impl Draw {
    pub fn new(alpha: &[f64], shape: (usize, usize), keep: Option<&[bool]>, rng: &mut impl Rng) -> Draw {
        let n = shape.0 * shape.1;
        let (mut g, mut c, mut dg_dc, mut kept) = (vec![0f32; n], vec![0f32; n], vec![0f32; n], vec![0f32; n]);
        for i in 0..n {
            if !keep.map_or(true, |k| k[i]) {
                continue;
            }
            let ci = concentration(alpha[i]);
            // Gamma::new fails only for a non-positive or non-finite shape; elu + 1 is positive.
            let gi = Gamma::new(ci, 1.0).map_or(FLOOR, |d| d.sample(rng)).max(FLOOR);
            (g[i], c[i], dg_dc[i], kept[i]) = (gi as f32, ci as f32, gamma_grad(gi, ci) as f32, 1.0);
        }
        Draw { g, c, dg_dc, keep: kept, shape }
    }

    /// The edges' weights from α's tensor `(rows, cols)`: the drawn Gamma values moved
    /// linearly with `elu(α) + 1` (their value at the α drawn for, their implicit gradient),
    /// normalised per row over the kept ops.
    pub fn weights(&self, alpha: &Tensor) -> Result<Tensor> {
        let dev = alpha.device();
        let constant = |v: &[f32]| Tensor::from_vec(v.to_vec(), self.shape, dev);
        let c = (alpha.elu(1.0)? + 1.0)?;
        let g = (constant(&self.g)? + ((c - constant(&self.c)?)? * constant(&self.dg_dc)?)?)?;
        let g = (g * constant(&self.keep)?)?;
        g.broadcast_div(&g.sum_keepdim(1)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// `dg/dc` against two PyTorch figures (torch 2.15.0, float64). The exact one: the same
    /// implicit formula on PyTorch's own incomplete gamma function,
    /// `-(gammainc(c + 1e-5, x) - gammainc(c - 1e-5, x)) / 2e-5 / exp((c - 1) log x - x -
    /// lgamma(c))`; and `torch._standard_gamma_grad(c, x)`, the gradient behind
    /// `Dirichlet.rsample`, which is a fitted approximation (within 3e-5 relative here).
    #[test]
    fn gamma_grad_matches_pytorch() {
        let x = [0.3, 1.7, 0.02, 5.0, 0.9];
        let c = [1.0, 2.5, 0.3, 4.0, 0.7];
        let exact =
            [0.5957784656660101, 0.8750443814154831, 0.2541943021298669, 1.1632488852305372, 1.4138344798991327];
        let rsample =
            [0.5957784221754073, 0.8750256943451893, 0.2541943020845889, 1.1632815900095055, 1.4138771879560048];
        for i in 0..5 {
            let got = gamma_grad(x[i], c[i]);
            assert!((got - exact[i]).abs() <= 1e-8 * exact[i], "x {} c {}: {got} vs {}", x[i], c[i], exact[i]);
            assert!((got - rsample[i]).abs() <= 1e-4 * rsample[i], "x {} c {}: {got} vs {}", x[i], c[i], rsample[i]);
        }
    }

    /// The weights tensor equals the draw normalised, pruned columns are 0, rows sum to 1, and
    /// the gradient through it to α equals the chain rule written out on the host.
    #[test]
    fn weights_are_the_draw_and_carry_its_gradient() {
        let d = &Device::Cpu;
        let alpha = [0.2, -0.5, 0.0, 1.0, -1.0, 0.3];
        let keep = [true, true, true, true, false, true];
        let draw = Draw::new(&alpha, (2, 3), Some(&keep), &mut ChaCha8Rng::seed_from_u64(3));
        let a32: Vec<f32> = alpha.iter().map(|&x| x as f32).collect();
        let a = Var::from_tensor(&Tensor::from_vec(a32, (2, 3), d).unwrap()).unwrap();
        let w = draw.weights(a.as_tensor()).unwrap();
        let wv: Vec<f32> = w.flatten_all().unwrap().to_vec1().unwrap();
        for r in 0..2 {
            let s: f32 = draw.g[r * 3..r * 3 + 3].iter().sum();
            for j in 0..3 {
                assert!((wv[r * 3 + j] - draw.g[r * 3 + j] / s).abs() < 1e-6);
            }
            assert!((wv[r * 3..r * 3 + 3].iter().sum::<f32>() - 1.0).abs() < 1e-6);
        }
        assert_eq!(wv[4], 0.0);
        // d w[0][0] / d α: w = g0 / S with g_j moving by dg_j/dc_j * dc_j/dα_j.
        let grads = w.get(0).unwrap().get(0).unwrap().backward().unwrap();
        let ga: Vec<f32> = grads.get(a.as_tensor()).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        let s: f64 = draw.g[..3].iter().map(|&x| f64::from(x)).sum();
        let g0 = f64::from(draw.g[0]);
        for j in 0..3 {
            let dc = if alpha[j] > 0.0 { 1.0 } else { alpha[j].exp() };
            let dg = f64::from(draw.dg_dc[j]) * dc;
            let want = if j == 0 { dg / s - g0 * dg / (s * s) } else { -g0 * dg / (s * s) };
            assert!((f64::from(ga[j]) - want).abs() < 1e-5 * want.abs().max(1e-3), "column {j}: {} vs {want}", ga[j]);
        }
        assert_eq!(&ga[3..], &[0.0, 0.0, 0.0]);
    }
}
