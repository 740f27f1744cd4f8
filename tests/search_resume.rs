//! End-to-end tests of stopping and resuming `enas search` on configs/quick.yaml: killed, signalled,
//! locked, died before its first checkpoint, resumed with a changed config.
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod run;
use run::{assert_resumed, cifar_records, enas, enas_cmd, quick_search, read, stderr};

#[test]
fn killed_and_resumed_search_equals_an_uninterrupted_one() {
    kill_and_resume("reinforce");
}

#[test]
fn killed_and_resumed_evolution_and_local_search_equal_uninterrupted_ones() {
    kill_and_resume("evolution");
    kill_and_resume("local");
}

/// Runs a 6-epoch quick search with `strategy` whole, and again killed mid-run and resumed.
fn kill_and_resume(strategy: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (whole, killed) = (dir.path().join("whole"), dir.path().join("killed"));
    // Six epochs, so a kill lands after the first checkpoint and well before the end (asserted).
    let strategy = format!("search.strategy={strategy}");
    let longer = ["--set", "search.epochs=6", "--set", &strategy];
    let o = quick_search(&whole, &longer);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut args = vec!["search", "--config", "configs/quick.yaml", "--out", killed.to_str().unwrap()];
    args.extend_from_slice(&longer);
    let mut child = enas_cmd(&args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    // Wait for the first epoch's checkpoint, then kill in the middle of the second epoch.
    let started = Instant::now();
    while !read_or_empty(&killed.join("epochs.csv")).lines().nth(1).is_some_and(|l| l.starts_with('1')) {
        assert!(started.elapsed() < Duration::from_secs(300), "no checkpoint after 300 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(!killed.join("summary.json").exists(), "{strategy}: the search finished before the kill");
    let o = enas(&["search", "--resume", killed.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_resumed(&o, None);
    assert_eq!(read(&whole.join("architectures.csv")), read(&killed.join("architectures.csv")), "{strategy}");
    assert_eq!(read(&whole.join("best_arch.txt")), read(&killed.join("best_arch.txt")), "{strategy}");
}

fn read_or_empty(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

#[test]
fn bad_resume_paths_and_corrupt_checkpoints_are_clear_errors() {
    let check = |o: &Output, needles: &[&str]| {
        let err = stderr(o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        for n in needles {
            assert!(err.contains(n), "stderr lacks `{n}`: {err}");
        }
    };
    check(&enas(&["search", "--resume", "/nonexistent/run"]), &["/nonexistent/run", "not a run directory"]);
    let dir = tempfile::tempdir().unwrap();
    check(&enas(&["search", "--resume", dir.path().to_str().unwrap()]), &["no config.yaml"]);
    let run = dir.path().join("run");
    let o = quick_search(&run, &["--set", "search.epochs=1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // A second search into the same directory would mix two runs.
    check(&quick_search(&run, &[]), &["already holds an `enas search` run", "enas search --resume"]);
    // A finished search has nothing to resume (as train and bench).
    check(&enas(&["search", "--resume", run.to_str().unwrap()]), &["is a finished search run", "nothing to resume"]);
    // Another command's run is named, not written over (a search resumed into a stopped training
    // run once started a search there and deleted the run's checkpoint).
    let other = dir.path().join("train-run");
    std::fs::create_dir(&other).unwrap();
    for f in ["config.yaml", "arc.txt", "metrics.csv"] {
        std::fs::write(other.join(f), f).unwrap();
    }
    check(
        &enas(&["search", "--resume", other.to_str().unwrap()]),
        &["is an `enas train` run, not a search", "enas train --resume"],
    );
    let mut left: Vec<_> = std::fs::read_dir(&other).unwrap().map(|e| e.unwrap().file_name()).collect();
    left.sort();
    assert_eq!(left, ["arc.txt", "config.yaml", "metrics.csv"], "the refused resume wrote into the run");
    check(
        &enas(&["train", "--resume", run.to_str().unwrap()]),
        &["is an `enas search` run, not a training run", "enas search --resume"],
    );
    // The checks below are of a stopped run: without summary.json.
    std::fs::remove_file(run.join("summary.json")).unwrap();
    // derive reads finished searches only (one from a stopped run's weights left a best_arch.txt
    // that the finished run then disagreed with).
    check(
        &enas(&["derive", "--run", run.to_str().unwrap()]),
        &["is a search that has not finished", "enas search --resume"],
    );
    assert!(!run.join("derive-2.csv").exists(), "the refused derive wrote a table");
    // A corrupt state file.
    let state = run.join("state.json");
    let good = read(&state);
    std::fs::write(&state, "{ not json").unwrap();
    check(&enas(&["search", "--resume", run.to_str().unwrap()]), &["state.json", "not a valid checkpoint"]);
    // A position past the run's epochs (it was taken for a finished run, and derived).
    assert!(good.contains("\"epoch\": 1,"), "{good}");
    std::fs::write(&state, good.replace("\"epoch\": 1,", "\"epoch\": 99,")).unwrap();
    check(
        &enas(&["search", "--resume", run.to_str().unwrap()]),
        &["state.json", "epoch 99 is past the run's 1 epochs (search.epochs)"],
    );
    std::fs::write(&state, &good).unwrap();
    // A truncated supernet checkpoint.
    let ck: serde_json::Value = serde_json::from_str(&good).unwrap();
    let supernet = run.join(ck["checkpoint"].as_str().unwrap()).join("supernet.safetensors");
    let bytes = std::fs::read(&supernet).unwrap();
    std::fs::write(&supernet, &bytes[..bytes.len() / 2]).unwrap();
    check(&enas(&["search", "--resume", run.to_str().unwrap()]), &["cannot restore the supernet"]);
}

/// Ctrl-C (SIGINT), SIGTERM (a cluster scheduler's stop) and SIGHUP (a closed terminal) stop a
/// search the same way: it finishes its step, checkpoints mid-epoch, exits 128 + the signal, and
/// resumes to the same results as an uninterrupted run. The signal lands mid-run (asserted).
#[test]
fn signals_checkpoint_exit_128_plus_signal_and_resume_identically() {
    let dir = tempfile::tempdir().unwrap();
    let longer = ["--set", "search.epochs=12"];
    let whole = dir.path().join("whole");
    let o = quick_search(&whole, &longer);
    assert!(o.status.success(), "{}", stderr(&o));
    for (signal, code) in [("INT", 130), ("TERM", 143), ("HUP", 129)] {
        let stopped = dir.path().join(signal);
        let mut args = vec!["search", "--config", "configs/quick.yaml", "--out", stopped.to_str().unwrap()];
        args.extend_from_slice(&longer);
        let child = enas_cmd(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let started = Instant::now();
        while !read_or_empty(&stopped.join("state.json")).contains("\"epoch\": 1") {
            assert!(started.elapsed() < Duration::from_secs(120), "no checkpoint after 120 s");
            std::thread::sleep(Duration::from_millis(5));
        }
        let sent = Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status().unwrap();
        assert!(sent.success());
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(code), "SIG{signal}: {}", stderr(&o));
        assert!(!stopped.join("summary.json").exists(), "SIG{signal} landed after the search finished");
        assert!(stderr(&o).contains("enas search --resume"), "{}", stderr(&o));
        let said = stderr(&o);
        let o = enas(&["search", "--resume", stopped.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_resumed(&o, Some(&said));
        assert_eq!(read(&whole.join("architectures.csv")), read(&stopped.join("architectures.csv")), "SIG{signal}");
    }
}

/// One writer per run directory: while a search runs, a second search into it, a resume of it
/// and a derive of it are refused naming the writer's pid; the lock of a killed writer is stale
/// and a resume takes it over.
#[test]
fn a_run_directory_has_one_writer_and_a_killed_writers_lock_is_stale() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("r");
    let r = run.to_str().unwrap();
    let mut child = enas_cmd(&["search", "--config", "configs/quick.yaml", "--out", r, "--set", "search.epochs=40"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !run.join("state.json").is_file() {
        assert!(started.elapsed() < Duration::from_secs(120), "no checkpoint after 120 s");
        std::thread::sleep(Duration::from_millis(10));
    }
    let pid = child.id().to_string();
    for args in [
        vec!["search", "--config", "configs/quick.yaml", "--out", r],
        vec!["search", "--resume", r],
        vec!["derive", "--run", r, "--samples", "1"],
    ] {
        let o = enas(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(&format!("pid {pid}")), "{args:?}: {}", stderr(&o));
    }
    assert!(child.try_wait().unwrap().is_none(), "the search ended during the test; it proves nothing");
    child.kill().unwrap(); // SIGKILL: the lock file stays behind
    child.wait().unwrap();
    assert!(run.join(".lock").is_file());
    let o = enas(&["search", "--resume", r]);
    // The resume takes the stale lock over, runs to the end
    // and removes its lock.
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!run.join(".lock").exists(), "the lock outlived its writer");
}

/// A search that died before its first checkpoint (here: its data was not there yet) leaves
/// config.yaml and no checkpoint; `--resume` starts it from the beginning with that config.
#[test]
fn a_run_that_died_before_its_first_checkpoint_resumes_from_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let cifar = dir.path().join("cifar");
    let run = dir.path().join("r");
    let spec = format!("cifar10:{}", cifar.display());
    let sets = ["--set", "data.valid_size=25", "--set", "search.epochs=1", "--set", "data.augment=false"];
    let mut args = vec!["search", "--config", "configs/quick.yaml", "--data", &spec, "--out", run.to_str().unwrap()];
    args.extend_from_slice(&sets);
    let o = enas(&args);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(run.join("config.yaml").is_file() && !run.join("state.json").exists());
    std::fs::create_dir(&cifar).unwrap();
    let bytes = cifar_records(200);
    std::fs::write(cifar.join("data_batch_1.bin"), &bytes).unwrap();
    std::fs::write(cifar.join("test_batch.bin"), &bytes[..3073 * 20]).unwrap();
    let o = enas(&["search", "--resume", run.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("no checkpoint yet"), "{}", stderr(&o));
    assert!(run.join("summary.json").is_file());
}

/// Issue 13 item 6: a resume refuses a `config.yaml` edited since the run started, naming the
/// keys (the stored paths are made absolute: `config_resume`'s unit tests).
#[test]
fn resume_refuses_a_changed_config() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run2");
    let o = quick_search(&run, &["--set", "search.epochs=1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let path = run.join("config.yaml");
    let cfg = read(&path);
    std::fs::write(&path, cfg.replace("seed: 0", "seed: 5").replace("lr: 0.0035", "lr: 0.5")).unwrap();
    // As a stopped run (a finished one is refused first).
    std::fs::remove_file(run.join("summary.json")).unwrap();
    let o = enas(&["search", "--resume", run.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("changed since the run started") && err.contains("seed: 0 -> 5"), "{err}");
    assert!(err.contains("controller.lr: 0.0035 -> 0.5"), "{err}");
}
