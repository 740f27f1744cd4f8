//! Shared helpers of the CPU kernels: typed access to contiguous storage, a scoped-thread split
//! of independent output planes, small vector loops and the AVX2+FMA runtime switch.

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

/// See [`poison_outputs`].
static POISON: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// For tests: fill the outputs of [`output_vec`] with NaN instead of leaving them unspecified, so
/// that a kernel that reads an element before writing it shows NaN in its results.
pub fn poison_outputs(on: bool) {
    POISON.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// A vector of `len` floats whose contents are unspecified: for a kernel output that the kernel
/// writes in full before anything reads it (zero-filling it first cost about 8% of a supernet
/// step). candle allocates its own outputs the same way (`CpuDevice::alloc_uninit`); no element
/// is read before it is written, which the tests of every kernel that uses this check by
/// comparing against independent compositions with the outputs poisoned ([`poison_outputs`]).
#[allow(clippy::uninit_vec)]
pub(crate) fn output_vec(len: usize) -> Vec<f32> {
    if POISON.load(std::sync::atomic::Ordering::Relaxed) {
        return vec![f32::NAN; len];
    }
    let mut v = Vec::with_capacity(len);
    // SAFETY: f32 is Copy, has no destructor and every bit pattern is a valid value; the
    // capacity is `len`. Callers write every element before reading it (each call site says
    // which kernel does).
    unsafe { v.set_len(len) };
    v
}

/// The elements `start..start + len` of a 1-d tensor as a new tensor of `shape` with its own
/// storage. A view would keep the whole packed backward output (with its activation-sized input
/// gradient) alive for as long as a weight's gradient lives, to the end of the backward pass.
pub(crate) fn detach_slice(
    packed: &candle_core::Tensor,
    start: usize,
    len: usize,
    shape: &candle_core::Shape,
) -> Result<candle_core::Tensor> {
    let v: Vec<f32> = packed.narrow(0, start, len)?.to_vec1()?;
    candle_core::Tensor::from_vec(v, shape, packed.device())
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
    run_split(out.chunks_mut(per * plane).collect(), |t, chunk: &mut [f32]| {
        let mut scratch = vec![0f32; scratch_len];
        for (i, o) in chunk.chunks_exact_mut(plane).enumerate() {
            f(t * per + i, o, &mut scratch);
        }
    });
}

/// [`for_each_plane`] over two outputs split the same way: plane `i` of `a` (`pa` elements) and
/// plane `i` of `b` (`pb` elements) go to `f(i, a_plane, b_plane, scratch)` together.
pub(crate) fn for_each_plane2<F>(
    a: &mut [f32],
    pa: usize,
    b: &mut [f32],
    pb: usize,
    scratch_len: usize,
    work: usize,
    f: F,
) where
    F: Fn(usize, &mut [f32], &mut [f32], &mut [f32]) + Sync,
{
    if pa == 0 || a.is_empty() {
        return;
    }
    let planes = a.len() / pa;
    assert!(pb > 0 && b.len() == planes * pb, "for_each_plane2: b must have one non-empty plane per plane of a");
    let threads = if work < PAR_MIN_WORK { 1 } else { num_threads().min(planes) };
    let per = planes.div_ceil(threads.max(1));
    let run = |t: usize, ca: &mut [f32], cb: &mut [f32]| {
        let mut scratch = vec![0f32; scratch_len];
        for (i, (oa, ob)) in ca.chunks_exact_mut(pa).zip(cb.chunks_exact_mut(pb)).enumerate() {
            f(t * per + i, oa, ob, &mut scratch);
        }
    };
    if threads <= 1 {
        return run(0, a, b);
    }
    let chunks: Vec<_> = a.chunks_mut(per * pa).zip(b.chunks_mut(per * pb)).collect();
    run_split(chunks, |t, (ca, cb)| run(t, ca, cb));
}

/// Runs `job(index, item)` for every item on candle's persistent CPU pool (its workers and the
/// calling thread; participant `t` takes items `t`, `t + P`, ...). Starting scoped threads per
/// call instead cost a thread spawn per kernel call, thousands per training step. Without pool
/// workers (one thread) the items run here, in order.
fn run_split<T: Send>(items: Vec<T>, job: impl Fn(usize, T) + Sync) {
    let pool = candle_core::utils::barrier_pool();
    let participants = pool.n_workers() + 1;
    if participants == 1 || items.len() <= 1 {
        items.into_iter().enumerate().for_each(|(t, item)| job(t, item));
        return;
    }
    let slots: Vec<std::sync::Mutex<Option<T>>> = items.into_iter().map(|i| std::sync::Mutex::new(Some(i))).collect();
    pool.execute(|tid| {
        for t in (tid..slots.len()).step_by(participants) {
            let item = slots[t].lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(item) = item {
                job(t, item);
            }
        }
    });
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

/// Copies an `sh x sw` plane into a zeroed `? x dw` plane at offset `(off_r, off_c)` (offsets
/// may be negative: the source is then cropped).
pub(crate) fn pad_into(dst: &mut [f32], dw: usize, src: &[f32], sw: usize, (off_r, off_c): (isize, isize)) {
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

/// `a * b + c`, fused when compiled for FMA (only inside the AVX2+FMA entry points).
#[inline(always)]
pub(crate) fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// Whether the AVX2+FMA builds of the kernels can run on this CPU.
pub(crate) fn has_simd() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}
