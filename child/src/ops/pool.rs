//! 3x3, stride 1, padding 1 max and average pooling (PyTorch `max_pool2d(x, 3, 1, 1)` and
//! `avg_pool2d(x, 3, 1, 1, count_include_pad=False)`), with their backward kernels.

use super::par::{f32_slice, for_each_plane, nchw};
use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};

/// `a > b ? a : b` — compiles to a plain vector max.
#[inline(always)]
fn fmax(a: f32, b: f32) -> f32 {
    if a > b {
        a
    } else {
        b
    }
}

/// Horizontal 3-wide max (or sum when `SUM`) of one row, ignoring out-of-bounds neighbours.
#[inline(always)]
fn row3<const SUM: bool>(src: &[f32], dst: &mut [f32]) {
    let w = src.len();
    let op = |a: f32, b: f32| if SUM { a + b } else { fmax(a, b) };
    if w == 1 {
        dst[0] = src[0];
        return;
    }
    dst[0] = op(src[0], src[1]);
    dst[w - 1] = op(src[w - 2], src[w - 1]);
    for (((d, &a), &b), &c) in dst[1..w - 1].iter_mut().zip(&src[..w - 2]).zip(&src[1..w - 1]).zip(&src[2..]) {
        *d = op(op(a, b), c);
    }
}

/// Separable 3x3 box max/sum of an `h x w` plane: `tmp` gets the row pass, `dst` the result.
fn box3<const SUM: bool>(src: &[f32], tmp: &mut [f32], dst: &mut [f32], h: usize, w: usize) {
    for (s, t) in src.chunks_exact(w).zip(tmp.chunks_exact_mut(w)) {
        row3::<SUM>(s, t);
    }
    let op = |a: f32, b: f32| if SUM { a + b } else { fmax(a, b) };
    for (i, d) in dst.chunks_exact_mut(w).enumerate() {
        let lo = i.saturating_sub(1);
        let hi = (i + 1).min(h - 1);
        d.copy_from_slice(&tmp[lo * w..(lo + 1) * w]);
        for r in lo + 1..=hi {
            for (d, &t) in d.iter_mut().zip(&tmp[r * w..(r + 1) * w]) {
                *d = op(*d, t);
            }
        }
    }
}

/// `1 / (number of in-bounds taps)` along one axis of length `n`, for position `i`.
#[inline(always)]
fn inv_count(i: usize, n: usize) -> f32 {
    1.0 / (1 + usize::from(i > 0) + usize::from(i + 1 < n)) as f32
}

/// Forward of [`super::max_pool3x3`].
pub(crate) struct MaxPool3x3;

impl CustomOp1 for MaxPool3x3 {
    fn name(&self) -> &'static str {
        "max_pool3x3"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (_, _, h, w) = nchw(l, self.name())?;
        let x = f32_slice(s, l, self.name())?;
        let mut out = vec![0f32; x.len()];
        for_each_plane(&mut out, h * w, h * w, x.len() * 6, |p, o, tmp| {
            box3::<false>(&x[p * h * w..(p + 1) * h * w], tmp, o, h, w);
        });
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        if !x.track_op() {
            return Ok(None);
        }
        Ok(Some(x.apply_op2_no_bwd(&grad.contiguous()?, &MaxPool3x3Bwd)?))
    }
}

/// Backward of [`MaxPool3x3`]: `(x, grad_out) -> grad_x`, each output's gradient routed to the
/// first maximum of its window in row-major scan order (as PyTorch does).
pub(crate) struct MaxPool3x3Bwd;

impl CustomOp2 for MaxPool3x3Bwd {
    fn name(&self) -> &'static str {
        "max_pool3x3_bwd"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (_, _, h, w) = nchw(l1, self.name())?;
        if l1.dims() != l2.dims() {
            candle_core::bail!("{}: x {:?} vs grad {:?}", self.name(), l1.dims(), l2.dims());
        }
        let x = f32_slice(s1, l1, self.name())?;
        let g = f32_slice(s2, l2, self.name())?;
        let (hp, wp) = (h + 2, w + 2);
        let mut out = vec![0f32; x.len()];
        // Scratch: -inf padded input, padded grad accumulator, running best value; plus the
        // running best tap index (0..9) of each output of the current row.
        let scratch = 2 * hp * wp + w;
        for_each_plane(&mut out, h * w, scratch, x.len() * 40, |p, o, sc| {
            let (xp, rest) = sc.split_at_mut(hp * wp);
            let (gp, best) = rest.split_at_mut(hp * wp);
            let mut idx = vec![0u32; w];
            xp.fill(f32::NEG_INFINITY);
            gp.fill(0.0);
            let xs = &x[p * h * w..(p + 1) * h * w];
            let gs = &g[p * h * w..(p + 1) * h * w];
            for (i, row) in xs.chunks_exact(w).enumerate() {
                xp[(i + 1) * wp + 1..(i + 1) * wp + 1 + w].copy_from_slice(row);
            }
            for (i, grow) in gs.chunks_exact(w).enumerate() {
                // Initial index: the first in-bounds tap (PyTorch's choice when all are -inf).
                let base = if i == 0 { 3 } else { 0 };
                best.fill(f32::NEG_INFINITY);
                idx.fill(base);
                idx[0] = base + 1;
                // Branch-free running argmax: strict `>` keeps the first maximum.
                for k in 0..9u32 {
                    let (dr, dc) = (k as usize / 3, k as usize % 3);
                    let src = &xp[(i + dr) * wp + dc..(i + dr) * wp + dc + w];
                    for ((b, id), &v) in best.iter_mut().zip(idx.iter_mut()).zip(src) {
                        let mask = u32::from(v > *b).wrapping_neg();
                        *id ^= (*id ^ k) & mask;
                        *b = fmax(v, *b);
                    }
                }
                for k in 0..9u32 {
                    let (dr, dc) = (k as usize / 3, k as usize % 3);
                    let dst = &mut gp[(i + dr) * wp + dc..(i + dr) * wp + dc + w];
                    for ((d, &id), &gv) in dst.iter_mut().zip(idx.iter()).zip(grow) {
                        let mask = u32::from(id == k).wrapping_neg();
                        *d += f32::from_bits(gv.to_bits() & mask);
                    }
                }
            }
            for (i, orow) in o.chunks_exact_mut(w).enumerate() {
                orow.copy_from_slice(&gp[(i + 1) * wp + 1..(i + 1) * wp + 1 + w]);
            }
        });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

/// Forward of [`super::avg_pool3x3`].
pub(crate) struct AvgPool3x3;

impl CustomOp1 for AvgPool3x3 {
    fn name(&self) -> &'static str {
        "avg_pool3x3"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (_, _, h, w) = nchw(l, self.name())?;
        let x = f32_slice(s, l, self.name())?;
        let mut out = vec![0f32; x.len()];
        for_each_plane(&mut out, h * w, h * w + w, x.len() * 6, |p, o, sc| {
            let (tmp, cols) = sc.split_at_mut(h * w);
            box3::<true>(&x[p * h * w..(p + 1) * h * w], tmp, o, h, w);
            for (j, c) in cols.iter_mut().enumerate() {
                *c = inv_count(j, w);
            }
            for (i, row) in o.chunks_exact_mut(w).enumerate() {
                let ri = inv_count(i, h);
                for (v, &c) in row.iter_mut().zip(cols.iter()) {
                    *v *= ri * c;
                }
            }
        });
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        if !x.track_op() {
            return Ok(None);
        }
        Ok(Some(grad.contiguous()?.apply_op1_no_bwd(&AvgPool3x3Bwd)?))
    }
}

/// Backward of [`AvgPool3x3`]: `grad_out -> grad_x`. The 3x3 window is symmetric, so the
/// transpose is a box sum of the gradient pre-divided by each output's tap count.
pub(crate) struct AvgPool3x3Bwd;

impl CustomOp1 for AvgPool3x3Bwd {
    fn name(&self) -> &'static str {
        "avg_pool3x3_bwd"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (_, _, h, w) = nchw(l, self.name())?;
        let g = f32_slice(s, l, self.name())?;
        let mut out = vec![0f32; g.len()];
        for_each_plane(&mut out, h * w, 2 * h * w + w, g.len() * 7, |p, o, sc| {
            let (scaled, rest) = sc.split_at_mut(h * w);
            let (tmp, cols) = rest.split_at_mut(h * w);
            for (j, c) in cols.iter_mut().enumerate() {
                *c = inv_count(j, w);
            }
            let gs = &g[p * h * w..(p + 1) * h * w];
            for (i, (srow, grow)) in scaled.chunks_exact_mut(w).zip(gs.chunks_exact(w)).enumerate() {
                let ri = inv_count(i, h);
                for ((s, &gv), &c) in srow.iter_mut().zip(grow).zip(cols.iter()) {
                    *s = gv * (ri * c);
                }
            }
            box3::<true>(scaled, tmp, o, h, w);
        });
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }
}
