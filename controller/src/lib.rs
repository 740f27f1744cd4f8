//! enas-controller: search strategies. The ENAS micro controller (an LSTM with attention over
//! earlier nodes, `lstm.rs` and `policy.rs`) trained by REINFORCE with a moving-average baseline
//! (`reinforce.rs`) and TensorFlow-style Adam (`adam.rs`), faithful to melodyguan/enas.
pub mod adam;
pub mod lstm;
pub mod policy;
pub mod reinforce;
pub mod strategy;

pub use adam::Adam;
pub use enas_shared::search_config::ControllerConfig;
pub use lstm::Controller;
pub use policy::Sample;
pub use reinforce::{Reinforce, UpdateStats};
