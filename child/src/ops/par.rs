//! Shared helpers of the CPU kernels: typed access to contiguous storage and a simple
//! scoped-thread split of independent output planes.

use candle_core::backend::BackendStorage;
use candle_core::{bail, CpuStorage, Layout, Result};

/// Below this many scalar operations a kernel runs on the calling thread only.
const PAR_MIN_WORK: usize = 1 << 15;

/// The f32 elements of a contiguous storage, honouring the layout's start offset.
pub(crate) fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout, op: &str) -> Result<&'a [f32]> {
    let data = match s {
        CpuStorage::F32(v) => v.as_slice(),
        other => bail!("{op}: expected f32, got {:?}", other.dtype()),
    };
    match l.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => bail!("{op}: input is not contiguous"),
    }
}

/// Checks that `dims` is a 4-d NCHW shape and returns it.
pub(crate) fn nchw(l: &Layout, op: &str) -> Result<(usize, usize, usize, usize)> {
    match l.dims() {
        &[n, c, h, w] => Ok((n, c, h, w)),
        d => bail!("{op}: expected an NCHW tensor, got shape {d:?}"),
    }
}

/// Number of worker threads the kernels use (candle's / rayon's `RAYON_NUM_THREADS`).
fn num_threads() -> usize {
    candle_core::utils::get_num_threads().max(1)
}

/// Fills `out`, viewed as consecutive planes of `plane` elements, by calling
/// `f(plane_index, plane_slice, scratch)` for every plane. Planes are split into contiguous
/// ranges, one per thread; each thread owns a zeroed scratch buffer of `scratch_len` floats
/// that it reuses across its planes (the kernel must not rely on its content between calls).
/// `work` estimates the total scalar operations and decides whether threads pay off.
pub(crate) fn for_each_plane<F>(out: &mut [f32], plane: usize, scratch_len: usize, work: usize, f: F)
where
    F: Fn(usize, &mut [f32], &mut [f32]) + Sync,
{
    if plane == 0 || out.is_empty() {
        return;
    }
    let planes = out.len() / plane;
    let threads = if work < PAR_MIN_WORK { 1 } else { num_threads().min(planes) };
    if threads <= 1 {
        let mut scratch = vec![0f32; scratch_len];
        for (p, o) in out.chunks_exact_mut(plane).enumerate() {
            f(p, o, &mut scratch);
        }
        return;
    }
    let per = planes.div_ceil(threads);
    std::thread::scope(|s| {
        for (t, chunk) in out.chunks_mut(per * plane).enumerate() {
            let f = &f;
            s.spawn(move || {
                let mut scratch = vec![0f32; scratch_len];
                for (i, o) in chunk.chunks_exact_mut(plane).enumerate() {
                    f(t * per + i, o, &mut scratch);
                }
            });
        }
    });
}

/// `dst[i] += a * src[i]` over the common length.
#[inline(always)]
pub(crate) fn axpy(dst: &mut [f32], a: f32, src: &[f32]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d += a * s;
    }
}

/// Sum of a slice with eight independent accumulators (vectorises without fast-math).
#[inline(always)]
pub(crate) fn sum8(v: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let chunks = v.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for k in 0..8 {
            acc[k] += c[k];
        }
    }
    let mut s = rest.iter().sum::<f32>();
    for a in acc {
        s += a;
    }
    s
}
