//! What a search optimises, by name (`--objective`): the reward alone, or the Pareto front of the
//! reward against a cost (hardware-aware search). Constraints and MnasNet's soft objective are to
//! come as further members.
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ObjectiveKind {
    /// The reward alone (the default).
    #[default]
    Reward,
    /// The front of (reward, cost): architectures no other beats on both.
    Pareto,
}

impl ObjectiveKind {
    pub const ALL: [ObjectiveKind; 2] = [ObjectiveKind::Reward, ObjectiveKind::Pareto];

    pub fn name(self) -> &'static str {
        match self {
            ObjectiveKind::Reward => "reward",
            ObjectiveKind::Pareto => "pareto",
        }
    }
}

impl fmt::Display for ObjectiveKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ObjectiveKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<ObjectiveKind> {
        ObjectiveKind::ALL.into_iter().find(|k| k.name() == s.trim()).ok_or_else(|| {
            Error::Name(format!("unknown objective `{}`; expected reward or pareto", crate::error::clip(s)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_junk_is_refused() {
        for k in ObjectiveKind::ALL {
            assert_eq!(k.name().parse::<ObjectiveKind>().unwrap(), k);
        }
        assert!("latency".parse::<ObjectiveKind>().unwrap_err().to_string().contains("expected reward or pareto"));
    }
}
