//! `acc + w * BN(x)`: training-mode BatchNorm without affine parameters (DARTS's search network)
//! scaled by one mixture weight `w` and added to a running sum, in one op. A mixed node is
//! `Σ_k w_k · BN(z_k)` over its ops; as one op per term the graph keeps each op's pre-BN input
//! `z_k` (which BN's backward needs anyway) and one running sum per term, instead of each BN
//! output, each product and a stacked copy of them all.
//!
//! Backward, with `g` the gradient of the output and `x̂` the normalised `x`: `d acc = g`,
//! `d w = Σ g · x̂`, and `d x` is BN's input gradient for the upstream gradient `w · g` (BN's
//! formula with `gamma = w` per channel), from the same reduction and input-gradient ops as
//! [`super::batchnorm::BatchNormTrain`].
use super::batchnorm::{inv_std, small_rows, BnBwdInput, BnBwdReduce};
use super::par::{f32_slice, for_each_plane, nchw, output_vec};
use candle_core::{bail, CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};

/// `(x, w) -> w * BN(x)` as [`CustomOp2`], `(acc, x, w) -> acc + w * BN(x)` as [`CustomOp3`];
/// the batch statistics computed beforehand by `BnStats` and stored here.
pub(crate) struct BnAxpy {
    /// `(2, C)`: batch mean and biased variance.
    pub stats: Tensor,
    pub eps: f64,
}

impl BnAxpy {
    /// The output for `x` (with its layout) and `w`'s storage, plus `acc` if any.
    fn run(&self, x: (&CpuStorage, &Layout), w: (&CpuStorage, &Layout), acc: Option<&[f32]>) -> Result<CpuStorage> {
        let name = "bn_axpy";
        let (_, c, h, wd) = nchw(x.1, name)?;
        let xs = f32_slice(x.0, x.1, name)?;
        let w = f32_slice(w.0, w.1, name)?;
        if w.len() != 1 {
            bail!("{name}: the weight must have one element, got {}", w.len());
        }
        let stats = small_rows(&self.stats)?;
        let istd = inv_std(&stats[1], self.eps);
        // y = acc + a * x + b per channel.
        let a: Vec<f32> = (0..c).map(|ch| w[0] * istd[ch]).collect();
        let b: Vec<f32> = (0..c).map(|ch| -stats[0][ch] * a[ch]).collect();
        let hw = h * wd;
        let mut out = output_vec(xs.len()); // every plane written below
        for_each_plane(&mut out, hw, 0, xs.len() * 3, |pl, o, _| {
            let (a, b) = (a[pl % c], b[pl % c]);
            let x = &xs[pl * hw..(pl + 1) * hw];
            match acc {
                Some(acc) => {
                    for ((y, &v), &s) in o.iter_mut().zip(x).zip(&acc[pl * hw..(pl + 1) * hw]) {
                        *y = s + (a * v + b);
                    }
                }
                None => {
                    for (y, &v) in o.iter_mut().zip(x) {
                        *y = a * v + b;
                    }
                }
            }
        });
        Ok(CpuStorage::F32(out))
    }

    /// The gradients of `x` and `w` for the output's gradient `grad`.
    fn grads(&self, x: &Tensor, w: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        let reduce = BnBwdReduce { stats: self.stats.clone(), eps: self.eps };
        // (2, C): sum(g * x_hat), sum(g).
        let sums = x.apply_op2_no_bwd(&grad, &reduce)?;
        let gx = if x.track_op() {
            let c = sums.dim(1)?;
            let gamma = w.reshape((1, 1))?.broadcast_as((1, c))?.contiguous()?;
            let coef = Tensor::cat(&[&gamma, &sums], 0)?;
            let op = BnBwdInput { stats: self.stats.clone(), eps: self.eps };
            Some(x.apply_op3_no_bwd(&grad, &coef, &op)?)
        } else {
            None
        };
        let gw = w.track_op().then(|| sums.get(0)?.sum_all()?.reshape(w.shape())).transpose()?;
        Ok((gx, gw))
    }
}

impl CustomOp2 for BnAxpy {
    fn name(&self) -> &'static str {
        "bn_scale"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        Ok((self.run((s1, l1), (s2, l2), None)?, l1.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, w: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        self.grads(x, w, grad)
    }
}

impl CustomOp3 for BnAxpy {
    fn name(&self) -> &'static str {
        "bn_axpy"
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
        if l1.dims() != l2.dims() {
            bail!("bn_axpy: the sum {:?} and x {:?} differ in shape", l1.dims(), l2.dims());
        }
        let acc = f32_slice(s1, l1, "bn_axpy")?;
        Ok((self.run((s2, l2), (s3, l3), Some(acc))?, l2.shape().clone()))
    }

    fn bwd(
        &self,
        acc: &Tensor,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (gx, gw) = self.grads(x, w, grad)?;
        Ok((acc.track_op().then(|| grad.clone()), gx, gw))
    }
}
