//! The NAS-Bench-201 cell space (Dong & Yang, ICLR 2020): 4 nodes, node `j` sums an op applied to
//! every earlier node `i < j`, so 6 edges, each one of 5 ops: 5^6 = 15,625 cells. The text form is
//! the benchmark's own, `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|` (node 1's edge, then node 2's, then
//! node 3's, each `op~input`). The decision order is that edge order.
use super::{Decision, DecisionKind};
use crate::error::{clip, strip_bom};
use crate::{Error, OpKind, Result};

/// NAS-Bench-201's op order (`NAS_BENCH_201` in its `cell_operations.py`): a value in a vector
/// of choices is an index into this list.
pub const NB201_OPS: [OpKind; 5] =
    [OpKind::Zero, OpKind::Identity, OpKind::NorConv1x1, OpKind::NorConv3x3, OpKind::AvgPool3x3];

/// Nodes of a cell, the input node 0 included.
pub const NB201_NODES: usize = 4;

/// Edges of a cell: `(to, from)` in decision order.
pub const NB201_EDGES: [(usize, usize); 6] = [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)];

/// The NAS-Bench-201 cell space.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Nb201;

impl Nb201 {
    pub fn name(&self) -> &str {
        "nb201"
    }

    pub fn ops(&self) -> &'static [OpKind] {
        &NB201_OPS
    }

    /// One op decision per edge, in edge order.
    pub fn decisions(&self) -> Vec<Decision> {
        NB201_EDGES
            .iter()
            .map(|(to, from)| Decision {
                kind: DecisionKind::Op,
                choices: NB201_OPS.len(),
                label: format!("edge {from}->{to}"),
            })
            .collect()
    }

    /// Checks a vector of choices: 6 values, each below 5.
    pub fn validate(&self, values: &[usize]) -> Result<()> {
        if values.len() != NB201_EDGES.len() {
            return Err(Error::Arch(format!(
                "a NAS-Bench-201 cell has {} edges, got {} values",
                NB201_EDGES.len(),
                values.len()
            )));
        }
        if let Some(pos) = values.iter().position(|&v| v >= NB201_OPS.len()) {
            let (to, from) = NB201_EDGES[pos];
            return Err(Error::Arch(format!(
                "value {} on edge {from}->{to} is out of range: allowed 0..={}",
                values[pos],
                NB201_OPS.len() - 1
            )));
        }
        Ok(())
    }

    /// The op on each edge, in edge order.
    pub fn ops_of(&self, values: &[usize]) -> Result<Vec<OpKind>> {
        self.validate(values)?;
        Ok(values.iter().map(|&v| NB201_OPS[v]).collect())
    }

    /// Parses the benchmark's text form into choices (a leading UTF-8 byte-order mark is dropped);
    /// errors name the node and edge.
    pub fn parse(&self, text: &str) -> Result<Vec<usize>> {
        let text = strip_bom(text).trim();
        let bad = |msg: String| Error::Arch(format!("NAS-Bench-201 cell `{}`: {msg}", clip(text)));
        let nodes: Vec<&str> = text.split('+').collect();
        if nodes.len() != NB201_NODES - 1 {
            return Err(bad(format!(
                "expected {} nodes separated by `+` (`|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`), got {}",
                NB201_NODES - 1,
                nodes.len()
            )));
        }
        let mut values = Vec::with_capacity(NB201_EDGES.len());
        for (j, node) in nodes.iter().enumerate() {
            let to = j + 1;
            let inner = node
                .strip_prefix('|')
                .and_then(|s| s.strip_suffix('|'))
                .ok_or_else(|| bad(format!("node {to} `{}` must start and end with `|`", clip(node))))?;
            let edges: Vec<&str> = inner.split('|').collect();
            if edges.len() != to {
                return Err(bad(format!("node {to} must have {to} edge(s) `op~input`, got {}", edges.len())));
            }
            for (from, edge) in edges.iter().enumerate() {
                let (op, input) = edge
                    .split_once('~')
                    .ok_or_else(|| bad(format!("edge `{}` of node {to} is not `op~input`", clip(edge))))?;
                if input != from.to_string() {
                    let msg = format!("edge {} of node {to} must read input {from}, got `{}`", from + 1, clip(input));
                    return Err(bad(msg));
                }
                // An op of another space, or no op at all, is answered with the benchmark's five.
                let kind = op.parse::<OpKind>().ok();
                let v = kind.and_then(|k| NB201_OPS.iter().position(|o| *o == k)).ok_or_else(|| {
                    let what = if kind.is_some() { "is not a NAS-Bench-201 op" } else { "is unknown" };
                    bad(format!("op `{}` on node {to} {what}; expected one of {}", clip(op), op_names()))
                })?;
                values.push(v);
            }
        }
        Ok(values)
    }

    /// The op values of the relaxation's weights (row-major `[6, 5]`, edges in decision order,
    /// columns in [`NB201_OPS`] order): each edge's largest weight, the first on a tie.
    pub fn derive(&self, weights: &[f64]) -> Result<Vec<usize>> {
        let cols = NB201_OPS.len();
        super::check_weights(self.name(), weights, NB201_EDGES.len(), cols)?;
        let argmax = |row: &[f64]| (1..row.len()).fold(0, |best, k| if row[k] > row[best] { k } else { best });
        Ok(weights.chunks(cols).map(argmax).collect())
    }

    /// The benchmark's text form of a vector of choices.
    pub fn format(&self, values: &[usize]) -> Result<String> {
        let ops = self.ops_of(values)?;
        let mut out = String::from("|");
        for (k, ((_, from), op)) in NB201_EDGES.iter().zip(ops).enumerate() {
            if k > 0 && *from == 0 {
                out.push_str("+|");
            }
            out.push_str(&format!("{}~{from}|", nb201_name(op)));
        }
        Ok(out)
    }
}

/// The benchmark's name of an op (`skip_connect` for the identity).
pub fn nb201_name(op: OpKind) -> &'static str {
    match op {
        OpKind::Identity => "skip_connect",
        other => other.name(),
    }
}

fn op_names() -> String {
    NB201_OPS.iter().map(|o| nb201_name(*o)).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEST: &str =
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|";

    #[test]
    fn parses_and_formats_the_benchmark_text() {
        let v = Nb201.parse(BEST).unwrap();
        assert_eq!(v, vec![3, 3, 3, 1, 3, 3]);
        assert_eq!(Nb201.format(&v).unwrap(), BEST);
        assert_eq!(Nb201.decisions().len(), 6);
        assert_eq!(Nb201.decisions()[2].label, "edge 1->2");
    }

    #[test]
    fn malformed_text_is_named() {
        let err = Nb201.parse("|nor_conv_3x3~0|+|none~0|none~1|").unwrap_err().to_string();
        assert!(err.contains("expected 3 nodes"), "{err}");
        let err = Nb201.parse(&BEST.replace("skip_connect", "sep_conv_3x3")).unwrap_err().to_string();
        assert!(err.contains("`sep_conv_3x3` on node 3 is not a NAS-Bench-201 op"), "{err}");
        let err = Nb201.parse(&BEST.replace("skip_connect", "conv_9x9")).unwrap_err().to_string();
        assert!(err.contains("op `conv_9x9` on node 3 is unknown"), "{err}");
        let err = Nb201.parse(&BEST.replace("nor_conv_3x3~1|+", "nor_conv_3x3~0|+")).unwrap_err().to_string();
        assert!(err.contains("edge 2 of node 2 must read input 1"), "{err}");
        let err = Nb201.validate(&[0, 0, 0, 0, 0, 5]).unwrap_err().to_string();
        assert!(err.contains("edge 2->3") && err.contains("0..=4"), "{err}");
    }

    /// Whatever the bad op, known elsewhere or not, the list is the benchmark's five ops.
    #[test]
    fn a_bad_op_is_answered_with_the_benchmarks_op_names() {
        let nb201 = "none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3";
        for op in ["max_pool_3x3", "conv_9x9", "sep_conv_3x3"] {
            let err = Nb201.parse(&BEST.replace("skip_connect", op)).unwrap_err().to_string();
            assert!(err.contains(&format!("op `{op}` on node 3")) && err.contains(nb201), "{op}: {err}");
            assert!(!err.contains("sep_conv_5x5") && !err.contains("identity,"), "{op}: {err}");
        }
    }

    #[test]
    fn a_byte_order_mark_is_dropped_and_a_huge_token_is_cut() {
        assert_eq!(Nb201.parse(&format!("\u{feff}{BEST}")).unwrap(), vec![3, 3, 3, 1, 3, 3]);
        let huge = format!("|{}~0|+|none~0|none~1|+|none~0|none~1|none~2|", "x".repeat(1_000_000));
        let err = Nb201.parse(&huge).unwrap_err().to_string();
        assert!(err.len() < 1000 && err.contains("... (1000043 bytes)"), "{}", &err[..err.len().min(2000)]);
    }
}
