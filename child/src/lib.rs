//! enas-child: the child networks of enas in candle — custom ops, layers, the ENAS micro supernet
//! and fixed networks, the NAS-Bench-201 network and its weight-sharing supernet, training utilities.
pub mod aux_head;
pub mod darts;
pub mod device_check;
pub mod dropout;
pub mod forward;
pub mod latency;
pub mod layers;
pub mod micro;
pub mod nb201;
pub mod ops;
pub mod params;
pub mod partial;
pub mod proxy;
pub mod train;

pub use aux_head::AuxHead;
pub use darts::{DartsForward, DartsNet, DartsPath, DartsShape, DartsSupernet};
pub use dropout::Dropout;
pub use forward::Forward;
pub use layers::BnMode;
pub use micro::{path_cost, MicroNet, MicroShape, Weights};
pub use nb201::{Nb201Net, Nb201Shape, Nb201Supernet};
pub use params::{Init, InitRoot, ParamStore};
pub use train::{clip_grad_norm, correct, cosine_lr, cross_entropy, sgd_lr, step_metrics, SgdNesterov};
