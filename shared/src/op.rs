//! `OpKind`: the one table of candidate operations. Every search space picks its ops from here and
//! every network builds its ops by matching on it, so no op is ever recognised by its name string.
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A candidate operation on an edge of a cell. The serde names are the names papers and configs use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    /// Two stacked ReLU - depthwise 3x3 - pointwise 1x1 - BN blocks (ENAS, DARTS).
    #[serde(rename = "sep_conv_3x3")]
    SepConv3x3,
    /// Two stacked ReLU - depthwise 5x5 - pointwise 1x1 - BN blocks.
    #[serde(rename = "sep_conv_5x5")]
    SepConv5x5,
    /// 3x3 average pooling, stride 1, padding 1, padding excluded from the average.
    #[serde(rename = "avg_pool_3x3")]
    AvgPool3x3,
    /// 3x3 max pooling, stride 1, padding 1.
    #[serde(rename = "max_pool_3x3")]
    MaxPool3x3,
    /// The input unchanged (NAS-Bench-201 and DARTS call it `skip_connect`).
    #[serde(rename = "identity", alias = "skip_connect")]
    Identity,
    /// The zero op: the edge is absent (`none` in DARTS and NAS-Bench-201).
    #[serde(rename = "none")]
    Zero,
    /// ReLU - dilated depthwise 3x3 (dilation 2) - pointwise - BN (DARTS).
    #[serde(rename = "dil_conv_3x3")]
    DilConv3x3,
    /// ReLU - dilated depthwise 5x5 (dilation 2) - pointwise - BN (DARTS).
    #[serde(rename = "dil_conv_5x5")]
    DilConv5x5,
    /// ReLU - 1x1 conv - BN (NAS-Bench-201).
    #[serde(rename = "nor_conv_1x1")]
    NorConv1x1,
    /// ReLU - 3x3 conv - BN (NAS-Bench-201).
    #[serde(rename = "nor_conv_3x3")]
    NorConv3x3,
}

impl OpKind {
    /// Every op, in declaration order.
    pub const ALL: [OpKind; 10] = [
        OpKind::SepConv3x3,
        OpKind::SepConv5x5,
        OpKind::AvgPool3x3,
        OpKind::MaxPool3x3,
        OpKind::Identity,
        OpKind::Zero,
        OpKind::DilConv3x3,
        OpKind::DilConv5x5,
        OpKind::NorConv1x1,
        OpKind::NorConv3x3,
    ];

    /// The op's canonical name, as in configs, CSV files and papers.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::SepConv3x3 => "sep_conv_3x3",
            OpKind::SepConv5x5 => "sep_conv_5x5",
            OpKind::AvgPool3x3 => "avg_pool_3x3",
            OpKind::MaxPool3x3 => "max_pool_3x3",
            OpKind::Identity => "identity",
            OpKind::Zero => "none",
            OpKind::DilConv3x3 => "dil_conv_3x3",
            OpKind::DilConv5x5 => "dil_conv_5x5",
            OpKind::NorConv1x1 => "nor_conv_1x1",
            OpKind::NorConv3x3 => "nor_conv_3x3",
        }
    }

    /// Kernel size of the op's spatial convolution or pooling window, if it has one.
    pub fn kernel(self) -> Option<usize> {
        match self {
            OpKind::SepConv3x3 | OpKind::AvgPool3x3 | OpKind::MaxPool3x3 | OpKind::DilConv3x3 | OpKind::NorConv3x3 => {
                Some(3)
            }
            OpKind::SepConv5x5 | OpKind::DilConv5x5 => Some(5),
            OpKind::NorConv1x1 => Some(1),
            OpKind::Identity | OpKind::Zero => None,
        }
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for OpKind {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        if s == "skip_connect" {
            return Ok(OpKind::Identity);
        }
        OpKind::ALL.into_iter().find(|op| op.name() == s).ok_or_else(|| {
            let names: Vec<_> = OpKind::ALL.iter().map(|op| op.name()).collect();
            crate::Error::Arch(format!("unknown op `{}`; expected one of {}", crate::error::clip(s), names.join(", ")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde_and_from_str() {
        for op in OpKind::ALL {
            let yaml = serde_yaml::to_string(&op).unwrap();
            assert_eq!(yaml.trim(), op.name());
            assert_eq!(serde_yaml::from_str::<OpKind>(&yaml).unwrap(), op);
            assert_eq!(op.name().parse::<OpKind>().unwrap(), op);
        }
        assert_eq!("skip_connect".parse::<OpKind>().unwrap(), OpKind::Identity);
        let err = "conv_7x7".parse::<OpKind>().unwrap_err().to_string();
        assert!(err.contains("conv_7x7") && err.contains("sep_conv_3x3"), "{err}");
    }
}
