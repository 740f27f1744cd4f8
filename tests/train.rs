//! `enas train` survives a stop: killed (SIGKILL) or stopped (SIGTERM) mid-run and resumed with
//! `--resume`, it ends with the same metrics (seconds aside) and the same weights as a run that
//! was never interrupted (issue 13 item 10).
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
mod run;

use run::{assert_resumed, enas, enas_cmd};

const PUBLISHED: &str = "0 2 0 0 0 4 0 1 0 4 1 1 1 0 0 1 0 2 1 1 1 0 1 0 0 3 0 2 1 1 3 1 1 0 0 4 0 3 1 1";
const EPOCHS: usize = 6;

fn train_args(out: &Path) -> Vec<String> {
    let epochs = EPOCHS.to_string();
    ["train", "--config", "configs/quick.yaml", "--arc", PUBLISHED, "--epochs", &epochs]
        .iter()
        .map(|s| s.to_string())
        .chain(["--set".into(), "train.channels=8".into(), "--out".into(), out.display().to_string()])
        .collect()
}

fn read_or_empty(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// metrics.csv without its seconds column (wall time differs between runs).
fn metrics_without_seconds(dir: &Path) -> Vec<String> {
    read_or_empty(&dir.join("metrics.csv"))
        .lines()
        .map(|l| l.rsplit_once(',').map(|(head, _)| head.to_string()).unwrap_or_default())
        .collect()
}

fn assert_same_run(whole: &Path, resumed: &Path, what: &str) {
    let m = metrics_without_seconds(whole);
    assert_eq!(m.len(), EPOCHS + 1, "{m:?}");
    assert_eq!(m, metrics_without_seconds(resumed), "{what}: metrics.csv differs");
    let (a, b) = (
        std::fs::read(whole.join("model.safetensors")).unwrap(),
        std::fs::read(resumed.join("model.safetensors")).unwrap(),
    );
    assert!(a == b, "{what}: model.safetensors differs");
    let test_acc = |d: &Path| -> serde_json::Value {
        serde_json::from_str::<serde_json::Value>(&read_or_empty(&d.join("summary.json"))).unwrap()["test_acc"].clone()
    };
    assert_eq!(test_acc(whole), test_acc(resumed), "{what}");
}

/// Waits until `dir`'s metrics.csv has `rows` epochs, failing after two minutes.
fn wait_for_epochs(dir: &Path, rows: usize) {
    let started = Instant::now();
    while read_or_empty(&dir.join("metrics.csv")).lines().count() < rows + 1 {
        assert!(started.elapsed() < Duration::from_secs(120), "no epoch {rows} after 120 s");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_killed_or_stopped_train_resumes_to_the_same_metrics_and_weights() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole");
    let args = train_args(&whole);
    let o = enas(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!whole.join("checkpoints").exists(), "a finished run keeps no checkpoint");

    // SIGKILL after the first epoch, in the second.
    let killed = dir.path().join("killed");
    let args = train_args(&killed);
    let mut child = enas_cmd(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_epochs(&killed, 1);
    std::thread::sleep(Duration::from_millis(200));
    child.kill().unwrap();
    child.wait().unwrap();
    let done = read_or_empty(&killed.join("metrics.csv")).lines().count() - 1;
    assert!(done < EPOCHS && !killed.join("summary.json").exists(), "the kill landed after the run ended");
    let o = enas(&["train", "--resume", killed.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_resumed(&o, None);
    assert_same_run(&whole, &killed, "SIGKILL");

    // SIGTERM: the step finishes, a checkpoint is written, exit 143 with the resume command.
    let stopped = dir.path().join("stopped");
    let args = train_args(&stopped);
    let child = enas_cmd(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_epochs(&stopped, 1);
    let sent = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(sent.success());
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(143), "{err}");
    assert!(!stopped.join("summary.json").exists(), "SIGTERM landed after the run ended");
    assert!(err.contains("enas train --resume"), "{err}");
    let said = err.to_string();
    // A state past the run's epochs is not this run's: refused, the run left to resume.
    let state_path = stopped.join("train_state.json");
    let good = std::fs::read_to_string(&state_path).unwrap();
    let mut state: serde_json::Value = serde_json::from_str(&good).unwrap();
    state["position"]["epoch"] = 99.into();
    std::fs::write(&state_path, state.to_string()).unwrap();
    let o = enas(&["train", "--resume", stopped.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("train_state.json") && e.contains("epoch 99 is past the run's"), "{e}");
    std::fs::write(&state_path, good).unwrap();
    let o = enas(&["train", "--resume", stopped.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_resumed(&o, Some(&said));
    assert_same_run(&whole, &stopped, "SIGTERM");

    // A finished run has nothing to resume.
    let o = enas(&["train", "--resume", whole.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("finished training run"));
}
