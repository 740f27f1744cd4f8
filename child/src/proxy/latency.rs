//! The measured latency of a NAS-Bench-201 network on this machine: one image (batch 1) through
//! the network with BatchNorm's running statistics, as inference runs; the median of
//! `LATENCY_REPEATS` timed passes after `LATENCY_WARMUP` untimed ones. The caller runs it on one
//! thread (candle's CPU pool sized 1) so that the figure is a single-core one.
use crate::nb201::Nb201Net;
use crate::BnMode;
use candle_core::{DType, Device, Result, Tensor};
use enas_shared::proxy_kind::{LATENCY_REPEATS, LATENCY_WARMUP};
use std::time::Instant;

/// Milliseconds per forward pass of one `h` x `w` image (median).
pub fn latency_ms(net: &Nb201Net, in_channels: usize, h: usize, w: usize) -> Result<f64> {
    let x = Tensor::ones((1, in_channels, h, w), DType::F32, &Device::Cpu)?;
    let pass = || -> Result<()> {
        // Reading one value back makes the pass complete whatever the backend defers.
        net.forward(&x, BnMode::Eval)?.sum_all()?.to_scalar::<f32>()?;
        Ok(())
    };
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
