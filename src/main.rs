//! `enas`: neural architecture search on candle. See `enas --help`.
mod bench;
mod cli;
mod inspect;
mod runtime;
mod train;

use std::process::ExitCode;

// mimalloc doubled small-matmul throughput against glibc's allocator on the 2-core CI machine;
// `scripts/bench_step.sh` measures the training step under both.
#[cfg(not(feature = "system-alloc"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    runtime::init_threads(None);
    match cli::run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
