//! Zero-cost proxies: shared passes give what each proxy alone gives, scores depend only on the
//! seed and the architecture, degenerate cells give the papers' values, and the linear algebra
//! matches hand-computed cases. (The values themselves are checked against an independent PyTorch
//! implementation by `scripts/proxies-vs-pytorch.py`.)
use candle_core::{Device, Tensor};
use enas_child::proxy::{score, score_all, ProxyBatch, ProxyContext, ProxyKind, ALL_PROXIES};
use enas_shared::space::nb201::NB201_OPS;
use enas_shared::OpKind;

fn cell(values: [usize; 6]) -> Vec<OpKind> {
    values.iter().map(|&v| NB201_OPS[v]).collect()
}

/// A deterministic minibatch of 8 images.
fn ctx(seed: u64) -> ProxyContext {
    let n = 8;
    let pixels: Vec<f32> = (0..n * 3 * 32 * 32).map(|i| ((i as f32) * 0.37 + 0.1).sin()).collect();
    let images = Tensor::from_vec(pixels, (n, 3, 32, 32), &Device::Cpu).unwrap();
    let labels = Tensor::from_vec((0..n as u32).map(|i| i % 10).collect::<Vec<_>>(), n, &Device::Cpu).unwrap();
    ProxyContext::cifar10(seed, Some(ProxyBatch { images, labels }))
}

#[test]
fn one_shared_pass_gives_each_proxys_own_score() {
    let ctx = ctx(3);
    let c = cell([3, 2, 4, 1, 3, 2]);
    let together = score_all(&ALL_PROXIES, &c, &ctx).unwrap();
    for (p, t) in ALL_PROXIES.iter().zip(&together) {
        let alone = score(*p, &c, &ctx).unwrap();
        assert_eq!(alone.to_bits(), t.to_bits(), "{p}: alone {alone}, together {t}");
        assert!(t.is_finite(), "{p}: {t}");
    }
}

#[test]
fn scores_depend_on_the_seed_and_the_cell_only() {
    let c = cell([2, 3, 1, 4, 0, 3]);
    let a = score_all(&[ProxyKind::Synflow, ProxyKind::Snip], &c, &ctx(5)).unwrap();
    // Scoring another cell first changes nothing.
    score(ProxyKind::Synflow, &cell([1, 1, 1, 1, 1, 1]), &ctx(5)).unwrap();
    let b = score_all(&[ProxyKind::Synflow, ProxyKind::Snip], &c, &ctx(5)).unwrap();
    assert_eq!(a, b);
    let other_seed = score(ProxyKind::Synflow, &c, &ctx(6)).unwrap();
    assert_ne!(a[0], other_seed);
}

#[test]
fn a_cell_with_a_dead_output_has_zero_synflow_and_undefined_jacob_cov() {
    // Node 3 has only `none` inputs: the cells output zeros, nothing reaches the images.
    let c = cell([3, 3, 3, 0, 0, 0]);
    let ctx = ctx(1);
    assert_eq!(score(ProxyKind::Synflow, &c, &ctx).unwrap(), 0.0);
    assert!(score(ProxyKind::JacobCov, &c, &ctx).unwrap().is_nan());
    // The features are zero, so no weight of a convolution or of the classifier gets a gradient
    // (the benchmark's `none`, a multiplication by 0, passes zero gradients the same way).
    assert_eq!(score(ProxyKind::GradNorm, &c, &ctx).unwrap(), 0.0);
    assert_eq!(score(ProxyKind::Snip, &c, &ctx).unwrap(), 0.0);
    // The cells' live convolutions still have ReLUs that tell images apart.
    let naswot = score(ProxyKind::Naswot, &c, &ctx).unwrap();
    assert!(naswot.is_finite() && naswot > 0.0, "{naswot}");
}

#[test]
fn synflow_grows_with_convolutions_on_the_path() {
    // Absolute weights and inputs make every path's product positive; more conv edges in series
    // multiply more of them. A skip-only cell versus the same cell with conv3x3 edges.
    let ctx = ctx(2);
    let skip = score(ProxyKind::Synflow, &cell([1, 1, 1, 1, 1, 1]), &ctx).unwrap();
    let conv = score(ProxyKind::Synflow, &cell([3, 3, 3, 3, 3, 3]), &ctx).unwrap();
    assert!(conv > skip * 1e6, "conv {conv:e}, skip {skip:e}");
}

#[test]
fn params_and_flops_are_the_closed_forms() {
    let ctx = ctx(0);
    let none = cell([0; 6]);
    // Stem 3*16*9 + 32, ResNet blocks 14,464 and 57,600, last BN 128, classifier 650.
    assert_eq!(score(ProxyKind::Params, &none, &ctx).unwrap(), 73_306.0);
    let one = cell([3, 0, 0, 0, 0, 0]);
    let per_conv = 5.0 * 9.0 * (16.0 * 16.0 * 1024.0 + 32.0 * 32.0 * 256.0 + 64.0 * 64.0 * 64.0);
    let d = score(ProxyKind::Flops, &one, &ctx).unwrap() - score(ProxyKind::Flops, &none, &ctx).unwrap();
    assert_eq!(d, per_conv);
}
