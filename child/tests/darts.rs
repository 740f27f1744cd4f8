//! DARTS's networks: the published parameter counts, the ops against candle's own convolution, the
//! mixture against the single path, and regressions for the faults of the NAS overview's DARTS
//! listing (`../shared/reference/nas-overview.txt`).
use candle_core::{DType, Device, Tensor};
use enas_child::darts::ops::relu_dw_pw_dilated;
use enas_child::darts::{darts_cost, DartsForward, DartsNet, DartsPath, DartsShape, DartsSupernet, Holds};
use enas_child::{BnMode, InitRoot};
use enas_shared::space::darts::{Darts, DARTS_OPS};
use enas_shared::{Arch, OpKind};

/// DARTS_V2 from DARTS's `genotypes.py`.
const DARTS_V2: &str = "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])";

fn v2() -> Arch {
    Darts::new(4).parse(DARTS_V2).unwrap()
}

fn cifar(channels: usize, layers: usize) -> DartsShape {
    DartsShape { in_channels: 3, channels, layers, nodes: 4, classes: 10 }
}

fn randn(shape: &[usize], seed: u64) -> Tensor {
    // A fixed pseudo-random input (no global RNG): the device check's LCG mapped to [-1, 1).
    enas_child::device_check::lcg(shape, seed, &Device::Cpu).unwrap()
}

fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap()
}

/// DARTS's search log: "param size = 1.930618MB" at 8 layers, 16 channels (also what
/// `../shared/bench/torch_darts_search.py` prints as its weight count). α are not weights.
#[test]
fn search_network_has_darts_published_weight_count() {
    let root = InitRoot::new(0, &Device::Cpu);
    DartsSupernet::new(cifar(16, 8), root.init()).unwrap();
    assert_eq!(root.finish().num_params(), 1_930_618);
}

/// DARTS's evaluation log for DARTS_V2 at 36 channels, 20 layers: "param size = 3.349342MB",
/// counted without the auxiliary head (DARTS's `count_parameters_in_MB` skips `auxiliary`).
#[test]
fn darts_v2_evaluation_network_has_the_published_parameter_count() {
    let root = InitRoot::new(0, &Device::Cpu);
    let net = DartsNet::new(cifar(36, 20), &v2(), Some((32, 32)), root.init()).unwrap();
    let head = net.head_params();
    assert!(head > 0);
    assert_eq!(root.finish().num_params() - head, 3_349_342);
}

/// Dilated depthwise convolution by pixel grids equals candle's own convolution with dilation
/// and groups (an independent implementation), on even and odd maps, for DARTS's two kernels.
#[test]
fn dilated_depthwise_equals_candles_grouped_dilated_conv() {
    for (k, hw) in [(3, 8), (3, 7), (5, 8), (5, 9)] {
        let c = 3;
        let x = randn(&[2, c, hw, hw], 1);
        let dw = randn(&[c, 1, k, k], 2);
        let pw = randn(&[4, c], 3);
        let ours = relu_dw_pw_dilated(&x, &dw, &pw, 2).unwrap();
        let reference = x.relu().unwrap().conv2d(&dw, 2 * (k / 2), 1, 2, c).unwrap();
        let reference = reference.conv2d(&pw.reshape((4, c, 1, 1)).unwrap(), 0, 1, 1, 1).unwrap();
        assert_eq!(ours.dims(), reference.dims());
        assert!(max_diff(&ours, &reference) < 1e-5, "k {k} hw {hw}: {}", max_diff(&ours, &reference));
    }
}

/// Weights one-hot on the chosen op of each chosen edge and on `none` elsewhere make the mixture
/// the single path, on the same weights (every other op multiplied by 0 adds nothing).
#[test]
fn a_one_hot_mixture_equals_the_single_path() {
    let shape = DartsShape { in_channels: 3, channels: 4, layers: 3, nodes: 4, classes: 10 };
    let root = InitRoot::new(3, &Device::Cpu);
    let net = DartsSupernet::new(shape, root.init()).unwrap();
    // Every DARTS_V2 node reads two different states, so one-hot rows can express it.
    let arch = v2();
    let edges = 14;
    let mut w = vec![0f32; 2 * edges * 8];
    for e in 0..2 * edges {
        w[e * 8] = 1.0; // none
    }
    for (r, cell) in [&arch.normal, &arch.reduce].into_iter().enumerate() {
        for (i, n) in cell.nodes.iter().enumerate() {
            for b in [n.x, n.y] {
                let e = r * edges + Darts::edge_index(i, b.input);
                w[e * 8] = 0.0;
                w[e * 8 + DARTS_OPS.iter().position(|&o| o == b.op).unwrap()] = 1.0;
            }
        }
    }
    let w = Tensor::from_vec(w, (2 * edges, 8), &Device::Cpu).unwrap();
    let x = randn(&[4, 3, 16, 16], 5);
    let mixed = net.forward(&x, &DartsPath::Mixed(&w), BnMode::BatchStats).unwrap();
    let single = net.forward(&x, &DartsPath::Single(&arch), BnMode::BatchStats).unwrap();
    assert!(max_diff(&mixed, &single) < 1e-5, "{}", max_diff(&mixed, &single));
}

/// Listing fault 1: its mixed op leaves `none` out of its op list while the weights keep a column
/// for it, so weight k multiplies op k+1. Here column 0 is `none`: all weight on it zeroes every
/// node, every cell's output, and the pooled features, leaving the classifier's bias.
#[test]
fn the_none_column_is_none() {
    let shape = DartsShape { in_channels: 3, channels: 4, layers: 3, nodes: 2, classes: 10 };
    let root = InitRoot::new(4, &Device::Cpu);
    let net = DartsSupernet::new(shape, root.init()).unwrap();
    let store = root.finish();
    let edges = 5;
    let mut w = vec![0f32; 2 * edges * 8];
    for e in 0..2 * edges {
        w[e * 8] = 1.0;
    }
    let w = Tensor::from_vec(w, (2 * edges, 8), &Device::Cpu).unwrap();
    let logits = net.forward(&randn(&[2, 3, 8, 8], 6), &DartsPath::Mixed(&w), BnMode::BatchStats).unwrap();
    let bias = store.tensors()["classifier.bias"].clone();
    let expected = bias.unsqueeze(0).unwrap().broadcast_as((2, 10)).unwrap();
    assert!(max_diff(&logits, &expected) < 1e-6);
    // And column 1 is max_pool_3x3: one-hot there differs from one-hot on avg_pool_3x3.
    let col = |k: usize| {
        let mut v = vec![0f32; 2 * edges * 8];
        for e in 0..2 * edges {
            v[e * 8 + k] = 1.0;
        }
        Tensor::from_vec(v, (2 * edges, 8), &Device::Cpu).unwrap()
    };
    assert_eq!(DARTS_OPS[1], OpKind::MaxPool3x3);
    let x = randn(&[2, 3, 8, 8], 7);
    let a = net.forward(&x, &DartsPath::Mixed(&col(1)), BnMode::BatchStats).unwrap();
    let b = net.forward(&x, &DartsPath::Mixed(&col(2)), BnMode::BatchStats).unwrap();
    assert!(max_diff(&a, &b) > 1e-4);
}

/// Listing fault 2: its cell concatenates `states[-self.multiplier:]` with a multiplier it never
/// stores. Here a cell outputs all its nodes, for any node count, and the next cell reads them.
#[test]
fn cells_output_every_node_for_any_node_count() {
    for nodes in 1..=4 {
        let shape = DartsShape { in_channels: 1, channels: 2, layers: 4, nodes, classes: 3 };
        let root = InitRoot::new(0, &Device::Cpu);
        let net = DartsSupernet::new(shape, root.init()).unwrap();
        let edges = (0..nodes).map(|i| i + 2).sum::<usize>();
        let w = Tensor::full(1.0f32 / 8.0, (2 * edges, 8), &Device::Cpu).unwrap();
        let logits = net.forward(&randn(&[2, 1, 8, 8], 8), &DartsPath::Mixed(&w), BnMode::Train).unwrap();
        assert_eq!(logits.dims(), [2, 3]);
        let store = root.finish();
        // The classifier reads the last cell's nodes: nodes x 4C channels after two doublings.
        assert_eq!(store.tensors()["classifier.weight"].dims(), [3, nodes * 8]);
    }
}

/// Gradients reach the mixture's weights (α's path) and the shared weights.
#[test]
fn gradients_reach_the_mixture_weights() {
    let shape = DartsShape { in_channels: 3, channels: 4, layers: 3, nodes: 2, classes: 10 };
    let root = InitRoot::new(9, &Device::Cpu);
    let net = DartsSupernet::new(shape, root.init()).unwrap();
    let store = root.finish();
    let alpha = candle_core::Var::from_tensor(&randn(&[10, 8], 10)).unwrap();
    let e = alpha.as_tensor().exp().unwrap();
    let w = e.broadcast_div(&e.sum_keepdim(1).unwrap()).unwrap();
    let logits = net.forward(&randn(&[4, 3, 8, 8], 11), &DartsPath::Mixed(&w), BnMode::Train).unwrap();
    let y = Tensor::from_vec(vec![0u32, 1, 2, 3], 4, &Device::Cpu).unwrap();
    let loss = candle_nn::loss::cross_entropy(&logits, &y).unwrap();
    let grads = loss.backward().unwrap();
    let g = grads.get(alpha.as_tensor()).expect("a gradient for alpha");
    assert!(g.abs().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap() > 0.0);
    let with_grad = store.vars.iter().filter(|v| grads.get(v.as_tensor()).is_some()).count();
    assert_eq!(with_grad, store.vars.len(), "every shared weight is on the mixture's path");
}

/// Drop-path: the same seed gives the same pass, another seed another, probability 0 the plain
/// pass; the auxiliary head gives logits.
#[test]
fn drop_path_is_seeded_and_the_aux_head_answers() {
    let shape = DartsShape { in_channels: 3, channels: 4, layers: 3, nodes: 4, classes: 10 };
    let root = InitRoot::new(1, &Device::Cpu);
    let net = DartsNet::new(shape, &v2(), Some((16, 16)), root.init()).unwrap();
    let x = randn(&[8, 3, 16, 16], 12);
    let run = |p: f64, seed: u64| {
        let opts = DartsForward { drop_path: Some((p, seed)), aux: true };
        net.forward_opts(&x, BnMode::BatchStats, &opts).unwrap()
    };
    let (a, aux) = run(0.3, 1);
    assert_eq!(aux.unwrap().dims(), [8, 10]);
    assert_eq!(max_diff(&a, &run(0.3, 1).0), 0.0);
    assert!(max_diff(&a, &run(0.3, 2).0) > 1e-4);
    let plain = net.forward(&x, BnMode::BatchStats).unwrap();
    assert_eq!(max_diff(&plain, &run(0.0, 1).0), 0.0);
    assert_eq!(plain.dtype(), DType::F32);
}

/// The formula counts equal the built networks' (both published figures, and small odd shapes).
#[test]
fn counted_parameters_equal_the_built_networks() {
    let arch = v2();
    for shape in
        [cifar(16, 8), cifar(36, 20), DartsShape { in_channels: 1, channels: 3, layers: 5, nodes: 4, classes: 7 }]
    {
        let root = InitRoot::new(0, &Device::Cpu);
        DartsSupernet::new(shape, root.init()).unwrap();
        assert_eq!(darts_cost(&shape, Holds::All, true, (32, 32)).0, root.finish().num_params(), "{shape:?}");
        let root = InitRoot::new(0, &Device::Cpu);
        DartsNet::new(shape, &arch, None, root.init()).unwrap();
        assert_eq!(darts_cost(&shape, Holds::Arch(&arch), false, (32, 32)).0, root.finish().num_params(), "{shape:?}");
    }
    // Multiply-adds by hand for the smallest network, one reduction cell (layers 1, C doubled to
    // 4): the stem 8x8 px x 6 out x 1 in x 9 = 3456; preprocess0 and 1 (6 -> 4 channels at 8x8)
    // 2 x 64 x 6 x 4 = 3072; the classifier 16 x 3 = 48. DARTS_V2's reduction cell has max pools
    // (no multiply-adds) and skips that all read node 2 (identities, no factorized reduction).
    let tiny = DartsShape { in_channels: 1, channels: 2, layers: 1, nodes: 4, classes: 3 };
    assert_eq!(darts_cost(&tiny, Holds::Arch(&arch), false, (8, 8)).1, 3456 + 3072 + 48);
}

/// PC-DARTS's partial channels (K = 2) on the DARTS space: a one-hot mixture (bypass column 1 on
/// the edges DARTS_V2 uses, 0 elsewhere) equals the single path, each branch a PC-DARTS edge with
/// its op alone (the reduction cells' bypass max-pooled 2x2); and a separable conv holds the
/// weights of C/2 channels.
#[test]
fn a_one_hot_partial_channel_mixture_equals_the_single_path() {
    let shape = DartsShape { in_channels: 3, channels: 4, layers: 3, nodes: 4, classes: 10 };
    let root = InitRoot::new(3, &Device::Cpu);
    let net = DartsSupernet::with_partial(shape, 2, root.init()).unwrap();
    let store = root.finish();
    let full = InitRoot::new(3, &Device::Cpu);
    DartsSupernet::new(shape, full.init()).unwrap();
    let full = full.finish();
    let pointwise = |s: &enas_child::ParamStore| {
        s.names
            .iter()
            .zip(&s.vars)
            .filter(|(n, _)| n.ends_with("pointwise"))
            .map(|(_, v)| v.elem_count())
            .sum::<usize>()
    };
    assert!(pointwise(&full) > 0);
    assert_eq!(4 * pointwise(&store), pointwise(&full));
    let arch = v2();
    let edges = 14;
    let mut w = vec![0f32; 2 * edges * 9];
    for (r, cell) in [&arch.normal, &arch.reduce].into_iter().enumerate() {
        for (i, n) in cell.nodes.iter().enumerate() {
            for b in [n.x, n.y] {
                let e = r * edges + Darts::edge_index(i, b.input);
                w[e * 9 + DARTS_OPS.iter().position(|&o| o == b.op).unwrap()] = 1.0;
                w[e * 9 + 8] = 1.0;
            }
        }
    }
    let w = Tensor::from_vec(w, (2 * edges, 9), &Device::Cpu).unwrap();
    let x = randn(&[4, 3, 16, 16], 5);
    let mixed = net.forward(&x, &DartsPath::Mixed(&w), BnMode::BatchStats).unwrap();
    let single = net.forward(&x, &DartsPath::Single(&arch), BnMode::BatchStats).unwrap();
    assert!(max_diff(&mixed, &single) < 1e-5, "{}", max_diff(&mixed, &single));
    let eight = w.narrow(1, 0, 8).unwrap();
    assert!(net.forward(&x, &DartsPath::Mixed(&eight), BnMode::BatchStats).is_err());
}
