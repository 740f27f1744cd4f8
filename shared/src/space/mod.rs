//! Search spaces as lists of categorical decisions. A strategy proposes a vector of choices; the
//! space checks it, turns it into an architecture and formats it as text.
pub mod enas_micro;

pub use enas_micro::EnasMicro;

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
