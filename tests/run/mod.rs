//! Running the `enas` binary from the integration tests.
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
pub mod tables;
