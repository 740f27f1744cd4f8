//! A planted task for DARTS: a stand-in supernet over NAS-Bench-201's decisions (6 edges x 5 ops)
//! whose op `j` on every edge reads input channel `j`, and data whose label is the sign of one
//! channel only, the others noise. One op is clearly best on every edge, so DARTS's architecture
//! steps (the real method, first and second order) must raise its weight on every edge, and the
//! derived cell must pick it everywhere; and the shared weights move only in the weight steps.
use super::darts::Darts;
use super::method::Method;
use super::supernet::{ArchContext, Path, PathInfo, Supernet, ValidStream, WeightStep};
use anyhow::Result;
use candle_core::{Device, Tensor, Var};
use enas_child::{cross_entropy, BnMode, ParamStore, SgdNesterov};
use enas_shared::darts_config::{DartsConfig, Relaxation};
use enas_shared::data::Dataset;
use enas_shared::Space;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

const EDGES: usize = 6;
const OPS: usize = 5;
/// The informative channel: op 3 is best on every edge.
const PLANTED: usize = 3;

/// Edge `k`'s output is `Σ_j w[k, j] · x_j`; the logits are `Σ_k edge_k · v_k + b`.
struct Channels {
    space: Space,
    store: ParamStore,
}

impl Channels {
    fn new() -> Channels {
        let dev = Device::Cpu;
        let v: Vec<f32> = (0..EDGES * 2).map(|i| if i % 2 == 0 { 0.01 } else { -0.01 }).collect();
        let vars = vec![
            Var::from_tensor(&Tensor::from_vec(v, (EDGES, 2), &dev).unwrap()).unwrap(),
            Var::from_tensor(&Tensor::zeros(2, candle_core::DType::F32, &dev).unwrap()).unwrap(),
        ];
        let store = ParamStore { names: vec!["v".into(), "b".into()], vars, buffer_names: vec![], buffers: vec![] };
        Channels { space: Space::Nb201(enas_shared::Nb201), store }
    }
}

impl Supernet for Channels {
    fn space(&self) -> &Space {
        &self.space
    }

    fn forward(&self, x: &Tensor, path: &Path, _mode: BnMode) -> Result<Tensor> {
        let Path::Mixed(w) = path else { anyhow::bail!("the planted stand-in runs mixtures only") };
        let x = x.flatten_from(1)?; // (N, 5)
        let edges = x.matmul(&w.t()?)?; // (N, 6)
        let (v, b) = (self.store.vars[0].as_tensor(), self.store.vars[1].as_tensor());
        Ok(edges.matmul(v)?.broadcast_add(b)?)
    }

    fn store(&self) -> &ParamStore {
        &self.store
    }

    fn describe(&self, values: &[usize]) -> Result<PathInfo> {
        let arc = self.space.format(values)?;
        Ok(PathInfo { normal: arc.clone(), arc, reduce: String::new(), active_params: 0 })
    }

    fn costs(&self, _values: &[usize]) -> Result<(usize, usize)> {
        Ok((0, 0))
    }
}

/// `n` images of 5 channels of 1x1 pixel: channel `PLANTED` is ±1 by the label plus noise, the
/// others standard noise.
fn data(n: usize, seed: u64) -> Arc<Dataset> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut images = Vec::with_capacity(n * OPS);
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let y: u32 = rng.random_range(0..2);
        for j in 0..OPS {
            let noise = rng.random_range(-1.0f32..1.0);
            let sign = if y == 1 { 1.0 } else { -1.0 };
            images.push(if j == PLANTED { sign + 0.3 * noise } else { noise });
        }
        labels.push(y);
    }
    Arc::new(Dataset { images, labels, channels: OPS, height: 1, width: 1, classes: 2 })
}

/// `steps` DARTS iterations as the search loop takes them (architecture step, then weight step);
/// returns the method and the largest change of a shared weight across all architecture steps.
fn search(order: u32, steps: usize) -> (Darts, f32) {
    search_with(DartsConfig { order, arch_lr: 3e-3, ..DartsConfig::default() }, steps)
}

fn search_with(cfg: DartsConfig, steps: usize) -> (Darts, f32) {
    let net = Channels::new();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut darts = Darts::new(&cfg, net.space(), &mut rng).unwrap();
    let mut opt = SgdNesterov::new(net.store().vars.clone(), 0.9, 3e-4);
    let mut train = ValidStream::new(data(512, 1), 32, 0, 0, 0);
    let mut valid = ValidStream::new(data(512, 2), 32, 0, 0, 0);
    let snapshot = |net: &Channels| -> Vec<f32> {
        net.store().vars.iter().flat_map(|v| v.as_tensor().flatten_all().unwrap().to_vec1::<f32>().unwrap()).collect()
    };
    let mut moved = 0f32;
    for step in 0..steps {
        darts.start_epoch(step / 100, steps.div_ceil(100));
        let batch = train.next_batch().unwrap().clone();
        let before = snapshot(&net);
        let mut ctx = ArchContext {
            net: &net,
            device: &Device::Cpu,
            valid: &mut valid,
            dropout_seed: 0,
            next_step: Some(WeightStep { batch: &batch, lr: 0.1, opt: &opt }),
        };
        darts.arch_step(&mut ctx, &mut rng).unwrap();
        let after = snapshot(&net);
        moved = before.iter().zip(&after).map(|(a, b)| (a - b).abs()).fold(moved, f32::max);
        let path = darts.train_path(&mut rng).unwrap();
        let loss = cross_entropy(&net.forward(&batch.x, &path, BnMode::Train).unwrap(), &batch.y).unwrap();
        opt.step(&loss.backward().unwrap(), 0.1).unwrap();
    }
    (darts, moved)
}

fn check(order: u32) {
    let (darts, moved) = search(order, 300);
    assert_eq!(moved, 0.0, "order {order}: an architecture step moved a shared weight");
    assert_eq!(darts.derive().unwrap(), vec![PLANTED; EDGES], "order {order}: {:?}", darts.weights());
    // Clearly, not by a hair: the planted op's weight leads every edge's runner-up.
    for (k, row) in darts.weights().chunks(OPS).enumerate() {
        let runner_up = row.iter().enumerate().filter(|(j, _)| *j != PLANTED).map(|(_, &w)| w).fold(0.0, f64::max);
        assert!(row[PLANTED] > runner_up + 0.02, "order {order} edge {k}: {row:?}");
    }
}

#[test]
fn first_order_darts_finds_the_planted_op_on_every_edge() {
    check(1);
}

#[test]
fn second_order_darts_finds_the_planted_op_on_every_edge() {
    check(2);
}

/// PC-DARTS's edge normalisation (β stepped with α) leaves the planted op first on every edge
/// (the architecture warm-up is tested in darts_tests.rs).
#[test]
fn edge_normalised_darts_finds_the_planted_op_on_every_edge() {
    let cfg = DartsConfig { arch_lr: 3e-3, edge_norm: true, ..DartsConfig::default() };
    let (darts, moved) = search_with(cfg, 300);
    assert_eq!(moved, 0.0);
    assert_eq!(darts.derive().unwrap(), vec![PLANTED; EDGES], "{:?}", darts.weights());
    for (k, row) in darts.weights().chunks(OPS).enumerate() {
        let runner_up = row.iter().enumerate().filter(|(j, _)| *j != PLANTED).map(|(_, &w)| w).fold(0.0, f64::max);
        assert!(row[PLANTED] > 1.1 * runner_up, "edge {k}: {row:?}");
    }
}

/// Asserts the derived cell holds the planted op on every edge, and the op leads each edge's
/// runner-up by `margin` (a factor).
fn planted_first(darts: &Darts, margin: f64) {
    assert_eq!(darts.derive().unwrap(), vec![PLANTED; EDGES], "{:?}", darts.weights());
    for (k, row) in darts.weights().chunks(OPS).enumerate() {
        let runner_up = row.iter().enumerate().filter(|(j, _)| *j != PLANTED).map(|(_, &w)| w).fold(0.0, f64::max);
        assert!(row[PLANTED] > margin * runner_up, "edge {k}: {row:?}");
    }
}

/// DrNAS: the mixture a Dirichlet(elu(α) + 1) sample per step, α learned through the sample
/// (first order); the planted op ends first on every edge, and the shared weights still move
/// only in the weight steps.
#[test]
fn dirichlet_darts_finds_the_planted_op_on_every_edge() {
    let cfg = DartsConfig { arch_lr: 3e-3, relaxation: Relaxation::Dirichlet, ..DartsConfig::default() };
    let (darts, moved) = search_with(cfg, 300);
    assert_eq!(moved, 0.0);
    planted_first(&darts, 1.1);
}

/// Progressive pruning after 100 steps to 2 ops per edge (the planted one among them, as it
/// already leads), then to 1 after 200: the derived cell is the planted op everywhere.
#[test]
fn pruned_darts_keeps_the_planted_op_on_every_edge() {
    let cfg = DartsConfig { arch_lr: 3e-3, prune_at: vec![1, 2], prune_keep: vec![2, 1], ..DartsConfig::default() };
    let (darts, _) = search_with(cfg, 300);
    assert_eq!(darts.weights().iter().filter(|&&w| w > 0.0).count(), EDGES, "{:?}", darts.weights());
    planted_first(&darts, 1.0);
}

/// RobustDARTS's eigenvalue by power iteration equals the largest-magnitude eigenvalue of the
/// whole Hessian (30 x 30, each column a central difference of gradients, symmetrised, and
/// decomposed by nalgebra), at the planted search's α after 300 steps.
#[test]
fn the_power_iteration_finds_the_dominant_eigenvalue() {
    use super::hessian::{dominant_eigenvalue, grad};
    let (darts, _) = search(1, 300);
    let net = Channels::new();
    let alpha = darts.alpha_values();
    let mix = |a: &Tensor| darts.mixture(a);
    let mut valid = ValidStream::new(data(256, 3), 256, 0, 0, 0);
    let batch = valid.next_batch().unwrap().clone();
    let n = alpha.len();
    let eps = 1e-2;
    let mut h = nalgebra::DMatrix::<f64>::zeros(n, n);
    for j in 0..n {
        let mut plus = alpha.clone();
        plus[j] += eps;
        let mut minus = alpha.clone();
        minus[j] -= eps;
        let gp = grad(&net, &mix, &plus, (EDGES, OPS), &batch.x, &batch.y).unwrap();
        let gm = grad(&net, &mix, &minus, (EDGES, OPS), &batch.x, &batch.y).unwrap();
        for i in 0..n {
            h[(i, j)] = (gp[i] - gm[i]) / (2.0 * eps);
        }
    }
    let h = (&h + h.transpose()) * 0.5;
    let eig = h.symmetric_eigen().eigenvalues;
    let expected = eig.iter().copied().fold(0.0f64, |m, x| if x.abs() > m.abs() { x } else { m });
    let got =
        dominant_eigenvalue(&net, &mix, &alpha, (EDGES, OPS), &batch.x, &batch.y, &mut ChaCha8Rng::seed_from_u64(1))
            .unwrap();
    assert!(expected.abs() > 1e-4, "a degenerate Hessian proves nothing: {eig}");
    assert!((got - expected).abs() <= 0.02 * expected.abs(), "power iteration {got}, eigen-decomposition {expected}");
}
