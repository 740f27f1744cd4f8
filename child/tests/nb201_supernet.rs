//! The NAS-Bench-201 supernet against the stand-alone network: a path of the supernet, copied by
//! name into an `Nb201Net` for the same cell, gives the same logits and the same gradients; the
//! path has the benchmark's parameter count; weights off the path get no gradient and do not move
//! in a training step.
use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Result, Tensor, Var};
use enas_child::nb201::nb201_params;
use enas_child::{cross_entropy, BnMode, InitRoot, Nb201Net, Nb201Shape, Nb201Supernet, ParamStore, SgdNesterov};
use enas_shared::OpKind::{self, AvgPool3x3 as Pool, Identity as Skip, NorConv1x1 as C1, NorConv3x3 as C3, Zero};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use std::collections::HashSet;

/// All 3x3 convolutions; every op once, on edges that make the order matter; an output node
/// whose inputs are all `none`; all skips; node 1 dead (both of its out-edges `none`).
const CELLS: [[OpKind; 6]; 5] = [
    [C3, C3, C3, C3, C3, C3],
    [C3, Skip, C1, Pool, Zero, C3],
    [C3, C1, Pool, Zero, Zero, Zero],
    [Skip, Skip, Skip, Skip, Skip, Skip],
    [C3, C1, Zero, Pool, Zero, Skip],
];

const SMALL: Nb201Shape = Nb201Shape { in_channels: 3, channels: 4, cells: 2, classes: 10 };
const WIDER: Nb201Shape = Nb201Shape { in_channels: 3, channels: 8, cells: 1, classes: 10 };

fn images(n: usize, hw: usize, seed: u64) -> Result<Tensor> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let v: Vec<f32> = (0..n * 3 * hw * hw).map(|_| StandardNormal.sample(&mut rng)).collect();
    Tensor::from_vec(v, (n, 3, hw, hw), &Device::Cpu)
}

fn labels(n: usize) -> Result<Tensor> {
    Tensor::from_vec((0..n as u32).map(|i| (i * 7 + 3) % 10).collect::<Vec<_>>(), n, &Device::Cpu)
}

fn supernet(shape: Nb201Shape, seed: u64) -> Result<(Nb201Supernet, ParamStore)> {
    let root = InitRoot::new(seed, &Device::Cpu);
    let net = Nb201Supernet::new(shape, root.init())?;
    Ok((net, root.finish()))
}

/// A stand-alone network (with BatchNorm) for `cell`, its weights copied from the supernet's path.
fn standalone(sup: &Nb201Supernet, cell: &[OpKind]) -> Result<(Nb201Net, ParamStore)> {
    let root = InitRoot::new(999, &Device::Cpu);
    let net = Nb201Net::new(cell, sup.shape(), true, root.init())?;
    let store = root.finish();
    let path = sup.path_params(cell)?;
    let names: Vec<&String> = path.iter().map(|(n, _)| n).collect();
    assert_eq!(names, store.names.iter().collect::<Vec<_>>(), "path names and order vs Nb201Net's");
    for ((_, t), var) in path.iter().zip(&store.vars) {
        var.set(t)?;
    }
    Ok((net, store))
}

/// `max |a - b| / max(max |b|, 1e-3)`.
fn rel_diff(a: &Tensor, b: &Tensor) -> Result<f32> {
    let scale = b.abs()?.max_all()?.to_scalar::<f32>()?.max(1e-3);
    Ok((a - b)?.abs()?.max_all()?.to_scalar::<f32>()? / scale)
}

fn loss_grads(logits: &Tensor, n: usize) -> Result<GradStore> {
    cross_entropy(logits, &labels(n)?)?.backward()
}

/// Checks one cell at one shape; returns how many path tensors got a gradient.
fn check_path(cell: &[OpKind], shape: Nb201Shape, n: usize, hw: usize) -> Result<usize> {
    let (sup, sup_store) = supernet(shape, 11)?;
    let (net, net_store) = standalone(&sup, cell)?;
    let x = images(n, hw, 5)?;

    let logits = sup.forward(&x, cell)?;
    assert_eq!(logits.dims(), [n, shape.classes]);
    let reference = net.forward(&x, BnMode::BatchStats)?;
    let d = rel_diff(&logits, &reference)?;
    assert!(d < 1e-5, "{cell:?} {shape:?}: logits differ by {d}");
    // The comparison is sharp: another cell on the same supernet gives other logits.
    let mut other = cell.to_vec();
    other.rotate_left(1);
    if other != cell {
        let d = rel_diff(&sup.forward(&x, &other)?, &reference)?;
        assert!(d > 1e-3, "{cell:?}: a rotated cell gives the same logits ({d})");
    }
    let detached = sup.forward_detached(&x, cell)?;
    assert!(!detached.track_op(), "forward_detached builds a graph");
    assert!(rel_diff(&detached, &logits)? < 1e-6);

    // Gradients: the stand-alone network in training mode (batch statistics, as BatchStats, and
    // its BatchNorm affine weights in the graph).
    let train = net.forward(&x, BnMode::Train)?;
    assert!(rel_diff(&train, &reference)? < 1e-6);
    let g_sup = loss_grads(&logits, n)?;
    let g_net = loss_grads(&train, n)?;
    let path = sup.path_params(cell)?;
    let mut with_grad = 0;
    for ((name, t), var) in path.iter().zip(&net_store.vars) {
        match (g_sup.get(t), g_net.get(var.as_tensor())) {
            (Some(a), Some(b)) => {
                let d = rel_diff(a, b)?;
                assert!(d < 1e-4, "{cell:?} {shape:?}: gradient of {name} differs by {d}");
                with_grad += 1;
            }
            (None, None) => {}
            (a, b) => panic!("{cell:?}: gradient of {name}: supernet {} stand-alone {}", a.is_some(), b.is_some()),
        }
    }

    // Sizes, and weights off the path.
    assert_eq!(sup.path_num_params(cell)?, nb201_params(cell, shape), "{cell:?} {shape:?}");
    assert_eq!(net_store.num_params(), nb201_params(cell, shape));
    let on_path: HashSet<String> = path_names(&sup, cell)?;
    let mut off = 0;
    for (name, var) in sup_store.names.iter().zip(&sup_store.vars) {
        if !on_path.contains(&supernet_to_path_name(name, cell)) {
            off += 1;
            assert!(g_sup.get(var.as_tensor()).is_none(), "{cell:?}: {name} is off the path but has a gradient");
        }
    }
    assert_eq!(off, sup_store.vars.len() - path.len());
    Ok(with_grad)
}

/// The path's tensors under the supernet's own names (the op in the name).
fn path_names(sup: &Nb201Supernet, cell: &[OpKind]) -> Result<HashSet<String>> {
    Ok(sup.path_params(cell)?.into_iter().map(|(n, _)| n).collect())
}

/// `cells.1.edge2<-0.nor_conv_3x3.conv.weight` -> `cells.1.edge2<-0.conv.weight` if edge 2<-0
/// of `cell` is `nor_conv_3x3`; other names unchanged (never on the path if they name an op).
fn supernet_to_path_name(name: &str, cell: &[OpKind]) -> String {
    for (k, (to, from)) in enas_shared::space::nb201::NB201_EDGES.iter().enumerate() {
        let edge = format!(".edge{to}<-{from}.");
        if let Some(i) = name.find(&edge) {
            let rest = &name[i + edge.len()..];
            let prefix = format!("{}.", cell[k].name());
            return match rest.strip_prefix(&prefix) {
                Some(r) => format!("{}{edge}{r}", &name[..i]),
                None => format!("off-path {name}"),
            };
        }
    }
    name.to_string()
}

#[test]
fn a_path_equals_the_standalone_network_logits_and_gradients() -> Result<()> {
    for (i, cell) in CELLS.iter().enumerate() {
        let with_grad = check_path(cell, SMALL, 6, 16)?;
        let path_len = Nb201Supernet::new(SMALL, InitRoot::new(0, &Device::Cpu).init())?.path_params(cell)?.len();
        match i {
            0 | 1 | 3 => assert_eq!(with_grad, path_len, "{cell:?}: every path tensor gets a gradient"),
            // The ops into node 3 are `none`: every cell outputs zeros, which no weight reaches,
            // so only the last BatchNorm and the classifier get gradients (in both networks).
            2 => assert_eq!(with_grad, 4),
            // Node 1 is dead: its 3x3 convolution (3 tensors) in each cell of 3 stages gets none.
            _ => assert_eq!(with_grad, path_len - 3 * 3 * SMALL.cells),
        }
    }
    for cell in &CELLS[..2] {
        check_path(cell, WIDER, 4, 32)?;
    }
    Ok(())
}

#[test]
fn the_store_holds_every_weight_in_named_order_and_no_buffers() -> Result<()> {
    let (sup, store) = supernet(SMALL, 3)?;
    assert!(store.buffers.is_empty(), "the supernet keeps no running statistics");
    let named = sup.named_params()?;
    assert_eq!(named.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), store.names);
    assert!(named.iter().zip(&store.vars).all(|((_, t), v)| t.id() == v.as_tensor().id()));
    assert_eq!(sup.num_params(), store.num_params());
    // Shared weights plus both convolution banks on all 6 edges of every cell.
    let c3_only = nb201_params(&[C3; 6], SMALL);
    let c1_only = nb201_params(&[C1; 6], SMALL);
    let none = nb201_params(&[Zero; 6], SMALL);
    assert_eq!(sup.num_params(), c3_only + c1_only - none);
    let benchmark = Nb201Supernet::new(Nb201Shape::default(), InitRoot::new(0, &Device::Cpu).init())?;
    let benchmark_total = nb201_params(&[C3; 6], Nb201Shape::default()) + nb201_params(&[C1; 6], Nb201Shape::default())
        - nb201_params(&[Zero; 6], Nb201Shape::default());
    assert_eq!(benchmark.num_params(), benchmark_total);
    // NAS-Bench-201's own counts (`params_m` of ../shared/data/nb201/cifar10.csv): all-conv3x3
    // cell 1.531546 M, all-conv1x1 0.241306 M, all-none 0.073306 M; 1.531546 + 0.241306 - 0.073306
    // = 1.699546 M.
    assert_eq!(benchmark_total, 1_699_546);
    assert!(sup.forward(&images(2, 8, 0)?, &[C3; 5]).is_err());
    Ok(())
}

#[test]
fn same_seed_same_weights_other_seed_other_weights() -> Result<()> {
    let values = |seed| -> Result<Vec<Vec<f32>>> {
        let (_, store) = supernet(SMALL, seed)?;
        store.vars.iter().map(|v| v.as_tensor().flatten_all()?.to_vec1::<f32>()).collect()
    };
    let (a, b, c) = (values(21)?, values(21)?, values(22)?);
    assert_eq!(a, b);
    assert_ne!(a, c);
    Ok(())
}

#[test]
fn a_training_step_moves_only_the_path_and_shared_weights() -> Result<()> {
    for cell in &CELLS[..2] {
        let (sup, store) = supernet(SMALL, 4)?;
        let before: Vec<Tensor> = store.vars.iter().map(|v| v.as_tensor().copy()).collect::<Result<_>>()?;
        let grads = loss_grads(&sup.forward(&images(6, 16, 1)?, cell)?, 6)?;
        let mut sgd = SgdNesterov::new(store.vars.clone(), 0.9, 5e-4);
        sgd.step(&grads, 0.05)?;
        let on_path = path_names(&sup, cell)?;
        let mut moved = 0;
        for ((name, var), old) in store.names.iter().zip(&store.vars).zip(&before) {
            let changed = rel_diff(var.as_tensor(), old)? > 0.0;
            let path = on_path.contains(&supernet_to_path_name(name, cell));
            assert_eq!(changed, path, "{cell:?}: {name} (on the path: {path}) changed: {changed}");
            moved += usize::from(changed);
        }
        assert_eq!(moved, on_path.len());
        // The step lowers the loss on the same batch.
        let (x, y) = (images(6, 16, 1)?, labels(6)?);
        let loss = |w: &[Tensor]| -> Result<f32> {
            for (v, t) in store.vars.iter().zip(w) {
                v.set(t)?;
            }
            cross_entropy(&sup.forward(&x, cell)?, &y)?.to_scalar::<f32>()
        };
        let after: Vec<Tensor> = store.vars.iter().map(|v| v.as_tensor().copy()).collect::<Result<_>>()?;
        assert!(loss(&after)? < loss(&before)?, "{cell:?}");
    }
    Ok(())
}

#[test]
fn a_checkpoint_restores_the_supernet() -> Result<()> {
    let (sup, store) = supernet(SMALL, 8)?;
    let path = std::env::temp_dir().join(format!("enas-nb201-supernet-{}.safetensors", std::process::id()));
    store.save(&path)?;
    let (other, other_store) = supernet(SMALL, 9)?;
    let x = images(4, 16, 2)?;
    assert!(rel_diff(&other.forward(&x, &CELLS[1])?, &sup.forward(&x, &CELLS[1])?)? > 1e-3);
    other_store.load(&path)?;
    std::fs::remove_file(&path).ok();
    assert!(rel_diff(&other.forward(&x, &CELLS[1])?, &sup.forward(&x, &CELLS[1])?)? < 1e-7);
    Ok(())
}

#[test]
fn one_hot_mixed_weights_give_the_path() -> Result<()> {
    let (sup, store) = supernet(SMALL, 6)?;
    let x = images(4, 16, 3)?;
    let ops = enas_shared::space::nb201::NB201_OPS;
    for cell in &CELLS {
        let one_hot: Vec<f32> =
            cell.iter().flat_map(|op| ops.iter().map(move |o| if o == op { 1.0 } else { 0.0 })).collect();
        let w = Var::from_tensor(&Tensor::from_vec(one_hot, (6, 5), &Device::Cpu)?)?;
        let mixed = sup.forward_mixed(&x, w.as_tensor())?;
        let d = rel_diff(&mixed, &sup.forward(&x, cell)?)?;
        assert!(d < 1e-5, "{cell:?}: mixed with one-hot weights differs by {d}");
        let grads = loss_grads(&mixed, 4)?;
        // A weight of exactly 0 means the op is off (pruned): it does not run, so its weight's
        // gradient is 0, and so are the others' where no path reaches the output (a cell whose
        // last node reads `none` alone outputs 0 whatever the weights are).
        let gw = match grads.get(w.as_tensor()) {
            Some(g) => g.to_vec2::<f32>()?,
            None => vec![vec![0.0; 5]; 6],
        };
        for (k, op) in cell.iter().enumerate() {
            for (j, o) in ops.iter().enumerate() {
                assert!(o == op || gw[k][j] == 0.0, "{cell:?}: edge {k} op {j} is off but has gradient {}", gw[k][j]);
            }
        }
        assert!(store.vars.iter().any(|v| grads.get(v.as_tensor()).is_none()));
        // With every weight positive, every op is in the graph.
        let positive = Tensor::from_vec(
            cell.iter().flat_map(|op| ops.iter().map(move |o| if o == op { 0.96 } else { 0.01 })).collect::<Vec<f32>>(),
            (6, 5),
            &Device::Cpu,
        )?;
        let grads = loss_grads(&sup.forward_mixed(&x, &positive)?, 4)?;
        assert!(store.vars.iter().all(|v| grads.get(v.as_tensor()).is_some()));
    }
    assert!(sup.forward_mixed(&x, &Tensor::zeros((6, 4), DType::F32, &Device::Cpu)?).is_err());
    Ok(())
}

/// Forward + backward (and the SGD step) of a batch of 64 32x32 images on the all-3x3 path:
/// `RAYON_NUM_THREADS=2 cargo test --release -p enas-child --test nb201_supernet -- --ignored --nocapture`.
#[test]
#[ignore]
fn timing_of_a_training_step() -> Result<()> {
    let cell = [C3; 6];
    for (channels, cells) in [(8, 1), (16, 1), (16, 5)] {
        let shape = Nb201Shape { channels, cells, ..Nb201Shape::default() };
        let (sup, store) = supernet(shape, 1)?;
        let (x, y) = (images(64, 32, 1)?, labels(64)?);
        let mut sgd = SgdNesterov::new(store.vars.clone(), 0.9, 5e-4);
        let mut times = Vec::new();
        for _ in 0..4 {
            let t0 = std::time::Instant::now();
            let grads = cross_entropy(&sup.forward(&x, &cell)?, &y)?.backward()?;
            let fb = t0.elapsed().as_secs_f64();
            sgd.step(&grads, 0.01)?;
            times.push((fb, t0.elapsed().as_secs_f64() - fb));
        }
        let fb: Vec<String> = times.iter().map(|t| format!("{:.3}", t.0)).collect();
        let st: Vec<String> = times.iter().map(|t| format!("{:.4}", t.1)).collect();
        println!(
            "C={channels} N={cells}: supernet params {}, path params {}; forward+backward s {fb:?}, sgd step s {st:?}",
            sup.num_params(),
            sup.path_num_params(&cell)?
        );
    }
    Ok(())
}

/// PC-DARTS's partial channels (K = 2): a one-hot mixture whose bypass column is 1 equals the
/// path, where each edge runs its op on the first half of the channels and passes the rest; with
/// every op weight 0 (`none` alone) and the bypass 1 the edge is PC-DARTS's shuffle of zeros and
/// the other half, as on the all-`none` path; and the convolutions hold C/2 channels.
#[test]
fn partial_channels_mixture_and_path_agree() -> Result<()> {
    let root = InitRoot::new(6, &Device::Cpu);
    let sup = Nb201Supernet::with_partial(SMALL, 2, root.init())?;
    let store = root.finish();
    let full = supernet(SMALL, 6)?.1;
    let weights = |s: &ParamStore, pat: &str| {
        s.names.iter().zip(&s.vars).filter(|(n, _)| n.contains(pat)).map(|(_, v)| v.elem_count()).sum::<usize>()
    };
    // A C x C 3x3 conv holds 9 C^2 weights; at C/2 a quarter (BN's 2 C weights halve).
    assert_eq!(4 * weights(&store, "nor_conv_3x3.conv"), weights(&full, "nor_conv_3x3.conv"));
    let x = images(4, 16, 3)?;
    let ops = enas_shared::space::nb201::NB201_OPS;
    for cell in &CELLS {
        let one_hot: Vec<f32> =
            cell.iter().flat_map(|op| ops.iter().map(move |o| if o == op { 1.0 } else { 0.0 }).chain([1.0])).collect();
        let w = Tensor::from_vec(one_hot, (6, 6), &Device::Cpu)?;
        let d = rel_diff(&sup.forward_mixed(&x, &w)?, &sup.forward(&x, cell)?)?;
        assert!(d < 1e-5, "{cell:?}: the one-hot PC mixture differs from the path by {d}");
    }
    let none_only =
        Tensor::from_vec((0..36).map(|i| if i % 6 == 5 { 1f32 } else { 0. }).collect(), (6, 6), &Device::Cpu)?;
    let zero_cell = sup.forward(&x, &[Zero; 6])?;
    assert!(rel_diff(&sup.forward_mixed(&x, &none_only)?, &zero_cell)? < 1e-5);
    assert!(sup.forward_mixed(&x, &Tensor::zeros((6, 5), DType::F32, &Device::Cpu)?).is_err());
    assert!(Nb201Supernet::with_partial(SMALL, 3, InitRoot::new(0, &Device::Cpu).init()).is_err());
    Ok(())
}
