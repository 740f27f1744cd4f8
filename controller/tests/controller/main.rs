//! Integration tests of the ENAS controller: one binary, one module per concern.
mod checkpoint;
mod logprob;
mod reinforce;
mod sampling;
mod strategies;
mod warm;

use candle_core::Device;
use enas_controller::{Controller, ControllerConfig};
use enas_shared::EnasMicro;

/// A controller for `nodes` nodes with `cfg`, weights from `seed`.
pub fn controller(cfg: &ControllerConfig, nodes: usize, seed: u64) -> Controller {
    Controller::new(cfg, EnasMicro::new(nodes), seed, &Device::Cpu).unwrap()
}
