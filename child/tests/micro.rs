//! The ENAS micro child against the PyTorch reference (`../shared/bench/torch_enas_micro.py`).
//! Expected counts were printed by the reference, e.g.
//!   python torch_enas_micro.py --steps 1 --arc "0 2 0 0 0 4 ..."  ->  "active_params": 529300,
//!   "supernet_params": 5373140
//! and are the table of the foundation issue.
use candle_core::{Device, Result, Tensor};
use enas_child::{
    clip_grad_norm, cross_entropy, path_cost, BnMode, InitRoot, MicroNet, MicroShape, SgdNesterov, Weights,
};
use enas_shared::EnasMicro;

const ROWS: [(usize, usize, usize, usize, &str, usize, usize); 3] = [
    (
        3,
        6,
        20,
        5,
        "0 2 0 0 0 4 0 1 0 4 1 1 1 0 0 1 0 2 1 1 1 0 1 0 0 3 0 2 1 1 3 1 1 0 0 4 0 3 1 1",
        529_300,
        5_373_140,
    ),
    (
        3,
        6,
        20,
        5,
        "1 1 1 0 0 4 0 2 0 4 1 0 0 3 3 0 1 0 4 3 0 4 0 1 2 4 0 4 3 0 1 0 4 1 2 3 1 4 0 4",
        371_940,
        5_373_140,
    ),
    (1, 3, 16, 4, "1 3 1 0 0 3 1 4 2 1 3 4 2 3 2 3 0 1 0 1 0 1 2 1 0 3 1 2 2 0 1 3", 138_864, 1_689_840),
];

fn build(shape: MicroShape, weights: &Weights, seed: u64) -> Result<(MicroNet, enas_child::ParamStore)> {
    let root = InitRoot::new(seed, &Device::Cpu);
    let net = MicroNet::new(shape, weights, root.init())?;
    Ok((net, root.finish()))
}

#[test]
fn parameter_counts_equal_the_pytorch_reference() -> Result<()> {
    for (in_ch, layers, c, nodes, arc, active, whole) in ROWS {
        let shape = MicroShape { in_channels: in_ch, classes: 10, layers, channels: c, nodes };
        let arch = EnasMicro::new(nodes).parse(arc).unwrap();
        let (net, store) = build(shape, &Weights::Shared, 0)?;
        assert_eq!(store.num_params(), whole, "supernet of {arc}");
        assert_eq!(path_cost(&net, &arch, 32, 32).0, active, "sampled path of {arc}");
        // A fixed network owns exactly the sampled path's weights: two independent counts agree.
        let (_, fixed) = build(shape, &Weights::Fixed(arch), 0)?;
        assert_eq!(fixed.num_params(), active, "fixed network of {arc}");
    }
    Ok(())
}

#[test]
fn forward_gives_logits_and_odd_sizes_work() -> Result<()> {
    let (_, layers, c, nodes, arc, _, _) = ROWS[2];
    let shape = MicroShape { in_channels: 1, classes: 10, layers, channels: c, nodes };
    let arch = EnasMicro::new(nodes).parse(arc).unwrap();
    let (net, _) = build(shape, &Weights::Shared, 0)?;
    // 28x28 (MNIST) reduces to 14 then 7: factorized reduction pads odd sizes.
    let x = Tensor::randn(0f32, 1.0, (2, 1, 28, 28), &Device::Cpu)?;
    assert_eq!(net.forward(&x, &arch, BnMode::Train)?.dims(), &[2, 10]);
    assert_eq!(net.forward(&x, &arch, BnMode::Eval)?.dims(), &[2, 10]);
    Ok(())
}

#[test]
fn same_seed_same_weights_other_seed_other_weights() -> Result<()> {
    let shape = MicroShape { in_channels: 3, classes: 10, layers: 1, channels: 4, nodes: 2 };
    let flat = |s: &enas_child::ParamStore| -> Result<Vec<f32>> {
        let mut v = Vec::new();
        for t in &s.vars {
            v.extend(t.flatten_all()?.to_vec1::<f32>()?);
        }
        Ok(v)
    };
    let a = flat(&build(shape, &Weights::Shared, 7)?.1)?;
    let b = flat(&build(shape, &Weights::Shared, 7)?.1)?;
    let c = flat(&build(shape, &Weights::Shared, 8)?.1)?;
    assert_eq!(a, b);
    assert_ne!(a, c);
    Ok(())
}

/// A fixed network memorises a small batch: the loss must fall well below chance (ln 10 = 2.30).
#[test]
fn training_steps_reduce_the_loss() -> Result<()> {
    let shape = MicroShape { in_channels: 3, classes: 4, layers: 1, channels: 8, nodes: 2 };
    let arch = EnasMicro::new(2).parse("0 0 1 4 2 3 1 1 1 2 0 0 0 1 2 4").unwrap();
    let (net, store) = build(shape, &Weights::Fixed(arch.clone()), 1)?;
    let x = Tensor::randn(0f32, 1.0, (16, 3, 8, 8), &Device::Cpu)?;
    let y = Tensor::from_vec((0..16u32).map(|i| i % 4).collect::<Vec<_>>(), 16, &Device::Cpu)?;
    let mut opt = SgdNesterov::new(store.vars.clone(), 0.9, 0.0);
    let mut first = None;
    let mut last = 0.0;
    for _ in 0..60 {
        let loss = cross_entropy(&net.forward(&x, &arch, BnMode::Train)?, &y)?;
        let mut grads = loss.backward()?;
        clip_grad_norm(&store.vars, &mut grads, 5.0)?;
        opt.step(&grads, 0.05)?;
        last = loss.to_scalar::<f32>()?;
        first.get_or_insert(last);
    }
    assert!(last < 0.3 && last < first.unwrap() / 4.0, "loss {first:?} -> {last}");
    Ok(())
}

#[test]
fn supernet_step_leaves_weights_off_the_path_untouched() -> Result<()> {
    let shape = MicroShape { in_channels: 3, classes: 10, layers: 1, channels: 4, nodes: 2 };
    let arch = EnasMicro::new(2).parse("0 0 1 4 2 3 1 1 1 2 0 0 0 1 2 4").unwrap();
    let (net, store) = build(shape, &Weights::Shared, 3)?;
    let before: Vec<Tensor> = store.vars.iter().map(|v| v.as_tensor().copy()).collect::<Result<_>>()?;
    let x = Tensor::randn(0f32, 1.0, (4, 3, 8, 8), &Device::Cpu)?;
    let y = Tensor::from_vec(vec![0u32, 1, 2, 3], 4, &Device::Cpu)?;
    let loss = cross_entropy(&net.forward(&x, &arch, BnMode::Train)?, &y)?;
    SgdNesterov::new(store.vars.clone(), 0.9, 1e-4).step(&loss.backward()?, 0.1)?;
    let changed: Vec<&String> = store
        .names
        .iter()
        .zip(store.vars.iter().zip(&before))
        .filter(|(_, (v, b))| {
            (v.as_tensor() - *b).unwrap().abs().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap() > 0.0
        })
        .map(|(n, _)| n)
        .collect();
    // With one layer, cells 0 and 1 are reduction cells and cell 2 is the normal cell. Its node 0
    // runs sep_conv_3x3 on input 0 (x branch) and identity on input 1 (y branch).
    assert!(changed.iter().any(|n| n.starts_with("cell2.node0.x.sep3.0.")), "{changed:?}");
    assert!(!changed.iter().any(|n| n.starts_with("cell2.node0.x.sep5")), "{changed:?}");
    assert!(!changed.iter().any(|n| n.starts_with("cell2.node0.y.")), "{changed:?}");
    assert!(!changed.iter().any(|n| n.starts_with("cell2.node0.x.sep3.1.")), "{changed:?}");
    Ok(())
}

/// Scoring and evaluation build no autograd graph: their logits are not tracked.
#[test]
fn evaluation_modes_build_no_graph() -> Result<()> {
    let shape = MicroShape { in_channels: 3, classes: 10, layers: 1, channels: 4, nodes: 2 };
    let arch = EnasMicro::new(2).parse("0 0 1 4 2 3 1 1 1 2 0 0 0 1 2 4").unwrap();
    let (net, _) = build(shape, &Weights::Shared, 3)?;
    let x = Tensor::randn(0f32, 1.0, (2, 3, 8, 8), &Device::Cpu)?;
    assert!(net.forward(&x, &arch, BnMode::Train)?.track_op());
    assert!(!net.forward(&x, &arch, BnMode::BatchStats)?.track_op());
    assert!(!net.forward(&x, &arch, BnMode::Eval)?.track_op());
    Ok(())
}
