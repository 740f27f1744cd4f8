//! The ENAS micro (cell) search space: `nodes` nodes per cell, each node sums two branches, each
//! branch picks an input among the two cell inputs and the earlier nodes, and an op among ENAS's five.
//! The arc text is ENAS's own: 4 integers per node `x_input x_op y_input y_op`, the normal cell's
//! nodes first, then the reduction cell's.
use super::two_branch::two_branch_methods;
use crate::arch::Arch;
use crate::error::{clip, strip_bom};
use crate::{Error, OpKind, Result};

/// ENAS's op order: the integer in an arc is an index into this list.
pub const ENAS_OPS: [OpKind; 5] =
    [OpKind::SepConv3x3, OpKind::SepConv5x5, OpKind::AvgPool3x3, OpKind::MaxPool3x3, OpKind::Identity];

/// The ENAS micro search space with `nodes` nodes (B in the paper) per cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnasMicro {
    pub nodes: usize,
}

impl EnasMicro {
    pub fn new(nodes: usize) -> Self {
        EnasMicro { nodes }
    }

    pub fn name(&self) -> &str {
        "enas_micro"
    }

    two_branch_methods!(&ENAS_OPS, "ENAS micro");

    /// Parses ENAS arc text: whitespace- or comma-separated integers (a leading UTF-8 byte-order
    /// mark, as some editors write, is dropped).
    pub fn parse(&self, text: &str) -> Result<Arch> {
        let mut values = Vec::new();
        for (pos, tok) in
            strip_bom(text).split(|c: char| c.is_whitespace() || c == ',').filter(|t| !t.is_empty()).enumerate()
        {
            let v = tok
                .parse::<usize>()
                .map_err(|_| Error::Arch(format!("`{}` at position {pos} is not a non-negative integer", clip(tok))))?;
            values.push(v);
        }
        self.from_values(&values)
    }

    /// ENAS arc text of an architecture.
    pub fn format(&self, arch: &Arch) -> Result<String> {
        let v = self.to_values(arch)?;
        Ok(v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENAS_PUBLISHED: &str = "0 2 0 0 0 4 0 1 0 4 1 1 1 0 0 1 0 2 1 1 1 0 1 0 0 3 0 2 1 1 3 1 1 0 0 4 0 3 1 1";

    #[test]
    fn published_arc_round_trips() {
        let space = EnasMicro::new(5);
        let arch = space.parse(ENAS_PUBLISHED).unwrap();
        assert_eq!(arch.normal.nodes[0].x.op, OpKind::AvgPool3x3);
        assert_eq!(arch.normal.nodes[0].y.op, OpKind::SepConv3x3);
        assert_eq!(space.format(&arch).unwrap(), ENAS_PUBLISHED);
        assert_eq!(space.decisions().len(), 40);
    }

    #[test]
    fn wrong_count_is_rejected_with_the_expected_count() {
        let err = EnasMicro::new(5).parse("0 1 0 1").unwrap_err().to_string();
        assert!(err.contains("expected 40") && err.contains("got 4"), "{err}");
    }

    #[test]
    fn input_not_below_node_plus_two_names_position_and_range() {
        // Node 0 may only read inputs 0 and 1.
        let mut v = vec![0usize; 40];
        v[2] = 2;
        let err = EnasMicro::new(5).from_values(&v).unwrap_err().to_string();
        assert!(err.contains("position 2") && err.contains("0..=1") && err.contains("y_input"), "{err}");
    }

    #[test]
    fn op_out_of_range_and_junk_are_rejected() {
        let mut v = vec![0usize; 40];
        v[21] = 5;
        let err = EnasMicro::new(5).from_values(&v).unwrap_err().to_string();
        assert!(err.contains("position 21") && err.contains("0..=4") && err.contains("reduce"), "{err}");
        let err = EnasMicro::new(5).parse("0 x 1").unwrap_err().to_string();
        assert!(err.contains("`x` at position 1"), "{err}");
    }

    #[test]
    fn a_byte_order_mark_is_dropped_and_a_huge_token_is_cut() {
        let space = EnasMicro::new(5);
        assert_eq!(space.parse(&format!("\u{feff}{ENAS_PUBLISHED}\n")).unwrap(), space.parse(ENAS_PUBLISHED).unwrap());
        let err = space.parse(&format!("0 {}x 1", "1".repeat(1_000_000))).unwrap_err().to_string();
        assert!(
            err.len() < 300 && err.contains("... (1000001 bytes)` at position 1"),
            "{}",
            &err[..err.len().min(2000)]
        );
    }
}
