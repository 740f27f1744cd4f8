//! Search spaces as lists of categorical decisions. A strategy proposes a vector of choices; the
//! space checks it, turns it into an architecture and formats it as text.
pub mod enas_micro;
pub mod nb201;

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

/// Every search space a strategy can search, behind one set of methods: the decisions, a check of
/// a vector of choices, and its text form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Space {
    /// ENAS's micro (cell) space.
    EnasMicro(EnasMicro),
    /// NAS-Bench-201's cell space.
    Nb201(Nb201),
}

impl Space {
    /// A space by its command-line name: `nb201`, or `enas_micro` with `nodes` nodes per cell.
    pub fn by_name(name: &str, nodes: usize) -> Result<Space> {
        match name {
            "nb201" => Ok(Space::Nb201(Nb201)),
            "enas_micro" => Ok(Space::EnasMicro(EnasMicro::new(nodes))),
            other => Err(Error::Arch(format!("unknown search space `{other}`; expected nb201 or enas_micro"))),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Space::EnasMicro(s) => s.name(),
            Space::Nb201(s) => s.name(),
        }
    }

    /// The ops an op decision chooses among, in value order.
    pub fn ops(&self) -> &'static [OpKind] {
        match self {
            Space::EnasMicro(s) => s.ops(),
            Space::Nb201(s) => s.ops(),
        }
    }

    /// The decisions, in the order of a vector of choices.
    pub fn decisions(&self) -> Vec<Decision> {
        match self {
            Space::EnasMicro(s) => s.decisions(),
            Space::Nb201(s) => s.decisions(),
        }
    }

    /// Checks a vector of choices, naming the first bad position.
    pub fn validate(&self, values: &[usize]) -> Result<()> {
        match self {
            Space::EnasMicro(s) => s.validate(values),
            Space::Nb201(s) => s.validate(values),
        }
    }

    /// Parses the space's text form into choices.
    pub fn parse(&self, text: &str) -> Result<Vec<usize>> {
        match self {
            Space::EnasMicro(s) => s.to_values(&s.parse(text)?),
            Space::Nb201(s) => s.parse(text),
        }
    }

    /// The space's text form of a vector of choices.
    pub fn format(&self, values: &[usize]) -> Result<String> {
        match self {
            Space::EnasMicro(s) => s.format(&s.from_values(values)?),
            Space::Nb201(s) => s.format(values),
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

impl From<&Space> for Space {
    fn from(s: &Space) -> Space {
        s.clone()
    }
}
