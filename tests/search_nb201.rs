//! `enas search` on the NAS-Bench-201 space with a benchmark table: every strategy runs and
//! reports its derived cell's table accuracy, a killed search resumes exactly, and the rank check
//! agrees with an independent Kendall tau. The table is a made-up one over the real space (as in
//! tests/bench.rs), so these tests need no data files; the images are the synthetic set.
use enas_shared::Nb201;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
mod run;

use run::{assert_resumed, enas, enas_cmd, read, stderr};

/// Every NAS-Bench-201 cell with a made-up final accuracy: more 3x3 convs score higher.
fn write_table(path: &Path) {
    let mut text = String::from("index,arch,valid_acc_12ep,test_acc_200ep\n");
    for i in 0..15_625 {
        let values: Vec<usize> = (0..6).map(|k| (i / 5usize.pow(k as u32)) % 5).collect();
        let acc = made_up_acc(&values);
        text.push_str(&format!("{i},{},{acc},{acc}\n", Nb201.format(&values).unwrap()));
    }
    std::fs::write(path, text).unwrap();
}

fn made_up_acc(values: &[usize]) -> f64 {
    50.0 + 5.0 * values.iter().filter(|&&v| v == 3).count() as f64 + values[0] as f64 * 0.25
}

/// A tiny NAS-Bench-201 search (quick.yaml sizes, C = 4, one cell per stage).
fn nb201_args<'a>(out: &'a str, table: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "search",
        "--config",
        "configs/quick.yaml",
        "--table",
        table,
        "--out",
        out,
        "--set",
        "search.space=nb201",
        "--set",
        "child.channels=4",
        "--set",
        "child.cells=1",
        "--set",
        "controller.op_bias_init=[0,0,0,0,0]",
        "--set",
        "controller.normal_op_bias=[0,0,0,0,0]",
    ];
    args.extend_from_slice(extra);
    args
}

fn json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&read(p)).unwrap()
}

#[test]
fn every_strategy_searches_nb201_and_reports_its_cells_table_accuracy() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("t.csv");
    write_table(&table);
    let strategies =
        ["reinforce", "random", "evolution", "local", "proxy-evolution", "proxy-local", "vote-local", "darts"];
    for strategy in strategies {
        let out = dir.path().join(strategy);
        let set = format!("search.strategy={strategy}");
        // The proxy-guided ones rank a pool by synflow on the benchmark's network (untrained).
        let extra = ["--set", &set, "--set", "strategy.proxy.pool=12"];
        let o = enas(&nb201_args(out.to_str().unwrap(), table.to_str().unwrap(), &extra));
        assert!(o.status.success(), "{strategy}: {}", stderr(&o));
        let best = read(&out.join("best_arch.txt"));
        let values = Nb201.parse(best.trim()).unwrap();
        let summary = json(&out.join("summary.json"));
        assert_eq!(summary["best_table_acc"].as_f64(), Some(made_up_acc(&values)), "{strategy}");
        // Six 3x3 convs, the first of them on edge 0 (value 3): 50 + 30 + 0.75.
        assert_eq!(summary["table_optimum"].as_f64(), Some(80.75));
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(stdout.contains(&format!("table test_acc_200ep: {:.2}", made_up_acc(&values))), "{stdout}");
        // After every epoch, the cell the method would return and its table accuracy.
        let epochs = read(&out.join("epochs.csv"));
        let header: Vec<&str> = epochs.lines().next().unwrap().split(',').collect();
        let (ic, ia) = (
            header.iter().position(|h| *h == "current").unwrap(),
            header.iter().position(|h| *h == "current_table_acc").unwrap(),
        );
        assert_eq!(epochs.lines().count(), 3, "{strategy}: a header and 2 epochs: {epochs}");
        for line in epochs.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            let acc: f64 = f[ia].parse().unwrap();
            assert_eq!(acc, made_up_acc(&Nb201.parse(f[ic]).unwrap()), "{strategy}: {line}");
        }
        // The NB201 string in every row, and the path's parameters.
        let arch = read(&out.join("architectures.csv"));
        assert!(arch.lines().count() > 1 && arch.lines().skip(1).all(|l| l.contains("|+|")), "{arch}");
    }
}

#[test]
fn a_killed_nb201_search_resumes_to_the_same_results() {
    kill_and_resume("reinforce", &[]);
}

/// DARTS's architecture weights and their Adam moments are checkpointed with the rest.
#[test]
fn a_killed_darts_search_resumes_to_the_same_results() {
    kill_and_resume("darts", &[]);
}

/// DrNAS's Dirichlet draws come from the method's seeded stream and the pruning mask is in the
/// checkpoint: a killed DrNAS search with pruning resumes to the same results.
#[test]
fn a_killed_drnas_search_with_pruning_resumes_to_the_same_results() {
    kill_and_resume(
        "darts",
        &["--set", "darts.relaxation=dirichlet", "--set", "darts.prune_at=[1]", "--set", "darts.prune_keep=[3]"],
    );
}

fn kill_and_resume(strategy: &str, extra: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("t.csv");
    write_table(&table);
    let (whole, killed) = (dir.path().join("whole"), dir.path().join("killed"));
    let set = format!("search.strategy={strategy}");
    let mut longer = vec!["--set", "search.epochs=4", "--set", &set];
    longer.extend_from_slice(extra);
    let o = enas(&nb201_args(whole.to_str().unwrap(), table.to_str().unwrap(), &longer));
    assert!(o.status.success(), "{}", stderr(&o));
    let args = nb201_args(killed.to_str().unwrap(), table.to_str().unwrap(), &longer);
    let mut child = enas_cmd(&args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let started = Instant::now();
    // Wait for the first epoch's checkpoint (state.json is written last), then kill at once.
    let epoch_done = || {
        let text = std::fs::read_to_string(killed.join("state.json")).unwrap_or_default();
        serde_json::from_str::<serde_json::Value>(&text).is_ok_and(|s| s["epoch"].as_u64() >= Some(1))
    };
    while !epoch_done() {
        assert!(started.elapsed() < Duration::from_secs(300), "no checkpoint after 300 s");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // The kill landed mid-run: the search had not finished.
    assert!(!killed.join("summary.json").exists(), "the search finished before the kill; the test proves nothing");
    let state = json(&killed.join("state.json"));
    assert!(state["epoch"].as_u64().unwrap() < 4, "{state}");
    let o = enas(&["search", "--resume", killed.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_resumed(&o, None);
    for f in ["architectures.csv", "best_arch.txt", "derive.csv"] {
        assert_eq!(read(&whole.join(f)), read(&killed.join(f)), "{f}");
    }
    if strategy == "darts" {
        let g = read(&whole.join("genotypes.csv"));
        assert_eq!(g.lines().count(), 1 + 4, "{g}");
        assert_eq!(g.lines().next().unwrap(), "epoch,genotype,entropy,hessian_eig,weights");
        assert_eq!(g, read(&killed.join("genotypes.csv")));
    }
    // epochs.csv without its wall-time column.
    let no_seconds = |p: &Path| -> Vec<String> {
        let text = read(p);
        let col = text.lines().next().unwrap().split(',').position(|h| h == "seconds").unwrap();
        text.lines()
            .map(|l| l.split(',').enumerate().filter(|(i, _)| *i != col).map(|(_, c)| c).collect::<Vec<_>>().join(","))
            .collect()
    };
    assert_eq!(no_seconds(&whole.join("epochs.csv")), no_seconds(&killed.join("epochs.csv")));
    let (a, b) = (json(&whole.join("summary.json")), json(&killed.join("summary.json")));
    assert_eq!(a["best_table_acc"], b["best_table_acc"]);
}

/// Kendall's tau-b from its definition (concordant minus discordant pairs over the tie-corrected
/// pair counts), independent of the crate's implementation.
fn kendall_tau_b(x: &[f64], y: &[f64]) -> f64 {
    let (mut c, mut d, mut tx, mut ty) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for i in 0..x.len() {
        for j in i + 1..x.len() {
            let (a, b) = ((x[i] - x[j]).signum(), (y[i] - y[j]).signum());
            if x[i] == x[j] && y[i] == y[j] {
                continue;
            } else if x[i] == x[j] {
                tx += 1.0;
            } else if y[i] == y[j] {
                ty += 1.0;
            } else if a == b {
                c += 1.0;
            } else {
                d += 1.0;
            }
        }
    }
    (c - d) / ((c + d + tx) * (c + d + ty)).sqrt()
}

#[test]
fn the_rank_check_scores_fixed_cells_and_correlates_them_with_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("t.csv");
    write_table(&table);
    let mut checks = Vec::new();
    for seed in ["0", "1"] {
        let out = dir.path().join(seed);
        let o = enas(&nb201_args(out.to_str().unwrap(), table.to_str().unwrap(), &["--seed", seed]));
        assert!(o.status.success(), "{}", stderr(&o));
        let o = enas(&["derive", "--run", out.to_str().unwrap(), "--rank-check", "12"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let csv = read(&out.join("rank_check.csv"));
        let rows: Vec<Vec<String>> = csv.lines().skip(1).map(|l| l.split(',').map(String::from).collect()).collect();
        assert_eq!(rows.len(), 12);
        let acc: Vec<f64> = rows.iter().map(|r| r[2].parse().unwrap()).collect();
        let tab: Vec<f64> = rows.iter().map(|r| r[3].parse().unwrap()).collect();
        for r in &rows {
            assert_eq!(r[3].parse::<f64>().unwrap(), made_up_acc(&Nb201.parse(&r[1]).unwrap()));
        }
        let report = json(&out.join("rank_check.json"));
        let tau = report["kendall_tau"].as_f64().unwrap();
        assert!((tau - kendall_tau_b(&acc, &tab)).abs() < 1e-12, "{tau} vs {}", kendall_tau_b(&acc, &tab));
        checks.push(rows.iter().map(|r| r[1].clone()).collect::<Vec<_>>());
    }
    // The same fixed cells for every run, whatever its seed.
    assert_eq!(checks[0], checks[1]);
}

#[test]
fn a_table_is_refused_outside_nb201_and_rank_check_needs_one() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("t.csv");
    write_table(&table);
    let out = dir.path().join("micro");
    let o = enas(&[
        "search",
        "--config",
        "configs/quick.yaml",
        "--table",
        table.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("search.table") && stderr(&o).contains("nb201"), "{}", stderr(&o));
    let out = dir.path().join("plain");
    let o = enas(&["search", "--config", "configs/quick.yaml", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = enas(&["derive", "--run", out.to_str().unwrap(), "--rank-check", "5"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--rank-check") && stderr(&o).contains("table"), "{}", stderr(&o));
}

/// Second-order DARTS runs end to end (its gradient is checked against differences of the
/// unrolled loss in `src/search/unrolled.rs`), and its architecture weights differ from
/// first order's after the same steps.
#[test]
fn second_order_darts_searches_nb201() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("t.csv");
    write_table(&table);
    let mut weights = Vec::new();
    for order in ["1", "2"] {
        let out = dir.path().join(order);
        let set = format!("darts.order={order}");
        let extra = ["--set", "search.strategy=darts", "--set", &set, "--set", "darts.arch_lr=0.05"];
        let o = enas(&nb201_args(out.to_str().unwrap(), table.to_str().unwrap(), &extra));
        assert!(o.status.success(), "order {order}: {}", stderr(&o));
        let g = read(&out.join("genotypes.csv"));
        weights.push(g.lines().last().unwrap().rsplit(',').next().unwrap().to_string());
    }
    assert_ne!(weights[0], weights[1], "second order moved alpha exactly as first order did");
}

/// DARTS+'s early stop: with `darts.stop_at_skips = 1` a search ends at the first epoch boundary
/// where its derived cell holds a skip: the same run as without the rule up to that epoch (the
/// same genotypes.csv lines), that epoch's cell returned, and summary.json saying why. The first
/// seed whose unstopped run derives a skip within 6 epochs is the case.
#[test]
fn darts_plus_stops_when_the_derived_cell_holds_skips() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("t.csv");
    write_table(&table);
    let run = |name: String, seed: &str, stop: &str| {
        let out = dir.path().join(name);
        let set = format!("darts.stop_at_skips={stop}");
        let extra = [
            "--seed",
            seed,
            "--set",
            "search.strategy=darts",
            "--set",
            "search.epochs=6",
            "--set",
            &set,
            "--set",
            "darts.arch_lr=0.05",
        ];
        let o = enas(&nb201_args(out.to_str().unwrap(), table.to_str().unwrap(), &extra));
        assert!(o.status.success(), "{}", stderr(&o));
        out
    };
    let cell = |line: &str| line.split(',').nth(1).unwrap().to_string();
    for seed in ["0", "1", "2", "3", "4", "5"] {
        let full = run(format!("full{seed}"), seed, "0");
        let g = read(&full.join("genotypes.csv"));
        assert_eq!(g.lines().count(), 1 + 6);
        assert!(json(&full.join("summary.json")).get("stopped_early").is_none());
        // The rule is asked from the end of epoch 1 on, before epoch 6 starts.
        let Some(at) = g.lines().skip(1).take(5).position(|l| cell(l).contains("skip_connect")) else { continue };
        let epochs = at + 1;
        let stopped = run(format!("stopped{seed}"), seed, "1");
        let s = read(&stopped.join("genotypes.csv"));
        let expected: Vec<&str> = g.lines().take(1 + epochs).collect();
        assert_eq!(s.lines().collect::<Vec<_>>(), expected, "seed {seed}");
        let summary = json(&stopped.join("summary.json"));
        assert!(summary["stopped_early"].as_str().unwrap().contains("stop_at_skips = 1"), "{summary}");
        assert_eq!(summary["epochs"], epochs);
        assert_eq!(summary["best_arc"].as_str().unwrap(), cell(expected[epochs]));
        return;
    }
    panic!("no seed derived a skip within 5 epochs; the rule was never exercised");
}

/// DrNAS's Dirichlet relaxation with progressive pruning and P-DARTS's skip limit, end to end:
/// `genotypes.csv` has all five ops on every edge after epoch 1 (pruning starts at epoch 1,
/// counted from 0) and exactly two from epoch 2 on; each derived edge's op is one of its two.
/// `max_skips` goes through the CLI here, but this tiny search derives no skip with or without it
/// (checked by hand), so its last assertion cannot tell the rule from its absence: the rule itself
/// is pinned by the hand-worked `max_skips_*` unit tests in `src/search/darts_tests.rs`.
#[test]
fn dirichlet_darts_prunes_ops_and_limits_skips() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("t.csv");
    write_table(&table);
    let out = dir.path().join("drnas");
    let extra = [
        "--set",
        "search.strategy=darts",
        "--set",
        "search.epochs=3",
        "--set",
        "darts.arch_lr=0.05",
        "--set",
        "darts.relaxation=dirichlet",
        "--set",
        "darts.prune_at=[1]",
        "--set",
        "darts.prune_keep=[2]",
        "--set",
        "darts.max_skips=1",
    ];
    let o = enas(&nb201_args(out.to_str().unwrap(), table.to_str().unwrap(), &extra));
    assert!(o.status.success(), "{}", stderr(&o));
    let g = read(&out.join("genotypes.csv"));
    let ops = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"];
    for (i, line) in g.lines().skip(1).enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        let rows: Vec<Vec<f64>> =
            fields[4].split(';').map(|r| r.split(' ').map(|x| x.parse().unwrap()).collect()).collect();
        let edges: Vec<&str> = fields[1].split('|').filter(|s| s.contains('~')).collect();
        assert_eq!((rows.len(), edges.len()), (6, 6), "{line}");
        for (row, edge) in rows.iter().zip(&edges) {
            let kept = row.iter().filter(|&&w| w > 0.0).count();
            assert_eq!(kept, if i == 0 { 5 } else { 2 }, "epoch {}: {line}", i + 1);
            let op = ops.iter().position(|o| edge.starts_with(o)).unwrap();
            assert!(row[op] > 0.0, "epoch {}: the derived op {edge} was pruned", i + 1);
        }
        assert!(edges.iter().filter(|e| e.starts_with("skip_connect")).count() <= 1, "{line}");
    }
    assert_eq!(g.lines().count(), 1 + 3);
}
