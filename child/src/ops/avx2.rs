//! AVX2+FMA builds of the hot CPU kernels, written with intrinsics so that the accumulators stay
//! in vector registers (the portable builds beside each kernel, left to the compiler's
//! auto-vectoriser, spilled them). Every function here requires a CPU with AVX2 and FMA, which
//! the callers check once (`par::has_simd`), and is tested against its portable build.
//!
//! Safety: every function is `unsafe` for the one reason that it needs AVX2 and FMA; their bodies
//! are intrinsics on pointers into slices whose lengths each entry point asserts first, so the
//! module allows `unsafe_op_in_unsafe_fn` rather than wrapping every intrinsic.
#![cfg(target_arch = "x86_64")]
#![allow(unsafe_op_in_unsafe_fn)]

use std::arch::x86_64::*;

/// Mask of the first `r` of 8 lanes (`r` in 1..8) for `maskload` / `maskstore`.
#[inline(always)]
unsafe fn lane_mask(r: usize) -> __m256i {
    let idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    _mm256_cmpgt_epi32(_mm256_set1_epi32(r as i32), idx)
}

/// Horizontal sum of 8 lanes.
#[inline(always)]
unsafe fn hsum(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    _mm_cvtss_f32(s)
}

/// `R` output rows from `i` times `V` 8-wide column chunks from `j` of a valid `K x K`
/// correlation, all in registers: each input row is loaded once per kernel column and feeds
/// every output row it overlaps (up to `R * V` independent accumulator chains).
#[inline(always)]
unsafe fn corr_tile<const K: usize, const R: usize, const V: usize>(
    s: *const f32,
    sw: usize,
    kp: *const f32,
    o: *mut f32,
    ow: usize,
    (i, j): (usize, usize),
) {
    let mut acc = [[_mm256_setzero_ps(); V]; R];
    for t in 0..R + K - 1 {
        let row = s.add((i + t) * sw + j);
        for kj in 0..K {
            let mut x = [_mm256_setzero_ps(); V];
            for (v, xv) in x.iter_mut().enumerate() {
                *xv = _mm256_loadu_ps(row.add(kj + 8 * v));
            }
            for (r, accr) in acc.iter_mut().enumerate() {
                // Input row i + t meets output row i + r through kernel row t - r.
                if t >= r && t - r < K {
                    let w = _mm256_broadcast_ss(&*kp.add((t - r) * K + kj));
                    for (v, a) in accr.iter_mut().enumerate() {
                        *a = _mm256_fmadd_ps(w, x[v], *a);
                    }
                }
            }
        }
    }
    for (r, accr) in acc.iter().enumerate() {
        for (v, a) in accr.iter().enumerate() {
            _mm256_storeu_ps(o.add((i + r) * ow + j + 8 * v), *a);
        }
    }
}

/// Output rows `rows` and columns from `j0` of a valid `K x K` correlation, one row and one
/// (possibly masked) 8-wide chunk at a time: the edges the tiles leave.
#[inline(always)]
unsafe fn corr_rest<const K: usize>(
    s: *const f32,
    sw: usize,
    kp: *const f32,
    o: *mut f32,
    ow: usize,
    rows: std::ops::Range<usize>,
    j0: usize,
) {
    for i in rows {
        let mut j = j0;
        while j < ow {
            let r = (ow - j).min(8);
            let mask = lane_mask(r.min(7));
            let mut acc = _mm256_setzero_ps();
            for ki in 0..K {
                let row = s.add((i + ki) * sw + j);
                for kj in 0..K {
                    let w = _mm256_broadcast_ss(&*kp.add(ki * K + kj));
                    let x = if r == 8 { _mm256_loadu_ps(row.add(kj)) } else { _mm256_maskload_ps(row.add(kj), mask) };
                    acc = _mm256_fmadd_ps(w, x, acc);
                }
            }
            if r == 8 {
                _mm256_storeu_ps(o.add(i * ow + j), acc);
            } else {
                _mm256_maskstore_ps(o.add(i * ow + j), mask, acc);
            }
            j += r;
        }
    }
}

/// Tiles of `R` rows x `V` chunks over the plane, then the edges.
#[inline(always)]
unsafe fn corr_tiled<const K: usize, const R: usize, const V: usize>(
    s: *const f32,
    sw: usize,
    kp: *const f32,
    o: *mut f32,
    (oh, ow): (usize, usize),
) {
    let (rows, cols) = (oh / R * R, ow / (8 * V) * (8 * V));
    for i in (0..rows).step_by(R) {
        for j in (0..cols).step_by(8 * V) {
            corr_tile::<K, R, V>(s, sw, kp, o, ow, (i, j));
        }
    }
    corr_rest::<K>(s, sw, kp, o, ow, 0..rows, cols);
    corr_rest::<K>(s, sw, kp, o, ow, rows..oh, 0);
}

/// Valid correlation of a `? x sw` plane with a `K x K` kernel into an `oh x ow` plane
/// (`ow = sw - K + 1`), with the register tile that fits the row width: 2 rows x 32 columns,
/// 4 rows x 16 or 8 rows x 8.
#[target_feature(enable = "avx2,fma")]
unsafe fn corr_k<const K: usize>(src: &[f32], sw: usize, k: &[f32], out: &mut [f32], ow: usize) {
    let oh = out.len() / ow;
    assert!(k.len() >= K * K && sw >= ow + K - 1 && src.len() >= (oh + K - 2) * sw + ow + K - 1);
    let (s, kp, o) = (src.as_ptr(), k.as_ptr(), out.as_mut_ptr());
    if ow >= 32 {
        corr_tiled::<K, 2, 4>(s, sw, kp, o, (oh, ow));
    } else if ow >= 16 {
        corr_tiled::<K, 4, 2>(s, sw, kp, o, (oh, ow));
    } else {
        corr_tiled::<K, 8, 1>(s, sw, kp, o, (oh, ow));
    }
}

/// `corr_valid` for square kernels of size 1, 3 or 5; `None` for other shapes (the caller falls
/// back to the portable build).
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn corr_valid(
    src: &[f32],
    sw: usize,
    k: &[f32],
    kdims: (usize, usize),
    out: &mut [f32],
    ow: usize,
) -> Option<()> {
    match kdims {
        (1, 1) => corr_k::<1>(src, sw, k, out, ow),
        (3, 3) => corr_k::<3>(src, sw, k, out, ow),
        (5, 5) => corr_k::<5>(src, sw, k, out, ow),
        _ => return None,
    }
    Some(())
}

/// Weight-gradient partials of one plane, `part[ki, kj] = sum(g * x shifted by (ki, kj))`, for
/// a kernel `KW` wide: per kernel row, each 8-wide chunk of `g` is loaded once and multiplied
/// with the `KW` shifted input chunks into `KW` accumulators.
#[target_feature(enable = "avx2,fma")]
unsafe fn wgrad_k<const KW: usize>(xp: &[f32], wp: usize, g: &[f32], ow: usize, part: &mut [f32]) {
    let kh = part.len() / KW;
    let oh = g.len() / ow;
    assert!(wp >= ow + KW - 1 && xp.len() >= (oh + kh - 1) * wp);
    let (x, gp) = (xp.as_ptr(), g.as_ptr());
    for ki in 0..kh {
        let mut acc = [_mm256_setzero_ps(); KW];
        for i in 0..oh {
            let (grow, xrow) = (gp.add(i * ow), x.add((i + ki) * wp));
            let mut j = 0;
            while j < ow {
                let r = (ow - j).min(8);
                let mask = lane_mask(r);
                let gv = if r == 8 { _mm256_loadu_ps(grow.add(j)) } else { _mm256_maskload_ps(grow.add(j), mask) };
                for (kj, a) in acc.iter_mut().enumerate() {
                    let xv = if r == 8 {
                        _mm256_loadu_ps(xrow.add(j + kj))
                    } else {
                        _mm256_maskload_ps(xrow.add(j + kj), mask)
                    };
                    *a = _mm256_fmadd_ps(gv, xv, *a);
                }
                j += r;
            }
        }
        for (kj, a) in acc.iter().enumerate() {
            part[ki * KW + kj] = hsum(*a);
        }
    }
}

/// `wgrad` for kernel widths 1, 3 and 5; `None` for others.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn wgrad(xp: &[f32], wp: usize, g: &[f32], ow: usize, kw: usize, part: &mut [f32]) -> Option<()> {
    match kw {
        1 => wgrad_k::<1>(xp, wp, g, ow, part),
        3 => wgrad_k::<3>(xp, wp, g, ow, part),
        5 => wgrad_k::<5>(xp, wp, g, ow, part),
        _ => return None,
    }
    Some(())
}

/// `R` rows of `out = a . b` over `V` vectors of 8 columns from `j` (the last one masked to
/// `last` lanes when `last < 8`).
#[inline(always)]
unsafe fn mm_tile<const R: usize, const V: usize>(
    a: *const f32,
    b: *const f32,
    out: *mut f32,
    (i, j): (usize, usize),
    (k, n): (usize, usize),
    last: usize,
) {
    let mask = lane_mask(last.clamp(1, 7));
    let masked = last < 8;
    let mut acc = [[_mm256_setzero_ps(); V]; R];
    for kk in 0..k {
        let brow = b.add(kk * n + j);
        let mut bv = [_mm256_setzero_ps(); V];
        for (v, x) in bv.iter_mut().enumerate() {
            *x = if masked && v == V - 1 {
                _mm256_maskload_ps(brow.add(8 * v), mask)
            } else {
                _mm256_loadu_ps(brow.add(8 * v))
            };
        }
        for (r, row) in acc.iter_mut().enumerate() {
            let av = _mm256_broadcast_ss(&*a.add((i + r) * k + kk));
            for (v, x) in row.iter_mut().enumerate() {
                *x = _mm256_fmadd_ps(av, bv[v], *x);
            }
        }
    }
    for (r, row) in acc.iter().enumerate() {
        for (v, x) in row.iter().enumerate() {
            let dst = out.add((i + r) * n + j + 8 * v);
            if masked && v == V - 1 {
                _mm256_maskstore_ps(dst, mask, *x);
            } else {
                _mm256_storeu_ps(dst, *x);
            }
        }
    }
}

/// All column blocks of rows `i..i+R`: 16 columns at a time, then 8, then a masked rest.
#[inline(always)]
unsafe fn mm_rows<const R: usize>(a: *const f32, b: *const f32, out: *mut f32, i: usize, k: usize, n: usize) {
    let mut j = 0;
    while j + 16 <= n {
        mm_tile::<R, 2>(a, b, out, (i, j), (k, n), 8);
        j += 16;
    }
    if j + 8 <= n {
        mm_tile::<R, 1>(a, b, out, (i, j), (k, n), 8);
        j += 8;
    }
    if j < n {
        mm_tile::<R, 1>(a, b, out, (i, j), (k, n), n - j);
    }
}

/// `out (m x n) = a (m x k) . b (k x n)`, row-major.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn mm(a: &[f32], b: &[f32], out: &mut [f32], m: usize, k: usize, n: usize) {
    assert!(a.len() >= m * k && b.len() >= k * n && out.len() >= m * n);
    let (ap, bp, op) = (a.as_ptr(), b.as_ptr(), out.as_mut_ptr());
    let mut i = 0;
    while i + 6 <= m {
        mm_rows::<6>(ap, bp, op, i, k, n);
        i += 6;
    }
    while i + 2 <= m {
        mm_rows::<2>(ap, bp, op, i, k, n);
        i += 2;
    }
    if i < m {
        mm_rows::<1>(ap, bp, op, i, k, n);
    }
}

/// Rows `i..i+R` of `a` against rows `kk..kk+S` of `b`, dot products over the long axis `n`.
#[inline(always)]
unsafe fn abt_tile<const R: usize, const S: usize>(
    a: *const f32,
    b: *const f32,
    out: *mut f32,
    (i, kk): (usize, usize),
    (k, n): (usize, usize),
) {
    let mut acc = [[_mm256_setzero_ps(); S]; R];
    let mut j = 0;
    while j < n {
        let r = (n - j).min(8);
        let mask = lane_mask(r.min(7));
        let load = |p: *const f32| if r == 8 { _mm256_loadu_ps(p) } else { _mm256_maskload_ps(p, mask) };
        let mut bv = [_mm256_setzero_ps(); S];
        for (s, v) in bv.iter_mut().enumerate() {
            *v = load(b.add((kk + s) * n + j));
        }
        for (ri, row) in acc.iter_mut().enumerate() {
            let av = load(a.add((i + ri) * n + j));
            for (s, x) in row.iter_mut().enumerate() {
                *x = _mm256_fmadd_ps(av, bv[s], *x);
            }
        }
        j += r;
    }
    for (ri, row) in acc.iter().enumerate() {
        for (s, x) in row.iter().enumerate() {
            *out.add((i + ri) * k + kk + s) = hsum(*x);
        }
    }
}

/// All `b` rows against rows `i..i+R` of `a`: 4 at a time, then one by one.
#[inline(always)]
unsafe fn abt_rows<const R: usize>(a: *const f32, b: *const f32, out: *mut f32, i: usize, k: usize, n: usize) {
    let mut kk = 0;
    while kk + 4 <= k {
        abt_tile::<R, 4>(a, b, out, (i, kk), (k, n));
        kk += 4;
    }
    while kk < k {
        abt_tile::<R, 1>(a, b, out, (i, kk), (k, n));
        kk += 1;
    }
}

/// `out (m x k) = a (m x n) . b^T` for `b` of `k x n`, row-major: the weight gradient of a 1x1
/// convolution, dot products of long rows in a 2 x 4 register tile.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn mm_abt(a: &[f32], b: &[f32], out: &mut [f32], m: usize, k: usize, n: usize) {
    assert!(a.len() >= m * n && b.len() >= k * n && out.len() >= m * k);
    let (ap, bp, op) = (a.as_ptr(), b.as_ptr(), out.as_mut_ptr());
    let mut i = 0;
    while i + 2 <= m {
        abt_rows::<2>(ap, bp, op, i, k, n);
        i += 2;
    }
    if i < m {
        abt_rows::<1>(ap, bp, op, i, k, n);
    }
}
