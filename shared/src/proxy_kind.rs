//! The zero-cost proxies by name: what config keys (`strategy.proxy.score`, `strategy.proxy.vote`),
//! command-line flags (`--proxy`), CSV columns and the proxy cache call them. The proxies
//! themselves are implemented for the NAS-Bench-201 network in `enas-child` (`proxy`).
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A zero-cost proxy. Every score is oriented so that higher predicts a better network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProxyKind {
    /// Synaptic flow (Tanaka et al. 2020): `Σ |θ ⊙ ∂R/∂θ|` with `R` the summed output of the
    /// network with absolute weights, no BatchNorm, on an all-ones image, in f64. No data.
    Synflow,
    /// `Σ_layers ‖∂L/∂W‖₂`, the cross-entropy gradient's norm per layer, summed.
    GradNorm,
    /// SNIP (Lee et al. 2019): `Σ |W ⊙ ∂L/∂W|`, the cross-entropy loss's connection sensitivity.
    Snip,
    /// Mellor et al.'s first score: from the correlation matrix of the input Jacobians of the
    /// minibatch's images, `-Σ_i (ln(λ_i + k) + 1/(λ_i + k))`, `k = 1e-5`.
    JacobCov,
    /// NASWOT (Mellor et al. 2021): `ln |det K|`, `K[a][b]` the number of ReLUs on which images
    /// `a` and `b` agree (both active or both inactive).
    Naswot,
    /// Trainable parameters, as NAS-Bench-201 counts them. No data.
    Params,
    /// Multiply-adds of one forward pass of one image. No data.
    Flops,
    /// Not a zero-cost proxy but a cost measured here: the network's inference time for one
    /// image (batch 1, BatchNorm with running statistics), in milliseconds, the median of
    /// `LATENCY_REPEATS` timed forward passes after `LATENCY_WARMUP` untimed ones, on one
    /// thread. It depends on this machine and its load; `--proxy all` leaves it out.
    Latency,
}

/// Untimed forward passes before a latency measurement.
pub const LATENCY_WARMUP: usize = 3;
/// Timed forward passes of a latency measurement (their median is the latency).
pub const LATENCY_REPEATS: usize = 21;

impl ProxyKind {
    /// Every proxy, in the order `--proxy all` lists them.
    pub const ALL: [ProxyKind; 7] = [
        ProxyKind::Synflow,
        ProxyKind::GradNorm,
        ProxyKind::Snip,
        ProxyKind::JacobCov,
        ProxyKind::Naswot,
        ProxyKind::Params,
        ProxyKind::Flops,
    ];

    /// Every name `--proxy` and configs accept: the proxies and the measured latency.
    pub const NAMED: [ProxyKind; 8] = {
        let mut named = [ProxyKind::Latency; 8];
        let mut i = 0;
        while i < ProxyKind::ALL.len() {
            named[i] = ProxyKind::ALL[i];
            i += 1;
        }
        named
    };

    /// The proxy's name: in configs, on the command line, and as its CSV column.
    pub fn name(self) -> &'static str {
        match self {
            ProxyKind::Synflow => "synflow",
            ProxyKind::GradNorm => "grad_norm",
            ProxyKind::Snip => "snip",
            ProxyKind::JacobCov => "jacob_cov",
            ProxyKind::Naswot => "naswot",
            ProxyKind::Params => "params",
            ProxyKind::Flops => "flops",
            ProxyKind::Latency => "latency",
        }
    }

    /// Whether the proxy needs a minibatch of images.
    pub fn needs_data(self) -> bool {
        matches!(self, ProxyKind::GradNorm | ProxyKind::Snip | ProxyKind::JacobCov | ProxyKind::Naswot)
    }

    /// Whether the score follows from the network's structure alone, with no weights and no data
    /// (the parameter and multiply-add counts): the proxies any supernet gives for a path.
    pub fn structural(self) -> bool {
        matches!(self, ProxyKind::Params | ProxyKind::Flops)
    }
}

impl fmt::Display for ProxyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ProxyKind {
    type Err = Error;

    /// Parses a proxy name (surrounding spaces allowed); the error lists the known ones.
    fn from_str(text: &str) -> Result<ProxyKind> {
        ProxyKind::NAMED.into_iter().find(|p| p.name() == text.trim()).ok_or_else(|| {
            let names: Vec<_> = ProxyKind::NAMED.iter().map(|p| p.name()).collect();
            Error::Name(format!("unknown proxy {:?}; expected one of {}", crate::error::clip(text), names.join(", ")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_text_and_serde() {
        for p in ProxyKind::NAMED {
            assert_eq!(p.name().parse::<ProxyKind>().unwrap(), p);
            assert_eq!(p.to_string(), p.name());
            assert_eq!(serde_json::to_string(&p).unwrap(), format!("\"{}\"", p.name()));
            assert_eq!(serde_json::from_str::<ProxyKind>(&format!("\"{p}\"")).unwrap(), p);
        }
        let err = "fisher".parse::<ProxyKind>().unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown proxy \"fisher\"; expected one of synflow, grad_norm, snip, jacob_cov, naswot, params, flops, latency"
        );
    }
}
