//! ReLU -> 1x1 convolution as one op (ENAS's ReLU-conv-BN calibrations and the cell output's
//! projection, without the BN): one image at a time through the small-matrix kernels, the ReLU
//! output only in per-thread scratch, and one fused backward pass producing both gradients.

use super::par::{detach_slice, f32_slice, for_each_plane, for_each_plane2, has_simd, nchw, output_vec};
use super::relu::{relu_copy, relu_mask};
use super::small_mm::{mm, mm_abt};
use candle_core::{bail, CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};

/// `(N, C, H, W)` and `(C_out, C)`, checked.
fn dims(x: &Layout, pw: &Layout, op: &str) -> Result<(usize, usize, usize, usize)> {
    let (n, c, h, w) = nchw(x, op)?;
    match pw.dims() {
        &[co, ci] if ci == c => Ok((n, c, h * w, co)),
        d => bail!("{op}: expected a pointwise weight of shape (C_out, {c}), got {d:?}"),
    }
}

/// Forward: `(x, pw) -> pw . relu(x)`.
pub(crate) struct ReluPw;

impl CustomOp2 for ReluPw {
    fn name(&self) -> &'static str {
        "relu_pw"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, c, hw, co) = dims(l1, l2, self.name())?;
        let x = f32_slice(s1, l1, self.name())?;
        let pw = f32_slice(s2, l2, self.name())?;
        let mut out = output_vec(n * co * hw); // `mm` fills each image's output
        let simd = has_simd();
        for_each_plane(&mut out, co * hw, c * hw, n * hw * c * co, |img, z, r| {
            relu_copy(r, &x[img * c * hw..(img + 1) * c * hw]);
            mm(simd, pw, r, z, co, c, hw);
        });
        let d = l1.dims();
        Ok((CpuStorage::F32(out), Shape::from((n, co, d[2], d[3]))))
    }

    fn bwd(&self, x: &Tensor, pw: &Tensor, _z: &Tensor, dz: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let op = ReluPwBwd { pw: pw.flatten_all()?.to_vec1()?, pw_dims: pw.dims().to_vec() };
        let packed = x.apply_op2_no_bwd(&dz.contiguous()?, &op)?;
        let (nx, npw) = (x.elem_count(), pw.elem_count());
        let gx = packed.narrow(0, 0, nx)?.reshape(x.shape())?;
        let gpw = detach_slice(&packed, nx, npw, pw.shape())?;
        Ok((Some(gx), Some(gpw)))
    }
}

/// Backward: `(x, dz) -> [dx | d_pw]` flattened, the (small) weight carried in the op.
struct ReluPwBwd {
    pw: Vec<f32>,
    pw_dims: Vec<usize>,
}

impl CustomOp2 for ReluPwBwd {
    fn name(&self) -> &'static str {
        "relu_pw_bwd"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, c, hw, co) = dims(l1, &Layout::contiguous(self.pw_dims.as_slice()), self.name())?;
        let d = l1.dims();
        if l2.dims() != [n, co, d[2], d[3]] {
            bail!(
                "{}: gradient {:?} does not match the output ({n}, {co}, {}, {})",
                self.name(),
                l2.dims(),
                d[2],
                d[3]
            );
        }
        let x = f32_slice(s1, l1, self.name())?;
        let dz = f32_slice(s2, l2, self.name())?;
        let pwt: Vec<f32> = (0..c * co).map(|i| self.pw[(i % co) * c + i / co]).collect();
        let nx = n * c * hw;
        // `mm` writes `dx` in full; the summed tail starts at zero.
        let mut out = output_vec(nx + co * c);
        out[nx..].fill(0.0);
        let mut partial = vec![0f32; n * co * c]; // small; zero if no image writes it
        let simd = has_simd();
        let (dx, _) = out.split_at_mut(nx);
        for_each_plane2(dx, c * hw, &mut partial, co * c, c * hw, 2 * n * hw * c * co, |img, dxn, ppw, r| {
            let xn = &x[img * c * hw..(img + 1) * c * hw];
            let dzn = &dz[img * co * hw..(img + 1) * co * hw];
            relu_copy(r, xn);
            mm_abt(simd, dzn, r, ppw, co, c, hw);
            mm(simd, &pwt, dzn, dxn, c, co, hw);
            relu_mask(dxn, xn);
        });
        let sums = &mut out[nx..];
        for part in partial.chunks_exact(co * c) {
            for (s, &v) in sums.iter_mut().zip(part) {
                *s += v;
            }
        }
        Ok((CpuStorage::F32(out), Shape::from(nx + co * c)))
    }
}
