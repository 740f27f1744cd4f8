//! `enas bench` under the objectives with a cost (`objective:`): every strategy respects a hard
//! constraint, MnasNet's soft reward is what strategies are told, and bad settings are clear
//! errors. The tables are made up (`run::tables`), so each expected value is computed here from
//! the table's own formula.
use enas_shared::Nb201;
use std::collections::HashMap;
use std::path::Path;
mod run;

use run::enas;
use run::tables::{acc, cell, cost, write_costs, write_table};

const N: usize = 15_625;

fn tables(dir: &Path) -> (String, String) {
    let (t, c) = (dir.join("t.csv"), dir.join("c.csv"));
    write_table(&t, N);
    write_costs(&c, N, &(0..N).collect::<Vec<_>>());
    (t.to_str().unwrap().to_string(), c.to_str().unwrap().to_string())
}

fn bench(table: &str, costs: &str, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "bench",
        "--table",
        table,
        "--cost-table",
        costs,
        "--cost-column",
        "latency_ms",
        "--budget",
        "40",
        "--trials",
        "2",
        "--set",
        "strategy.proxy.pool=12",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    enas(&args)
}

/// The rows of trajectories.csv as (strategy, arch, reward).
fn trajectories(out: &Path) -> Vec<(String, String, f64)> {
    let mut r = csv::Reader::from_path(out.join("trajectories.csv")).unwrap();
    r.records()
        .map(|row| {
            let row = row.unwrap();
            (row[0].to_string(), row[3].to_string(), row[4].parse().unwrap())
        })
        .collect()
}

fn by_arch() -> HashMap<String, usize> {
    (0..N).map(|i| (Nb201.format(&cell(i)).unwrap(), i)).collect()
}

/// Every strategy `--strategy all` runs under a constraint (the proxy-guided and Pareto ones
/// included) queries only architectures within the limit, spends its whole budget on them, and the
/// printed optimum is the best final value within the limit.
#[test]
fn every_strategy_respects_a_hard_constraint() {
    let dir = tempfile::tempdir().unwrap();
    let (t, c) = tables(dir.path());
    let out = dir.path().join("c");
    // proxy-sweep gated: its neighbours are scored by synflow through the bench's engine.
    let extra = ["--objective", "constraint", "--set", "objective.limit=20", "--set", "strategy.sweep.gate=0.5"];
    let o = bench(&t, &c, &out, &extra);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows = trajectories(&out);
    let index = by_arch();
    let mut per_strategy: HashMap<String, usize> = HashMap::new();
    for (s, arch, reward) in &rows {
        let i = index[arch];
        assert!(cost(i) <= 20.0, "{s} queried {arch} at {} ms, over the limit", cost(i));
        assert_eq!(*reward, acc(i), "{s}: a constraint leaves the reward as it is");
        *per_strategy.entry(s.clone()).or_default() += 1;
    }
    let strategies = [
        "random",
        "evolution",
        "local",
        "reinforce",
        "proxy-local",
        "pareto-evolution",
        "proxy-pareto",
        "sweep",
        "proxy-sweep",
    ];
    for s in strategies {
        assert_eq!(per_strategy.get(s), Some(&80), "{s}: 2 trials x 40 queries within the limit");
    }
    let want = (0..N).filter(|&i| cost(i) <= 20.0).map(|i| acc(i) + 10.0).fold(f64::MIN, f64::max);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains(&format!("table optimum under objective constraint {want}")), "{stdout}");
    // Without the constraint the table's optimum costs more than the limit: the test can fail.
    let best = (0..N).max_by(|&a, &b| acc(a).total_cmp(&acc(b))).unwrap();
    assert!(cost(best) > 20.0);
}

/// MnasNet's soft objective: each query's told reward is `acc * (cost / target)^-0.07`.
#[test]
fn the_soft_objective_tells_mnasnets_reward() {
    let dir = tempfile::tempdir().unwrap();
    let (t, c) = tables(dir.path());
    let out = dir.path().join("s");
    let o =
        bench(&t, &c, &out, &["--objective", "soft", "--set", "objective.target=30", "--strategy", "random,evolution"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let index = by_arch();
    let rows = trajectories(&out);
    assert_eq!(rows.len(), 160);
    for (s, arch, reward) in rows {
        let i = index[&arch];
        let want = acc(i) * (cost(i) / 30.0).powf(-0.07);
        assert!((reward - want).abs() < 1e-9 * want, "{s} {arch}: told {reward}, MnasNet's reward is {want}");
    }
}

#[test]
fn objective_settings_are_checked_before_any_output() {
    let dir = tempfile::tempdir().unwrap();
    let (t, c) = tables(dir.path());
    let out = dir.path().join("x");
    let o = bench(&t, &c, &out, &["--objective", "constraint"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("objective.limit") && err.contains("finite limit above 0"), "{err}");
    // A limit below every cost (these are 1 ms and more): no architecture can be queried.
    let dear = dir.path().join("dear.csv");
    let text: String = std::iter::once("arch,latency_ms\n".to_string())
        .chain((0..N).map(|i| format!("{},{}\n", Nb201.format(&cell(i)).unwrap(), 1.0 + cost(i))))
        .collect();
    std::fs::write(&dear, text).unwrap();
    let o = bench(&t, dear.to_str().unwrap(), &out, &["--objective", "constraint", "--set", "objective.limit=0.5"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("objective.limit 0.5") && err.contains("t.csv") && err.contains("dear.csv"), "{err}");
    // A limit that admits fewer distinct architectures than the budget (40) without repeats: the
    // count, from the made-up table's formula.
    let fit = (0..N).filter(|&i| 1.0 + cost(i) <= 1.25).count();
    assert!(fit > 0 && fit < 40, "{fit}");
    let o = bench(&t, dear.to_str().unwrap(), &out, &["--objective", "constraint", "--set", "objective.limit=1.25"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    let want = format!("only {fit} of the table's {N} architectures cost that little or less, fewer than --budget 40");
    assert!(err.contains(&want) && err.contains("strategy.repeats=true"), "{err}");
    let o = bench(&t, &c, &out, &["--objective", "soft", "--set", "objective.target=30", "--set", "objective.alpha=1"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("objective.alpha"), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!out.exists(), "a refused bench left a directory");
}
