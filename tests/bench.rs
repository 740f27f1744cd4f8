//! `enas bench` end to end on a small made-up table: the files it writes, their shapes, and
//! clear errors for bad tables and strategy names.
use enas_shared::Nb201;
use std::path::Path;
mod run;

use run::enas;
use run::tables::{write_costs, write_table};

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
            // The standard error is the standard deviation over sqrt(3 trials).
            let (std, sem) = (b[k]["std"].as_f64().unwrap(), b[k]["sem"].as_f64().unwrap());
            assert!((sem - std / 3f64.sqrt()).abs() < 1e-9, "{s} {k}: std {std}, sem {sem}");
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
    // An editor's byte-order mark and CRLF line ends change nothing.
    std::fs::write(&cache, format!("\u{feff}{}", kept.replace('\n', "\r\n"))).unwrap();
    let (o, third) = run("d", "1");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("20 proxy scores reused"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(traj(&first), traj(&third));
    // A second score of one architecture by one proxy is not this tool's file: refused, naming
    // the line (the last one read used to win silently).
    let last = kept.lines().last().unwrap();
    let other = last.replace(",synflow,", ",synflow,1").to_string();
    assert_ne!(other, last);
    std::fs::write(&cache, format!("{kept}{other}\n")).unwrap();
    let (o, _) = run("e", "1");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("line 23: a second synflow score of the same architecture"), "{err}");
    std::fs::write(&cache, "").unwrap();
    let (o, _) = run("f", "1");
    assert!(String::from_utf8_lossy(&o.stderr).contains("the file is empty"), "{}", String::from_utf8_lossy(&o.stderr));
    // A cache path that cannot be created is refused before any output (it failed after every
    // trial had run); one inside --out is fine (the run's directory stays new until claimed).
    let with_cache = |out: &Path, cache: &Path| {
        let (t, o, c) = (table.to_str().unwrap(), out.to_str().unwrap(), cache.to_str().unwrap());
        let pool = "strategy.proxy.pool=10";
        enas(&[
            "bench",
            "--table",
            t,
            "--strategy",
            "proxy-local",
            "--budget",
            "5",
            "--trials",
            "1",
            "--set",
            pool,
            "--proxy-cache",
            c,
            "--out",
            o,
        ])
    };
    let blocked = dir.path().join("g");
    let o = with_cache(&blocked, &dir.path().join("a").join("trajectories.csv").join("scores.csv"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--proxy-cache") && err.contains("trajectories.csv is not a directory"), "{err}");
    assert!(!blocked.exists(), "the refused bench made its run directory");
    let inside = dir.path().join("h");
    let o = with_cache(&inside, &inside.join("scores.csv"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(inside.join("scores.csv").is_file() && inside.join("trajectories.csv").is_file());
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

/// `summary.json` without what a clock measured (keys holding "seconds"), for comparing runs.
fn summary_without_seconds(dir: &Path) -> serde_json::Value {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                m.retain(|k, _| !k.contains("seconds"));
                m.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    strip(&mut v);
    v
}

/// Issue 13 item 11: a bench stopped (SIGTERM) or killed (SIGKILL) mid-run keeps the trials it
/// completed, and `--resume` runs the rest to the same files as an uninterrupted run.
#[test]
fn a_stopped_or_killed_bench_resumes_to_the_same_results() {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("t.csv");
    write_table(&table, 15_625);
    let args = |out: &Path| -> Vec<String> {
        [
            "bench",
            "--table",
            table.to_str().unwrap(),
            "--strategy",
            "random,reinforce",
            "--budget",
            "60",
            "--trials",
            "150",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain(["--out".to_string(), out.display().to_string()])
        .collect()
    };
    let whole = dir.path().join("whole");
    let o = enas(&args(&whole).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!whole.join("trials").exists(), "a finished bench keeps no per-trial files");
    for (signal, code) in [("TERM", Some(143)), ("KILL", None)] {
        let out = dir.path().join(signal);
        let child = run::enas_cmd(&args(&out).iter().map(String::as_str).collect::<Vec<_>>())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let saved = |d: &Path| {
            std::fs::read_dir(d.join("trials"))
                .map(|r| r.filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "json")).count())
                .unwrap_or(0)
        };
        while saved(&out) < 2 {
            assert!(started.elapsed() < Duration::from_secs(120), "no trial saved after 120 s");
            std::thread::sleep(Duration::from_millis(2));
        }
        assert!(Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap()
            .success());
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), code, "SIG{signal}: {}", String::from_utf8_lossy(&o.stderr));
        if code.is_some() {
            assert!(String::from_utf8_lossy(&o.stderr).contains("enas bench --resume"));
        }
        let kept = saved(&out);
        assert!(
            !out.join("summary.json").exists() && kept < 300,
            "SIG{signal} landed after the bench ended ({kept} trials)"
        );
        // A table edited since the run started is refused: the saved trials read the old one.
        let original = std::fs::read(&table).unwrap();
        let mut edited = original.clone();
        let at = edited.iter().rposition(|&b| b == b'5').expect("a digit 5 in the table");
        edited[at] = b'6';
        std::fs::write(&table, &edited).unwrap();
        let o = enas(&["bench", "--resume", out.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains("the table") && err.contains("changed since the run started"), "{err}");
        assert_eq!(saved(&out), kept, "the refused resume ran trials");
        std::fs::write(&table, &original).unwrap();
        let o = enas(&["bench", "--resume", out.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{err}");
        assert!(err.contains(&format!("{kept} of 300 trials were completed before")), "{err}");
        for f in ["trajectories.csv", "plot.svg"] {
            assert!(
                std::fs::read(whole.join(f)).unwrap() == std::fs::read(out.join(f)).unwrap(),
                "SIG{signal}: {f} differs"
            );
        }
        assert_eq!(summary_without_seconds(&whole), summary_without_seconds(&out), "SIG{signal}");
    }
}

/// `--objective pareto`: regret and hypervolume per strategy and budget in summary.json; the join
/// is by architecture (a shuffled cost table gives the same numbers); a table architecture the
/// cost table lacks is an error naming it, before any output.
#[test]
fn pareto_bench_reports_regret_and_hypervolume_joined_by_architecture() {
    let dir = tempfile::tempdir().unwrap();
    let (table, costs, shuffled, short) =
        (dir.path().join("t.csv"), dir.path().join("c.csv"), dir.path().join("s.csv"), dir.path().join("m.csv"));
    let n = 15_625;
    write_table(&table, n);
    write_costs(&costs, n, &(0..n).collect::<Vec<_>>());
    write_costs(&shuffled, n, &(0..n).map(|i| (i * 1237) % n).collect::<Vec<_>>());
    write_costs(&short, n, &(0..n - 1).collect::<Vec<_>>());
    let run = |cost: &Path, out: &str| {
        enas(&[
            "bench",
            "--table",
            table.to_str().unwrap(),
            "--strategy",
            "random,evolution",
            "--budget",
            "60",
            "--trials",
            "4",
            "--objective",
            "pareto",
            "--cost-table",
            cost.to_str().unwrap(),
            "--cost-column",
            "latency_ms",
            "--out",
            dir.path().join(out).to_str().unwrap(),
        ])
    };
    let summary = |out: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(out).join("summary.json")).unwrap()).unwrap()
    };
    let o = run(&costs, "a");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("mean regret under 9 cost budgets"));
    let a = summary("a");
    for s in ["random", "evolution"] {
        for b in ["25", "50", "60"] {
            let e = &a["strategies"][s]["budgets"][b];
            let (r, h) = (e["regret"]["mean"].as_f64().unwrap(), e["hypervolume"]["mean"].as_f64().unwrap());
            assert!(r >= 0.0 && (0.0..=1.0).contains(&h), "{s} {b}: regret {r}, hypervolume {h}");
        }
        // More queries never lose what fewer found: regret falls and hypervolume grows, strictly
        // from 25 to 60 queries of 15,625 cells.
        let at = |b: &str, m: &str| a["strategies"][s]["budgets"][b][m]["mean"].as_f64().unwrap();
        assert!(at("60", "regret") < at("25", "regret") && at("60", "regret") > 0.0, "{s}: {}", a["strategies"][s]);
        assert!(at("60", "hypervolume") > at("25", "hypervolume"), "{s}: {}", a["strategies"][s]);
    }
    let svg = std::fs::read_to_string(dir.path().join("a").join("pareto.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("true front") && svg.contains("evolution"), "{svg}");
    assert!(!svg.contains("NaN") && !svg.contains("inf"), "pareto.svg has non-finite coordinates");
    let o = run(&shuffled, "b");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let b = summary("b");
    for s in ["random", "evolution"] {
        assert_eq!(a["strategies"][s]["budgets"], b["strategies"][s]["budgets"], "{s}");
    }
    let o = run(&short, "c");
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    let missing = Nb201.format(&(0..6).map(|k| ((n - 1) / 5usize.pow(k as u32)) % 5).collect::<Vec<_>>()).unwrap();
    assert!(err.contains("m.csv") && err.contains(&missing), "{err}");
    assert!(!dir.path().join("c").exists(), "a failed bench left a directory");
    let o = enas(&["bench", "--table", table.to_str().unwrap(), "--objective", "pareto"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("--cost-table FILE --cost-column NAME"));
}
