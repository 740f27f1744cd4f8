//! Measured inference latency: the median of `LATENCY_REPEATS` timed forward passes after
//! `LATENCY_WARMUP` untimed ones, each pass reading one value back so that it is complete. The
//! figure belongs to this machine, its load and the thread count the caller runs with; callers
//! say which.
use candle_core::Result;
use enas_shared::proxy_kind::{LATENCY_REPEATS, LATENCY_WARMUP};
use std::time::Instant;

/// Milliseconds per call of `pass` (median).
pub fn median_ms(mut pass: impl FnMut() -> Result<()>) -> Result<f64> {
    for _ in 0..LATENCY_WARMUP {
        pass()?;
    }
    let mut ms = Vec::with_capacity(LATENCY_REPEATS);
    for _ in 0..LATENCY_REPEATS {
        let t = Instant::now();
        pass()?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    ms.sort_by(f64::total_cmp);
    Ok(ms[ms.len() / 2])
}
