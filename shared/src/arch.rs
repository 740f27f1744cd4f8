//! Architectures as plain data: a cell is a list of nodes, a node sums two branches, a branch applies
//! one op to one earlier state (0 and 1 are the cell's inputs, 2 + i is node i).
use crate::OpKind;
use std::fmt;

/// One branch of a node: which earlier state it reads and which op it applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Branch {
    pub input: usize,
    pub op: OpKind,
}

/// A node: the sum of two branches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Node {
    pub x: Branch,
    pub y: Branch,
}

/// A cell: its nodes in order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cell {
    pub nodes: Vec<Node>,
}

impl Cell {
    /// Which states (cell inputs and nodes) no node reads: ENAS concatenates these as the output.
    pub fn unused_states(&self) -> Vec<usize> {
        let mut used = vec![false; self.nodes.len() + 2];
        for n in &self.nodes {
            used[n.x.input] = true;
            used[n.y.input] = true;
        }
        (0..used.len()).filter(|&k| !used[k]).collect()
    }
}

/// Readable form, e.g. `n2=sep_conv_3x3(0)+identity(1) n3=...`.
impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, n) in self.nodes.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "n{}={}({})+{}({})", i + 2, n.x.op, n.x.input, n.y.op, n.y.input)?;
        }
        Ok(())
    }
}

/// A micro-search architecture: the normal cell and the reduction cell.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Arch {
    pub normal: Cell,
    pub reduce: Cell,
}
