//! Process-wide settings and state: thread count, device, the interrupt flag, seeded streams.
use anyhow::{Context, Result};
use candle_core::Device;
use enas_shared::{Config, DeviceKind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// The stop signal received (SIGINT, SIGTERM or SIGHUP), 0 before any: long loops finish their
/// step, checkpoint and exit `128 + signal` (130, 143, 129), as a shell reports a signal.
static STOP_SIGNAL: OnceLock<Arc<AtomicUsize>> = OnceLock::new();

/// The signals that stop a run cleanly: Ctrl-C, a scheduler's SIGTERM, a closed terminal's SIGHUP.
const STOP_SIGNALS: [i32; 3] = [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM, signal_hook::consts::SIGHUP];

/// Makes the stop signals set the interrupt flag instead of killing the process.
pub fn install_interrupt_handler() -> Result<()> {
    let flag = STOP_SIGNAL.get_or_init(|| Arc::new(AtomicUsize::new(0)));
    for sig in STOP_SIGNALS {
        signal_hook::flag::register_usize(sig, flag.clone(), sig as usize)
            .with_context(|| format!("installing the handler of signal {sig}"))?;
    }
    Ok(())
}

/// Whether a stop signal arrived.
pub fn interrupted() -> bool {
    stop_signal().is_some()
}

/// The stop signal that arrived, if any.
pub fn stop_signal() -> Option<i32> {
    STOP_SIGNAL.get().map(|f| f.load(Ordering::SeqCst) as i32).filter(|&s| s != 0)
}

/// The exit code of a run stopped by a signal: `128 + signal` (130 for Ctrl-C).
pub fn stop_code() -> u8 {
    (128 + stop_signal().unwrap_or(signal_hook::consts::SIGINT)) as u8
}

/// The seed of one of an epoch's random streams (search: 0 the child batches, 1 + k the k-th
/// validation pass). Streams are functions of the run seed and the epoch only, so any epoch can
/// be replayed.
pub fn stream_seed(seed: u64, epoch: usize, stream: u64) -> u64 {
    let mut z = seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03);
    // splitmix64 finaliser
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Whether the user set `RAYON_NUM_THREADS` before the process started.
static USER_THREADS: OnceLock<bool> = OnceLock::new();

/// Remembers whether the user set `RAYON_NUM_THREADS`; call first thing in `main`.
pub fn record_user_threads() {
    USER_THREADS.get_or_init(|| std::env::var_os("RAYON_NUM_THREADS").is_some());
}

/// candle asks for the thread count on every matmul and, unless `RAYON_NUM_THREADS` is set, reads
/// /proc/cpuinfo each time (measured 5x slower small matmuls). Set it once, after the config is
/// read and before any kernel runs: from the config's `threads` when it is non-zero, else from the
/// number of cores. A valid value the user set in the environment wins. More threads than cores
/// only contend (`threads=2000` measured a minute where the default takes a second), so a count
/// above the cores is capped with a warning; an environment value that is not a positive
/// integer (`0`, `abc`) is replaced by the core count, with a warning.
pub fn init_threads(threads: usize) {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let user = *USER_THREADS.get_or_init(|| std::env::var_os("RAYON_NUM_THREADS").is_some());
    let (asked, origin) = if user {
        let text = std::env::var("RAYON_NUM_THREADS").unwrap_or_default();
        match text.trim().parse::<usize>() {
            Ok(n) if n > 0 => (n, "RAYON_NUM_THREADS"),
            _ => {
                eprintln!(
                    "warning: RAYON_NUM_THREADS={text:?} is not a positive thread count; using {cores} (the cores)"
                );
                (cores, "")
            }
        }
    } else if threads > 0 {
        (threads, "threads")
    } else {
        (cores, "")
    };
    let n = asked.min(cores);
    if asked > cores {
        eprintln!("warning: {origin} = {asked} is more than this machine's {cores} cores; using {cores}");
    }
    std::env::set_var("RAYON_NUM_THREADS", n.to_string());
}

/// For commands that run independent jobs one per core (bench trials, proxy scoring): the number
/// of workers is `threads` when non-zero, else `RAYON_NUM_THREADS` when the user set it, else the
/// number of cores; every job's kernels then run on its own thread (`RAYON_NUM_THREADS=1`), so the
/// workers do not oversubscribe the cores and a job's measured time is single-threaded.
pub fn job_workers(threads: usize) -> usize {
    let user = std::env::var("RAYON_NUM_THREADS").ok().and_then(|v| v.parse::<usize>().ok()).filter(|&n| n > 0);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = if threads > 0 { threads } else { user.unwrap_or(cores) };
    USER_THREADS.get_or_init(|| user.is_some());
    std::env::set_var("RAYON_NUM_THREADS", "1");
    workers
}

/// candle's CPU thread pool spins 25,000 times before parking a worker between kernels. On a
/// 2-core machine the spinning worker competes with the threads doing real work (the custom ops'
/// kernels, the data loader); a short spin measured about 20% less CPU time per training step
/// (`scripts/bench-vs-pytorch.sh`). A value the user set in the environment wins.
pub fn init_spin_limit() {
    if std::env::var_os("CANDLE_BARRIER_POOL_SPIN_LIMIT").is_none() {
        std::env::set_var("CANDLE_BARRIER_POOL_SPIN_LIMIT", "1000");
    }
}

/// The candle device for a config. `cuda` in a build without the `cuda` feature is an error that
/// says how to build one; `auto` says which device it picked.
pub fn device(cfg: &Config) -> Result<Device> {
    match cfg.device {
        DeviceKind::Cpu => Ok(Device::Cpu),
        DeviceKind::Cuda(n) => cuda(n),
        DeviceKind::Auto => {
            let (device, why) = match cuda(0) {
                Ok(d) => (d, "cuda:0".to_string()),
                Err(_) if !cfg!(feature = "cuda") => (Device::Cpu, "cpu (this build has no CUDA)".to_string()),
                Err(e) => (Device::Cpu, format!("cpu ({e:#})")),
            };
            eprintln!("device auto: {why}");
            Ok(device)
        }
    }
}

/// Checks, before a run writes anything, that an explicitly asked GPU can be had.
pub fn check_device(cfg: &Config) -> Result<()> {
    match cfg.device {
        DeviceKind::Cuda(n) => cuda(n).map(|_| ()),
        DeviceKind::Cpu | DeviceKind::Auto => Ok(()),
    }
}

/// Refuses a GPU for a command that runs on the CPU only (`what` names it), rather than run on
/// the CPU while the user asked for a GPU.
pub fn cpu_only(cfg: &Config, what: &str) -> Result<()> {
    match cfg.device {
        DeviceKind::Cuda(n) => {
            anyhow::bail!(
                "{what} runs on the CPU only (one small network at a time); --device cuda:{n} is not used here"
            )
        }
        DeviceKind::Cpu | DeviceKind::Auto => Ok(()),
    }
}

#[cfg(feature = "cuda")]
fn cuda(ordinal: usize) -> Result<Device> {
    use anyhow::Context;
    Device::new_cuda(ordinal).with_context(|| format!("device cuda:{ordinal}: no CUDA GPU answered"))
}

#[cfg(not(feature = "cuda"))]
fn cuda(ordinal: usize) -> Result<Device> {
    anyhow::bail!(
        "device cuda:{ordinal}: this enas was built without CUDA; build it with `cargo build --release --features \
         cuda` (scripts/cuda-toolchain.sh sets up the CUDA toolchain), or use --device cpu"
    )
}

/// The number of kernel threads in use.
pub fn threads() -> usize {
    std::env::var("RAYON_NUM_THREADS").ok().and_then(|v| v.parse().ok()).unwrap_or(1)
}
