//! The DARTS cell search space (Liu et al., ICLR 2019): two cell inputs (states 0 and 1) and
//! `nodes` intermediate nodes per cell; node `i` sums two branches, each an op (one of DARTS's
//! seven, `none` aside) on one of the states `0..i+2`. That is ENAS micro's shape with DARTS's op
//! list: the decisions are ENAS micro's (`x_input x_op y_input y_op` per node, the normal cell's
//! nodes, then the reduction cell's), an op value indexes [`DARTS_OPS`]`[1..]`. The text form is
//! DARTS's own genotype `repr` (`genotype.rs`); [`Darts::derive`] is DARTS's rule from the
//! continuous relaxation's weights to a cell.
use super::two_branch::two_branch_methods;
use crate::arch::Arch;
use crate::{OpKind, Result};
use std::cmp::Ordering;

mod genotype;

/// DARTS's op order (`PRIMITIVES` in its `genotypes.py`): the columns of the relaxation's
/// weights. The genotype's ops, and an op value, are the seven after `none`.
pub const DARTS_OPS: [OpKind; 8] = [
    OpKind::Zero,
    OpKind::MaxPool3x3,
    OpKind::AvgPool3x3,
    OpKind::Identity,
    OpKind::SepConv3x3,
    OpKind::SepConv5x5,
    OpKind::DilConv3x3,
    OpKind::DilConv5x5,
];

/// DARTS's name of an op: `skip_connect` for the identity, `none` for the zero op.
pub fn darts_name(op: OpKind) -> &'static str {
    match op {
        OpKind::Identity => "skip_connect",
        other => other.name(),
    }
}

/// The DARTS cell space with `nodes` intermediate nodes per cell (DARTS: 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Darts {
    pub nodes: usize,
}

impl Darts {
    pub fn new(nodes: usize) -> Self {
        Darts { nodes }
    }

    pub fn name(&self) -> &str {
        "darts"
    }

    two_branch_methods!(&DARTS_OPS[1..], "DARTS");

    /// Parses DARTS's genotype text (`Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=
    /// [2, 3, 4, 5], reduce=[...], reduce_concat=[2, 3, 4, 5])`, see `genotype.rs` for what it accepts).
    pub fn parse(&self, text: &str) -> Result<Arch> {
        genotype::parse(self, text)
    }

    /// DARTS's genotype text of an architecture, as DARTS prints it.
    pub fn format(&self, arch: &Arch) -> Result<String> {
        self.to_values(arch)?;
        Ok(genotype::format(arch))
    }

    /// Edges of one cell in the continuous relaxation: node `i` has one from each of the states
    /// `0..i+2` (14 for 4 nodes).
    pub fn edges(&self) -> usize {
        Darts::edge_index(self.nodes, 0)
    }

    /// The row of the edge from state `input` into node `node` within its cell: node 0's edges
    /// from states 0 and 1, then node 1's from 0, 1 and 2, and so on (DARTS's order).
    pub fn edge_index(node: usize, input: usize) -> usize {
        node * (node + 3) / 2 + input
    }

    /// DARTS's `genotype()` rule: from the softmax weights of the relaxation, row-major
    /// `[2 * edges, 8]` (the normal cell's edges, then the reduction cell's; columns in
    /// [`DARTS_OPS`] order), each node keeps its two incoming edges whose strongest op other than
    /// `none` weighs the most (a tie goes to the lower input, as Python's stable sort does), and
    /// on each the strongest op other than `none` (a tie goes to the earlier op). The stronger
    /// edge is the branch x. Returns the vector of choices.
    pub fn derive(&self, weights: &[f64]) -> Result<Vec<usize>> {
        let edges = self.edges();
        super::check_weights(self.name(), weights, 2 * edges, DARTS_OPS.len())?;
        // Each edge's strongest op (its column) and its weight, `none` (column 0) left out.
        let best = |row: usize| {
            let w = &weights[row * DARTS_OPS.len()..(row + 1) * DARTS_OPS.len()];
            (2..w.len()).fold((1, w[1]), |(k, m), j| if w[j] > m { (j, w[j]) } else { (k, m) })
        };
        let mut out = Vec::with_capacity(8 * self.nodes);
        for cell in 0..2 {
            for node in 0..self.nodes {
                let row = |input: usize| cell * edges + Darts::edge_index(node, input);
                let mut ranked: Vec<usize> = (0..node + 2).collect();
                // A stable sort, strongest first: equal strengths keep the lower input first.
                ranked.sort_by(|&a, &b| best(row(b)).1.partial_cmp(&best(row(a)).1).unwrap_or(Ordering::Equal));
                for &input in &ranked[..2] {
                    out.extend([input, best(row(input)).0 - 1]);
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
