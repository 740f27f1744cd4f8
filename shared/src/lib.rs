//! enas-shared: the vocabulary every enas crate speaks — ops, search spaces, architectures,
//! configuration, datasets and result export.
pub mod arch;
pub mod config;
mod config_override;
mod config_resume;
mod config_validate;
pub mod cost;
pub mod darts_config;
pub mod data;
pub mod device;
pub mod error;
pub mod export;
pub mod fingerprint;
pub mod objective;
pub mod op;
pub mod pareto;
pub mod proxy_kind;
pub mod quantile;
pub mod rank;
pub mod search_config;
mod sgd_config;
pub mod space;
pub mod strategy_config;
pub mod table;

pub use arch::{Arch, Branch, Cell, Node};
pub use config::{ChildConfig, Config, DeviceKind, SgdConfig, TrainConfig};
pub use error::{Error, Result};
pub use op::OpKind;
pub use proxy_kind::ProxyKind;
pub use space::{Darts, EnasMicro, Nb201, Space, SpaceKind};
