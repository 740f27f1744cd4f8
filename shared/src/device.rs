//! Where tensors live and run (`device:` in YAML, `--device` on the command line): `cpu`,
//! `cuda` / `cuda:N` (the N-th GPU; needs a build with the `cuda` cargo feature), or `auto` (the
//! first GPU when the build has CUDA and one answers, else the CPU; the run says which).
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DeviceKind {
    /// candle's CPU backend (the default: the reference every number here is measured on).
    #[default]
    Cpu,
    /// The CUDA GPU of this ordinal.
    Cuda(usize),
    /// A GPU if the build and the machine have one, else the CPU.
    Auto,
}

impl fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceKind::Cpu => f.write_str("cpu"),
            DeviceKind::Cuda(0) => f.write_str("cuda"),
            DeviceKind::Cuda(n) => write!(f, "cuda:{n}"),
            DeviceKind::Auto => f.write_str("auto"),
        }
    }
}

impl FromStr for DeviceKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<DeviceKind> {
        let s = s.trim();
        let bad = || {
            Error::Name(format!(
                "unknown device `{}`; expected cpu, cuda, cuda:N (a GPU ordinal) or auto",
                crate::error::clip(s)
            ))
        };
        match s {
            "cpu" => Ok(DeviceKind::Cpu),
            "cuda" => Ok(DeviceKind::Cuda(0)),
            "auto" => Ok(DeviceKind::Auto),
            _ => match s.strip_prefix("cuda:") {
                Some(n) => n.parse().map(DeviceKind::Cuda).map_err(|_| bad()),
                None => Err(bad()),
            },
        }
    }
}

impl TryFrom<String> for DeviceKind {
    type Error = Error;
    fn try_from(s: String) -> Result<DeviceKind> {
        s.parse()
    }
}

impl From<DeviceKind> for String {
    fn from(d: DeviceKind) -> String {
        d.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_parse_print_and_refuse_junk() {
        for (text, d) in [("cpu", DeviceKind::Cpu), ("cuda", DeviceKind::Cuda(0)), ("cuda:3", DeviceKind::Cuda(3))] {
            assert_eq!(text.parse::<DeviceKind>().unwrap(), d);
            assert_eq!(d.to_string(), text);
            assert_eq!(serde_yaml::from_str::<DeviceKind>(text).unwrap(), d);
        }
        assert_eq!("cuda:0".parse::<DeviceKind>().unwrap(), DeviceKind::Cuda(0));
        assert_eq!("auto".parse::<DeviceKind>().unwrap(), DeviceKind::Auto);
        for junk in ["gpu", "cuda:", "cuda:x", "cuda:-1"] {
            let e = junk.parse::<DeviceKind>().unwrap_err().to_string();
            assert!(e.contains("expected cpu, cuda, cuda:N (a GPU ordinal) or auto"), "{junk}: {e}");
        }
    }
}
