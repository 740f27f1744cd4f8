//! Depthwise 2-d convolution (PyTorch `conv2d(x, w, padding=p, groups=C)` with `w` of shape
//! `(C, 1, KH, KW)`, stride 1, no bias) and its backward kernels, one `(n, c)` plane at a time.

use super::par::{f32_slice, for_each_plane, nchw};
use candle_core::{bail, CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};

/// Copies an `sh x sw` plane into a zeroed `? x dw` plane at offset `(off_r, off_c)` (offsets
/// may be negative: the source is then cropped).
fn pad_into(dst: &mut [f32], dw: usize, src: &[f32], sw: usize, (off_r, off_c): (isize, isize)) {
    dst.fill(0.0);
    let dh = dst.len() / dw;
    let sh = src.len() / sw;
    let c0 = (-off_c).max(0) as usize; // first source column that lands inside
    let c1 = sw.min((dw as isize - off_c).max(0) as usize);
    if c0 >= c1 {
        return;
    }
    for r in 0..sh {
        let dr = r as isize + off_r;
        if dr < 0 || dr >= dh as isize {
            continue;
        }
        let d0 = (c0 as isize + off_c) as usize;
        let dst_row = &mut dst[dr as usize * dw + d0..dr as usize * dw + d0 + (c1 - c0)];
        dst_row.copy_from_slice(&src[r * sw + c0..r * sw + c1]);
    }
}

/// `L` consecutive outputs of row `i` of a valid correlation, accumulated in registers.
#[inline(always)]
fn corr_chunk<const L: usize>(
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
                acc[t] += wv * s[t];
            }
        }
    }
    acc
}

/// Valid 2-d correlation of a `? x sw` plane with a `kh x kw` kernel into an `oh x ow` plane.
fn corr_valid(src: &[f32], sw: usize, k: &[f32], kh: usize, kw: usize, out: &mut [f32], ow: usize) {
    for (i, orow) in out.chunks_exact_mut(ow).enumerate() {
        let mut j = 0;
        while j + 16 <= ow {
            orow[j..j + 16].copy_from_slice(&corr_chunk::<16>(src, sw, k, kh, kw, i, j));
            j += 16;
        }
        while j + 4 <= ow {
            orow[j..j + 4].copy_from_slice(&corr_chunk::<4>(src, sw, k, kh, kw, i, j));
            j += 4;
        }
        while j < ow {
            orow[j] = corr_chunk::<1>(src, sw, k, kh, kw, i, j)[0];
            j += 1;
        }
    }
}

/// `sum(a[..] * b[..])` accumulated into 16 lanes (remainder returned separately).
#[inline(always)]
fn dot_into(acc: &mut [f32; 16], a: &[f32], b: &[f32]) -> f32 {
    let ca = a.chunks_exact(16);
    let cb = b.chunks_exact(16);
    let rest: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for t in 0..16 {
            acc[t] += x[t] * y[t];
        }
    }
    rest
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

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = nchw(l1, self.name())?;
        let (kh, kw) = kernel_dims(l2, c, self.name())?;
        let x = f32_slice(s1, l1, self.name())?;
        let wt = f32_slice(s2, l2, self.name())?;
        let p = self.padding;
        let (oh, ow) = (out_size(h, kh, p, self.name())?, out_size(w, kw, p, self.name())?);
        let (hp, wp) = (h + 2 * p, w + 2 * p);
        let mut out = vec![0f32; n * c * oh * ow];
        let work = out.len() * kh * kw;
        for_each_plane(&mut out, oh * ow, hp * wp, work, |pl, o, xp| {
            pad_into(xp, wp, &x[pl * h * w..(pl + 1) * h * w], w, (p as isize, p as isize));
            let k = &wt[(pl % c) * kh * kw..(pl % c + 1) * kh * kw];
            corr_valid(xp, wp, k, kh, kw, o, ow);
        });
        Ok((CpuStorage::F32(out), Shape::from((n, c, oh, ow))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
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

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
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
        for_each_plane(&mut out, h * w, gh * gw, work, |pl, o, gp| {
            pad_into(gp, gw, &g[pl * oh * ow..(pl + 1) * oh * ow], ow, off);
            let k = &flipped[(pl % c) * kh * kw..(pl % c + 1) * kh * kw];
            corr_valid(gp, gw, k, kh, kw, o, w);
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

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
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
        for_each_plane(&mut partial, kh * kw, hp * wp, work, |pl, part, xp| {
            pad_into(xp, wp, &x[pl * h * w..(pl + 1) * h * w], w, (p as isize, p as isize));
            let gs = &g[pl * oh * ow..(pl + 1) * oh * ow];
            for ki in 0..kh {
                for kj in 0..kw {
                    let mut acc = [0f32; 16];
                    let mut rest = 0f32;
                    for (i, grow) in gs.chunks_exact(ow).enumerate() {
                        let xrow = &xp[(i + ki) * wp + kj..(i + ki) * wp + kj + ow];
                        rest += dot_into(&mut acc, grow, xrow);
                    }
                    part[ki * kw + kj] = acc.iter().sum::<f32>() + rest;
                }
            }
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
