//! enas-child: the child networks of enas in candle — custom ops, layers, the ENAS micro supernet
//! and fixed networks, training utilities.
pub mod layers;
pub mod micro;
pub mod nb201;
pub mod ops;
pub mod params;
pub mod proxy;
pub mod train;

pub use layers::BnMode;
pub use micro::{path_cost, MicroNet, MicroShape, Weights};
pub use params::{Init, InitRoot, ParamStore};
pub use train::{clip_grad_norm, correct, cosine_lr, cross_entropy, sgd_lr, SgdNesterov};
