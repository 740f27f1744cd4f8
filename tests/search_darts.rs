//! The DARTS space end to end: `enas search --space darts` with DARTS's own method and with a
//! sampling strategy, the derived genotype retrained by `enas train` (auxiliary head and
//! drop-path on), and `enas inspect` of DARTS_V2 at the published size. Synthetic images: no data
//! files needed.
use std::path::Path;
mod run;

use run::{enas, read, stderr};

const DARTS_V2: &str = "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])";

/// A tiny DARTS-space search: 3 cells of 4 channels, 4 nodes, 2 epochs of 4 steps.
fn search(out: &Path, strategy: &str) -> std::process::Output {
    let strategy = format!("search.strategy={strategy}");
    let mut args = vec!["search", "--space", "darts", "--set", &strategy, "--out", out.to_str().unwrap()];
    for s in [
        "child.layers=3",
        "child.channels=4",
        "child.nodes=4",
        "search.epochs=2",
        "search.child_steps=4",
        "search.batch_size=16",
        "search.reward_batch_size=16",
        "search.derive_samples=2",
        "search.eval_batch_size=100",
        "data.synthetic_train=300",
        "data.valid_size=100",
        "controller.train_steps=2",
        "controller.num_aggregate=2",
    ] {
        args.extend(["--set", s]);
    }
    enas(&args)
}

#[test]
fn darts_searches_the_darts_space_and_its_genotype_retrains() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("search");
    let o = search(&out, "darts");
    assert!(o.status.success(), "{}", stderr(&o));
    let best = read(&out.join("best_arch.txt"));
    assert!(best.starts_with("Genotype(normal=[(") && best.contains("reduce_concat=[2, 3, 4, 5])"), "{best}");
    // genotypes.csv: a row per epoch, 2 x 14 edges x 8 ops of weights, each edge's summing to 1.
    let g = read(&out.join("genotypes.csv"));
    assert_eq!(g.lines().count(), 3, "{g}");
    assert_eq!(g.lines().next().unwrap(), "epoch,genotype,entropy,hessian_eig,weights");
    let mut r = csv::Reader::from_reader(g.as_bytes());
    for row in r.records() {
        let row = row.unwrap();
        assert!(row[1].starts_with("Genotype("));
        // Edges separated by `;`, each edge's eight weights by spaces.
        let w: Vec<f64> = row[4].split([';', ' ']).map(|t| t.parse().unwrap()).collect();
        assert_eq!(w.len(), 28 * 8, "{}", &row[4]);
        for edge in w.chunks(8) {
            assert!((edge.iter().sum::<f64>() - 1.0).abs() < 1e-5);
        }
    }
    // The derived genotype retrains with DARTS's options on.
    let trained = dir.path().join("train");
    let config = out.join("config.yaml");
    let arc = out.join("best_arch.txt");
    let o = enas(&[
        "train",
        "--arc-file",
        arc.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--epochs",
        "1",
        "--set",
        "train.layers=3",
        "--set",
        "train.channels=4",
        "--set",
        "train.aux_weight=0.4",
        "--set",
        "train.drop_path_prob=0.2",
        "--out",
        trained.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value = serde_json::from_str(&read(&trained.join("summary.json"))).unwrap();
    assert_eq!(summary["space"], "darts");
    assert_eq!(summary["arc"].as_str().unwrap(), best.trim());
}

/// ENAS's controller samples genotypes and trains the shared weights on them (single paths).
#[test]
fn the_controller_searches_the_darts_space() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("search");
    let o = search(&out, "reinforce");
    assert!(o.status.success(), "{}", stderr(&o));
    let arch = read(&out.join("architectures.csv"));
    assert!(arch.lines().count() > 4, "{arch}");
    assert!(read(&out.join("best_arch.txt")).starts_with("Genotype("));
}

/// DARTS's logs: DARTS_V2's evaluation network at 36 channels and 20 layers has 3,349,342
/// parameters (no auxiliary head); the search network at 16 x 8, 1,930,618 weights.
#[test]
fn inspect_counts_darts_v2_as_darts_does() {
    let dir = tempfile::tempdir().unwrap();
    let g = dir.path().join("v2.txt");
    std::fs::write(&g, format!("{DARTS_V2}\n")).unwrap();
    let o = enas(&[
        "inspect",
        "--arc-file",
        g.to_str().unwrap(),
        "--set",
        "search.space=darts",
        "--set",
        "child.nodes=4",
        "--set",
        "train.channels=36",
        "--set",
        "train.layers=20",
        "--set",
        "child.channels=16",
        "--set",
        "child.layers=8",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["params"], 3_349_342);
    assert_eq!(v["supernet_params"], 1_930_618);
    // The network built for training counts the same (built, not by formula), and has a latency.
    assert_eq!(v["train_network"]["params"], 3_349_342);
    assert_eq!(v["train_network"]["flops"], v["flops"]);
    assert!(v["train_network"]["latency_ms"].as_f64().unwrap() > 0.0);
    // child.layers (default 2) is the search network's: inspect and train read train.layers.
    let o =
        enas(&["inspect", "--arc-file", g.to_str().unwrap(), "--set", "search.space=darts", "--set", "child.nodes=4"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // A search needs 3 cells or more: with fewer all are reduction cells, and the reported normal
    // genotype would be the initial α. Refused before the data loads.
    let out = dir.path().join("two");
    let o = enas(&["search", "--space", "darts", "--set", "child.nodes=4", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("child.layers: must be at least 3 to search the darts space, got 2"), "{}", stderr(&o));
    assert!(!out.join("architectures.csv").exists());
    // A genotype under the default (ENAS micro) space is refused with the fix.
    let o = enas(&["inspect", "--arc-file", g.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--set search.space=darts"), "{}", stderr(&o));
}
