//! Refusing what cannot fit before allocating it: estimates, from the config alone, of the memory
//! a command's networks, optimiser state, activations and result buffers take, checked against
//! the memory this machine has available. The estimates err high (they bound the parameter counts
//! of the networks as built: unit tests hold them to within 2x of the real counts) and the check
//! refuses only what exceeds all available memory, so a run that fits is never refused.
use anyhow::Result;
use enas_shared::{Config, SpaceKind};

const F32: f64 = 4.0;

/// One part of an estimate: what it is and its bytes.
pub struct Part {
    pub what: &'static str,
    pub bytes: f64,
}

/// The bytes this machine has available now (`MemAvailable` of /proc/meminfo); `None` where
/// that cannot be read, and then only the absolute ceiling applies.
pub fn available() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024.0)
}

/// More than any machine has: refused even where the available memory is unknown.
const CEILING: f64 = 64.0 * (1u64 << 40) as f64;

fn gib(bytes: f64) -> String {
    if bytes >= 1024f64.powi(4) * 1024.0 {
        format!("{:.1e} GiB", bytes / 1024f64.powi(3))
    } else {
        format!("{:.2} GiB", bytes / 1024f64.powi(3))
    }
}

/// Refuses `parts` when their sum exceeds the available memory (or the ceiling), naming each
/// part, the total, what is available, and `hint` (which keys to lower).
pub fn check(command: &str, parts: &[Part], hint: &str) -> Result<()> {
    let total: f64 = parts.iter().map(|p| p.bytes).sum();
    let limit = available().unwrap_or(CEILING).min(CEILING);
    if total.is_finite() && total <= limit {
        return Ok(());
    }
    let list: Vec<String> =
        parts.iter().filter(|p| p.bytes > 0.0).map(|p| format!("{} {}", p.what, gib(p.bytes))).collect();
    let have = match available() {
        Some(a) => format!("this machine has {} available", gib(a)),
        None => "more than any machine has".to_string(),
    };
    anyhow::bail!(
        "{command} would need about {} of memory ({}), and {have}; nothing was allocated. Lower {hint}",
        gib(total),
        list.join(", ")
    )
}

/// Channels and spatial size (pixels) of each of the ENAS micro network's `layers + 2` cells:
/// `channels` doubling (and the image halving) at the two reduction cells.
fn micro_cells(layers: usize, channels: usize, image: usize) -> Vec<(f64, f64)> {
    let d = layers / 3;
    let reductions = [d, 2 * d + 1];
    let (mut c, mut hw) = (channels as f64, (image * image) as f64);
    (0..layers + 2)
        .map(|l| {
            if reductions.contains(&l) {
                c *= 2.0;
                hw /= 4.0;
            }
            (c, hw)
        })
        .collect()
}

/// Weights of the ENAS micro network: the whole supernet (`shared`: a bank per input of every
/// node) or one architecture's.
pub fn micro_params(layers: usize, channels: usize, nodes: usize, shared: bool) -> f64 {
    let n = nodes as f64;
    // Inputs a node's two branches may read, summed over the nodes; one each for a fixed arc.
    let inputs = if shared { n * (n + 3.0) / 2.0 } else { n };
    micro_cells(layers, channels, 32)
        .iter()
        // Per (branch, input): two separable convs (3x3 and 5x5), each twice depthwise + pointwise;
        // per cell: the 1x1 calibration convs of its two inputs and the reduction's convs.
        .map(|&(c, _)| 2.0 * inputs * (4.0 * c * c + 68.0 * c) + 4.0 * c * c + 16.0 * c)
        .sum::<f64>()
        // Stems, BatchNorms and the classifier: 10% covers them (the unit tests measure 4-7%).
        * 1.1
}

/// Activations kept for the backward pass of one training step of the ENAS micro network.
pub fn micro_activations(layers: usize, channels: usize, nodes: usize, batch: usize, image: usize) -> f64 {
    let per_image: f64 =
        micro_cells(layers, channels, image).iter().map(|&(c, hw)| c * hw * (nodes as f64 * 2.0 * 12.0 + 6.0)).sum();
    batch as f64 * per_image * F32
}

/// Weights of the NAS-Bench-201 supernet: every (cell, edge, op) bank, `cells` per stage, and the
/// two residual reduction blocks.
pub fn nb201_params(cells: usize, channels: usize) -> f64 {
    let c = channels as f64;
    let stages: f64 = [1.0, 2.0, 4.0].iter().map(|m| cells as f64 * 6.0 * 10.0 * (m * c) * (m * c)).sum();
    stages + 2.0 * 14.0 * (4.0 * c) * (4.0 * c) + 27.0 * c + 40.0 * c
}

/// Activations kept for the backward pass of one NB201 supernet step.
pub fn nb201_activations(cells: usize, channels: usize, batch: usize, image: usize) -> f64 {
    let per_image: f64 = [1.0, 2.0, 4.0]
        .iter()
        .enumerate()
        .map(|(s, m)| {
            m * channels as f64 * (image * image) as f64 / 4f64.powi(s as i32) * (cells as f64 * 6.0 * 4.0 + 8.0)
        })
        .sum();
    batch as f64 * per_image * F32
}

/// Channels per node and pixels of each of DARTS's `layers` cells: doubling (and halving) at the
/// reduction cells `layers / 3` and `2 * layers / 3`.
fn darts_cells(layers: usize, channels: usize, image: usize) -> Vec<(f64, f64)> {
    let (mut c, mut hw) = (channels as f64, (image * image) as f64);
    (0..layers)
        .map(|l| {
            if l == layers / 3 || l == 2 * layers / 3 {
                c *= 2.0;
                hw /= 4.0;
            }
            (c, hw)
        })
        .collect()
}

/// Weights of DARTS's search network: every op on every edge, `nodes` nodes per cell.
pub fn darts_params(layers: usize, channels: usize, nodes: usize) -> f64 {
    let n = nodes as f64;
    let edges = n * (n + 3.0) / 2.0;
    darts_cells(layers, channels, 32)
        .iter()
        // Per edge: sep 3x3 and 5x5 (two depthwise + pointwise each), dil 3x3 and 5x5, the
        // factorized skip; per cell: the preprocessing of two inputs of up to `nodes` x 2C.
        .map(|&(c, _)| edges * (6.0 * c * c + 102.0 * c) + 4.0 * n * c * c)
        .sum::<f64>()
        * 1.1
}

/// Activations kept for the backward pass of one DARTS mixed step: about 24 tensors per edge (the
/// eight ops' intermediates) and a few per node and cell.
pub fn darts_activations(layers: usize, channels: usize, nodes: usize, batch: usize, image: usize) -> f64 {
    let n = nodes as f64;
    let edges = n * (n + 3.0) / 2.0;
    let per_image: f64 =
        darts_cells(layers, channels, image).iter().map(|&(c, hw)| c * hw * (edges * 24.0 + 2.0 * n + 8.0)).sum();
    batch as f64 * per_image * F32
}

/// Weights of the LSTM controller (LSTM, attention, embeddings, op logits).
pub fn controller_params(lstm_size: usize, lstm_layers: usize) -> f64 {
    let h = lstm_size as f64;
    lstm_layers as f64 * 8.0 * h * h + 3.0 * h * h + 64.0 * h
}

/// Refuses a search whose config cannot fit (32x32 bounds every data source's images).
pub fn check_search(cfg: &Config) -> Result<()> {
    let mut parts = search_parts(cfg, 32);
    parts.push(Part { what: "derive candidates", bytes: cfg.search.derive_samples as f64 * 512.0 });
    check(
        "this search",
        &parts,
        "child.channels, child.layers or child.cells, the search batch sizes, search.derive_samples or \
         controller.lstm_size",
    )
}

/// Refuses a training run whose config cannot fit.
pub fn check_train(cfg: &Config) -> Result<()> {
    check("this training run", &train_parts(cfg, 32), "train.channels, train.layers or the train batch sizes")
}

/// Refuses an `enas inspect` whose networks cannot fit: for the ENAS micro space the supernet at
/// `child.*` (built for its parameter count), and the network `enas train` would train, with one
/// image of `image` x `image` through it (its latency is measured).
pub fn check_inspect(cfg: &Config, image: usize) -> Result<()> {
    let (t, nodes) = (&cfg.train, cfg.child.nodes);
    let (supernet, train, act) = match cfg.search.space {
        SpaceKind::Darts => {
            (0.0, darts_params(t.layers, t.channels, nodes), darts_activations(t.layers, t.channels, nodes, 1, image))
        }
        _ => (
            micro_params(cfg.child.layers, cfg.child.channels, nodes, true),
            micro_params(t.layers, t.channels, nodes, false),
            micro_activations(t.layers, t.channels, nodes, 1, image),
        ),
    };
    check(
        "this inspect",
        &[
            Part { what: "supernet weights", bytes: supernet * F32 },
            Part { what: "the trained network's weights", bytes: train * F32 },
            Part { what: "activations of one image", bytes: act },
        ],
        "child.channels or child.layers (the supernet), train.channels or train.layers, or --image",
    )
}

/// The parts of `enas search` with `cfg`: supernet, momentum, gradients, activations of the
/// largest batch, and the controller with its Adam moments.
pub fn search_parts(cfg: &Config, image: usize) -> Vec<Part> {
    let (c, s) = (&cfg.child, &cfg.search);
    let batch = s.batch_size.max(s.reward_batch_size).max(s.eval_batch_size);
    let (params, act) = match s.space {
        SpaceKind::EnasMicro => (
            micro_params(c.layers, c.channels, c.nodes, true),
            micro_activations(c.layers, c.channels, c.nodes, batch, image),
        ),
        SpaceKind::Nb201 => (nb201_params(c.cells, c.channels), nb201_activations(c.cells, c.channels, batch, image)),
        SpaceKind::Darts => (
            darts_params(c.layers, c.channels, c.nodes),
            darts_activations(c.layers, c.channels, c.nodes, batch, image),
        ),
    };
    let ctl = controller_params(cfg.controller.lstm_size, cfg.controller.lstm_layers);
    vec![
        Part { what: "supernet weights, gradients and momentum", bytes: 3.0 * params * F32 },
        Part { what: "activations of one step", bytes: act },
        Part { what: "controller and its Adam moments", bytes: 4.0 * ctl * F32 },
    ]
}

/// The parts of `enas train` with `cfg`.
pub fn train_parts(cfg: &Config, image: usize) -> Vec<Part> {
    let t = &cfg.train;
    let params = micro_params(t.layers, t.channels, cfg.child.nodes, false);
    let batch = t.batch_size.max(t.eval_batch_size);
    vec![
        Part { what: "weights, gradients and momentum", bytes: 3.0 * params * F32 },
        Part {
            what: "activations of one step",
            bytes: micro_activations(t.layers, t.channels, cfg.child.nodes, batch, image),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;
    use enas_child::{InitRoot, MicroNet, MicroShape, Nb201Shape, Nb201Supernet, Weights};

    fn within_2x(estimate: f64, actual: usize, what: &str) {
        let ratio = estimate / actual as f64;
        assert!((1.0..=2.0).contains(&ratio), "{what}: estimate {estimate:.0} for {actual} weights (x{ratio:.2})");
    }

    /// The estimates bound the networks as built, within 2x (the counts are the built stores').
    #[test]
    fn parameter_estimates_bound_the_built_networks() {
        for (layers, channels, nodes) in [(2, 8, 5), (6, 20, 5), (1, 4, 3), (9, 16, 4)] {
            let shape = MicroShape { in_channels: 3, classes: 10, layers, channels, nodes };
            let root = InitRoot::new(0, &Device::Cpu);
            MicroNet::new(shape, &Weights::Shared, root.init()).unwrap();
            within_2x(micro_params(layers, channels, nodes, true), root.finish().num_params(), "micro supernet");
        }
        for (layers, channels, nodes) in [(8, 16, 4), (5, 8, 4), (3, 4, 2), (14, 16, 4)] {
            let root = InitRoot::new(0, &Device::Cpu);
            let shape = enas_child::DartsShape { in_channels: 3, channels, layers, nodes, classes: 10 };
            enas_child::DartsSupernet::new(shape, root.init()).unwrap();
            within_2x(darts_params(layers, channels, nodes), root.finish().num_params(), "darts supernet");
        }
        for (cells, channels) in [(1, 8), (5, 16), (2, 4)] {
            let root = InitRoot::new(0, &Device::Cpu);
            Nb201Supernet::new(Nb201Shape { in_channels: 3, channels, cells, classes: 10 }, root.init()).unwrap();
            within_2x(nb201_params(cells, channels), root.finish().num_params(), "nb201 supernet");
        }
    }

    #[test]
    fn absurd_sizes_are_refused_and_defaults_pass() {
        let cfg = Config::default();
        check("enas search", &search_parts(&cfg, 32), "x").unwrap();
        check("enas train", &train_parts(&cfg, 32), "x").unwrap();
        let mut big = cfg.clone();
        big.child.channels = 100_000;
        let e = check("enas search", &search_parts(&big, 32), "child.channels").unwrap_err().to_string();
        assert!(
            e.contains("would need about") && e.contains("child.channels") && e.contains("supernet weights"),
            "{e}"
        );
        let mut big = cfg;
        big.controller.lstm_size = 1_000_000;
        assert!(check("enas search", &search_parts(&big, 32), "x").is_err());
    }
}
