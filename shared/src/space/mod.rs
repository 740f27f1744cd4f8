//! Search spaces as lists of categorical decisions. A strategy proposes a vector of choices; the
//! space checks it, turns it into an architecture and formats it as text.
pub mod darts;
pub mod enas_micro;
pub mod nb201;
mod two_branch;

pub use darts::{Darts, DARTS_OPS};
pub use enas_micro::EnasMicro;
pub use nb201::Nb201;

use crate::{Error, OpKind, Result};

/// What a decision chooses between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecisionKind {
    /// Pick one of the earlier states (cell inputs and earlier nodes) as an input.
    Input,
    /// Pick one op from the space's op list.
    Op,
}

/// One categorical decision: its kind and how many choices it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub kind: DecisionKind,
    pub choices: usize,
    /// Where the decision sits, for error messages (e.g. `normal node 2 x_input`).
    pub label: String,
}

/// A search space, by its config and command-line name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpaceKind {
    /// ENAS's micro (cell) space (`child.nodes` nodes per cell).
    EnasMicro,
    /// NAS-Bench-201's cell space.
    Nb201,
    /// DARTS's cell space (`child.nodes` intermediate nodes per cell).
    Darts,
}

impl SpaceKind {
    pub const ALL: [SpaceKind; 3] = [SpaceKind::EnasMicro, SpaceKind::Nb201, SpaceKind::Darts];

    pub fn name(self) -> &'static str {
        match self {
            SpaceKind::EnasMicro => "enas_micro",
            SpaceKind::Nb201 => "nb201",
            SpaceKind::Darts => "darts",
        }
    }

    /// The space, with `nodes` nodes per cell where it has a choice.
    pub fn space(self, nodes: usize) -> Space {
        match self {
            SpaceKind::EnasMicro => Space::EnasMicro(EnasMicro::new(nodes)),
            SpaceKind::Nb201 => Space::Nb201(Nb201),
            SpaceKind::Darts => Space::Darts(Darts::new(nodes)),
        }
    }
}

impl std::fmt::Display for SpaceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for SpaceKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<SpaceKind> {
        SpaceKind::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| {
            Error::Name(format!(
                "unknown search space `{}`; expected nb201, enas_micro or darts",
                crate::error::clip(s)
            ))
        })
    }
}

/// Every search space a strategy can search, behind one set of methods: the decisions, a check of
/// a vector of choices, and its text form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Space {
    /// ENAS's micro (cell) space.
    EnasMicro(EnasMicro),
    /// NAS-Bench-201's cell space.
    Nb201(Nb201),
    /// DARTS's cell space.
    Darts(Darts),
}

impl Space {
    /// A space by its command-line name: `nb201`, or `enas_micro` or `darts` with `nodes` nodes
    /// per cell.
    pub fn by_name(name: &str, nodes: usize) -> Result<Space> {
        Ok(name.parse::<SpaceKind>()?.space(nodes))
    }

    pub fn name(&self) -> &str {
        match self {
            Space::EnasMicro(s) => s.name(),
            Space::Nb201(s) => s.name(),
            Space::Darts(s) => s.name(),
        }
    }

    /// The ops an op decision chooses among, in value order.
    pub fn ops(&self) -> &'static [OpKind] {
        match self {
            Space::EnasMicro(s) => s.ops(),
            Space::Nb201(s) => s.ops(),
            Space::Darts(s) => s.ops(),
        }
    }

    /// The decisions, in the order of a vector of choices.
    pub fn decisions(&self) -> Vec<Decision> {
        match self {
            Space::EnasMicro(s) => s.decisions(),
            Space::Nb201(s) => s.decisions(),
            Space::Darts(s) => s.decisions(),
        }
    }

    /// Checks a vector of choices, naming the first bad position.
    pub fn validate(&self, values: &[usize]) -> Result<()> {
        match self {
            Space::EnasMicro(s) => s.validate(values),
            Space::Nb201(s) => s.validate(values),
            Space::Darts(s) => s.validate(values),
        }
    }

    /// Parses the space's text form into choices.
    pub fn parse(&self, text: &str) -> Result<Vec<usize>> {
        match self {
            Space::EnasMicro(s) => s.to_values(&s.parse(text)?),
            Space::Nb201(s) => s.parse(text),
            Space::Darts(s) => s.to_values(&s.parse(text)?),
        }
    }

    /// The space's text form of a vector of choices.
    pub fn format(&self, values: &[usize]) -> Result<String> {
        match self {
            Space::EnasMicro(s) => s.format(&s.from_values(values)?),
            Space::Nb201(s) => s.format(values),
            Space::Darts(s) => s.format(&s.from_values(values)?),
        }
    }

    /// The continuous relaxation DARTS's optimiser searches: its rows (edges, every cell's) and
    /// the ops of its columns. NAS-Bench-201: one row per edge over its five ops, `none` included;
    /// DARTS: `2 * edges` rows (the normal cell's edges, then the reduction cell's) over
    /// [`DARTS_OPS`]; ENAS micro has none (its edges are sampled, not mixed).
    pub fn mixture(&self) -> Option<(usize, &'static [OpKind])> {
        match self {
            Space::EnasMicro(_) => None,
            Space::Nb201(_) => Some((nb201::NB201_EDGES.len(), &nb201::NB201_OPS)),
            Space::Darts(s) => Some((2 * s.edges(), &DARTS_OPS)),
        }
    }

    /// The node each row of the relaxation feeds, numbered across cells (PC-DARTS's edge
    /// normalisation is a softmax over the rows of one node). NAS-Bench-201: an edge's target
    /// node; DARTS: `cell * nodes + node` (normal cell 0, reduction cell 1).
    pub fn mixture_nodes(&self) -> Option<Vec<usize>> {
        match self {
            Space::EnasMicro(_) => None,
            Space::Nb201(_) => Some(nb201::NB201_EDGES.iter().map(|&(to, _)| to).collect()),
            Space::Darts(s) => {
                let mut rows = vec![0; 2 * s.edges()];
                for cell in 0..2 {
                    for node in 0..s.nodes {
                        for input in 0..node + 2 {
                            rows[cell * s.edges() + Darts::edge_index(node, input)] = cell * s.nodes + node;
                        }
                    }
                }
                Some(rows)
            }
        }
    }

    /// How many of the relaxation's rows (from the first) are the normal cell's edges:
    /// NAS-Bench-201 all six (its one cell), DARTS the first half.
    pub fn normal_rows(&self) -> Option<usize> {
        match self {
            Space::EnasMicro(_) => None,
            Space::Nb201(_) => Some(nb201::NB201_EDGES.len()),
            Space::Darts(s) => Some(s.edges()),
        }
    }

    /// The ops of the normal cell of a vector of choices, one per branch (NAS-Bench-201: its one
    /// cell's six edges; DARTS and ENAS micro: two per node), e.g. to count its skip connections.
    pub fn normal_ops(&self, values: &[usize]) -> Result<Vec<OpKind>> {
        let two_branch = |arch: crate::Arch| arch.normal.nodes.iter().flat_map(|n| [n.x.op, n.y.op]).collect();
        Ok(match self {
            Space::EnasMicro(s) => two_branch(s.from_values(values)?),
            Space::Nb201(s) => s.ops_of(values)?,
            Space::Darts(s) => two_branch(s.from_values(values)?),
        })
    }

    /// The vector of choices that the relaxation's weights (row-major, of `mixture()`'s shape)
    /// stand for. NAS-Bench-201: each edge's largest weight (the first on a tie); DARTS: DARTS's
    /// rule ([`Darts::derive`]); ENAS micro has no relaxation: an error.
    pub fn derive(&self, weights: &[f64]) -> Result<Vec<usize>> {
        match self {
            Space::EnasMicro(s) => Err(Error::Arch(format!(
                "the {} space has no continuous relaxation to derive a cell from (nb201 and darts have one)",
                s.name()
            ))),
            Space::Nb201(s) => s.derive(weights),
            Space::Darts(s) => s.derive(weights),
        }
    }

    /// Number of distinct vectors of choices (as f64: ENAS's space overflows u64 for many nodes).
    pub fn size(&self) -> f64 {
        self.decisions().iter().map(|d| d.choices as f64).product()
    }
}

impl From<EnasMicro> for Space {
    fn from(s: EnasMicro) -> Space {
        Space::EnasMicro(s)
    }
}

impl From<&EnasMicro> for Space {
    fn from(s: &EnasMicro) -> Space {
        Space::EnasMicro(s.clone())
    }
}

impl From<Nb201> for Space {
    fn from(s: Nb201) -> Space {
        Space::Nb201(s)
    }
}

impl From<Darts> for Space {
    fn from(s: Darts) -> Space {
        Space::Darts(s)
    }
}

impl From<&Darts> for Space {
    fn from(s: &Darts) -> Space {
        Space::Darts(s.clone())
    }
}

impl From<&Space> for Space {
    fn from(s: &Space) -> Space {
        s.clone()
    }
}

/// Checks the relaxation's weights of `space`: `rows * cols` finite numbers.
fn check_weights(space: &str, weights: &[f64], rows: usize, cols: usize) -> Result<()> {
    if weights.len() != rows * cols {
        return Err(Error::Arch(format!(
            "the {space} space's relaxation has {rows} x {cols} = {} weights (edges x ops, row-major), got {}",
            rows * cols,
            weights.len()
        )));
    }
    if let Some(i) = weights.iter().position(|w| !w.is_finite()) {
        let (row, col) = (i / cols, i % cols);
        return Err(Error::Arch(format!(
            "{space} relaxation weight {} (edge {row}, op {col}) is not finite",
            weights[i]
        )));
    }
    Ok(())
}
