//! `enas proxy` end to end: the CSV it writes, rank correlations against a table, and clear
//! errors for bad input.
#[path = "../shared/tests/common/mod.rs"]
mod common;

use enas_shared::Nb201;
mod run;

use run::{enas, stderr};

#[test]
fn proxy_writes_one_row_per_architecture_and_correlates_with_a_table() {
    let dir = tempfile::tempdir().unwrap();
    // A made-up table whose accuracy is proportional to the cells' parameters (a nor_conv_1x1
    // edge adds 28,000 over the 15 cells, a nor_conv_3x3 edge 243,040): `params` ranks it exactly.
    let mut table = String::from("index,arch,valid_acc_12ep,test_acc_200ep\n");
    for i in 0..15_625usize {
        let v: Vec<usize> = (0..6).map(|k| (i / 5usize.pow(k as u32)) % 5).collect();
        let weight: f64 = v.iter().map(|&o| [0.0, 0.0, 28.0, 243.04, 0.0][o]).sum();
        table.push_str(&format!("{i},{},{weight},{weight}\n", Nb201.format(&v).unwrap()));
    }
    let t = dir.path().join("t.csv");
    std::fs::write(&t, table).unwrap();
    let out = dir.path().join("p.csv");
    let o = enas(&[
        "proxy",
        "--proxy",
        "synflow,params",
        "--sample",
        "12",
        "--seed",
        "4",
        "--table",
        t.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = std::fs::read_to_string(&out).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("arch,synflow,params"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 12);
    for r in &rows {
        let f: Vec<&str> = r.split(',').collect();
        assert_eq!(f.len(), 3, "{r}");
        Nb201.parse(f[0]).unwrap();
        assert!(f[1].parse::<f64>().unwrap().is_finite() && f[2].parse::<f64>().unwrap() >= 73_306.0, "{r}");
    }
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("spearman") && stdout.contains("kendall"), "{stdout}");
    let params_line = stdout.lines().find(|l| l.starts_with("params")).unwrap();
    let rho: f64 = params_line.split_whitespace().nth(2).unwrap().parse().unwrap();
    assert!((rho - 1.0).abs() < 1e-9, "{params_line}");
    // Two architectures always rank ±1 against each other: no correlation is reported.
    let o = enas(&["proxy", "--proxy", "params", "--sample", "2", "--table", t.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let line = stderr(&o).lines().find(|l| l.starts_with("params")).unwrap().to_string();
    assert_eq!(line.split_whitespace().collect::<Vec<_>>()[2..], ["n/a", "n/a", "2", "0"], "{line}");

    // The same seed gives the same file; --archs scores the listed architectures the same way.
    let again = dir.path().join("q.csv");
    let archs = dir.path().join("archs.txt");
    let listed: Vec<&str> = rows.iter().map(|r| r.split(',').next().unwrap()).collect();
    std::fs::write(&archs, format!("# sampled\n{}\n\n", listed.join("\n"))).unwrap();
    let o = enas(&[
        "proxy",
        "--proxy",
        "synflow,params",
        "--archs",
        archs.to_str().unwrap(),
        "--out",
        again.to_str().unwrap(),
        "--seed",
        "4",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&again).unwrap(), csv);
}

#[test]
fn bad_proxy_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let o = enas(&["proxy", "--proxy", "fisher", "--sample", "2"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("unknown proxy \"fisher\"") && stderr(&o).contains("synflow"), "{}", stderr(&o));
    // `enas` is no space at all (the error names the spaces); `enas_micro` has no proxies.
    let o = enas(&["proxy", "--proxy", "synflow", "--sample", "2", "--space", "enas"]);
    assert!(!o.status.success() && stderr(&o).contains("expected nb201, enas_micro or darts"), "{}", stderr(&o));
    let o = enas(&["proxy", "--proxy", "synflow", "--sample", "2", "--space", "enas_micro"]);
    assert!(!o.status.success() && stderr(&o).contains("--space nb201"), "{}", stderr(&o));
    let o = enas(&["proxy", "--proxy", "synflow", "--sample", "20000"]);
    assert!(!o.status.success() && stderr(&o).contains("15625"), "{}", stderr(&o));
    let archs = dir.path().join("a.txt");
    std::fs::write(&archs, "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|\n|conv~0|+|\n").unwrap();
    let o = enas(&["proxy", "--proxy", "params", "--archs", archs.to_str().unwrap()]);
    assert!(!o.status.success() && stderr(&o).contains("line 2"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    // A table without a sampled architecture is refused before anything is scored.
    let small = dir.path().join("small.csv");
    std::fs::write(&small, "index,arch,test_acc_200ep\n0,|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,10.0\n")
        .unwrap();
    let o = enas(&["proxy", "--proxy", "synflow", "--sample", "3", "--table", small.to_str().unwrap()]);
    assert!(!o.status.success() && stderr(&o).contains("no row for |"), "{}", stderr(&o));
}

#[test]
fn data_proxies_score_a_minibatch_of_real_images() {
    let Some(cifar) = common::real_data("cifar10-subset") else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("d.csv");
    let data = format!("cifar10:{}", cifar.display());
    let o = enas(&[
        "proxy",
        "--proxy",
        "naswot,jacob_cov,snip",
        "--sample",
        "3",
        "--data",
        &data,
        "--set",
        "strategy.proxy.batch_size=8",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("one minibatch of 8 training images"), "{}", stderr(&o));
    let csv = std::fs::read_to_string(&out).unwrap();
    assert_eq!(csv.lines().next(), Some("arch,naswot,jacob_cov,snip"));
    assert_eq!(csv.lines().count(), 4);
    // Generated images are refused unless named.
    let o = enas(&["proxy", "--proxy", "naswot", "--sample", "1"]);
    assert!(!o.status.success() && stderr(&o).contains("give --data SPEC"), "{}", stderr(&o));
}

/// `--out` naming the `--archs` file (however spelled) would replace the input: refused, and the
/// file is left as it was.
#[test]
fn output_equal_to_an_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let archs = dir.path().join("archs.txt");
    let text = format!("{}\n", Nb201.format(&[3, 3, 3, 1, 3, 3]).unwrap());
    std::fs::write(&archs, &text).unwrap();
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let same = sub.join("../archs.txt");
    let o = enas(&["proxy", "--proxy", "params", "--archs", archs.to_str().unwrap(), "--out", same.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("is the input --archs"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&archs).unwrap(), text);
}

/// Issue 13 item 11: `enas proxy --out F` stopped mid-run keeps its scores in F.partial, and the
/// same command run again reuses them and ends with the same F as an uninterrupted run.
#[test]
fn a_stopped_proxy_run_continues_from_its_partial_scores() {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let args = |out: &std::path::Path| -> Vec<String> {
        ["proxy", "--proxy", "synflow,params", "--sample", "600", "--seed", "3", "--out", out.to_str().unwrap()]
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let whole = dir.path().join("whole.csv");
    let o = enas(&args(&whole).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!dir.path().join("whole.csv.partial").exists());
    let out = dir.path().join("stopped.csv");
    let partial = dir.path().join("stopped.csv.partial");
    let child = run::enas_cmd(&args(&out).iter().map(String::as_str).collect::<Vec<_>>())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !partial.exists() {
        assert!(started.elapsed() < Duration::from_secs(120), "no partial scores after 120 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(143), "{}", stderr(&o));
    assert!(!out.exists(), "SIGTERM landed after the run ended");
    let kept = std::fs::read_to_string(&partial).unwrap().lines().count() - 2;
    assert!(kept > 0 && kept < 1200, "{kept} scores kept");
    let o = enas(&args(&out).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains(&format!("{kept} scores of an interrupted run reused")), "{}", stderr(&o));
    assert_eq!(std::fs::read(&whole).unwrap(), std::fs::read(&out).unwrap());
    assert!(!partial.exists());
}

/// `--proxy latency` measures each network here, one at a time on one thread: a cell of 3x3
/// convolutions on every edge takes more than twice the time of a cell with none (220.1 M
/// multiply-adds against 7.8 M, `enas proxy --proxy flops`); `--proxy all` does not include it.
#[test]
fn latency_is_measured_one_network_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let archs = dir.path().join("a.txt");
    let conv = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|";
    let none = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|";
    std::fs::write(&archs, format!("{conv}\n{none}\n")).unwrap();
    let out = dir.path().join("l.csv");
    let o = enas(&[
        "proxy",
        "--proxy",
        "latency,flops",
        "--archs",
        archs.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("one architecture at a time on one thread"), "{}", stderr(&o));
    let text = std::fs::read_to_string(&out).unwrap();
    let ms: Vec<f64> = text.lines().skip(1).map(|l| l.split(',').nth(1).unwrap().parse().unwrap()).collect();
    assert!(ms.iter().all(|m| m.is_finite() && *m > 0.0), "{text}");
    assert!(ms[0] > 2.0 * ms[1], "the all-conv cell should take far longer: {text}");
    let o = enas(&["proxy", "--proxy", "all", "--data", "synthetic", "--archs", archs.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!String::from_utf8_lossy(&o.stdout).lines().next().unwrap().contains("latency"));
}
