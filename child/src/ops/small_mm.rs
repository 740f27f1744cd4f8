//! Products of a small matrix with a long one, the shapes of a 1x1 convolution on one image:
//! `(Co x C) . (C x HW)` and its two gradients, with C and Co in the tens and HW in the hundreds
//! or thousands. A general GEMM packs its operands first, which costs more than the product at
//! these sizes; `mm` keeps a register tile of outputs and streams the long axis, `mm_abt` (the
//! weight gradient) takes dot products of long rows in a register tile. Each has a portable build
//! and an AVX2+FMA build chosen at run time (`simd`).

use super::par::madd;

/// Columns of one register tile (two 8-lane vectors).
const LANES: usize = 16;

/// `R` rows of `out = a . b` over columns `j..j+LANES`.
#[inline(always)]
fn mm_tile<const R: usize, const FMA: bool>(
    a: &[f32],
    b: &[f32],
    out: &mut [f32],
    i: usize,
    j: usize,
    k: usize,
    n: usize,
) {
    let mut acc = [[0f32; LANES]; R];
    for kk in 0..k {
        let bv: &[f32; LANES] = b[kk * n + j..kk * n + j + LANES].try_into().unwrap();
        for r in 0..R {
            let av = a[(i + r) * k + kk];
            for t in 0..LANES {
                acc[r][t] = madd::<FMA>(av, bv[t], acc[r][t]);
            }
        }
    }
    for r in 0..R {
        out[(i + r) * n + j..(i + r) * n + j + LANES].copy_from_slice(&acc[r]);
    }
}

/// `R` rows of `out = a . b` for the columns from `j` on, one at a time.
#[inline(always)]
fn mm_tail<const FMA: bool>(
    a: &[f32],
    b: &[f32],
    out: &mut [f32],
    rows: (usize, usize),
    j0: usize,
    k: usize,
    n: usize,
) {
    for i in rows.0..rows.1 {
        for j in j0..n {
            let mut s = 0f32;
            for kk in 0..k {
                s = madd::<FMA>(a[i * k + kk], b[kk * n + j], s);
            }
            out[i * n + j] = s;
        }
    }
}

#[inline(always)]
fn mm_impl<const FMA: bool>(a: &[f32], b: &[f32], out: &mut [f32], m: usize, k: usize, n: usize) {
    let full = n / LANES * LANES;
    let mut i = 0;
    while i + 4 <= m {
        for j in (0..full).step_by(LANES) {
            mm_tile::<4, FMA>(a, b, out, i, j, k, n);
        }
        i += 4;
    }
    while i < m {
        for j in (0..full).step_by(LANES) {
            mm_tile::<1, FMA>(a, b, out, i, j, k, n);
        }
        i += 1;
    }
    mm_tail::<FMA>(a, b, out, (0, m), full, k, n);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn mm_avx2(a: &[f32], b: &[f32], out: &mut [f32], m: usize, k: usize, n: usize) {
    // SAFETY: this function's own target features are the intrinsics' requirement.
    unsafe { super::avx2::mm(a, b, out, m, k, n) }
}

/// `out (m x n) = a (m x k) . b (k x n)`, all row-major.
pub(crate) fn mm(simd: bool, a: &[f32], b: &[f32], out: &mut [f32], m: usize, k: usize, n: usize) {
    debug_assert!(a.len() >= m * k && b.len() >= k * n && out.len() >= m * n);
    #[cfg(target_arch = "x86_64")]
    if simd {
        // SAFETY: `simd` comes from `has_simd`: the CPU supports AVX2 and FMA.
        return unsafe { mm_avx2(a, b, out, m, k, n) };
    }
    let _ = simd;
    mm_impl::<false>(a, b, out, m, k, n)
}

/// `out (m x k) = a (m x n) . b^T` for `b` of `k x n`, row-major: the weight gradient of a 1x1
/// convolution (`a` the output gradient, `b` the input), dot products of long rows.
pub(crate) fn mm_abt(simd: bool, a: &[f32], b: &[f32], out: &mut [f32], m: usize, k: usize, n: usize) {
    assert!(a.len() >= m * n && b.len() >= k * n && out.len() >= m * k);
    #[cfg(target_arch = "x86_64")]
    if simd {
        // SAFETY: `simd` comes from `has_simd`: the CPU supports AVX2 and FMA.
        return unsafe { super::avx2::mm_abt(a, b, out, m, k, n) };
    }
    let _ = simd;
    for i in 0..m {
        for kk in 0..k {
            let (ar, br) = (&a[i * n..(i + 1) * n], &b[kk * n..(kk + 1) * n]);
            out[i * k + kk] = ar.iter().zip(br).map(|(x, y)| x * y).sum();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::par::has_simd;
    use super::*;

    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        let mut out = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k).map(|kk| a[i * k + kk] as f64 * b[kk * n + j] as f64).sum::<f64>() as f32;
            }
        }
        out
    }

    #[test]
    fn both_builds_match_a_naive_product_on_odd_shapes() {
        for &(m, k, n) in &[(7, 5, 37), (20, 20, 1024), (4, 3, 16), (1, 1, 1), (9, 13, 5)] {
            let a: Vec<f32> = (0..m * k).map(|i| ((i * 37 % 23) as f32 - 11.0) / 7.0).collect();
            let b: Vec<f32> = (0..k * n).map(|i| ((i * 17 % 19) as f32 - 9.0) / 5.0).collect();
            let want = naive(&a, &b, m, k, n);
            for simd in [false, has_simd()] {
                let mut out = vec![f32::NAN; m * n];
                mm(simd, &a, &b, &mut out, m, k, n);
                for (x, y) in out.iter().zip(&want) {
                    assert!((x - y).abs() <= 1e-4 * (1.0 + y.abs()), "mm {m}x{k}x{n}: {x} vs {y}");
                }
                let bt: Vec<f32> = (0..k * n).map(|i| b[(i % k) * n + i / k]).collect(); // (n x k)
                                                                                         // a . b^T, both builds, against the naive product with b transposed.
                let c: Vec<f32> = (0..m * n).map(|i| ((i * 7 % 11) as f32 - 5.0) / 3.0).collect();
                let want2 = naive(&c, &bt, m, n, k);
                let mut got = vec![f32::NAN; m * k];
                mm_abt(simd, &c, &b, &mut got, m, k, n);
                for (x, y) in got.iter().zip(&want2) {
                    assert!((x - y).abs() <= 1e-3 * (1.0 + y.abs()), "abt {m}x{k}x{n}: {x} vs {y}");
                }
            }
        }
    }
}

#[cfg(test)]
mod bench {
    use super::super::par::has_simd;
    use super::*;

    #[test]
    #[ignore]
    fn bench_small_mm() {
        // The shapes of the ENAS child's 1x1 convolutions at 32x32, 16x16 and 8x8.
        for (m, k, n) in [(20, 20, 1024), (40, 40, 256), (80, 80, 64)] {
            let a: Vec<f32> = (0..m * n).map(|i| (i % 7) as f32).collect();
            let b: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32).collect();
            let reps = 20_000_000 / (m * k * n) + 1;
            let gflops = |f: &mut dyn FnMut()| {
                let t = std::time::Instant::now();
                for _ in 0..reps {
                    f();
                }
                2.0 * (m * k * n * reps) as f64 / t.elapsed().as_secs_f64() / 1e9
            };
            let mut acc = vec![0f32; m * k];
            let g_abt = gflops(&mut || mm_abt(has_simd(), &a, &b, &mut acc, m, k, n));
            let mut t = vec![0f32; k * n];
            let g_tmm = gflops(&mut || {
                for r in 0..k {
                    for c in 0..n {
                        t[c * k + r] = b[r * n + c];
                    }
                }
                mm(has_simd(), &a, &t, &mut acc, m, n, k)
            });
            println!("{m}x{k}x{n}: mm_abt {g_abt:.1} GFLOP/s, transpose + mm {g_tmm:.1} GFLOP/s");
        }
    }
}
