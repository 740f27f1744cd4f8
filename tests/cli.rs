//! End-to-end tests through the `enas` binary: configs, inspect, train, and bad input.
use std::path::PathBuf;
use std::process::Output;

mod run;
use run::{cifar_records, enas, stderr};

const PUBLISHED: &str = "0 2 0 0 0 4 0 1 0 4 1 1 1 0 0 1 0 2 1 1 1 0 1 0 0 3 0 2 1 1 3 1 1 0 0 4 0 3 1 1";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A failure is exit code 2 with a one-paragraph message and no panic or backtrace.
fn assert_clean_failure(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "exit code; stderr: {err}");
    assert!(!err.contains("panicked") && !err.contains("RUST_BACKTRACE"), "{err}");
    for n in needles {
        assert!(err.contains(n), "stderr lacks `{n}`: {err}");
    }
}

#[test]
fn default_yaml_equals_config_default_and_every_config_parses() {
    let cfg = enas_shared::Config::load(Some(&root().join("configs/default.yaml")), &[]).unwrap();
    assert_eq!(cfg, enas_shared::Config::default());
    let mut n = 0;
    for entry in std::fs::read_dir(root().join("configs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            enas_shared::Config::load(Some(&path), &[]).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            n += 1;
        }
    }
    assert!(n >= 4, "found only {n} configs");
}

#[test]
fn inspect_prints_the_reference_counts() {
    let enas_shape = ["--set", "child.layers=6", "--set", "child.channels=20", "--set", "child.nodes=5"];
    let o = enas(&[&["inspect", "--arc", PUBLISHED][..], &enas_shape[..]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // Both pairs of counts were printed by the PyTorch reference, ../shared/bench/torch_enas_micro.py
    // (child/tests/micro.rs has the command and the table).
    assert_eq!(v["active_params"], 529_300);
    assert_eq!(v["supernet_params"], 5_373_140);
    assert!(v["flops"].as_u64().unwrap() > 10_000_000);
    // The network enas train would train: its own counts, and a latency measured here.
    let t = &v["train_network"];
    assert!(t["params"].as_u64().unwrap() > 0 && t["flops"].as_u64().unwrap() > 0, "{t}");
    assert!(t["latency_ms"].as_f64().unwrap() > 0.0 && t["latency_threads"].as_u64().unwrap() >= 1, "{t}");
    let small = "1 3 1 0 0 3 1 4 2 1 3 4 2 3 2 3 0 1 0 1 0 1 2 1 0 3 1 2 2 0 1 3";
    let o = enas(&[
        "inspect",
        "--arc",
        small,
        "--in-channels",
        "1",
        "--set",
        "child.layers=3",
        "--set",
        "child.channels=16",
        "--set",
        "child.nodes=4",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((v["active_params"].as_u64(), v["supernet_params"].as_u64()), (Some(138_864), Some(1_689_840)));
}

#[test]
fn train_quick_writes_metrics_and_summary() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = enas(&[
        "train",
        "--config",
        "configs/quick.yaml",
        "--arc",
        PUBLISHED,
        "--epochs",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("test accuracy"));
    let metrics = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    let lines: Vec<&str> = metrics.lines().collect();
    assert_eq!(lines[0], "epoch,lr,train_loss,train_acc,valid_acc,seconds");
    assert_eq!(lines.len(), 3, "{metrics}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let acc = summary["test_acc"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&acc));
    assert_eq!(summary["epochs"], 2);
    assert_eq!(summary["test_images"], 100);
    assert_eq!(summary["test_held_out"], false);
    assert!(summary["config"]["train"]["layers"].is_u64());
    assert!(out.join("model.safetensors").is_file());
    assert!(std::fs::read_dir(&out).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().contains("tmp")));
}

#[test]
fn bad_arcs_are_clear_errors() {
    assert_clean_failure(&enas(&["inspect", "--arc", "0 1 2"]), &["expected 40 integers", "got 3"]);
    let mut bad: Vec<&str> = PUBLISHED.split(' ').collect();
    bad[2] = "7";
    assert_clean_failure(&enas(&["inspect", "--arc", &bad.join(" ")]), &["position 2", "0..=1"]);
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("arc.txt");
    std::fs::write(&f, "0 1 x").unwrap();
    assert_clean_failure(&enas(&["train", "--arc-file", f.to_str().unwrap()]), &["arc.txt", "`x` at position 2"]);
    assert_clean_failure(&enas(&["train", "--arc-file", "/nonexistent/arc.txt"]), &["/nonexistent/arc.txt"]);
}

#[test]
fn bad_configs_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| -> PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let unknown = write("unknown.yaml", "child:\n  layerz: 3\n");
    assert_clean_failure(
        &enas(&["inspect", "--arc", PUBLISHED, "--config", unknown.to_str().unwrap()]),
        &["unknown.yaml", "layerz"],
    );
    let typed = write("typed.yaml", "train:\n  epochs: many\n");
    assert_clean_failure(
        &enas(&["inspect", "--arc", PUBLISHED, "--config", typed.to_str().unwrap()]),
        &["typed.yaml", "epochs"],
    );
    let range = write("range.yaml", "train:\n  sgd:\n    momentum: 2\n");
    assert_clean_failure(
        &enas(&["inspect", "--arc", PUBLISHED, "--config", range.to_str().unwrap()]),
        &["range.yaml", "train.sgd.momentum"],
    );
    assert_clean_failure(&enas(&["inspect", "--arc", PUBLISHED, "--set", "child.depth=3"]), &["child.depth", "layers"]);
    assert_clean_failure(
        &enas(&["inspect", "--arc", PUBLISHED, "--config", "/nonexistent.yaml"]),
        &["/nonexistent.yaml"],
    );
}

#[test]
fn bad_data_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing-here");
    let spec = format!("cifar10:{}", missing.display());
    assert_clean_failure(
        &enas(&["train", "--arc", PUBLISHED, "--data", &spec, "--out", dir.path().join("o1").to_str().unwrap()]),
        &["nothing-here"],
    );
    let cifar = dir.path().join("cifar");
    std::fs::create_dir(&cifar).unwrap();
    std::fs::write(cifar.join("data_batch_1.bin"), vec![0u8; 3073 * 2 + 5]).unwrap();
    let spec = format!("cifar10:{}", cifar.display());
    assert_clean_failure(
        &enas(&["train", "--arc", PUBLISHED, "--data", &spec, "--out", dir.path().join("o2").to_str().unwrap()]),
        &["data_batch_1.bin", "6151"],
    );
    assert_clean_failure(&enas(&["train", "--arc", PUBLISHED, "--data", "imagenet:/x"]), &["imagenet"]);
}

/// A `--data` value is a string, not YAML: `#` does not start a comment and `: ` does not make a
/// map, so the error names the whole path as given.
#[test]
fn data_on_the_command_line_is_taken_as_written() {
    let dir = tempfile::tempdir().unwrap();
    for (i, tail) in ["cif #1", "c: x", "it's"].into_iter().enumerate() {
        let spec = format!("cifar10:{}/{tail}", dir.path().display());
        let o = enas(&["search", "--data", &spec, "--out", dir.path().join(format!("o{i}")).to_str().unwrap()]);
        assert_clean_failure(&o, &[tail]);
        assert!(!stderr(&o).contains("invalid type"), "{}", stderr(&o));
    }
}

/// A CIFAR-10 directory without test_batch.bin holds test images out of the train batch: said
/// on stderr and in summary.json, never silently.
#[test]
fn a_test_set_held_out_of_the_train_files_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let cifar = dir.path().join("cifar");
    std::fs::create_dir(&cifar).unwrap();
    let bytes = cifar_records(120);
    std::fs::write(cifar.join("data_batch_1.bin"), &bytes).unwrap();
    let out = dir.path().join("run");
    let spec = format!("cifar10:{}", cifar.display());
    let sets = ["--set", "data.valid_size=20", "--set", "data.test_size=30", "--set", "train.batch_size=10"];
    let mut args = vec!["train", "--config", "configs/quick.yaml", "--arc", PUBLISHED, "--data", &spec];
    args.extend_from_slice(&sets);
    args.extend_from_slice(&["--out", out.to_str().unwrap()]);
    let o = enas(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no separate test file (cifar10: test_batch.bin")
            && stderr(&o).contains("30 of its training images"),
        "{}",
        stderr(&o)
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["test_held_out"], true);
    assert_eq!(summary["test_images"], 30);
}

/// Kernel threads are capped at the machine's cores (with a warning), and an environment value
/// that is not a thread count is replaced; summary.json records the count actually used.
#[test]
fn thread_counts_are_capped_at_the_cores_and_recorded() {
    let cores = std::thread::available_parallelism().unwrap().get() as u64;
    let dir = tempfile::tempdir().unwrap();
    for (i, (env, set)) in [("2000", "threads=0"), ("abc", "threads=0"), ("", "threads=2000")].into_iter().enumerate() {
        let out = dir.path().join(format!("r{i}"));
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_enas"));
        c.args(["search", "--config", "configs/quick.yaml", "--set", "search.epochs=1", "--set", set, "--out"])
            .arg(&out)
            .current_dir(root());
        if env.is_empty() {
            c.env_remove("RAYON_NUM_THREADS");
        } else {
            c.env("RAYON_NUM_THREADS", env);
        }
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stderr(&o).contains("warning:"), "{env} {set}: {}", stderr(&o));
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
        assert_eq!(summary["threads"].as_u64(), Some(cores), "{env} {set}");
    }
}

#[test]
fn every_subcommand_has_help() {
    for sub in ["inspect", "train", "search", "derive", "export", "bench", "bench-step"] {
        let o = enas(&[sub, "--help"]);
        assert!(o.status.success() && String::from_utf8_lossy(&o.stdout).contains("Usage"), "{sub}");
    }
}

/// Issue 13 item 2: `--out` is a new or empty directory; a run already there (of any command) is
/// never written over, and the refusal names what is there.
#[test]
fn no_command_writes_over_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let train = |out: &std::path::Path| {
        enas(&[
            "train",
            "--config",
            "configs/quick.yaml",
            "--arc",
            PUBLISHED,
            "--epochs",
            "1",
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let t = dir.path().join("t");
    let o = train(&t);
    assert!(o.status.success(), "{}", stderr(&o));
    let metrics = std::fs::read(t.join("metrics.csv")).unwrap();
    let summary = std::fs::read(t.join("summary.json")).unwrap();
    assert_clean_failure(&train(&t), &["already holds an `enas train` run", "metrics.csv", "new or empty directory"]);
    let search = |out: &std::path::Path| {
        enas(&["search", "--config", "configs/quick.yaml", "--set", "search.epochs=1", "--out", out.to_str().unwrap()])
    };
    assert_clean_failure(&search(&t), &["`enas train` run", "summary.json"]);
    assert_eq!(std::fs::read(t.join("metrics.csv")).unwrap(), metrics);
    assert_eq!(std::fs::read(t.join("summary.json")).unwrap(), summary);
    assert!(!t.join("state.json").exists());
    // A directory holding only a search's table, without its config: still a run.
    let s = dir.path().join("s");
    std::fs::create_dir(&s).unwrap();
    std::fs::write(s.join("architectures.csv"), "keep me\n").unwrap();
    assert_clean_failure(&search(&s), &["`enas search` run", "architectures.csv", "enas search --resume"]);
    assert_eq!(std::fs::read_to_string(s.join("architectures.csv")).unwrap(), "keep me\n");
    // An empty directory that exists is a new run's home.
    let e = dir.path().join("e");
    std::fs::create_dir(&e).unwrap();
    let o = train(&e);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// Issue 13 item 12: sizes that cannot fit are refused at once, with the estimate and what the
/// machine has, before any run directory is made.
#[test]
fn absurd_sizes_are_refused_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = out.to_str().unwrap();
    let table = dir.path().join("t.csv");
    std::fs::write(&table, "arch,valid_acc_12ep,test_acc_200ep\n|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,1,1\n")
        .unwrap();
    let cases: Vec<Vec<&str>> = vec![
        vec!["search", "--config", "configs/quick.yaml", "--set", "child.channels=100000", "--out", o],
        vec!["search", "--config", "configs/quick.yaml", "--set", "child.layers=1000", "--out", o],
        vec!["search", "--config", "configs/quick.yaml", "--set", "controller.lstm_size=1000000", "--out", o],
        vec![
            "train",
            "--config",
            "configs/quick.yaml",
            "--arc",
            PUBLISHED,
            "--set",
            "train.channels=100000",
            "--out",
            o,
        ],
        vec!["bench-step", "--image", "100000"],
        vec!["inspect", "--arc", PUBLISHED, "--set", "child.channels=100000"],
        vec!["inspect", "--arc", PUBLISHED, "--set", "train.layers=100000000"],
        vec!["derive", "--run", o, "--samples", "1000000000"],
        vec!["bench", "--table", table.to_str().unwrap(), "--trials", "18446744073709551615", "--out", o],
    ];
    for args in cases {
        let started = std::time::Instant::now();
        let result = enas(&args);
        assert_clean_failure(&result, &["would need about", "GiB", "available", "nothing was allocated"]);
        assert!(started.elapsed().as_secs() < 10, "{args:?} took {:?}", started.elapsed());
        assert!(!out.exists(), "{args:?} made its run directory before refusing");
    }
}
