//! `enas bench` end to end on a small made-up table: the files it writes, their shapes, and
//! clear errors for bad tables and strategy names.
use enas_shared::Nb201;
use std::path::Path;
mod run;

use run::enas;

/// A table of the first `n` NAS-Bench-201 cells (in value order) with a made-up accuracy: more
/// 3x3 convs score higher; `final` is the reward plus a fixed offset.
fn write_table(path: &Path, n: usize) {
    let mut text = String::from("index,arch,valid_acc_12ep,test_acc_200ep\n");
    for i in 0..n {
        let values: Vec<usize> = (0..6).map(|k| (i / 5usize.pow(k as u32)) % 5).collect();
        let acc = 50.0 + 5.0 * values.iter().filter(|&&v| v == 3).count() as f64 + (i % 7) as f64 * 0.1;
        text.push_str(&format!("{i},{},{acc},{}\n", Nb201.format(&values).unwrap(), acc + 10.0));
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn bench_writes_the_table_summary_trajectories_and_plot() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("t.csv");
    write_table(&table, 15_625);
    let out = dir.path().join("out");
    let o = enas(&[
        "bench",
        "--table",
        table.to_str().unwrap(),
        "--budget",
        "60",
        "--trials",
        "3",
        "--out",
        out.to_str().unwrap(),
        "--set",
        "strategy.proxy.pool=12",
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let names = ["random", "evolution", "local", "reinforce", "proxy-evolution", "proxy-local", "vote-local"];
    for name in names.iter().chain(&["N=25", "N=50", "N=60", "optimum", "proxy s/trial"]) {
        assert!(stdout.contains(name), "stdout lacks {name}: {stdout}");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["optimum"].as_f64(), Some(table_optimum(&table)));
    for s in names {
        let b = &summary["strategies"][s]["budgets"];
        for k in ["25", "50", "60"] {
            let mean = b[k]["mean"].as_f64().unwrap();
            assert!(mean > 50.0 && mean <= table_optimum(&table), "{s} {k}: {mean}");
            assert!(b[k]["std"].as_f64().unwrap() >= 0.0 && b[k]["sem"].as_f64().unwrap() >= 0.0);
        }
        // Best-so-far never decreases.
        assert!(b["60"]["mean"].as_f64() >= b["25"]["mean"].as_f64(), "{s}");
        // The proxy-guided strategies scored their pool of 12 (vote-local with 2 proxies).
        let evals = summary["strategies"][s]["proxy_evaluations_per_trial"].as_f64().unwrap();
        let expected = match s {
            "proxy-evolution" | "proxy-local" => 12.0,
            "vote-local" => 24.0,
            _ => 0.0,
        };
        assert_eq!(evals, expected, "{s}");
        assert_eq!(summary["strategies"][s]["proxy_seconds_per_trial"].as_f64().unwrap() > 0.0, expected > 0.0, "{s}");
    }
    let traj = std::fs::read_to_string(out.join("trajectories.csv")).unwrap();
    let mut lines = traj.lines();
    assert_eq!(lines.next(), Some("strategy,trial,query,arch,reward,final,best_final"));
    assert_eq!(lines.count(), 7 * 3 * 60);
    let svg = std::fs::read_to_string(out.join("plot.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.matches("<polyline").count() == 7, "{svg}");
}

/// The best `test_acc_200ep` of a table written by `write_table`.
fn table_optimum(path: &Path) -> f64 {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().parse::<f64>().unwrap())
        .fold(f64::MIN, f64::max)
}

#[test]
fn bad_tables_and_names_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("t.csv");
    write_table(&table, 50);
    let text = std::fs::read_to_string(&table).unwrap().replacen("avg_pool_3x3", "max_pool_3x3", 1);
    std::fs::write(&table, text).unwrap();
    let t = table.to_str().unwrap();
    let o = enas(&["bench", "--table", t, "--budget", "5", "--trials", "1", "--out", dir.path().to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("t.csv") && err.contains("column `arch`") && err.contains("max_pool_3x3"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    write_table(&table, 50);
    let o = enas(&["bench", "--table", t, "--reward-column", "valid_acc", "--budget", "5"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no column `valid_acc`") && err.contains("valid_acc_12ep"), "{err}");
    let o = enas(&["bench", "--table", t, "--strategy", "bayesopt"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("unknown strategy `bayesopt`") && err.contains("evolution"), "{err}");
    let o = enas(&["bench", "--table", t, "--budget", "51"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--budget 51 is larger than the table (50"), "{err}");
    // A partial table fails at the first architecture it lacks, naming it.
    let out = dir.path().join("partial");
    let o = enas(&["bench", "--table", t, "--strategy", "random", "--budget", "40", "--out", out.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no row for architecture `|") && err.contains("15625 architectures, the table has 50"),
        "{err}"
    );
}

#[test]
fn proxy_scores_are_kept_and_reused_under_the_same_settings_only() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("t.csv");
    write_table(&table, 15_625);
    let cache = dir.path().join("scores.csv");
    let run = |out: &str, seed: &str| {
        let out = dir.path().join(out);
        let o = enas(&[
            "bench",
            "--table",
            table.to_str().unwrap(),
            "--strategy",
            "proxy-local",
            "--budget",
            "20",
            "--trials",
            "2",
            "--seed",
            seed,
            "--set",
            "strategy.proxy.pool=10",
            "--proxy-cache",
            cache.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        (o, out)
    };
    let (o, first) = run("a", "1");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("0 proxy scores reused"));
    let kept = std::fs::read_to_string(&cache).unwrap();
    assert!(kept.starts_with("# format=1 seed=1 data=none\nvalues,proxy,score,seconds\n"), "{kept}");
    assert_eq!(kept.lines().count(), 2 + 20, "two trials of 10 distinct pool members: {kept}");
    let (o, second) = run("b", "1");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("20 proxy scores reused"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let traj = |d: &Path| std::fs::read_to_string(d.join("trajectories.csv")).unwrap();
    assert_eq!(traj(&first), traj(&second));
    // Scores from another seed's networks are not mixed in.
    let (o, _) = run("c", "2");
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("other settings"), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Issue 13 item 2: a bench into a directory holding another run is refused and writes nothing.
#[test]
fn bench_never_writes_over_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("t.csv");
    write_table(&table, 100);
    let out = dir.path().join("train-run");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("config.yaml"), "seed: 7\n").unwrap();
    std::fs::write(out.join("metrics.csv"), "epoch\n1\n").unwrap();
    let o = enas(&[
        "bench",
        "--table",
        table.to_str().unwrap(),
        "--budget",
        "10",
        "--trials",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("already holds an `enas train` run") && err.contains("config.yaml, metrics.csv"), "{err}");
    assert_eq!(std::fs::read_to_string(out.join("config.yaml")).unwrap(), "seed: 7\n");
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 2);
}
