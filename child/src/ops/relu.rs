//! ReLU with a one-pass backward. candle's own `relu` builds its gradient from five tensor ops
//! (`zeros_like`, `ge`, `to_dtype`, `mul`, then the accumulation), which profiling showed as a
//! visible share of a supernet step; here the backward is one masked copy.

use super::par::{f32_slice, for_each_plane};
use candle_core::{bail, CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};

/// Elements per parallel chunk (a "plane" for [`for_each_plane`]).
const CHUNK: usize = 1 << 14;

/// Splits a flat map over threads: `f(start, out_chunk)` fills `out[start..start + len]`.
fn map_chunks(out: &mut [f32], f: impl Fn(usize, &mut [f32]) + Sync) {
    let n = out.len();
    let whole = n / CHUNK * CHUNK;
    let (head, tail) = out.split_at_mut(whole);
    for_each_plane(head, CHUNK, 0, whole, |p, o, _| f(p * CHUNK, o));
    if !tail.is_empty() {
        f(whole, tail);
    }
}

/// `dst = max(src, 0)` (NaN becomes 0); a select, not a branch, so that it vectorises. The one
/// ReLU loop of the kernels (this op and the fused ones).
pub(crate) fn relu_copy(dst: &mut [f32], src: &[f32]) {
    for (d, &v) in dst.iter_mut().zip(src) {
        *d = if v > 0.0 { v } else { 0.0 };
    }
}

/// Zeroes `g` where `x` is not positive: ReLU's backward, in place (a select, so it vectorises).
pub(crate) fn relu_mask(g: &mut [f32], x: &[f32]) {
    for (g, &v) in g.iter_mut().zip(x) {
        *g = if v > 0.0 { *g } else { 0.0 };
    }
}

/// Forward of [`super::relu`]: `max(x, 0)`.
pub(crate) struct Relu;

impl CustomOp1 for Relu {
    fn name(&self) -> &'static str {
        "relu"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s, l, self.name())?;
        let mut out = vec![0f32; x.len()];
        map_chunks(&mut out, |start, o| relu_copy(o, &x[start..start + o.len()]));
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        if !x.track_op() {
            return Ok(None);
        }
        Ok(Some(res.apply_op2_no_bwd(&grad.contiguous()?, &ReluBwd)?))
    }
}

/// Backward of [`Relu`]: `(y, grad_y) -> grad_y * (y > 0)` (zero gradient at 0, as PyTorch).
pub(crate) struct ReluBwd;

impl CustomOp2 for ReluBwd {
    fn name(&self) -> &'static str {
        "relu_bwd"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        if l1.dims() != l2.dims() {
            bail!("{}: y {:?} vs grad {:?}", self.name(), l1.dims(), l2.dims());
        }
        let y = f32_slice(s1, l1, self.name())?;
        let g = f32_slice(s2, l2, self.name())?;
        let mut out = g.to_vec();
        map_chunks(&mut out, |start, o| relu_mask(o, &y[start..start + o.len()]));
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}
