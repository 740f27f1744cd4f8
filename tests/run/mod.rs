//! Running the `enas` binary from the integration tests.
use std::path::Path;
use std::process::{Command, Output};

/// Runs `enas ARGS` in the workspace root with 2 kernel threads and waits for it.
pub fn enas(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_enas"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("RAYON_NUM_THREADS", "2")
        .output()
        .expect("the enas binary runs")
}

/// `enas ARGS` as a command to spawn (for tests that interrupt it), set up as `enas` runs it.
#[allow(dead_code)]
pub fn enas_cmd(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_enas"));
    c.args(args).current_dir(env!("CARGO_MANIFEST_DIR")).env("RAYON_NUM_THREADS", "2");
    c
}

/// What a finished command wrote to stderr.
#[allow(dead_code)]
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A file's text; a missing file fails the test naming it.
#[allow(dead_code)]
pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// `enas search --config configs/quick.yaml --out OUT EXTRA...`.
#[allow(dead_code)]
pub fn quick_search(out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["search", "--config", "configs/quick.yaml", "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    enas(&args)
}

/// Asserts that `resume`, the output of `enas search|train --resume`, continued from a checkpoint
/// (not from the start), and with `stopped` (the stopped run's stderr, "checkpoint written at
/// epoch E, [phase ]step S.") from the one that run says it wrote.
#[allow(dead_code)]
pub fn assert_resumed(resume: &Output, stopped: Option<&str>) {
    let said = stderr(resume);
    assert!(said.contains("resuming ") && said.contains(" at epoch "), "did not resume from a checkpoint: {said}");
    if let Some(stopped) = stopped {
        let at = stopped.split("checkpoint written at epoch ").nth(1).and_then(|r| r.split('.').next());
        let (epoch, step) =
            at.and_then(|a| a.split_once(", ")).unwrap_or_else(|| panic!("no checkpoint in: {stopped}"));
        assert!(
            said.contains(&format!(" at epoch {epoch} of ")) && said.contains(&format!(", {step}")),
            "stopped at epoch {epoch}, {step}; resumed: {said}"
        );
    }
}

/// `n` made-up CIFAR-10 binary records (a label byte, then 3,072 pixel bytes), label `i % 10`.
#[allow(dead_code)]
pub fn cifar_records(n: u32) -> Vec<u8> {
    let mut bytes = Vec::new();
    for i in 0..n {
        bytes.push((i % 10) as u8);
        bytes.extend((0..3072u32).map(|k| ((k * 7 + i * 13) % 256) as u8));
    }
    bytes
}

pub mod tables;
