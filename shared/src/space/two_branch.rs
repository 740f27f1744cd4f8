//! The vector of choices of a two-branch cell space (ENAS micro, DARTS): per cell (normal, then
//! reduction), per node: `x_input x_op y_input y_op`, node `i` reading one of the states `0..i+2`
//! (the two cell inputs and the earlier nodes), each op an index into the space's op list.
use super::{Decision, DecisionKind};
use crate::arch::{Arch, Branch, Cell, Node};
use crate::{Error, OpKind, Result};

/// A two-branch cell space: its nodes per cell, its op list and its name for error messages.
pub(super) struct TwoBranch {
    pub nodes: usize,
    pub ops: &'static [OpKind],
    /// E.g. `ENAS micro`, as in `op none is not in the ENAS micro space`.
    pub space: &'static str,
}

impl TwoBranch {
    /// The decisions in sampling order: per cell, per node: x input, x op, y input, y op.
    pub fn decisions(&self) -> Vec<Decision> {
        let mut out = Vec::with_capacity(8 * self.nodes);
        for cell in ["normal", "reduce"] {
            for node in 0..self.nodes {
                for (what, kind, choices) in [
                    ("x_input", DecisionKind::Input, node + 2),
                    ("x_op", DecisionKind::Op, self.ops.len()),
                    ("y_input", DecisionKind::Input, node + 2),
                    ("y_op", DecisionKind::Op, self.ops.len()),
                ] {
                    let label = format!("{cell} node {node} {what}");
                    out.push(Decision { kind, choices, label });
                }
            }
        }
        out
    }

    /// Checks a vector of choices against the decisions, naming the first position out of range.
    pub fn validate(&self, values: &[usize]) -> Result<()> {
        let decisions = self.decisions();
        if values.len() != decisions.len() {
            return Err(Error::Arch(format!(
                "expected {} integers (8 per node for {} nodes: normal then reduction cell), got {}",
                decisions.len(),
                self.nodes,
                values.len()
            )));
        }
        for (pos, (v, d)) in values.iter().zip(&decisions).enumerate() {
            if *v >= d.choices {
                return Err(Error::Arch(format!(
                    "value {v} at position {pos} ({}) is out of range: allowed 0..={}",
                    d.label,
                    d.choices - 1
                )));
            }
        }
        Ok(())
    }

    /// Builds the architecture from a checked vector of choices.
    pub fn arch_of(&self, values: &[usize]) -> Result<Arch> {
        self.validate(values)?;
        let cell = |vals: &[usize]| Cell {
            nodes: vals
                .chunks(4)
                .map(|c| Node {
                    x: Branch { input: c[0], op: self.ops[c[1]] },
                    y: Branch { input: c[2], op: self.ops[c[3]] },
                })
                .collect(),
        };
        let half = 4 * self.nodes;
        Ok(Arch { normal: cell(&values[..half]), reduce: cell(&values[half..]) })
    }

    /// The vector of choices of an architecture (the inverse of `arch_of`).
    pub fn values_of(&self, arch: &Arch) -> Result<Vec<usize>> {
        let op_index = |op: OpKind| {
            self.ops
                .iter()
                .position(|o| *o == op)
                .ok_or_else(|| Error::Arch(format!("op {op} is not in the {} space", self.space)))
        };
        let mut out = Vec::with_capacity(8 * self.nodes);
        for cell in [&arch.normal, &arch.reduce] {
            for n in &cell.nodes {
                out.extend([n.x.input, op_index(n.x.op)?, n.y.input, op_index(n.y.op)?]);
            }
        }
        self.validate(&out)?;
        Ok(out)
    }
}

/// The public vector-of-choices methods of a two-branch space struct with a `nodes` field, over
/// the op list `$ops` (a `&'static [OpKind]`); `$space` names the space in error messages.
macro_rules! two_branch_methods {
    ($ops:expr, $space:literal) => {
        /// The ops an op decision chooses among: a value is an index into this list.
        pub fn ops(&self) -> &'static [OpKind] {
            $ops
        }

        fn cells(&self) -> super::two_branch::TwoBranch {
            super::two_branch::TwoBranch { nodes: self.nodes, ops: $ops, space: $space }
        }

        /// The decisions in sampling order: per cell (normal, then reduction), per node: x input,
        /// x op, y input, y op.
        pub fn decisions(&self) -> Vec<super::Decision> {
            self.cells().decisions()
        }

        /// Checks a vector of choices against the decisions, naming the first position out of range.
        pub fn validate(&self, values: &[usize]) -> Result<()> {
            self.cells().validate(values)
        }

        /// Builds the architecture from a checked vector of choices.
        pub fn from_values(&self, values: &[usize]) -> Result<Arch> {
            self.cells().arch_of(values)
        }

        /// The vector of choices of an architecture (the inverse of `from_values`).
        pub fn to_values(&self, arch: &Arch) -> Result<Vec<usize>> {
            self.cells().values_of(arch)
        }
    };
}
pub(super) use two_branch_methods;
