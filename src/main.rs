//! `enas`: neural architecture search on candle. See `enas --help`.
mod bench_darts;
mod bench_step;
mod checkpoint_io;
mod cli;
mod cli_arch;
mod cli_names;
mod derive;
mod error_text;
mod export;
mod inspect;
mod memory;
mod nasbench;
mod parallel;
mod proxy;
mod rank_check;
mod run;
mod runtime;
mod search;
mod train;

use anyhow::Result;
use clap::Parser;
use cli::{Cli, Command};
use std::process::ExitCode;

// The allocator is chosen by measurement (`scripts/bench_alloc.sh`): mimalloc with purging off
// spends the least system time on the training step; glibc is one build flag away.
#[cfg(not(feature = "system-alloc"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(not(feature = "system-alloc"))]
extern "C" {
    fn mi_option_set(option: i32, value: std::ffi::c_long);
}

/// Training allocates and frees the same large activation buffers every step. mimalloc's default
/// returns freed memory to the OS after 10 ms, so every step faults (and zeroes) it back in;
/// purging off keeps it. `mi_option_purge_delay` is entry 15 of `mi_option_e` in the mimalloc v3
/// header that libmimalloc-sys 0.1.49 builds (c_src/mimalloc/v3/include/mimalloc.h).
fn tune_allocator() {
    #[cfg(not(feature = "system-alloc"))]
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: mi_option_set only stores an option value; it is safe to call at any time.
        unsafe { mi_option_set(15, -1) };
    }
}

/// Runs the subcommand the command line names.
fn run() -> Result<ExitCode> {
    match Cli::parse().command {
        Command::Inspect(a) => inspect::run(&a),
        Command::Train(a) => return train::run(&a),
        Command::Search(a) => return search::run(&a),
        Command::Derive(a) => derive::run(&a),
        Command::Export(a) => export::run(&a),
        Command::Bench(a) => return nasbench::run(&a),
        Command::BenchStep(a) => match a.space {
            enas_shared::SpaceKind::Darts => bench_darts::run(&a),
            enas_shared::SpaceKind::EnasMicro => bench_step::run(&a),
            other => anyhow::bail!("bench-step times the enas_micro and darts supernets, not {other}"),
        },
        Command::Proxy(a) => return proxy::run(&a),
        Command::DeviceCheck(a) => return device_check(&a),
    }?;
    Ok(ExitCode::SUCCESS)
}

/// `enas device-check`: the supernet steps on the device against the CPU kernels; exit 1 when one
/// differs by more than `--tol`.
fn device_check(a: &cli::DeviceCheckArgs) -> Result<ExitCode> {
    let cfg = a.cfg.load(&[])?;
    runtime::init_threads(cfg.threads);
    let device = runtime::device(&cfg)?;
    let place = if device.is_cpu() { "the CPU, generic ops forced" } else { "the GPU, generic ops" };
    println!("supernet steps on {place}, against the CPU kernels (tolerance {:e}):", a.tol);
    let mut failed = 0;
    for c in enas_child::device_check::compare_all(&device)? {
        let ok = c.ok(a.tol);
        failed += usize::from(!ok);
        println!(
            "  {:<30} loss {:.6} vs {:.6}, {} tensors, worst relative difference {:.2e} ({}): {}",
            c.what,
            c.loss.0,
            c.loss.1,
            c.tensors,
            c.worst,
            if c.worst_name.is_empty() { "-" } else { &c.worst_name },
            if ok { "ok" } else { "DIFFERS" }
        );
    }
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn main() -> ExitCode {
    // Errors are messages, never backtraces: with RUST_BACKTRACE set, candle (and anyhow) would
    // capture one in every error, and candle prints its own. RUST_LIB_BACKTRACE=0 stops the
    // capture (and its cost) and leaves panics' backtraces to RUST_BACKTRACE. First, before any
    // thread starts.
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        std::env::set_var("RUST_LIB_BACKTRACE", "0");
    }
    tune_allocator();
    runtime::init_spin_limit();
    runtime::record_user_threads();
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", error_text::chain(&e));
            ExitCode::from(2)
        }
    }
}
