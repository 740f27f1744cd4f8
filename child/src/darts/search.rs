//! DARTS's search network: every edge of every cell holds all eight ops of `DARTS_OPS`, normal
//! cells sharing one set of architecture weights and reduction cells another. Run either as
//! DARTS's continuous relaxation (each edge the weighted sum of its ops) or as one path (each node
//! the sum of two ops on two chosen inputs, ENAS-style sampling on the DARTS space). With
//! PC-DARTS's partial channels (`partial > 1`, `crate::partial`) the ops see 1/K of each edge's
//! channels and the rest pass by.
use super::ops::{EdgeOp, Preprocess};
use super::{check_shape, sum_terms, weighted_sum, CellPlan, Classifier, DartsShape, Stem};
use crate::layers::BnMode;
use crate::params::Init;
use crate::partial;
use candle_core::{Result, Tensor};
use enas_shared::space::darts::DARTS_OPS;
use enas_shared::Darts;
use enas_shared::{Arch, Cell};

/// Which network a forward pass runs.
pub enum DartsPath<'a> {
    /// The mixture: `(2 * edges, 8)` weights, the normal cell's edges then the reduction cell's,
    /// columns in `DARTS_OPS` order (typically softmax(α) per row; gradients reach them). With
    /// partial channels, `(2 * edges, 9)`: the last column weighs the edge's bypassed channels
    /// (PC-DARTS: the edge's normalised weight, or 1). A weight of exactly 0 means the op is off
    /// (pruned from the search): it does not run, and that weight gets no gradient.
    Mixed(&'a Tensor),
    /// One architecture: each node sums its two branches' ops (with partial channels, each
    /// branch is a PC-DARTS edge holding that op alone, its bypass weighted 1).
    Single(&'a Arch),
}

struct MixedCell {
    pre0: Preprocess,
    pre1: Preprocess,
    /// Per edge, one op per `DARTS_OPS` entry.
    edges: Vec<Vec<EdgeOp>>,
    reduction: bool,
    /// PC-DARTS's K (1: every op sees every channel).
    partial: usize,
}

impl MixedCell {
    fn new(plan: CellPlan, nodes: usize, partial: usize, init: Init) -> Result<Self> {
        let c_ops = partial::op_channels(plan.c, partial)?;
        let pre0 = Preprocess::new(plan.c_pp, plan.c, plan.reduction_prev, false, init.pp("preprocess0"))?;
        let pre1 = Preprocess::new(plan.c_p, plan.c, false, false, init.pp("preprocess1"))?;
        let mut edges = Vec::with_capacity(Darts::new(nodes).edges());
        for node in 0..nodes {
            for input in 0..node + 2 {
                let stride = if plan.reduction && input < 2 { 2 } else { 1 };
                let init = init.pp(format!("edges.{}", Darts::edge_index(node, input)));
                edges.push(
                    DARTS_OPS
                        .iter()
                        .map(|&op| EdgeOp::new(op, c_ops, stride, true, init.pp("ops")))
                        .collect::<Result<_>>()?,
                );
            }
        }
        Ok(MixedCell { pre0, pre1, edges, reduction: plan.reduction, partial })
    }

    /// The stride of the edges from state `input`: 2 from a reduction cell's inputs.
    fn stride(&self, input: usize) -> usize {
        if self.reduction && input < 2 {
            2
        } else {
            1
        }
    }

    /// What the ops of the edge from state `input` read, and (partial channels) the channels that
    /// pass by, as the edge outputs them.
    fn edge_input(&self, h: &Tensor, input: usize) -> Result<(Tensor, Option<Tensor>)> {
        if self.partial == 1 {
            return Ok((h.clone(), None));
        }
        let (ops, rest) = partial::split(h, self.partial)?;
        Ok((ops, Some(partial::bypass(&rest, self.stride(input))?)))
    }

    /// A node from the weighted sum of its op outputs (`None`: no term) and (partial channels)
    /// its edges' weighted bypassed channels: `Σ w·op`, or PC-DARTS's `shuffle(cat(Σ w·op,
    /// Σ w·bypass))`.
    fn node_output(
        &self,
        states: &[Tensor],
        mix: Option<Tensor>,
        rest: Vec<(Tensor, Tensor)>,
    ) -> Result<Option<Tensor>> {
        let Some(rest) = weighted_sum(rest)? else { return Ok(mix) };
        let mix = match mix {
            Some(m) => m,
            None => zeros_like_node(&partial::split(&states[1], self.partial)?.0, self.reduction)?,
        };
        Ok(Some(partial::join(&mix, &rest, self.partial)?))
    }

    /// The cell's output for inputs `s0`, `s1`; `node(i, states)` gives node `i`'s sum (`None`:
    /// every term was `none`, and the node is zeros).
    fn forward(
        &self,
        s0: &Tensor,
        s1: &Tensor,
        nodes: usize,
        mode: BnMode,
        mut node: impl FnMut(&Self, usize, &[Tensor]) -> Result<Option<Tensor>>,
    ) -> Result<Tensor> {
        let mut states = vec![self.pre0.forward(s0, mode)?, self.pre1.forward(s1, mode)?];
        for i in 0..nodes {
            let s = match node(self, i, &states)? {
                Some(s) => s,
                None => zeros_like_node(&states[1], self.reduction)?,
            };
            states.push(s);
        }
        Tensor::cat(&states[2..], 1)
    }
}

/// Zeros of a node's shape: the preprocessed input's, halved (rounded up) in a reduction cell.
fn zeros_like_node(input: &Tensor, reduction: bool) -> Result<Tensor> {
    let (n, c, h, w) = input.dims4()?;
    let (h, w) = if reduction { (h.div_ceil(2), w.div_ceil(2)) } else { (h, w) };
    Tensor::zeros((n, c, h, w), input.dtype(), input.device())
}

/// The DARTS search network. Its weights are created in a fixed order from `Init` (the order
/// PyTorch registers the reference network's parameters) and live in the caller's `ParamStore`.
pub struct DartsSupernet {
    shape: DartsShape,
    partial: usize,
    stem: Stem,
    cells: Vec<MixedCell>,
    classifier: Classifier,
}

impl DartsSupernet {
    pub fn new(shape: DartsShape, init: Init) -> Result<Self> {
        Self::with_partial(shape, 1, init)
    }

    /// The search network with PC-DARTS's partial channel connections: every edge's ops hold and
    /// see `C / partial` channels (`partial` 1: DARTS's network).
    pub fn with_partial(shape: DartsShape, partial: usize, init: Init) -> Result<Self> {
        check_shape(&shape)?;
        let stem = Stem::new(&shape, &init)?;
        let cells = shape
            .plans()
            .into_iter()
            .enumerate()
            .map(|(i, plan)| MixedCell::new(plan, shape.nodes, partial, init.pp(format!("cells.{i}"))))
            .collect::<Result<_>>()?;
        let classifier = Classifier::new(shape.out_channels(), shape.classes, &init)?;
        Ok(DartsSupernet { shape, partial, stem, cells, classifier })
    }

    pub fn shape(&self) -> DartsShape {
        self.shape
    }

    /// Logits `(N, classes)` of `path` for images `(N, in_channels, H, W)`.
    pub fn forward(&self, x: &Tensor, path: &DartsPath, mode: BnMode) -> Result<Tensor> {
        let nodes = self.shape.nodes;
        let edges = Darts::new(nodes).edges();
        let cols = DARTS_OPS.len() + usize::from(self.partial > 1);
        if let DartsPath::Mixed(w) = path {
            if w.dims() != [2 * edges, cols] {
                candle_core::bail!("mixed-op weights must be ({}, {cols}), got {:?}", 2 * edges, w.dims());
            }
        }
        if let DartsPath::Single(arch) = path {
            check_arch(arch, nodes)?;
        }
        // A single path's weights under partial channels (each branch counts once).
        let one = Tensor::ones((), x.dtype(), x.device())?;
        // The mixture's weights on the host, read once: an op weighted exactly 0 is skipped.
        let host = match path {
            DartsPath::Mixed(w) => w.to_vec2::<f32>()?,
            DartsPath::Single(_) => Vec::new(),
        };
        let mut s0 = self.stem.forward(x, mode)?;
        let mut s1 = s0.clone();
        for cell in &self.cells {
            let out = match path {
                DartsPath::Mixed(w) => {
                    let first = if cell.reduction { edges } else { 0 };
                    let (w, host) = (w.narrow(0, first, edges)?, &host[first..first + edges]);
                    cell.forward(&s0, &s1, nodes, mode, |cell, i, states| {
                        let (mut sum, mut rest) = (None, Vec::new());
                        for (j, h) in states.iter().enumerate().take(i + 2) {
                            let e = Darts::edge_index(i, j);
                            let (h, bypassed) = cell.edge_input(h, j)?;
                            for (k, op) in cell.edges[e].iter().enumerate() {
                                // A weight of exactly 0 (an op pruned from the search) would add 0.
                                if host[e][k] == 0.0 {
                                    continue;
                                }
                                sum = op.forward_acc(&h, sum, &w.get(e)?.get(k)?, mode)?;
                            }
                            if let Some(b) = bypassed {
                                rest.push((b, w.get(e)?.get(DARTS_OPS.len())?));
                            }
                        }
                        cell.node_output(states, sum, rest)
                    })?
                }
                DartsPath::Single(arch) => {
                    let c: &Cell = if cell.reduction { &arch.reduce } else { &arch.normal };
                    cell.forward(&s0, &s1, nodes, mode, |cell, i, states| {
                        let n = &c.nodes[i];
                        if cell.partial == 1 {
                            return sum_terms([n.x, n.y].into_iter().map(|b| {
                                let k = op_column(b.op)?;
                                cell.edges[Darts::edge_index(i, b.input)][k].forward(&states[b.input], mode)
                            }));
                        }
                        let (mut terms, mut rest) = (Vec::new(), Vec::new());
                        for b in [n.x, n.y] {
                            let (h, bypassed) = cell.edge_input(&states[b.input], b.input)?;
                            let op = &cell.edges[Darts::edge_index(i, b.input)][op_column(b.op)?];
                            if let Some(y) = op.forward(&h, mode)? {
                                terms.push((y, one.clone()));
                            }
                            rest.extend(bypassed.map(|t| (t, one.clone())));
                        }
                        cell.node_output(states, weighted_sum(terms)?, rest)
                    })?
                }
            };
            (s0, s1) = (s1, out);
        }
        self.classifier.forward(&s1, mode)
    }
}

/// The column of `op` in `DARTS_OPS`.
fn op_column(op: enas_shared::OpKind) -> Result<usize> {
    DARTS_OPS
        .iter()
        .position(|&o| o == op)
        .ok_or_else(|| candle_core::Error::Msg(format!("`{}` is not a DARTS op", op.name())))
}

/// An architecture fits a network with `nodes` nodes per cell: every input is an earlier state.
pub(crate) fn check_arch(arch: &Arch, nodes: usize) -> Result<()> {
    for (name, cell) in [("normal", &arch.normal), ("reduce", &arch.reduce)] {
        if cell.nodes.len() != nodes {
            candle_core::bail!("the {name} cell has {} nodes, the network {nodes}", cell.nodes.len());
        }
        for (i, n) in cell.nodes.iter().enumerate() {
            for b in [n.x, n.y] {
                if b.input >= i + 2 {
                    candle_core::bail!("{name} cell node {i} reads state {}, which is not before it", b.input);
                }
                op_column(b.op)?;
            }
        }
    }
    Ok(())
}
