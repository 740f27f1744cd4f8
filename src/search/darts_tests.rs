//! Unit tests of the DARTS method: Adam as PyTorch's, softmax and derivation, the architect
//! moving α only, DARTS-'s auxiliary skip.
use super::*;
use rand::SeedableRng;

fn darts() -> Darts {
    Darts::new(&DartsConfig::default(), &Space::Nb201(enas_shared::Nb201), &mut ChaCha8Rng::seed_from_u64(1)).unwrap()
}

/// `torch.optim.Adam([a], lr=0.1, betas=(0.5, 0.999), weight_decay=0.01)` by its documented
/// update (g += wd*a; bias-corrected moments; a -= lr*m̂/(√v̂ + 1e-8)), with a = 1.0 and
/// gradients 0.2 then -0.4: Adam's first step moves by exactly lr (to 0.9), the second as
/// written out below.
#[test]
fn adam_follows_pytorch() {
    let mut d = darts();
    d.cfg = DartsConfig { arch_lr: 0.1, arch_beta1: 0.5, arch_beta2: 0.999, arch_weight_decay: 0.01, ..d.cfg };
    let n = d.state.alpha.len();
    d.state.alpha = vec![1.0; n];
    d.adam(&vec![0.2; n]);
    // |m̂| = √v̂ = |g|: a step of lr, less the ε in the denominator.
    let step1 = 1.0 - 0.1 * 0.21 / (0.21 + 1e-8);
    assert!((d.state.alpha[0] - step1).abs() < 1e-12, "{}", d.state.alpha[0]);
    d.adam(&vec![-0.4; n]);
    // Step 2 by the formulas: g = -0.4 + 0.01*0.9 = -0.391.
    let g1: f64 = 0.2 + 0.01;
    let g2: f64 = -0.4 + 0.01 * step1;
    let m = 0.5 * (0.5 * g1) + 0.5 * g2;
    let v = 0.999 * (0.001 * g1 * g1) + 0.001 * g2 * g2;
    let expected = step1 - 0.1 * (m / 0.75) / ((v / (1.0 - 0.999f64.powi(2))).sqrt() + 1e-8);
    assert!((d.state.alpha[0] - expected).abs() < 1e-12, "{} vs {expected}", d.state.alpha[0]);
}

#[test]
fn weights_are_row_softmaxes_and_nb201_derives_the_largest() {
    let mut d = darts();
    d.state.alpha = (0..30).map(|i| ((i * 7) % 5) as f64).collect();
    let w = d.weights();
    for row in w.chunks(5) {
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
    let derived = d.derive().unwrap();
    for (r, &j) in derived.iter().enumerate() {
        let row = &d.state.alpha[r * 5..r * 5 + 5];
        assert!(row.iter().all(|&a| a <= row[j]));
    }
    let t =
        softmax_rows(&d.alpha_tensor(&Device::Cpu).unwrap()).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    for (a, b) in t.iter().zip(&w) {
        assert!((*a as f64 - b).abs() < 1e-6);
    }
}

/// The architecture step moves α and no shared weight; the weight step's mixture is a
/// constant (no gradient can reach α through it).
#[test]
fn the_architect_moves_alpha_only() {
    use crate::search::nb201::Nb201Search;
    use crate::search::supernet::{Supernet, ValidStream};
    use enas_child::{InitRoot, Nb201Shape, Nb201Supernet};
    let root = InitRoot::new(0, &Device::Cpu);
    let shape = Nb201Shape { in_channels: 3, channels: 4, cells: 1, classes: 10 };
    let net = Nb201Supernet::new(shape, root.init()).unwrap();
    let net = Nb201Search { net, store: root.finish(), space: Space::Nb201(enas_shared::Nb201), hw: (32, 32) };
    let data = std::sync::Arc::new(enas_shared::data::synthetic::generate_set(40, 3, 1));
    let mut valid = ValidStream::new(data, 20, 0, 0, 0);
    let mut d = darts();
    let before_w: Vec<Vec<f32>> =
        net.store().vars.iter().map(|v| v.as_tensor().flatten_all().unwrap().to_vec1().unwrap()).collect();
    let before_alpha = d.state.alpha.clone();
    let mut ctx = ArchContext { net: &net, device: &Device::Cpu, valid: &mut valid, dropout_seed: 0, next_step: None };
    let scored = d.arch_step(&mut ctx, &mut ChaCha8Rng::seed_from_u64(0)).unwrap();
    assert_eq!(scored.len(), 1);
    assert_eq!(scored[0].values, d.derive().unwrap());
    assert_ne!(d.state.alpha, before_alpha, "the architecture step did not move alpha");
    assert_eq!(d.state.t, 1);
    let after_w: Vec<Vec<f32>> =
        net.store().vars.iter().map(|v| v.as_tensor().flatten_all().unwrap().to_vec1().unwrap()).collect();
    assert_eq!(before_w, after_w, "the architecture step changed a shared weight");
    let Path::Mixed(w) = d.train_path(&mut ChaCha8Rng::seed_from_u64(0)).unwrap() else { panic!("not mixed") };
    assert!(!w.is_variable() && !w.track_op(), "the weight step's mixture carries a graph back to alpha");
}

/// DARTS-: β = aux_skip x (1 - epoch / epochs) is added to the skip column of every edge,
/// outside the softmax; the other columns are softmax(α) unchanged; gradients still reach α.
#[test]
fn the_auxiliary_skip_decays_linearly_and_adds_to_the_skip_column_only() {
    let mut d = darts();
    d.cfg.aux_skip = 1.0;
    let skip = enas_shared::space::nb201::NB201_OPS.iter().position(|&o| o == OpKind::Identity).unwrap();
    assert_eq!(d.skip, Some(skip));
    for (epoch, beta) in [(0, 1.0), (5, 0.5), (9, 0.1)] {
        d.start_epoch(epoch, 10);
        assert!((d.aux_weight - beta).abs() < 1e-12, "epoch {epoch}: {}", d.aux_weight);
    }
    d.start_epoch(5, 10);
    let alpha = Var::from_tensor(&d.alpha_tensor(&Device::Cpu).unwrap()).unwrap();
    let mixed = d.mixture(alpha.as_tensor()).unwrap();
    let plain = softmax_rows(alpha.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    for (i, (m, p)) in mixed.flatten_all().unwrap().to_vec1::<f32>().unwrap().iter().zip(&plain).enumerate() {
        let extra = if i % 5 == skip { 0.5 } else { 0.0 };
        assert!((m - p - extra).abs() < 1e-6, "entry {i}: {m} vs {p} + {extra}");
    }
    let g = mixed.sqr().unwrap().sum_all().unwrap().backward().unwrap();
    assert!(g.get(alpha.as_tensor()).is_some());
    // Off (the default): the mixture is the softmax.
    let d = darts();
    let mixed = d.mixture(&d.alpha_tensor(&Device::Cpu).unwrap()).unwrap();
    assert_eq!(mixed.flatten_all().unwrap().to_vec1::<f32>().unwrap(), plain);
}

#[test]
fn the_micro_space_is_refused() {
    let e = Darts::new(
        &DartsConfig::default(),
        &Space::from(&enas_shared::EnasMicro::new(5)),
        &mut ChaCha8Rng::seed_from_u64(1),
    );
    assert!(e.err().unwrap().to_string().contains("nb201 or darts"));
}

/// PC-DARTS's edge normalisation with partial channels on NAS-Bench-201 (nodes 1, 2, 3 fed by
/// edges {0}, {1, 2}, {3, 4, 5}): α zero, β of row r set to r/2, so each row is 1/5 times its
/// edge weight, worked by hand: node 1 alone 1; node 2 1/(1+e^0.5) = 0.377541 and
/// e^0.5/(1+e^0.5) = 0.622459; node 3 (1, e^0.5, e^1)/(1+e^0.5+e^1) = 0.186324, 0.307196,
/// 0.506480. The mixture's last column (the bypassed channels) is the edge weight; `weights()`
/// agrees; β gets a gradient.
#[test]
fn edge_normalisation_weighs_a_nodes_edges_by_the_softmax_of_beta() {
    let cfg = DartsConfig { edge_norm: true, partial_channels: 2, ..DartsConfig::default() };
    let mut d = Darts::new(&cfg, &Space::Nb201(enas_shared::Nb201), &mut ChaCha8Rng::seed_from_u64(1)).unwrap();
    assert_eq!(d.shape, (6, 6));
    for r in 0..6 {
        for c in 0..5 {
            d.state.alpha[r * 6 + c] = 0.0;
        }
        d.state.alpha[r * 6 + 5] = r as f64 / 2.0;
    }
    let edge = [1.0, 0.377541, 0.622459, 0.186324, 0.307196, 0.506480];
    let alpha = Var::from_tensor(&d.alpha_tensor(&Device::Cpu).unwrap()).unwrap();
    let mixed = d.mixture(alpha.as_tensor()).unwrap();
    assert_eq!(mixed.dims(), [6, 6]);
    let rows = mixed.to_vec2::<f32>().unwrap();
    let host = d.weights();
    for (r, row) in rows.iter().enumerate() {
        for (c, &w) in row.iter().enumerate() {
            let expected = if c == 5 { edge[r] } else { edge[r] / 5.0 };
            assert!((f64::from(w) - expected).abs() < 1e-6, "row {r} column {c}: {w}, expected {expected}");
            if c < 5 {
                assert!((host[r * 5 + c] - expected).abs() < 1e-6, "weights() row {r}: {}", host[r * 5 + c]);
            }
        }
    }
    let scale = Tensor::arange(0f32, 36., &Device::Cpu).unwrap().reshape((6, 6)).unwrap();
    let g = (mixed * scale).unwrap().sum_all().unwrap().backward().unwrap();
    let g = g.get(alpha.as_tensor()).unwrap().to_vec2::<f32>().unwrap();
    assert!(g[2][5].abs() > 1e-3, "no gradient reaches β: {g:?}");
    // A node with one edge: its weight is 1 whatever β is.
    assert!(g[0][5].abs() < 1e-6, "{g:?}");
}

/// PC-DARTS end to end on a partial-channel NB201 supernet: no architecture step during
/// `arch_warmup_epochs`, then one that moves α and β; the weight step's mixture has the bypass
/// column.
#[test]
fn pc_darts_waits_out_its_warm_up_then_steps_alpha_and_beta() {
    use crate::search::nb201::Nb201Search;
    use crate::search::supernet::ValidStream;
    use enas_child::{InitRoot, Nb201Shape, Nb201Supernet};
    let root = InitRoot::new(0, &Device::Cpu);
    let shape = Nb201Shape { in_channels: 3, channels: 4, cells: 1, classes: 10 };
    let net = Nb201Supernet::with_partial(shape, 2, root.init()).unwrap();
    let net = Nb201Search { net, store: root.finish(), space: Space::Nb201(enas_shared::Nb201), hw: (32, 32) };
    let data = std::sync::Arc::new(enas_shared::data::synthetic::generate_set(40, 3, 1));
    let mut valid = ValidStream::new(data, 20, 0, 0, 0);
    let cfg = DartsConfig { edge_norm: true, partial_channels: 2, arch_warmup_epochs: 1, ..DartsConfig::default() };
    let mut d = Darts::new(&cfg, &Space::Nb201(enas_shared::Nb201), &mut ChaCha8Rng::seed_from_u64(1)).unwrap();
    let before = d.state.alpha.clone();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    d.start_epoch(0, 10);
    let mut ctx = ArchContext { net: &net, device: &Device::Cpu, valid: &mut valid, dropout_seed: 0, next_step: None };
    assert!(d.arch_step(&mut ctx, &mut rng).unwrap().is_empty());
    assert_eq!(d.state.alpha, before);
    d.start_epoch(1, 10);
    assert_eq!(d.arch_step(&mut ctx, &mut rng).unwrap().len(), 1);
    let moved = |c: usize| (0..6).any(|r| d.state.alpha[r * 6 + c] != before[r * 6 + c]);
    assert!(moved(0) && moved(5), "α or β did not move");
    let Path::Mixed(w) = d.train_path(&mut rng).unwrap() else { panic!("not mixed") };
    assert_eq!(w.dims(), [6, 6]);
}

/// Progressive pruning worked by hand on NAS-Bench-201: row r's α for op k is
/// `v[(k + r) % 5]`, v = (0.5, 2, -1, 1, 0). `prune_at [1, 3]`, `prune_keep [3, 1]`: from epoch
/// 1 each row keeps the ops holding 2, 1 and 0.5 (softmax over those three: e^2, e^1, e^0.5
/// over their sum, the others exactly 0, in `weights()` and in the mixture, and no gradient
/// reaches a pruned α); from epoch 3 the op holding 2 alone. The mask survives a checkpoint, and
/// a search resumed past both epochs applies both stages in order.
#[test]
fn progressive_pruning_keeps_the_strongest_ops() {
    let v = [0.5, 2.0, -1.0, 1.0, 0.0];
    let cfg = DartsConfig { prune_at: vec![1, 3], prune_keep: vec![3, 1], ..DartsConfig::default() };
    let fresh = || {
        let mut d = Darts::new(&cfg, &Space::Nb201(enas_shared::Nb201), &mut ChaCha8Rng::seed_from_u64(1)).unwrap();
        d.state.alpha = (0..30).map(|i| v[(i % 5 + i / 5) % 5]).collect();
        d
    };
    let mut d = fresh();
    d.start_epoch(0, 5);
    assert_eq!(d.state.keep, None);
    d.start_epoch(1, 5);
    let sum = 2f64.exp() + 1f64.exp() + 0.5f64.exp();
    let w = d.weights();
    let alpha = Var::from_tensor(&d.alpha_tensor(&Device::Cpu).unwrap()).unwrap();
    let mixed = d.mixture(alpha.as_tensor()).unwrap();
    let m = mixed.to_vec2::<f32>().unwrap();
    for r in 0..6 {
        for k in 0..5 {
            let a = v[(k + r) % 5];
            let expected = if a >= 0.5 { a.exp() / sum } else { 0.0 };
            assert!((w[r * 5 + k] - expected).abs() < 1e-12, "row {r} op {k}: {}", w[r * 5 + k]);
            assert!((f64::from(m[r][k]) - expected).abs() < 1e-6, "mixture row {r} op {k}: {}", m[r][k]);
        }
    }
    let g = mixed.sqr().unwrap().sum_all().unwrap().backward().unwrap();
    let g = g.get(alpha.as_tensor()).unwrap().to_vec2::<f32>().unwrap();
    for r in 0..6 {
        for k in 0..5 {
            assert_eq!(g[r][k] == 0.0, v[(k + r) % 5] < 0.5, "row {r} op {k}: gradient {}", g[r][k]);
        }
    }
    let saved = d.state().unwrap();
    d.start_epoch(2, 5);
    let mut resumed = fresh();
    resumed.restore(saved, &[]).unwrap();
    assert_eq!(resumed.state.keep, d.state.keep);
    d.start_epoch(3, 5);
    let strongest: Vec<usize> = (0..6).map(|r| (6 - r) % 5).collect();
    assert_eq!(d.derive().unwrap(), strongest);
    assert!(d.weights().iter().all(|&x| x == 0.0 || x == 1.0), "{:?}", d.weights());
    let mut late = fresh();
    late.start_epoch(4, 5);
    assert_eq!((late.state.keep.as_ref(), late.state.pruned), (d.state.keep.as_ref(), 2));
}

/// DrNAS's relaxation: every weight step's mixture is a fresh Dirichlet draw (rows summing to 1,
/// different from the last), the same from the same seed, and 0 on pruned ops.
#[test]
fn the_dirichlet_relaxation_draws_a_fresh_mixture_per_step() {
    use enas_shared::darts_config::Relaxation;
    let cfg =
        DartsConfig { relaxation: Relaxation::Dirichlet, prune_at: vec![0], prune_keep: vec![3], ..Default::default() };
    let mut d = Darts::new(&cfg, &Space::Nb201(enas_shared::Nb201), &mut ChaCha8Rng::seed_from_u64(1)).unwrap();
    d.start_epoch(0, 1);
    let draws = |d: &mut Darts, seed: u64| -> Vec<Vec<Vec<f32>>> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..2)
            .map(|_| match d.train_path(&mut rng).unwrap() {
                Path::Mixed(w) => w.to_vec2::<f32>().unwrap(),
                _ => panic!("not a mixture"),
            })
            .collect()
    };
    let a = draws(&mut d, 5);
    assert_ne!(a[0], a[1]);
    assert_eq!(a, draws(&mut d, 5));
    let keep = d.state.keep.clone().unwrap();
    for row in a.iter().flatten().enumerate() {
        let (r, row) = row;
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5, "{row:?}");
        for (k, &x) in row.iter().enumerate() {
            assert_eq!(x == 0.0, !keep[(r % 6) * 5 + k], "row {r}: {row:?}");
        }
    }
}

/// P-DARTS's skip limit worked by hand on NAS-Bench-201: every edge's α puts skip first, at
/// strength 3 + r/10 on row r, and row r's runner-up is conv 3x3 on even rows, avg pool on odd
/// ones. With `max_skips 2` the four weakest skips (rows 0-3) are zeroed in turn and those edges
/// take their runner-up; rows 4 and 5 keep skip. Off (0), the cell is all skip.
#[test]
fn max_skips_replaces_the_weakest_skips_by_the_runner_up() {
    let mut d = darts();
    for r in 0..6 {
        let row = &mut d.state.alpha[r * 5..r * 5 + 5];
        row.copy_from_slice(&[0.0, 3.0 + r as f64 / 10.0, 0.5, 0.0, 0.0]);
        row[if r % 2 == 0 { 3 } else { 4 }] = 1.0;
    }
    assert_eq!(d.derive().unwrap(), vec![1; 6]);
    d.cfg.max_skips = 2;
    assert_eq!(d.derive().unwrap(), vec![3, 4, 3, 4, 1, 1]);
    d.cfg.max_skips = 6;
    assert_eq!(d.derive().unwrap(), vec![1; 6]);
}

/// The skip limit on the DARTS space reads the normal cell only (its rows are the first half):
/// with skip strongest on every edge of both cells, `max_skips 2` leaves two skips in the normal
/// cell and the reduction cell all skip.
#[test]
fn max_skips_limits_the_darts_normal_cell_only() {
    let space = Space::Darts(enas_shared::space::darts::Darts::new(4));
    let cfg = DartsConfig { max_skips: 2, ..DartsConfig::default() };
    let mut d = Darts::new(&cfg, &space, &mut ChaCha8Rng::seed_from_u64(1)).unwrap();
    let skip = enas_shared::space::darts::DARTS_OPS.iter().position(|&o| o == OpKind::Identity).unwrap();
    for (i, a) in d.state.alpha.iter_mut().enumerate() {
        *a = if i % 8 == skip { 2.0 + (i / 8) as f64 / 100.0 } else { (i % 8) as f64 / 10.0 };
    }
    let values = d.derive().unwrap();
    let normal = space.normal_ops(&values).unwrap();
    assert_eq!(normal.iter().filter(|&&op| op == OpKind::Identity).count(), 2, "{normal:?}");
    let arch = match &space {
        Space::Darts(s) => s.from_values(&values).unwrap(),
        _ => unreachable!(),
    };
    assert!(arch.reduce.nodes.iter().all(|n| n.x.op == OpKind::Identity && n.y.op == OpKind::Identity));
}
