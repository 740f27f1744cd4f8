//! PC-DARTS's partial channel connections (Xu et al., ICLR 2020): an edge's ops see the first
//! `C / K` channels of its input, the other channels pass by (max-pooled 2x2 at stride 2), and
//! the edge's output is the two parts concatenated and shuffled in `K` groups
//! (`channel_shuffle(cat([ops(x[:C/K]), bypass(x[C/K:])]), K)`, PC-DARTS's `MixedOp`). Shuffling
//! is linear and per channel, so a node sums its edges' op parts and bypass parts first and
//! shuffles once.
use candle_core::{Result, Tensor};

/// The channels an edge's ops see: `c / k`, an error unless `k` divides `c`.
pub fn op_channels(c: usize, k: usize) -> Result<usize> {
    if k == 0 || !c.is_multiple_of(k) {
        candle_core::bail!("darts.partial_channels {k} must divide the cell's channels {c} (PC-DARTS: 4)");
    }
    Ok(c / k)
}

/// The op part and the bypass part of an edge's input `(N, C, H, W)`.
pub fn split(x: &Tensor, k: usize) -> Result<(Tensor, Tensor)> {
    let c = x.dim(1)?;
    let q = op_channels(c, k)?;
    Ok((x.narrow(1, 0, q)?, x.narrow(1, q, c - q)?))
}

/// The bypass part as the edge passes it on: unchanged at stride 1, max-pooled 2x2 at stride 2
/// (PC-DARTS's `nn.MaxPool2d(2, 2)`; the map's sides must be even, as the ops' outputs are
/// rounded up).
pub fn bypass(x: &Tensor, stride: usize) -> Result<Tensor> {
    match stride {
        1 => Ok(x.clone()),
        2 => {
            let (_, _, h, w) = x.dims4()?;
            if h % 2 == 1 || w % 2 == 1 {
                candle_core::bail!("partial channels at a reduction need even map sides, got {h}x{w}");
            }
            // The maximum of each 2x2 block gathered at its first arg-max (row-major, as
            // PyTorch's max pooling picks it), so that the gradient reaches one element of the
            // block, as in PyTorch. Not candle's `max_pool2d`, whose backward scales the
            // gradient by 1/4, nor a `max` reduction, whose backward hands the whole gradient to
            // every tied maximum: ties are common where a ReLU zeroed every channel of a pixel
            // before a 1x1 conv and BN (the PyTorch check caught both).
            let (n, c, _, _) = x.dims4()?;
            let (h2, w2) = (h / 2, w / 2);
            let blocks = x.reshape((n, c, h2, 2, w2, 2))?.permute([0, 1, 2, 4, 3, 5])?.reshape((n, c, h2, w2, 4))?;
            let at = blocks.argmax_keepdim(4)?;
            blocks.gather(&at, 4)?.squeeze(4)
        }
        s => candle_core::bail!("partial channels at stride {s}: only 1 and 2"),
    }
}

/// `channel_shuffle(cat([ops, rest], 1), k)`: channel `g * C/K + j` of the concatenation goes
/// to `j * K + g`.
pub fn join(ops: &Tensor, rest: &Tensor, k: usize) -> Result<Tensor> {
    let x = Tensor::cat(&[ops, rest], 1)?;
    let (n, c, h, w) = x.dims4()?;
    x.reshape((n, k, c / k, h, w))?.transpose(1, 2)?.contiguous()?.reshape((n, c, h, w))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// PC-DARTS's `channel_shuffle` (view (N, K, C/K, H, W), transpose 1-2, flatten) written out
    /// by hand for C = 6, K = 3: concatenated channels [a0 a1 | b0 b1 | b2 b3] come out as
    /// [a0 b0 b2 a1 b1 b3].
    #[test]
    fn join_shuffles_as_pc_darts() {
        let d = &Device::Cpu;
        let ops = Tensor::new(&[10f32, 11.], d).unwrap().reshape((1, 2, 1, 1)).unwrap();
        let rest = Tensor::new(&[20f32, 21., 22., 23.], d).unwrap().reshape((1, 4, 1, 1)).unwrap();
        let y = join(&ops, &rest, 3).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(y, [10., 20., 22., 11., 21., 23.]);
    }

    #[test]
    fn split_and_bypass() {
        let d = &Device::Cpu;
        let x = Tensor::arange(0f32, 32., d).unwrap().reshape((1, 2, 4, 4)).unwrap();
        let (a, b) = split(&x, 2).unwrap();
        assert_eq!((a.dims(), b.dims()), ([1, 1, 4, 4].as_slice(), [1, 1, 4, 4].as_slice()));
        // 2x2 maxima of the second channel (16..32 row-major): the bottom-right of each block.
        let p = bypass(&b, 2).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(p, [21., 23., 29., 31.]);
        assert!(op_channels(6, 4).is_err());
    }
}

#[cfg(test)]
mod grad_tests {
    use super::*;
    use candle_core::{Device, Var};

    /// The gradient of Σ c ⊙ join(a, b) is c un-shuffled: channel j*K + g of c goes back to
    /// channel g*C/K + j of cat(a, b); and through split and 2x2 bypass likewise.
    #[test]
    fn join_and_split_pass_gradients_back_unshuffled() {
        let d = &Device::Cpu;
        let x =
            Var::from_tensor(&Tensor::arange(0f32, 2. * 6. * 4., d).unwrap().reshape((2, 6, 2, 2)).unwrap()).unwrap();
        let (a, b) = split(x.as_tensor(), 3).unwrap();
        let b = bypass(&b, 2).unwrap();
        let a = bypass(&a, 2).unwrap();
        let y = join(&a, &b, 3).unwrap();
        let c = Tensor::arange(1f32, 13., d).unwrap().reshape((2, 6, 1, 1)).unwrap();
        let g = (y * &c).unwrap().sum_all().unwrap().backward().unwrap();
        let g = g.get(x.as_tensor()).unwrap();
        // Each 2x2 block's max is its last pixel (arange): only it gets gradient.
        let got: Vec<f32> =
            g.narrow(2, 1, 1).unwrap().narrow(3, 1, 1).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        let cv: Vec<f32> = c.flatten_all().unwrap().to_vec1().unwrap();
        let mut want = vec![0f32; 12];
        for n in 0..2 {
            for ch in 0..6 {
                let (g_, j) = (ch / 2, ch % 2);
                want[n * 6 + ch] = cv[n * 6 + j * 3 + g_];
            }
        }
        assert_eq!(got, want);
        let total: f32 = g.sum_all().unwrap().to_scalar().unwrap();
        assert_eq!(total, want.iter().sum::<f32>());
    }

    /// A 2x2 block of equal values (as after a ReLU zeroed a pixel's every channel, then a 1x1
    /// conv and BN) passes its gradient to its first element only, as PyTorch's
    /// `MaxPool2d(2, 2)` does (`torch.nn.functional.max_pool2d(torch.zeros(1,1,2,2,
    /// requires_grad=True), 2).sum().backward()` leaves grad `[[1, 0], [0, 0]]`); a `max`
    /// reduction would hand 1 to all four.
    #[test]
    fn bypass_ties_send_the_gradient_to_one_element() {
        let d = &Device::Cpu;
        let x = Var::from_tensor(
            &Tensor::new(&[[5f32, 5., 1., 2.], [5., 5., 3., 3.]], d).unwrap().reshape((1, 1, 2, 4)).unwrap(),
        )
        .unwrap();
        let y = bypass(x.as_tensor(), 2).unwrap();
        assert_eq!(y.flatten_all().unwrap().to_vec1::<f32>().unwrap(), [5., 3.]);
        let g = y.sum_all().unwrap().backward().unwrap();
        let g: Vec<f32> = g.get(x.as_tensor()).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(g, [1., 0., 0., 0., 0., 0., 1., 0.]);
    }
}
