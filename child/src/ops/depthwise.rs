//! Depthwise 2-d convolution (PyTorch `conv2d(x, w, padding=p, groups=C)` with `w` of shape
//! `(C, 1, KH, KW)`, stride 1, no bias) and its backward kernels, one `(n, c)` plane at a time.

use super::par::{f32_slice, for_each_plane, has_simd, madd, nchw, pad_into};
use candle_core::{bail, CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};

/// `L` consecutive outputs of row `i` of a valid correlation, accumulated in registers.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn corr_chunk<const L: usize, const FMA: bool>(
    src: &[f32],
    sw: usize,
    k: &[f32],
    kh: usize,
    kw: usize,
    i: usize,
    j0: usize,
) -> [f32; L] {
    let mut acc = [0f32; L];
    for ki in 0..kh {
        let row = &src[(i + ki) * sw + j0..];
        for kj in 0..kw {
            let wv = k[ki * kw + kj];
            let s: &[f32; L] = row[kj..kj + L].try_into().unwrap();
            for t in 0..L {
                acc[t] = madd::<FMA>(wv, s[t], acc[t]);
            }
        }
    }
    acc
}

/// Valid 2-d correlation of a `? x sw` plane with a `kh x kw` kernel into an `oh x ow` plane.
#[inline(always)]
fn corr_valid_impl<const FMA: bool>(
    src: &[f32],
    sw: usize,
    k: &[f32],
    kdims: (usize, usize),
    out: &mut [f32],
    ow: usize,
) {
    let (kh, kw) = kdims;
    for (i, orow) in out.chunks_exact_mut(ow).enumerate() {
        let mut j = 0;
        while j + 32 <= ow {
            orow[j..j + 32].copy_from_slice(&corr_chunk::<32, FMA>(src, sw, k, kh, kw, i, j));
            j += 32;
        }
        while j + 8 <= ow {
            orow[j..j + 8].copy_from_slice(&corr_chunk::<8, FMA>(src, sw, k, kh, kw, i, j));
            j += 8;
        }
        while j < ow {
            orow[j] = corr_chunk::<1, FMA>(src, sw, k, kh, kw, i, j)[0];
            j += 1;
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn corr_valid_avx2(src: &[f32], sw: usize, k: &[f32], kdims: (usize, usize), out: &mut [f32], ow: usize) {
    // SAFETY: this function's own target features are the intrinsics' requirement.
    if unsafe { super::avx2::corr_valid(src, sw, k, kdims, out, ow) }.is_none() {
        corr_valid_impl::<true>(src, sw, k, kdims, out, ow)
    }
}

/// [`corr_valid_impl`], in its AVX2+FMA build when `simd` (from [`has_simd`]).
pub(crate) fn corr_valid(
    simd: bool,
    src: &[f32],
    sw: usize,
    k: &[f32],
    kdims: (usize, usize),
    out: &mut [f32],
    ow: usize,
) {
    #[cfg(target_arch = "x86_64")]
    if simd {
        // SAFETY: `simd` comes from `has_simd`: the CPU supports AVX2 and FMA.
        return unsafe { corr_valid_avx2(src, sw, k, kdims, out, ow) };
    }
    let _ = simd;
    corr_valid_impl::<false>(src, sw, k, kdims, out, ow)
}

/// Weight-gradient partials of one plane for a kernel `KW` wide:
/// `part[ki, kj] = sum(g * x_padded shifted by (ki, kj))` for the `? x ow` output gradient `g`
/// and the `? x wp` padded input `xp`. Per kernel row, each 8-wide chunk of `g` is loaded once
/// and multiplied with the `KW` shifted input chunks, into `KW` vector accumulators.
#[inline(always)]
fn wgrad_k<const KW: usize, const FMA: bool>(xp: &[f32], wp: usize, g: &[f32], ow: usize, part: &mut [f32]) {
    let kh = part.len() / KW;
    let oh = g.len() / ow;
    let full = ow / 8 * 8;
    for ki in 0..kh {
        let mut acc = [[0f32; 8]; KW];
        let mut rest = [0f32; KW];
        for i in 0..oh {
            let grow = &g[i * ow..(i + 1) * ow];
            let xrow = &xp[(i + ki) * wp..(i + ki) * wp + ow + KW - 1];
            for j in (0..full).step_by(8) {
                let gv: &[f32; 8] = grow[j..j + 8].try_into().unwrap();
                for kj in 0..KW {
                    let xv: &[f32; 8] = xrow[j + kj..j + kj + 8].try_into().unwrap();
                    for t in 0..8 {
                        acc[kj][t] = madd::<FMA>(gv[t], xv[t], acc[kj][t]);
                    }
                }
            }
            for j in full..ow {
                for kj in 0..KW {
                    rest[kj] = madd::<FMA>(grow[j], xrow[j + kj], rest[kj]);
                }
            }
        }
        for kj in 0..KW {
            part[ki * KW + kj] = acc[kj].iter().sum::<f32>() + rest[kj];
        }
    }
}

/// [`wgrad_k`] for the kernel widths the networks use, a plain loop for others.
#[inline(always)]
fn wgrad_impl<const FMA: bool>(xp: &[f32], wp: usize, g: &[f32], ow: usize, kw: usize, part: &mut [f32]) {
    match kw {
        1 => wgrad_k::<1, FMA>(xp, wp, g, ow, part),
        3 => wgrad_k::<3, FMA>(xp, wp, g, ow, part),
        5 => wgrad_k::<5, FMA>(xp, wp, g, ow, part),
        _ => {
            for (kk, pv) in part.iter_mut().enumerate() {
                let (ki, kj) = (kk / kw, kk % kw);
                let mut acc = 0f32;
                for (i, grow) in g.chunks_exact(ow).enumerate() {
                    for (j, &gv) in grow.iter().enumerate() {
                        acc = madd::<FMA>(gv, xp[(i + ki) * wp + j + kj], acc);
                    }
                }
                *pv = acc;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn wgrad_avx2(xp: &[f32], wp: usize, g: &[f32], ow: usize, kw: usize, part: &mut [f32]) {
    // SAFETY: this function's own target features are the intrinsics' requirement.
    if unsafe { super::avx2::wgrad(xp, wp, g, ow, kw, part) }.is_none() {
        wgrad_impl::<true>(xp, wp, g, ow, kw, part)
    }
}

/// [`wgrad_impl`], in its AVX2+FMA build when `simd` (from [`has_simd`]).
pub(crate) fn wgrad(simd: bool, xp: &[f32], wp: usize, g: &[f32], ow: usize, kw: usize, part: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if simd {
        // SAFETY: `simd` comes from `has_simd`: the CPU supports AVX2 and FMA.
        return unsafe { wgrad_avx2(xp, wp, g, ow, kw, part) };
    }
    let _ = simd;
    wgrad_impl::<false>(xp, wp, g, ow, kw, part)
}

/// Output size along one axis, or an error when the kernel does not fit.
fn out_size(n: usize, k: usize, p: usize, op: &str) -> Result<usize> {
    if n + 2 * p < k {
        bail!("{op}: kernel {k} larger than padded input {}", n + 2 * p)
    }
    Ok(n + 2 * p + 1 - k)
}

/// Checks the weight shape `(C, 1, KH, KW)` against `c` channels and returns `(KH, KW)`.
fn kernel_dims(l: &Layout, c: usize, op: &str) -> Result<(usize, usize)> {
    match l.dims() {
        &[wc, 1, kh, kw] if wc == c => Ok((kh, kw)),
        d => bail!("{op}: expected weight of shape ({c}, 1, KH, KW), got {d:?}"),
    }
}

/// Forward of [`super::depthwise_conv2d`]: `(x, w) -> y`.
pub(crate) struct DepthwiseConv2d {
    pub padding: usize,
}

impl CustomOp2 for DepthwiseConv2d {
    fn name(&self) -> &'static str {
        "depthwise_conv2d"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = nchw(l1, self.name())?;
        let (kh, kw) = kernel_dims(l2, c, self.name())?;
        let x = f32_slice(s1, l1, self.name())?;
        let wt = f32_slice(s2, l2, self.name())?;
        let p = self.padding;
        let (oh, ow) = (out_size(h, kh, p, self.name())?, out_size(w, kw, p, self.name())?);
        let (hp, wp) = (h + 2 * p, w + 2 * p);
        let mut out = vec![0f32; n * c * oh * ow];
        let work = out.len() * kh * kw;
        let simd = has_simd();
        for_each_plane(&mut out, oh * ow, hp * wp, work, |pl, o, xp| {
            pad_into(xp, wp, &x[pl * h * w..(pl + 1) * h * w], w, (p as isize, p as isize));
            let k = &wt[(pl % c) * kh * kw..(pl % c + 1) * kh * kw];
            corr_valid(simd, xp, wp, k, (kh, kw), o, ow);
        });
        Ok((CpuStorage::F32(out), Shape::from((n, c, oh, ow))))
    }

    fn bwd(&self, x: &Tensor, w: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        let (_, _, h, wd) = x.dims4()?;
        let (_, _, kh, kw) = w.dims4()?;
        let gx = if x.track_op() {
            let op = DepthwiseBwdInput { padding: self.padding, h, w: wd };
            Some(grad.apply_op2_no_bwd(w, &op)?)
        } else {
            None
        };
        let gw = if w.track_op() {
            let op = DepthwiseBwdWeight { padding: self.padding, kh, kw };
            Some(x.apply_op2_no_bwd(&grad, &op)?)
        } else {
            None
        };
        Ok((gx, gw))
    }
}

/// Input gradient of [`DepthwiseConv2d`]: `(grad_y, w) -> grad_x`, a valid correlation of the
/// zero-padded output gradient with the flipped kernel.
pub(crate) struct DepthwiseBwdInput {
    pub padding: usize,
    pub h: usize,
    pub w: usize,
}

impl CustomOp2 for DepthwiseBwdInput {
    fn name(&self) -> &'static str {
        "depthwise_conv2d_bwd_input"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, c, oh, ow) = nchw(l1, self.name())?;
        let (kh, kw) = kernel_dims(l2, c, self.name())?;
        let g = f32_slice(s1, l1, self.name())?;
        let wt = f32_slice(s2, l2, self.name())?;
        let (h, w, p) = (self.h, self.w, self.padding);
        if out_size(h, kh, p, self.name())? != oh || out_size(w, kw, p, self.name())? != ow {
            bail!("{}: grad {oh}x{ow} does not match input {h}x{w}", self.name());
        }
        // Flipped kernels of all channels.
        let mut flipped = wt.to_vec();
        for kc in flipped.chunks_exact_mut(kh * kw) {
            kc.reverse();
        }
        let (gh, gw) = (h + kh - 1, w + kw - 1);
        let off = (kh as isize - 1 - p as isize, kw as isize - 1 - p as isize);
        let mut out = vec![0f32; n * c * h * w];
        let work = out.len() * kh * kw;
        let simd = has_simd();
        for_each_plane(&mut out, h * w, gh * gw, work, |pl, o, gp| {
            pad_into(gp, gw, &g[pl * oh * ow..(pl + 1) * oh * ow], ow, off);
            let k = &flipped[(pl % c) * kh * kw..(pl % c + 1) * kh * kw];
            corr_valid(simd, gp, gw, k, (kh, kw), o, w);
        });
        Ok((CpuStorage::F32(out), Shape::from((n, c, h, w))))
    }
}

/// Weight gradient of [`DepthwiseConv2d`]: `(x, grad_y) -> grad_w`, per-plane partial sums of
/// `grad_y * shifted(x)` reduced over the batch.
pub(crate) struct DepthwiseBwdWeight {
    pub padding: usize,
    pub kh: usize,
    pub kw: usize,
}

impl CustomOp2 for DepthwiseBwdWeight {
    fn name(&self) -> &'static str {
        "depthwise_conv2d_bwd_weight"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = nchw(l1, self.name())?;
        let (gn, gc, oh, ow) = nchw(l2, self.name())?;
        let (kh, kw, p) = (self.kh, self.kw, self.padding);
        if gn != n || gc != c || out_size(h, kh, p, self.name())? != oh {
            bail!("{}: grad {:?} does not match input {:?}", self.name(), l2.dims(), l1.dims());
        }
        if out_size(w, kw, p, self.name())? != ow {
            bail!("{}: grad {:?} does not match input {:?}", self.name(), l2.dims(), l1.dims());
        }
        let x = f32_slice(s1, l1, self.name())?;
        let g = f32_slice(s2, l2, self.name())?;
        let (hp, wp) = (h + 2 * p, w + 2 * p);
        let mut partial = vec![0f32; n * c * kh * kw];
        let work = n * c * oh * ow * kh * kw;
        let simd = has_simd();
        for_each_plane(&mut partial, kh * kw, hp * wp, work, |pl, part, xp| {
            pad_into(xp, wp, &x[pl * h * w..(pl + 1) * h * w], w, (p as isize, p as isize));
            wgrad(simd, xp, wp, &g[pl * oh * ow..(pl + 1) * oh * ow], ow, kw, part);
        });
        let kk = kh * kw;
        let mut out = vec![0f32; c * kk];
        for (pl, part) in partial.chunks_exact(kk).enumerate() {
            let dst = &mut out[(pl % c) * kk..(pl % c + 1) * kk];
            for (d, &v) in dst.iter_mut().zip(part) {
                *d += v;
            }
        }
        Ok((CpuStorage::F32(out), Shape::from((c, 1, kh, kw))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The portable and the AVX2+FMA builds of the kernels agree (the integration tests only
    /// reach the build this CPU selects).
    #[test]
    fn scalar_and_simd_kernels_agree() {
        if !has_simd() {
            eprintln!("this CPU has no AVX2+FMA: the SIMD kernels are not exercised, only the portable ones");
        }
        // Correlation: kernel sizes 1, 3, 5 (the intrinsic builds) and 7 (the fallback), rows of
        // 32-wide chunks, 8-wide chunks and masked tails.
        for (k, sw) in [(5usize, 21usize), (3, 40), (1, 9), (5, 44), (7, 30)] {
            let src: Vec<f32> = (0..11 * sw).map(|i| ((i * 37 % 17) as f32 - 8.0) / 7.0).collect();
            let kern: Vec<f32> = (0..k * k).map(|i| ((i * 11 % 13) as f32 - 6.0) / 5.0).collect();
            let (ow, oh) = (sw + 1 - k, 11 + 1 - k);
            let mut a = vec![0f32; oh * ow];
            let mut b = vec![f32::NAN; oh * ow];
            corr_valid(false, &src, sw, &kern, (k, k), &mut a, ow);
            corr_valid(has_simd(), &src, sw, &kern, (k, k), &mut b, ow);
            for (x, y) in a.iter().zip(&b) {
                assert!((x - y).abs() <= 1e-4 * (1.0 + y.abs()), "k {k} width {sw}: {x} vs {y}");
            }
        }
        let src: Vec<f32> = (0..11 * 21).map(|i| ((i * 37 % 17) as f32 - 8.0) / 7.0).collect();
        // The weight gradient, every kernel width (the unrolled 1, 3, 5 and the plain loop),
        // against a direct sum.
        for k in [1usize, 3, 5, 7] {
            let (oh, ow) = (11 + 1 - k, 21 + 1 - k);
            let g: Vec<f32> = (0..oh * ow).map(|i| ((i * 7 % 5) as f32 - 2.0) / 3.0).collect();
            let want: Vec<f32> = (0..k * k)
                .map(|kk| {
                    let (ki, kj) = (kk / k, kk % k);
                    (0..oh * ow).map(|p| g[p] as f64 * src[(p / ow + ki) * 21 + p % ow + kj] as f64).sum::<f64>() as f32
                })
                .collect();
            for simd in [false, has_simd()] {
                let mut part = vec![f32::NAN; k * k];
                wgrad(simd, &src, 21, &g, ow, k, &mut part);
                for (x, y) in part.iter().zip(&want) {
                    assert!((x - y).abs() <= 1e-4 * (1.0 + y.abs()), "k {k}: {x} vs {y}");
                }
            }
        }
    }
}
