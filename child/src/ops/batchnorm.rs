//! Training-mode BatchNorm2d (PyTorch `F.batch_norm(x, None, None, gamma, beta, training=True)`):
//! per-channel statistics over `(N, H, W)`, normalisation with the biased variance, and a fused
//! backward for `x`, `gamma` and `beta`.

use super::par::{f32_slice, for_each_plane, nchw, output_vec, sum8};
use candle_core::{bail, CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};

/// Reads a `(rows, c)` f32 tensor (the small statistics / coefficient tensors) into rows.
pub(super) fn small_rows(t: &Tensor) -> Result<Vec<Vec<f32>>> {
    t.to_dtype(candle_core::DType::F32)?.to_vec2::<f32>()
}

/// Per-channel `1 / sqrt(var + eps)`.
pub(super) fn inv_std(var: &[f32], eps: f64) -> Vec<f32> {
    var.iter().map(|&v| (1.0 / (v as f64 + eps).sqrt()) as f32).collect()
}

/// Reduces per-plane partials `(N*C planes, 2 values)` to per-channel f64 sums.
fn reduce_planes(partial: &[f32], c: usize) -> Vec<[f64; 2]> {
    let mut acc = vec![[0f64; 2]; c];
    for (pl, part) in partial.chunks_exact(2).enumerate() {
        acc[pl % c][0] += part[0] as f64;
        acc[pl % c][1] += part[1] as f64;
    }
    acc
}

/// `x -> (2, C)`: batch mean and biased variance per channel (no gradient).
pub(crate) struct BnStats;

impl CustomOp1 for BnStats {
    fn name(&self) -> &'static str {
        "batch_norm_stats"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = nchw(l, self.name())?;
        let x = f32_slice(s, l, self.name())?;
        let hw = h * w;
        let m = n * hw;
        if m == 0 {
            bail!("{}: empty batch", self.name());
        }
        // Shift each channel by its first element so that E[x^2] - E[x]^2 keeps its precision.
        let pivot: Vec<f32> = (0..c).map(|ch| x[ch * hw]).collect();
        let mut partial = vec![0f32; n * c * 2];
        for_each_plane(&mut partial, 2, 0, x.len() * 3, |pl, part, _| {
            let k = pivot[pl % c];
            let xs = &x[pl * hw..(pl + 1) * hw];
            let (mut s, mut q) = ([0f32; 8], [0f32; 8]);
            let chunks = xs.chunks_exact(8);
            let (mut rs, mut rq) = (0f32, 0f32);
            for &v in chunks.remainder() {
                rs += v - k;
                rq += (v - k) * (v - k);
            }
            for ch in chunks {
                for t in 0..8 {
                    let d = ch[t] - k;
                    s[t] += d;
                    q[t] += d * d;
                }
            }
            part[0] = s.iter().sum::<f32>() + rs;
            part[1] = q.iter().sum::<f32>() + rq;
        });
        let mut out = vec![0f32; 2 * c];
        for (ch, [s, q]) in reduce_planes(&partial, c).into_iter().enumerate() {
            let mean_d = s / m as f64;
            out[ch] = (pivot[ch] as f64 + mean_d) as f32;
            out[c + ch] = (q / m as f64 - mean_d * mean_d).max(0.0) as f32;
        }
        Ok((CpuStorage::F32(out), Shape::from((2, c))))
    }
}

/// Forward of [`super::batch_norm_train`]: `(x, gamma, beta) -> y`, with the statistics computed
/// beforehand by [`BnStats`] and stored in the op (its backward reuses them).
pub(crate) struct BatchNormTrain {
    /// `(2, C)`: batch mean and biased variance.
    pub stats: Tensor,
    pub eps: f64,
}

impl CustomOp3 for BatchNormTrain {
    fn name(&self) -> &'static str {
        "batch_norm_train"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (_, c, h, w) = nchw(l1, self.name())?;
        let x = f32_slice(s1, l1, self.name())?;
        let gamma = f32_slice(s2, l2, self.name())?;
        let beta = f32_slice(s3, l3, self.name())?;
        if gamma.len() != c || beta.len() != c {
            bail!("{}: gamma/beta need {c} elements", self.name());
        }
        let stats = small_rows(&self.stats)?;
        let istd = inv_std(&stats[1], self.eps);
        // y = a * x + b per channel.
        let a: Vec<f32> = (0..c).map(|ch| gamma[ch] * istd[ch]).collect();
        let b: Vec<f32> = (0..c).map(|ch| beta[ch] - stats[0][ch] * a[ch]).collect();
        let hw = h * w;
        let mut out = output_vec(x.len()); // every plane written below
        for_each_plane(&mut out, hw, 0, x.len() * 2, |pl, o, _| {
            let (a, b) = (a[pl % c], b[pl % c]);
            for (y, &v) in o.iter_mut().zip(&x[pl * hw..(pl + 1) * hw]) {
                *y = a * v + b;
            }
        });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        beta: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        let reduce = BnBwdReduce { stats: self.stats.clone(), eps: self.eps };
        // (2, C): sum(dy * x_hat), sum(dy).
        let sums = x.apply_op2_no_bwd(&grad, &reduce)?;
        let gx = if x.track_op() {
            let c = sums.dim(1)?;
            let coef = Tensor::cat(&[&gamma.reshape((1, c))?, &sums], 0)?;
            let op = BnBwdInput { stats: self.stats.clone(), eps: self.eps };
            Some(x.apply_op3_no_bwd(&grad, &coef, &op)?)
        } else {
            None
        };
        let gg = gamma.track_op().then(|| sums.get(0)?.reshape(gamma.shape())).transpose()?;
        let gb = beta.track_op().then(|| sums.get(1)?.reshape(beta.shape())).transpose()?;
        Ok((gx, gg, gb))
    }
}

/// `(x, dy) -> (2, C)`: per-channel `sum(dy * x_hat)` (the gamma gradient) and `sum(dy)` (the
/// beta gradient).
pub(crate) struct BnBwdReduce {
    pub stats: Tensor,
    pub eps: f64,
}

impl CustomOp2 for BnBwdReduce {
    fn name(&self) -> &'static str {
        "batch_norm_bwd_reduce"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = nchw(l1, self.name())?;
        if l1.dims() != l2.dims() {
            bail!("{}: x {:?} vs grad {:?}", self.name(), l1.dims(), l2.dims());
        }
        let x = f32_slice(s1, l1, self.name())?;
        let g = f32_slice(s2, l2, self.name())?;
        let stats = small_rows(&self.stats)?;
        let istd = inv_std(&stats[1], self.eps);
        let hw = h * w;
        let mut partial = vec![0f32; n * c * 2];
        for_each_plane(&mut partial, 2, hw, x.len() * 3, |pl, part, tmp| {
            let mean = stats[0][pl % c];
            let gs = &g[pl * hw..(pl + 1) * hw];
            for ((t, &gv), &xv) in tmp.iter_mut().zip(gs).zip(&x[pl * hw..(pl + 1) * hw]) {
                *t = gv * (xv - mean);
            }
            part[0] = sum8(tmp);
            part[1] = sum8(gs);
        });
        let mut out = vec![0f32; 2 * c];
        for (ch, [sdx, sdy]) in reduce_planes(&partial, c).into_iter().enumerate() {
            out[ch] = (sdx * istd[ch] as f64) as f32;
            out[c + ch] = sdy as f32;
        }
        Ok((CpuStorage::F32(out), Shape::from((2, c))))
    }
}

/// `(x, dy, [gamma; sum(dy * x_hat); sum(dy)]) -> dx` with
/// `dx = gamma * istd / M * (M * dy - sum(dy) - x_hat * sum(dy * x_hat))`.
pub(crate) struct BnBwdInput {
    pub stats: Tensor,
    pub eps: f64,
}

impl CustomOp3 for BnBwdInput {
    fn name(&self) -> &'static str {
        "batch_norm_bwd_input"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = nchw(l1, self.name())?;
        if l1.dims() != l2.dims() || l3.dims() != [3, c] {
            bail!("{}: bad shapes {:?} {:?} {:?}", self.name(), l1.dims(), l2.dims(), l3.dims());
        }
        let x = f32_slice(s1, l1, self.name())?;
        let g = f32_slice(s2, l2, self.name())?;
        let coef = f32_slice(s3, l3, self.name())?;
        let stats = small_rows(&self.stats)?;
        let istd = inv_std(&stats[1], self.eps);
        let hw = h * w;
        let m = (n * hw) as f32;
        // dx = a * dy + b * x + d per channel.
        let mut abd = vec![[0f32; 3]; c];
        for (ch, v) in abd.iter_mut().enumerate() {
            let (gamma, sdx, sdy) = (coef[ch], coef[c + ch], coef[2 * c + ch]);
            let a = gamma * istd[ch];
            let b = -a * istd[ch] * sdx / m;
            *v = [a, b, -a * sdy / m - b * stats[0][ch]];
        }
        let mut out = output_vec(x.len()); // every plane written below
        for_each_plane(&mut out, hw, 0, x.len() * 3, |pl, o, _| {
            let [a, b, d] = abd[pl % c];
            let xs = &x[pl * hw..(pl + 1) * hw];
            for ((dx, &gv), &xv) in o.iter_mut().zip(&g[pl * hw..(pl + 1) * hw]).zip(xs) {
                *dx = a * gv + b * xv + d;
            }
        });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}
