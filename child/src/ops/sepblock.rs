//! ReLU -> depthwise KxK -> pointwise 1x1 as one op: the first three layers of each block of a
//! separable convolution (the BatchNorm after it stays its own op). One image at a time; the
//! depthwise output is kept for the backward pass when gradients are tracked (the pointwise
//! weight's gradient needs it), and the backward produces all three gradients in one pass over
//! each image.
//! Against the five candle ops it replaces (ReLU, depthwise, reshape, batched matmul, reshape),
//! it writes one activation instead of four and accumulates one gradient instead of four.

use super::depthwise::{corr_valid, wgrad};
use super::par::{detach_slice, f32_slice, for_each_plane2, has_simd, nchw, output_vec, pad_into};
use super::relu::{relu_copy, relu_mask};
use super::small_mm::{mm, mm_abt};
use candle_core::{bail, CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};
use std::sync::Mutex;

/// The shapes of one call, checked.
#[derive(Debug, Clone, Copy)]
struct Dims {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    kh: usize,
    kw: usize,
    co: usize,
    p: usize,
}

impl Dims {
    fn new(x: &Layout, dw: &Layout, pw: &Layout, p: usize, op: &str) -> Result<Dims> {
        let (n, c, h, w) = nchw(x, op)?;
        let (kh, kw) = match dw.dims() {
            &[wc, 1, kh, kw] if wc == c => (kh, kw),
            d => bail!("{op}: expected a depthwise weight of shape ({c}, 1, K, K), got {d:?}"),
        };
        let co = match pw.dims() {
            &[co, ci] if ci == c => co,
            d => bail!("{op}: expected a pointwise weight of shape (C_out, {c}), got {d:?}"),
        };
        if kh != 2 * p + 1 || kw != 2 * p + 1 {
            bail!("{op}: kernel {kh}x{kw} with padding {p} does not keep the size (needs K = 2p + 1)");
        }
        Ok(Dims { n, c, h, w, kh, kw, co, p })
    }

    fn hw(&self) -> usize {
        self.h * self.w
    }

    fn padded(&self) -> (usize, usize) {
        (self.h + 2 * self.p, self.w + 2 * self.p)
    }

    /// ReLU of channel `ch` of image `img` of `x`, zero-padded by `p` on every side, into `dst`
    /// (`(h + 2p) x (w + 2p)`), in one pass.
    fn relu_padded(&self, x: &[f32], img: usize, ch: usize, dst: &mut [f32]) {
        let plane = &x[(img * self.c + ch) * self.hw()..(img * self.c + ch + 1) * self.hw()];
        let (p, w, wp) = (self.p, self.w, self.padded().1);
        dst[..p * wp].fill(0.0);
        dst[(p + self.h) * wp..].fill(0.0);
        for (r, src) in plane.chunks_exact(w).enumerate() {
            let row = &mut dst[(r + p) * wp..(r + p + 1) * wp];
            row[..p].fill(0.0);
            row[p + w..].fill(0.0);
            relu_copy(&mut row[p..p + w], src);
        }
    }
}

/// Forward: `(x, dw, pw) -> pw . depthwise(relu(x), dw)`.
pub(crate) struct ReluDwPw {
    pub padding: usize,
    /// The depthwise output of the last forward, `(N, C, H, W)` flattened, kept for the backward
    /// pass (which needs it for the pointwise weight's gradient) when the op tracks gradients;
    /// the backward recomputes it if it is gone.
    pub keep: bool,
    pub cache: Mutex<Option<Vec<f32>>>,
}

impl CustomOp3 for ReluDwPw {
    fn name(&self) -> &'static str {
        "relu_dw_pw"
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
        let d = Dims::new(l1, l2, l3, self.padding, self.name())?;
        let x = f32_slice(s1, l1, self.name())?;
        let dw = f32_slice(s2, l2, self.name())?;
        let pw = f32_slice(s3, l3, self.name())?;
        let (hp, wp) = d.padded();
        let (hw, kk) = (d.hw(), d.kh * d.kw);
        // Written in full: `mm` fills each image's output, `corr_valid` each depthwise plane.
        let mut out = output_vec(d.n * d.co * hw);
        let work = d.n * hw * d.c * (kk + d.co);
        let simd = has_simd();
        let mut hall = output_vec(d.n * d.c * hw);
        for_each_plane2(&mut out, d.co * hw, &mut hall, d.c * hw, hp * wp, work, |img, z, hbuf, xp| {
            for ch in 0..d.c {
                d.relu_padded(x, img, ch, xp);
                corr_valid(
                    simd,
                    xp,
                    wp,
                    &dw[ch * kk..(ch + 1) * kk],
                    (d.kh, d.kw),
                    &mut hbuf[ch * hw..(ch + 1) * hw],
                    d.w,
                );
            }
            mm(simd, pw, hbuf, z, d.co, d.c, hw);
        });
        if self.keep {
            *self.cache.lock().unwrap_or_else(|e| e.into_inner()) = Some(hall);
        }
        Ok((CpuStorage::F32(out), Shape::from((d.n, d.co, d.h, d.w))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        dw: &Tensor,
        pw: &Tensor,
        _z: &Tensor,
        dz: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let op = ReluDwPwBwd {
            padding: self.padding,
            h: self.cache.lock().unwrap_or_else(|e| e.into_inner()).take(),
            dw: dw.flatten_all()?.to_vec1()?,
            dw_dims: dw.dims().to_vec(),
            pw: pw.flatten_all()?.to_vec1()?,
            pw_dims: pw.dims().to_vec(),
        };
        let packed = x.apply_op2_no_bwd(&dz.contiguous()?, &op)?;
        let (nx, ndw, npw) = (x.elem_count(), dw.elem_count(), pw.elem_count());
        let gx = packed.narrow(0, 0, nx)?.reshape(x.shape())?;
        let gdw = detach_slice(&packed, nx, ndw, dw.shape())?;
        let gpw = detach_slice(&packed, nx + ndw, npw, pw.shape())?;
        Ok((Some(gx), Some(gdw), Some(gpw)))
    }
}

/// Backward: `(x, dz) -> [dx | d_dw | d_pw]` flattened into one vector, the weights carried in
/// the op (they are small).
struct ReluDwPwBwd {
    padding: usize,
    /// The forward's depthwise output, if it was kept.
    h: Option<Vec<f32>>,
    dw: Vec<f32>,
    dw_dims: Vec<usize>,
    pw: Vec<f32>,
    pw_dims: Vec<usize>,
}

impl CustomOp2 for ReluDwPwBwd {
    fn name(&self) -> &'static str {
        "relu_dw_pw_bwd"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (dwl, pwl) = (Layout::contiguous(self.dw_dims.as_slice()), Layout::contiguous(self.pw_dims.as_slice()));
        let d = Dims::new(l1, &dwl, &pwl, self.padding, self.name())?;
        if l2.dims() != [d.n, d.co, d.h, d.w] {
            bail!(
                "{}: gradient {:?} does not match the output ({}, {}, {}, {})",
                self.name(),
                l2.dims(),
                d.n,
                d.co,
                d.h,
                d.w
            );
        }
        let x = f32_slice(s1, l1, self.name())?;
        let dz = f32_slice(s2, l2, self.name())?;
        let (hp, wp) = d.padded();
        let (hw, kk) = (d.hw(), d.kh * d.kw);
        let (c, co) = (d.c, d.co);
        // pw^T (c x co), and every channel's kernel flipped (the input gradient correlates with it).
        let pwt: Vec<f32> = (0..c * co).map(|i| self.pw[(i % co) * c + i / co]).collect();
        let mut flipped = self.dw.clone();
        for k in flipped.chunks_exact_mut(kk) {
            k.reverse();
        }
        let (gh, gw) = (d.h + d.kh - 1, d.w + d.kw - 1);
        let off = (d.kh as isize - 1 - d.p as isize, d.kw as isize - 1 - d.p as isize);
        let nx = d.n * c * hw;
        let tail = c * kk + co * c;
        // `dx` is written in full by `corr_valid` per channel; the summed tail starts at zero.
        let mut out = output_vec(nx + tail);
        out[nx..].fill(0.0);
        // Zeroed (it is small): with an empty plane no image writes its partials.
        let mut partial = vec![0f32; d.n * tail];
        let scratch = c * hp * wp + 2 * c * hw + gh * gw;
        let work = 3 * d.n * hw * c * (kk + co);
        let simd = has_simd();
        let (dx, _) = out.split_at_mut(nx);
        for_each_plane2(dx, c * hw, &mut partial, tail, scratch, work, |img, dxn, part, scratch| {
            let (rp, rest) = scratch.split_at_mut(c * hp * wp);
            let (hbuf, rest) = rest.split_at_mut(c * hw);
            let (dh, gp) = rest.split_at_mut(c * hw);
            let kept = self.h.as_ref().filter(|h| h.len() == nx).map(|h| &h[img * c * hw..(img + 1) * c * hw]);
            for ch in 0..c {
                let rpc = &mut rp[ch * hp * wp..(ch + 1) * hp * wp];
                d.relu_padded(x, img, ch, rpc);
                if kept.is_some() {
                    continue;
                }
                corr_valid(
                    simd,
                    rpc,
                    wp,
                    &self.dw[ch * kk..(ch + 1) * kk],
                    (d.kh, d.kw),
                    &mut hbuf[ch * hw..(ch + 1) * hw],
                    d.w,
                );
            }
            let hbuf: &[f32] = kept.unwrap_or(hbuf);
            let dzn = &dz[img * co * hw..(img + 1) * co * hw];
            let (pdw, ppw) = part.split_at_mut(c * kk);
            // d_pw (co x c) = dz (co x hw) . h^T, this image's share.
            mm_abt(simd, dzn, hbuf, ppw, co, c, hw);
            mm(simd, &pwt, dzn, dh, c, co, hw);
            for ch in 0..c {
                let dhc = &dh[ch * hw..(ch + 1) * hw];
                wgrad(
                    simd,
                    &rp[ch * hp * wp..(ch + 1) * hp * wp],
                    wp,
                    dhc,
                    d.w,
                    d.kw,
                    &mut pdw[ch * kk..(ch + 1) * kk],
                );
                pad_into(gp, gw, dhc, d.w, off);
                let dxc = &mut dxn[ch * hw..(ch + 1) * hw];
                corr_valid(simd, gp, gw, &flipped[ch * kk..(ch + 1) * kk], (d.kh, d.kw), dxc, d.w);
                relu_mask(dxc, &x[(img * c + ch) * hw..(img * c + ch + 1) * hw]);
            }
        });
        let sums = &mut out[nx..];
        for part in partial.chunks_exact(tail) {
            for (s, &v) in sums.iter_mut().zip(part) {
                *s += v;
            }
        }
        Ok((CpuStorage::F32(out), Shape::from(nx + tail)))
    }
}
