//! The vendored candle computes a stride-1 convolution's input gradient as a convolution with the
//! flipped kernel (vendor/candle-core/PATCH.md). It must equal candle's transposed convolution,
//! the upstream path, for every kernel size and padding, on non-square inputs.
use candle_core::{DType, Device, Tensor, Var};

#[test]
fn flipped_kernel_input_gradient_equals_the_transposed_convolution() {
    let dev = Device::Cpu;
    for k in [1usize, 3, 5] {
        for p in 0..k {
            let x = Var::from_tensor(&Tensor::randn(0f64, 1.0, (2, 3, 7, 9), &dev).unwrap()).unwrap();
            let w = Tensor::randn(0f64, 1.0, (4, 3, k, k), &dev).unwrap();
            let y = x.as_tensor().conv2d(&w, p, 1, 1, 1).unwrap();
            let r = Tensor::randn(0f64, 1.0, y.dims(), &dev).unwrap();
            let grads = (&y * &r).unwrap().sum_all().unwrap().backward().unwrap();
            let got = grads.get(x.as_tensor()).unwrap();
            let want = r.conv_transpose2d(&w, p, 0, 1, 1).unwrap();
            assert_eq!(got.dims(), want.dims(), "k {k} p {p}");
            let diff = (got - &want).unwrap().abs().unwrap().max_all().unwrap().to_dtype(DType::F64).unwrap();
            let diff = diff.to_scalar::<f64>().unwrap();
            assert!(diff < 1e-10, "k {k} p {p}: max difference {diff}");
        }
    }
}
