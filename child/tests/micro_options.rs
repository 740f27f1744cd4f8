//! ENAS's two search-child options on the micro network: dropout before the classifier
//! (`child.keep_prob`) and the auxiliary head (`child.aux_weight`), and their config keys.
//! Both are off by default, and then nothing changes: not the logits, not the weights.
use candle_core::{Device, Result, Tensor};
use enas_child::{
    cross_entropy, path_cost, BnMode, Dropout, Forward, InitRoot, MicroNet, MicroShape, ParamStore, Weights,
};
use enas_shared::{Arch, ChildConfig, Config, EnasMicro};

const ARC2: &str = "0 0 1 4 2 3 1 1 1 2 0 0 0 1 2 4";
/// The published arc of `tests/micro.rs` (5 nodes).
const ARC5: &str = "0 2 0 0 0 4 0 1 0 4 1 1 1 0 0 1 0 2 1 1 1 0 1 0 0 3 0 2 1 1 3 1 1 0 0 4 0 3 1 1";

fn build(shape: MicroShape, aux_image: Option<(usize, usize)>, seed: u64) -> Result<(MicroNet, ParamStore)> {
    let root = InitRoot::new(seed, &Device::Cpu);
    let net = MicroNet::new_with_aux(shape, &Weights::Shared, aux_image, root.init())?;
    Ok((net, root.finish()))
}

fn small() -> (MicroShape, Arch) {
    let shape = MicroShape { in_channels: 3, classes: 10, layers: 1, channels: 4, nodes: 2 };
    (shape, EnasMicro::new(2).parse(ARC2).unwrap())
}

fn images(n: usize, side: usize, seed: u64) -> Result<Tensor> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let v: Vec<f32> = (0..n * 3 * side * side).map(|_| rng.random_range(-1.0..1.0)).collect();
    Tensor::from_vec(v, (n, 3, side, side), &Device::Cpu)
}

fn bits(t: &Tensor) -> Result<Vec<u32>> {
    Ok(t.flatten_all()?.to_vec1::<f32>()?.into_iter().map(f32::to_bits).collect())
}

fn values(t: &Tensor) -> Result<Vec<f32>> {
    t.flatten_all()?.to_vec1::<f32>()
}

#[test]
fn default_options_give_the_plain_forward_bit_for_bit() -> Result<()> {
    let (shape, arch) = small();
    let x = images(4, 8, 1)?;
    // Two identical networks, so that Train mode's running-statistics updates in one pass cannot
    // leak into the other.
    let (a, _) = build(shape, None, 5)?;
    let (b, _) = build(shape, None, 5)?;
    let keep1 = Forward { dropout: Some(Dropout { keep: 1.0, seed: 9 }), aux: false };
    assert_eq!(Forward::of_child(&ChildConfig::default(), 9), Forward::default());
    for mode in [BnMode::Train, BnMode::BatchStats, BnMode::Eval] {
        let plain = a.forward(&x, &arch, mode)?;
        let (opts, aux) = b.forward_opts(&x, &arch, mode, &Forward::default())?;
        assert!(aux.is_none());
        assert_eq!(bits(&plain)?, bits(&opts)?, "{mode:?}");
        let (one, _) = b.forward_opts(&x, &arch, mode, &keep1)?;
        assert_eq!(bits(&a.forward(&x, &arch, mode)?)?, bits(&one)?, "keep 1.0, {mode:?}");
    }
    // A network built with the aux head has the same trunk: the same logits, bit for bit.
    let (c, _) = build(shape, Some((8, 8)), 5)?;
    let (with_aux, aux) = c.forward_opts(&x, &arch, BnMode::BatchStats, &Forward { dropout: None, aux: true })?;
    assert!(aux.is_some());
    assert_eq!(bits(&a.forward(&x, &arch, BnMode::BatchStats)?)?, bits(&with_aux)?);
    Ok(())
}

#[test]
fn dropout_is_seeded_and_changes_the_logits() -> Result<()> {
    let (shape, arch) = small();
    let (net, _) = build(shape, None, 2)?;
    let x = images(4, 8, 3)?;
    let run = |seed: u64| -> Result<Vec<f32>> {
        let opts = Forward { dropout: Some(Dropout { keep: 0.9, seed }), aux: false };
        values(&net.forward_opts(&x, &arch, BnMode::BatchStats, &opts)?.0)
    };
    let plain = values(&net.forward(&x, &arch, BnMode::BatchStats)?)?;
    assert_eq!(run(11)?, run(11)?, "same seed, same logits");
    assert_ne!(run(11)?, run(12)?, "another seed, another mask");
    assert_ne!(run(11)?, plain, "dropout changes the logits");
    // In Train mode too (the shared-weight step), and it builds the autograd graph.
    let opts = Forward { dropout: Some(Dropout { keep: 0.9, seed: 11 }), aux: false };
    let (a, b) = build(shape, None, 2).and_then(|(a, _)| Ok((a, build(shape, None, 2)?.0)))?;
    let la = a.forward_opts(&x, &arch, BnMode::Train, &opts)?.0;
    let lb = b.forward_opts(&x, &arch, BnMode::Train, &opts)?.0;
    assert!(la.track_op());
    assert_eq!(bits(&la)?, bits(&lb)?);
    Ok(())
}

#[test]
fn dropout_mask_keeps_about_keep_and_scales_by_its_inverse() -> Result<()> {
    let n = 200_000;
    let d = Dropout { keep: 0.9, seed: 7 };
    let m = d.mask_values(n)?;
    let kept = m.iter().filter(|&&v| v != 0.0).count() as f64 / n as f64;
    // Binomial standard deviation sqrt(0.9 * 0.1 / n) = 0.00067; 5 sigma.
    assert!((kept - 0.9).abs() < 0.0034, "kept fraction {kept}");
    assert!(m.iter().all(|&v| v == 0.0 || v == (1.0 / 0.9) as f32), "mask values");
    let mean = m.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
    assert!((mean - 1.0).abs() < 0.004, "E[mask] = {mean}, inverted dropout keeps it at 1");
    assert!((Dropout { keep: 0.0, seed: 0 }).mask_values(4).is_err());
    assert!((Dropout { keep: 1.5, seed: 0 }).mask_values(4).is_err());

    // apply: x * mask elementwise, in row-major order.
    let x = Tensor::arange(1f32, 13.0, &Device::Cpu)?.reshape((3, 4))?;
    let y = values(&d.apply(&x)?)?;
    let m12 = d.mask_values(12)?;
    let expect: Vec<f32> = (1..=12).zip(&m12).map(|(v, m)| v as f32 * m).collect();
    assert_eq!(y, expect);

    // The expectation over masks is the plain pass: logits are linear in the pooled features.
    let (shape, arch) = small();
    let (net, _) = build(shape, None, 4)?;
    let x = images(2, 8, 5)?;
    let plain = values(&net.forward(&x, &arch, BnMode::BatchStats)?)?;
    let seeds = 400;
    let mut mean = vec![0f64; plain.len()];
    for s in 0..seeds {
        let opts = Forward { dropout: Some(Dropout { keep: 0.9, seed: s }), aux: false };
        for (m, v) in mean.iter_mut().zip(values(&net.forward_opts(&x, &arch, BnMode::BatchStats, &opts)?.0)?) {
            *m += v as f64 / seeds as f64;
        }
    }
    let scale = plain.iter().map(|v| v.abs()).fold(0f32, f32::max) as f64;
    for (m, p) in mean.iter().zip(&plain) {
        assert!((m - *p as f64).abs() < 0.05 * scale, "mean over masks {m} vs plain {p} (scale {scale})");
    }
    // Without the 1/keep scaling the mean would sit at 0.9 x plain: the check can tell.
    assert!(mean.iter().zip(&plain).any(|(m, p)| (m - 0.9 * *p as f64).abs() > 0.01 * scale));
    Ok(())
}

/// The head's parameters, from ENAS's layer sizes (melodyguan/enas `micro_child.py`, aux head):
/// 1x1 conv c_in -> 128, BN(128) (scale and offset), conv k x k 128 -> 768 with k the map left
/// after the 5x5/3 pooling, BN(768), linear 768 -> classes without bias.
fn enas_aux_params(c_in: usize, k: usize, classes: usize) -> usize {
    c_in * 128 + 2 * 128 + 128 * 768 * k * k + 2 * 768 + 768 * classes
}

#[test]
fn aux_head_parameter_count_matches_enas_layer_sizes() -> Result<()> {
    // ENAS's CIFAR-10 search child: 6 layers, 20 channels, 5 nodes, 32x32 images. The head reads
    // the cell after the second reduction: 4 x 20 = 80 channels at 8x8; (8 - 5) / 3 + 1 = 2.
    let shape = MicroShape { in_channels: 3, classes: 10, layers: 6, channels: 20, nodes: 5 };
    let head = 80 * 128 + 2 * 128 + 128 * 768 * 2 * 2 + 2 * 768 + 768 * 10;
    assert_eq!(head, 412_928);
    assert_eq!(enas_aux_params(80, 2, 10), head);
    let arch = EnasMicro::new(5).parse(ARC5).unwrap();
    let (plain, plain_store) = build(shape, None, 0)?;
    let (net, store) = build(shape, Some((32, 32)), 0)?;
    assert_eq!(plain_store.num_params(), 5_373_140, "no head: the reference supernet");
    assert!(plain.aux_head().is_none());
    assert_eq!(net.aux_head().map(|h| h.num_params()), Some(head));
    assert_eq!(net.aux_head().map(|h| h.in_hw()), Some((8, 8)));
    assert_eq!(store.num_params(), 5_373_140 + head, "the head counts in the supernet total");
    assert_eq!(path_cost(&net, &arch, 32, 32), path_cost(&plain, &arch, 32, 32), "not in a path's cost");
    assert_eq!(path_cost(&net, &arch, 32, 32).0, 529_300);
    let dims = |name: &str| {
        let i = store.names.iter().position(|n| n == name).unwrap_or_else(|| panic!("{name}"));
        store.vars[i].dims().to_vec()
    };
    assert_eq!(dims("aux_head.proj.conv"), [128, 80]);
    assert_eq!(dims("aux_head.conv.conv"), [768, 128, 2, 2]);
    assert_eq!(dims("aux_head.fc"), [10, 768]);

    // MNIST-sized: 28 -> 14 -> 7, (7 - 5) / 3 + 1 = 1, so the second conv is 1x1; 3 layers of 16.
    let shape = MicroShape { in_channels: 1, classes: 10, layers: 3, channels: 16, nodes: 4 };
    let (net, _) = build(shape, Some((28, 28)), 0)?;
    assert_eq!(net.aux_head().map(|h| h.num_params()), Some(enas_aux_params(64, 1, 10)));
    assert_eq!(enas_aux_params(64, 1, 10), 115_968);
    Ok(())
}

#[test]
fn aux_logits_have_the_class_shape_for_any_image_size() -> Result<()> {
    for (side, in_ch, classes) in [(32, 3, 10), (28, 1, 7), (8, 3, 10), (13, 3, 3)] {
        let shape = MicroShape { in_channels: in_ch, classes, layers: 1, channels: 4, nodes: 2 };
        let arch = EnasMicro::new(2).parse(ARC2).unwrap();
        let (net, _) = build(shape, Some((side, side)), 0)?;
        let x = Tensor::randn(0f32, 1.0, (3, in_ch, side, side), &Device::Cpu)?;
        for mode in [BnMode::Train, BnMode::BatchStats, BnMode::Eval] {
            let (logits, aux) = net.forward_opts(&x, &arch, mode, &Forward { dropout: None, aux: true })?;
            assert_eq!(logits.dims(), &[3, classes], "{side}");
            assert_eq!(aux.expect("aux logits").dims(), &[3, classes], "{side}");
        }
        // Images of another size than the head was built for are refused, not mis-pooled.
        let other = Tensor::randn(0f32, 1.0, (3, in_ch, side + 8, side + 8), &Device::Cpu)?;
        assert!(net.forward_opts(&other, &arch, BnMode::Train, &Forward { dropout: None, aux: true }).is_err());
        // Without `aux`, any size works as before.
        assert!(net.forward(&other, &arch, BnMode::Train).is_ok());
    }
    let (shape, arch) = small();
    let (net, _) = build(shape, None, 0)?;
    let asked = net.forward_opts(&images(2, 8, 0)?, &arch, BnMode::Train, &Forward { dropout: None, aux: true });
    assert!(asked.is_err(), "aux logits from a network without a head");
    Ok(())
}

#[test]
fn aux_loss_trains_the_head_and_the_trunk_below_it() -> Result<()> {
    // 4 layers: reductions at 1 and 3, the head after cell 4, and cell 5 above it.
    let shape = MicroShape { in_channels: 3, classes: 10, layers: 4, channels: 4, nodes: 2 };
    assert_eq!(shape.aux_head_layer(), Some(4));
    let arch = EnasMicro::new(2).parse(ARC2).unwrap();
    let (net, store) = build(shape, Some((16, 16)), 1)?;
    let x = images(4, 16, 2)?;
    let y = Tensor::from_vec(vec![0u32, 1, 2, 3], 4, &Device::Cpu)?;
    let (_, aux) = net.forward_opts(&x, &arch, BnMode::Train, &Forward { dropout: None, aux: true })?;
    let grads = cross_entropy(&aux.expect("aux logits"), &y)?.backward()?;
    let norm = |name: &str| -> f32 {
        let i = store.names.iter().position(|n| n == name).unwrap_or_else(|| panic!("{name}"));
        grads
            .get(store.vars[i].as_tensor())
            .map(|g| g.sqr().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap())
            .unwrap_or(0.0)
    };
    for name in ["aux_head.fc", "aux_head.conv.conv", "aux_head.proj.conv", "aux_head.proj.bn.weight", "stem.conv"] {
        assert!(norm(name) > 0.0, "aux loss reaches {name}");
    }
    assert!(store.names.iter().any(|n| n.starts_with("cell4.") && norm(n) > 0.0), "the head's input cell");
    assert_eq!(norm("classifier"), 0.0, "the main classifier is not on the aux path");
    assert!(store.names.iter().filter(|n| n.starts_with("cell5.")).all(|n| norm(n) == 0.0), "above the head");

    // ENAS's loss, loss + 0.4 x aux loss: one backward reaches the classifier and the head.
    let (logits, aux) = net.forward_opts(&x, &arch, BnMode::Train, &Forward { dropout: None, aux: true })?;
    let loss = (cross_entropy(&logits, &y)? + (cross_entropy(&aux.expect("aux"), &y)? * 0.4)?)?;
    let grads = loss.backward()?;
    for name in ["classifier", "aux_head.fc"] {
        let i = store.names.iter().position(|n| n == name).unwrap();
        assert!(grads.get(store.vars[i].as_tensor()).is_some(), "{name}");
    }
    Ok(())
}

#[test]
fn the_aux_head_leaves_the_other_weights_as_they_were() -> Result<()> {
    let shape = MicroShape { in_channels: 3, classes: 10, layers: 2, channels: 8, nodes: 5 };
    for weights in [Weights::Shared, Weights::Fixed(EnasMicro::new(5).parse(ARC5).unwrap())] {
        let make = |aux: Option<(usize, usize)>| -> Result<ParamStore> {
            let root = InitRoot::new(17, &Device::Cpu);
            MicroNet::new_with_aux(shape, &weights, aux, root.init())?;
            Ok(root.finish())
        };
        let (plain, aux) = (make(None)?, make(Some((32, 32)))?);
        let n = plain.names.len();
        assert!(aux.names.len() > n);
        assert_eq!(aux.names[..n], plain.names[..]);
        assert!(aux.names[n..].iter().all(|s| s.starts_with("aux_head.")), "{:?}", &aux.names[n..]);
        for (i, name) in plain.names.iter().enumerate() {
            assert_eq!(bits(plain.vars[i].as_tensor())?, bits(aux.vars[i].as_tensor())?, "{name}");
        }
        let nb = plain.buffer_names.len();
        assert_eq!(aux.buffer_names[..nb], plain.buffer_names[..]);
        assert!(aux.buffer_names[nb..].iter().all(|s| s.starts_with("aux_head.")));
        // The head's own weights are drawn, not left at a constant.
        let fc = aux.names.iter().position(|s| s == "aux_head.fc").unwrap();
        let v = values(aux.vars[fc].as_tensor())?;
        assert!(v.iter().any(|&w| w != v[0]));
    }
    Ok(())
}

#[test]
fn config_keys_default_off_validate_and_carry_enas_values() {
    let d = ChildConfig::default();
    assert_eq!((d.keep_prob, d.aux_weight, d.cells), (1.0, 0.0, 1));
    let cfg = Config::load(None, &["child.keep_prob=0.9".into(), "child.aux_weight=0.4".into()]).unwrap();
    let f = Forward::of_child(&cfg.child, 3);
    assert_eq!(f, Forward { dropout: Some(Dropout { keep: 0.9, seed: 3 }), aux: true });
    for (set, key, value) in [
        ("child.keep_prob=0", "child.keep_prob", "0"),
        ("child.keep_prob=1.5", "child.keep_prob", "1.5"),
        ("child.keep_prob=-0.2", "child.keep_prob", "-0.2"),
        ("child.aux_weight=-0.4", "child.aux_weight", "-0.4"),
        ("child.aux_weight=.inf", "child.aux_weight", "inf"),
        ("child.aux_weight=.nan", "child.aux_weight", "NaN"),
        ("child.cells=0", "child.cells", "0"),
    ] {
        let err = Config::load(None, &[set.into()]).unwrap_err().to_string();
        assert!(err.contains(key) && err.contains(value), "{set}: {err}");
    }
    for ok in ["child.keep_prob=1.0", "child.aux_weight=0", "child.cells=5"] {
        Config::load(None, &[ok.into()]).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    let configs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
    let default = Config::load(Some(&configs.join("default.yaml")), &[]).unwrap();
    assert_eq!(default.child, ChildConfig::default(), "configs/default.yaml documents the defaults");
    let cifar = Config::load(Some(&configs.join("cifar10-search.yaml")), &[]).unwrap();
    assert_eq!((cifar.child.keep_prob, cifar.child.aux_weight), (0.9, 0.4), "ENAS's values");
}
