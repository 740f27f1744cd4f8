//! What a search optimises (`objective:` in YAML, `--objective` on the command line): the reward
//! alone; the reward under a hard cost constraint; MnasNet's soft trade-off of reward against a
//! cost; or the Pareto front of (reward, cost). The cost is a column of a cost table (HELP's Pixel 3
//! latencies of NAS-Bench-201), looked up for free: it is not a query.
//!
//! Each kind is one implementation of [`Objective`]; the loops call the trait and know no kind.
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ObjectiveKind {
    /// The reward alone (the default).
    #[default]
    Reward,
    /// The reward among architectures whose cost is at most `objective.limit`; the others are
    /// refused without a query.
    Constraint,
    /// MnasNet's reward `reward * (cost / target)^w`, `w = alpha` at or under the target and
    /// `beta` over it (Tan et al. 2019: both -0.07 soft; 0 and -1 the piecewise hard variant).
    Soft,
    /// The front of (reward, cost): architectures no other beats on both.
    Pareto,
}

impl ObjectiveKind {
    pub const ALL: [ObjectiveKind; 4] =
        [ObjectiveKind::Reward, ObjectiveKind::Constraint, ObjectiveKind::Soft, ObjectiveKind::Pareto];

    pub fn name(self) -> &'static str {
        match self {
            ObjectiveKind::Reward => "reward",
            ObjectiveKind::Constraint => "constraint",
            ObjectiveKind::Soft => "soft",
            ObjectiveKind::Pareto => "pareto",
        }
    }

    /// Whether the objective reads a cost per architecture.
    pub fn needs_cost(self) -> bool {
        self != ObjectiveKind::Reward
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
            let names: Vec<_> = ObjectiveKind::ALL.iter().map(|k| k.name()).collect();
            Error::Name(format!("unknown objective `{}`; expected one of {}", crate::error::clip(s), names.join(", ")))
        })
    }
}

/// Where an architecture's cost comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CostKind {
    /// A column of `objective.cost_table`, joined on the architecture (HELP's Pixel 3 latencies).
    #[default]
    Table,
    /// The network's parameters, counted from the network as built (`enas search`).
    Params,
    /// Its multiply-adds for one image, from the network as built (`enas search`).
    Flops,
}

impl CostKind {
    pub fn name(self) -> &'static str {
        match self {
            CostKind::Table => "table",
            CostKind::Params => "params",
            CostKind::Flops => "flops",
        }
    }
}

/// The `objective:` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ObjectiveConfig {
    pub kind: ObjectiveKind,
    /// The cost: `table` (a column of `cost_table`), or `params` / `flops` counted from the
    /// network (`enas search`; `enas bench` reads a table).
    pub cost: CostKind,
    /// A CSV table with a cost per architecture, joined on `bench.arch_column`
    /// (`../shared/data/nb201/latency_pixel3.csv`); `--cost-table` overrides it.
    pub cost_table: Option<PathBuf>,
    /// The cost table's column to minimise (`latency_pixel3_ms`); `--cost-column` overrides it.
    pub cost_column: Option<String>,
    /// `constraint`: the largest cost allowed (in the column's unit).
    pub limit: Option<f64>,
    /// `soft`: MnasNet's target cost T.
    pub target: Option<f64>,
    /// `soft`: the exponent at or under the target (MnasNet: -0.07).
    pub alpha: f64,
    /// `soft`: the exponent over the target (MnasNet: -0.07; -1 in its piecewise variant).
    pub beta: f64,
}

impl Default for ObjectiveConfig {
    fn default() -> Self {
        ObjectiveConfig {
            kind: ObjectiveKind::Reward,
            cost: CostKind::Table,
            cost_table: None,
            cost_column: None,
            limit: None,
            target: None,
            alpha: -0.07,
            beta: -0.07,
        }
    }
}

/// What a strategy is told for a query of `reward` at `cost`.
pub trait Objective: Send + Sync {
    /// `None`: the architecture is refused without a query (it breaks a hard constraint).
    fn value(&self, reward: f64, cost: Option<f64>) -> Option<f64>;
}

/// The reward as it is (also the Pareto objective's: its strategies are told the cost beside it).
pub struct RewardOnly;

impl Objective for RewardOnly {
    fn value(&self, reward: f64, _cost: Option<f64>) -> Option<f64> {
        Some(reward)
    }
}

/// The reward where the cost is at most `limit`.
pub struct Constraint {
    pub limit: f64,
}

impl Objective for Constraint {
    fn value(&self, reward: f64, cost: Option<f64>) -> Option<f64> {
        // Without a cost nothing can be refused; config validation makes the cost present.
        (!cost.is_some_and(|c| c > self.limit)).then_some(reward)
    }
}

/// MnasNet's `reward * (cost / target)^w`.
pub struct Soft {
    pub target: f64,
    pub alpha: f64,
    pub beta: f64,
}

impl Objective for Soft {
    fn value(&self, reward: f64, cost: Option<f64>) -> Option<f64> {
        Some(match cost {
            Some(c) => reward * (c / self.target).powf(if c <= self.target { self.alpha } else { self.beta }),
            None => reward,
        })
    }
}

impl ObjectiveConfig {
    /// The objective this section describes (validated first).
    pub fn build(&self) -> Box<dyn Objective> {
        match self.kind {
            ObjectiveKind::Reward | ObjectiveKind::Pareto => Box::new(RewardOnly),
            ObjectiveKind::Constraint => Box::new(Constraint { limit: self.limit.unwrap_or(f64::INFINITY) }),
            ObjectiveKind::Soft => {
                Box::new(Soft { target: self.target.unwrap_or(1.0), alpha: self.alpha, beta: self.beta })
            }
        }
    }

    /// The cost table and column, both given when the kind reads a cost, neither otherwise.
    pub fn cost(&self) -> Option<(PathBuf, String)> {
        match (&self.cost_table, &self.cost_column) {
            (Some(t), Some(c)) if self.kind.needs_cost() && self.cost == CostKind::Table => {
                Some((t.clone(), c.clone()))
            }
            _ => None,
        }
    }

    /// Checks naming `objective.<key>`.
    pub fn validate(&self, origin: &str) -> Result<()> {
        let bad = |key: &str, msg: String| {
            Err(Error::Config { origin: origin.to_string(), msg: format!("objective.{key}: {msg}") })
        };
        let kind = self.kind;
        let table = kind.needs_cost() && self.cost == CostKind::Table;
        match (table, &self.cost_table, &self.cost_column) {
            (true, Some(_), Some(_)) | (false, None, None) => {}
            (true, Some(_), None) => {
                return bad(
                    "cost_column",
                    format!(
                        "objective `{kind}` reads a column of the cost table: name it with objective.cost_column \
                         (--cost-column NAME)"
                    ),
                )
            }
            (true, None, _) => {
                return bad(
                    "cost_table",
                    format!(
                        "objective `{kind}` needs a cost: set objective.cost_table and objective.cost_column \
                         (--cost-table FILE --cost-column NAME)"
                    ),
                )
            }
            (false, _, _) => {
                return bad(
                    "cost_table",
                    format!(
                        "a cost table is read by the objectives constraint, soft and pareto with objective.cost \
                         table (here: objective {kind}, cost {}); set objective.kind (--objective), or drop the cost \
                         table and column",
                        self.cost.name()
                    ),
                )
            }
        }
        for (key, given, reads) in [
            ("limit", self.limit.is_some(), ObjectiveKind::Constraint),
            ("target", self.target.is_some(), ObjectiveKind::Soft),
        ] {
            if given && kind != reads {
                return bad(
                    key,
                    format!("only objective {reads} reads it (here: objective {kind}); drop it or set the kind"),
                );
            }
        }
        let positive = |v: Option<f64>| v.is_some_and(|v| v.is_finite() && v > 0.0);
        match kind {
            ObjectiveKind::Constraint if !positive(self.limit) => {
                return bad("limit", format!("objective constraint needs a finite limit above 0, got {:?}", self.limit))
            }
            ObjectiveKind::Soft if !positive(self.target) => {
                return bad("target", format!("objective soft needs a finite target above 0, got {:?}", self.target))
            }
            _ => {}
        }
        for (key, v) in [("alpha", self.alpha), ("beta", self.beta)] {
            if !(v.is_finite() && v <= 0.0) {
                return bad(key, format!("must be a finite number at most 0 (MnasNet: -0.07), got {v}"));
            }
        }
        Ok(())
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
        let e = "latency".parse::<ObjectiveKind>().unwrap_err().to_string();
        assert!(e.contains("expected one of reward, constraint, soft, pareto"), "{e}");
    }

    /// MnasNet (Tan et al. 2019, eq. 2 and Figure 2): with w = -0.07 a model at twice the target
    /// scores 2^-0.07 = 0.9526 of its accuracy, at half the target 2^0.07 = 1.0497 of it. The
    /// piecewise hard variant (alpha 0, beta -1) leaves accuracy alone at or under the target and
    /// halves it at twice the target.
    #[test]
    fn mnasnet_soft_reward_matches_the_paper() {
        let soft = Soft { target: 10.0, alpha: -0.07, beta: -0.07 };
        assert!((soft.value(0.8, Some(20.0)).unwrap() - 0.8 * 0.952_638).abs() < 1e-6);
        assert!((soft.value(0.8, Some(5.0)).unwrap() - 0.8 * 1.049_717).abs() < 1e-6);
        assert_eq!(soft.value(0.8, Some(10.0)), Some(0.8));
        let hard = Soft { target: 10.0, alpha: 0.0, beta: -1.0 };
        assert_eq!(hard.value(0.8, Some(5.0)), Some(0.8));
        assert!((hard.value(0.8, Some(20.0)).unwrap() - 0.4).abs() < 1e-12);
    }

    #[test]
    fn a_constraint_refuses_what_costs_more_than_its_limit() {
        let c = Constraint { limit: 10.0 };
        assert_eq!(c.value(0.9, Some(10.0)), Some(0.9));
        assert_eq!(c.value(0.9, Some(10.5)), None);
    }

    #[test]
    fn validation_names_the_key_and_what_was_expected() {
        let mut cfg = ObjectiveConfig { kind: ObjectiveKind::Constraint, ..Default::default() };
        let e = cfg.validate("c.yaml").unwrap_err().to_string();
        assert!(e.contains("objective.cost_table") && e.contains("--cost-table"), "{e}");
        cfg.cost_table = Some("lat.csv".into());
        cfg.cost_column = Some("ms".into());
        let e = cfg.validate("c.yaml").unwrap_err().to_string();
        assert!(e.contains("objective.limit") && e.contains("None"), "{e}");
        cfg.limit = Some(10.0);
        cfg.validate("c.yaml").unwrap();
        cfg.cost_column = None;
        let e = cfg.validate("c.yaml").unwrap_err().to_string();
        assert!(e.contains("objective.cost_column") && e.contains("--cost-column"), "{e}");
        cfg.cost_column = Some("ms".into());
        cfg.kind = ObjectiveKind::Pareto;
        let e = cfg.validate("c.yaml").unwrap_err().to_string();
        assert!(e.contains("objective.limit: only objective constraint reads it (here: objective pareto)"), "{e}");
        cfg.limit = None;
        cfg.target = Some(5.0);
        let e = cfg.validate("c.yaml").unwrap_err().to_string();
        assert!(e.contains("objective.target: only objective soft reads it"), "{e}");
        cfg.target = None;
        cfg.validate("c.yaml").unwrap();
        cfg.kind = ObjectiveKind::Reward;
        let e = cfg.validate("c.yaml").unwrap_err().to_string();
        assert!(e.contains("drop the cost table"), "{e}");
        let cfg = ObjectiveConfig { beta: 0.5, ..Default::default() };
        assert!(cfg.validate("c.yaml").unwrap_err().to_string().contains("objective.beta"));
    }
}
