//! End-to-end tests of `enas search`, `derive` and `export` on configs/quick.yaml (stopping and
//! resuming a search: `search_resume.rs`).
mod run;
use run::{enas, quick_search, read, stderr};

/// quick.yaml: 2 epochs, 2 controller steps of 3 samples each.
const EPOCHS: usize = 2;
const SCORED_PER_EPOCH: usize = 2 * 3;

#[test]
fn quick_search_writes_every_file_and_is_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let o = quick_search(&a, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("enas train --arc-file"), "{stdout}");
    for f in
        ["config.yaml", "architectures.csv", "epochs.csv", "summary.json", "best_arch.txt", "derive.csv", "state.json"]
    {
        assert!(a.join(f).is_file(), "{f} missing");
    }
    let arch = read(&a.join("architectures.csv"));
    let mut lines = arch.lines();
    assert_eq!(
        lines.next().unwrap(),
        "epoch,step,sample,arc,normal,reduce,reward,valid_acc,log_prob,entropy,baseline,active_params,cost"
    );
    assert_eq!(lines.count(), EPOCHS * SCORED_PER_EPOCH);
    let epochs = read(&a.join("epochs.csv"));
    assert_eq!(
        epochs.lines().next().unwrap(),
        "epoch,lr,child_loss,child_acc,mean_reward,mean_valid_acc,mean_entropy,baseline,seconds,current,current_table_acc"
    );
    assert_eq!(epochs.lines().count(), 1 + EPOCHS);
    assert!(arch.contains("n2="), "readable cells: {arch}");
    let best = read(&a.join("best_arch.txt"));
    assert_eq!(best.split_whitespace().count(), 8 * 5, "{best}");
    let summary: serde_json::Value = serde_json::from_str(&read(&a.join("summary.json"))).unwrap();
    assert_eq!(summary["best_arc"].as_str().unwrap(), best.trim());

    // Same seed, config, data and threads: byte-identical architectures.csv.
    let o = quick_search(&b, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(arch, read(&b.join("architectures.csv")));
    assert_eq!(read(&a.join("derive.csv")), read(&b.join("derive.csv")));

    // The best arc retrains with the printed command.
    let t = enas(&[
        "train",
        "--arc-file",
        a.join("best_arch.txt").to_str().unwrap(),
        "--config",
        a.join("config.yaml").to_str().unwrap(),
        "--epochs",
        "1",
        "--out",
        dir.path().join("t").to_str().unwrap(),
    ]);
    assert!(t.status.success(), "{}", stderr(&t));

    // Export: all rows, the top 2, unique arcs.
    let e = dir.path().join("e.csv");
    let o = enas(&["export", "--run", a.to_str().unwrap(), "--out", e.to_str().unwrap(), "--top", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let top = read(&e);
    assert_eq!(top.lines().count(), 3);
    assert!(top.starts_with("epoch,step,sample,arc,"));
    // `--top 0` would write the header alone: refused, the file left as it was.
    let o = enas(&["export", "--run", a.to_str().unwrap(), "--out", e.to_str().unwrap(), "--top", "0"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--top must be at least 1"), "{}", stderr(&o));
    assert_eq!(read(&e), top);
    let o = enas(&["export", "--run", a.to_str().unwrap(), "--out", e.to_str().unwrap(), "--unique"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let arcs: Vec<String> = read(&e).lines().skip(1).map(|l| l.split(',').nth(3).unwrap().to_string()).collect();
    let mut dedup = arcs.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(arcs.len(), dedup.len());

    // Derive again with another sample count: a table of its own beside derive.csv, which stays;
    // best_arch.txt and summary.json change only to a better arc, and agree.
    let derived = read(&a.join("derive.csv"));
    let o = enas(&["derive", "--run", a.to_str().unwrap(), "--samples", "3"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(read(&a.join("derive-2.csv")).lines().count(), 4);
    assert_eq!(read(&a.join("derive.csv")), derived);
    let summary: serde_json::Value = serde_json::from_str(&read(&a.join("summary.json"))).unwrap();
    assert_eq!(summary["best_arc"].as_str().unwrap(), read(&a.join("best_arch.txt")).trim());
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("kept best_arch.txt") || stdout.contains("now hold this derive's best"), "{stdout}");
    let first: f64 = derived.lines().nth(1).unwrap().split(',').nth(4).unwrap().parse().unwrap();
    let second: f64 = read(&a.join("derive-2.csv")).lines().nth(1).unwrap().split(',').nth(4).unwrap().parse().unwrap();
    let best = summary["best_valid_acc"].as_f64().unwrap();
    assert!((best - first.max(second)).abs() < 1e-6, "{best} vs {first} {second}");
    // A one-sample derive never makes the run's best worse (the issue's case).
    let o = enas(&["derive", "--run", a.to_str().unwrap(), "--samples", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(a.join("derive-3.csv").is_file());
    let again: serde_json::Value = serde_json::from_str(&read(&a.join("summary.json"))).unwrap();
    assert!(again["best_valid_acc"].as_f64().unwrap() >= best);

    // Baselines under the same weights: uniform arcs, and the controller as it started. Neither
    // touches best_arch.txt.
    let best = read(&a.join("best_arch.txt"));
    for (flag, file) in [("--random", "random.csv"), ("--initial", "initial.csv")] {
        let o = enas(&["derive", "--run", a.to_str().unwrap(), "--samples", "3", flag]);
        assert!(o.status.success(), "{flag}: {}", stderr(&o));
        let table = read(&a.join(file));
        assert_eq!(table.lines().count(), 4, "{file}");
        assert!(table.starts_with("rank,arc,normal,reduce,valid_acc,log_prob,active_params"), "{file}");
    }
    assert_eq!(read(&a.join("best_arch.txt")), best);
    let o = enas(&["derive", "--run", a.to_str().unwrap(), "--random", "--initial"]);
    assert_eq!(o.status.code(), Some(2), "conflicting flags: {}", stderr(&o));
}

#[test]
fn other_strategies_search_with_the_supernet_as_evaluator() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("evo");
    let o = quick_search(&run, &["--set", "search.strategy=evolution", "--set", "strategy.evolution.population=4"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let arch = read(&run.join("architectures.csv"));
    let rows: Vec<Vec<&str>> = arch.lines().skip(1).map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), EPOCHS * SCORED_PER_EPOCH);
    // No controller: reward = accuracy; log_prob, entropy and baseline do not apply.
    for r in &rows {
        assert_eq!(r[6], r[7]);
        assert_eq!((r[8], r[9], r[10]), ("", "", ""));
    }
    let distinct: std::collections::HashSet<&str> = rows.iter().map(|r| r[3]).collect();
    assert_eq!(distinct.len(), rows.len(), "a strategy never re-queries an arc");
    // The candidates are the best queried arcs, re-scored on the whole validation split.
    let derive = read(&run.join("derive.csv"));
    let best = read(&run.join("best_arch.txt"));
    assert!(derive.lines().nth(1).unwrap().contains(best.trim()));
    assert!(rows.iter().any(|r| r[3] == best.trim()), "the best arc was one of the queries");
    let o = enas(&["derive", "--run", run.to_str().unwrap(), "--initial"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("searched with evolution"), "{}", stderr(&o));
    let o = enas(&["derive", "--run", run.to_str().unwrap(), "--random", "--samples", "3"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = quick_search(&dir.path().join("x"), &["--set", "search.strategy=annealing"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("search.strategy") || stderr(&o).contains("annealing"), "{}", stderr(&o));
}

#[test]
fn proxy_local_search_starts_from_the_largest_arcs_by_params() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("proxy");
    let sets = [
        "--set",
        "search.strategy=proxy-local",
        "--set",
        "strategy.proxy.score=params",
        "--set",
        "strategy.proxy.pool=50",
    ];
    let o = quick_search(&run, &sets);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("warm start: 50 arcs scored by params"), "{}", stderr(&o));
    let arch = read(&run.join("architectures.csv"));
    let header: Vec<&str> = arch.lines().next().unwrap().split(',').collect();
    let col = header.iter().position(|h| *h == "active_params").unwrap();
    let params: Vec<usize> = arch.lines().skip(1).map(|l| l.split(',').nth(col).unwrap().parse().unwrap()).collect();
    // The first queries are the pool's best by params, best first (local search queries
    // `init_samples` = 10 starts before it climbs).
    let starts = params.len().min(10);
    assert!(params[..starts].windows(2).all(|w| w[0] >= w[1]), "{params:?}");
    // ... and no start left in the pool (the method's saved state, best first) has more, as
    // `enas inspect` counts it.
    let mut saved: Vec<_> = std::fs::read_dir(run.join("checkpoints")).unwrap().map(|e| e.unwrap().path()).collect();
    saved.sort();
    let state: serde_json::Value = serde_json::from_str(&read(&saved.last().unwrap().join("method.json"))).unwrap();
    let next: Vec<String> = state["starts"][0].as_array().unwrap().iter().map(|v| v.to_string()).collect();
    let o = enas(&["inspect", "--config", "configs/quick.yaml", "--arc", &next.join(" ")]);
    let info: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let left = info["active_params"].as_u64().unwrap() as usize;
    assert!(params[..starts].iter().all(|&p| p >= left), "{params:?}, a start left with {left}");
    let summary: serde_json::Value = serde_json::from_str(&read(&run.join("summary.json"))).unwrap();
    assert_eq!(summary["proxy_evaluations"].as_u64(), Some(50));
    // synflow needs the NAS-Bench-201 network: a clear error before anything runs.
    let o = quick_search(&dir.path().join("x"), &["--set", "search.strategy=proxy-local"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("params or flops") && stderr(&o).contains("synflow"), "{}", stderr(&o));
}

/// `enas export --out` naming the run's own architectures.csv would replace it: refused.
#[test]
fn export_refuses_to_overwrite_the_runs_architectures() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("r");
    let o = quick_search(&run, &["--set", "search.epochs=1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let before = read(&run.join("architectures.csv"));
    let same = run.join("checkpoints/../architectures.csv");
    let o = enas(&["export", "--run", run.to_str().unwrap(), "--out", same.to_str().unwrap(), "--top", "1"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("architectures.csv"), "{}", stderr(&o));
    assert_eq!(read(&run.join("architectures.csv")), before);
}
