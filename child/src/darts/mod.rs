//! DARTS's networks (Liu et al., ICLR 2019) on the CIFAR layout: a 3x3 stem to 3C channels with
//! BN; `layers` cells, the ones at `layers / 3` and `2 * layers / 3` reduction cells (stride 2 on
//! the edges from the cell's inputs, channels doubled); each cell preprocesses its two inputs (the
//! outputs of the two cells before it: a factorized reduction if the previous cell reduced, else
//! ReLU-1x1-BN), has `nodes` intermediate nodes, and outputs the concatenation of its nodes; global
//! average pooling and a linear classifier with bias.
//!
//! - [`DartsSupernet`]: the search network, every edge holding all eight ops (BN without affine
//!   parameters, pooling followed by BN), run as the softmax-weighted mixture or as one path.
//!   `../shared/bench/torch_darts_search.py` is its executable definition; at 8 layers and 16
//!   channels it has 1,930,618 weights, as DARTS's search logs print.
//! - [`DartsNet`]: the evaluation network of one genotype (affine BN, no BN after pooling), with
//!   drop-path and DARTS's auxiliary head as options; DARTS_V2 at 36 channels and 20 layers has
//!   3,349,342 parameters without the head (DARTS's own logs).
mod count;
mod eval;
pub mod ops;
mod search;

pub use count::{darts_cost, Holds};
pub use eval::{DartsForward, DartsNet};
pub use search::{DartsPath, DartsSupernet};

use crate::layers::{global_avg_pool, BatchNorm, BnMode};
use crate::params::Init;
use candle_core::{Result, Tensor};

/// The sizes of a DARTS network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DartsShape {
    pub in_channels: usize,
    /// C: the first cells' channels per node (the stem has 3C).
    pub channels: usize,
    pub layers: usize,
    pub nodes: usize,
    pub classes: usize,
}

/// The channels of one cell: its inputs', its own per node, and whether it and the previous cell
/// reduce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellPlan {
    pub c_pp: usize,
    pub c_p: usize,
    pub c: usize,
    pub reduction: bool,
    pub reduction_prev: bool,
}

impl DartsShape {
    /// Whether cell `i` is a reduction cell.
    pub fn is_reduction(&self, i: usize) -> bool {
        i == self.layers / 3 || i == 2 * self.layers / 3
    }

    /// Every cell's channels, in order.
    pub fn plans(&self) -> Vec<CellPlan> {
        let stem = 3 * self.channels;
        let (mut c_pp, mut c_p, mut c) = (stem, stem, self.channels);
        let mut reduction_prev = false;
        (0..self.layers)
            .map(|i| {
                let reduction = self.is_reduction(i);
                if reduction {
                    c *= 2;
                }
                let plan = CellPlan { c_pp, c_p, c, reduction, reduction_prev };
                (c_pp, c_p, reduction_prev) = (c_p, self.nodes * c, reduction);
                plan
            })
            .collect()
    }

    /// The cell whose output feeds the auxiliary head (DARTS: `2 * layers / 3`, the second
    /// reduction cell) and that output's channels.
    pub fn aux_input(&self) -> (usize, usize) {
        let i = 2 * self.layers / 3;
        (i, self.nodes * self.plans()[i].c)
    }

    /// The classifier's input channels: the last cell's output.
    pub fn out_channels(&self) -> usize {
        self.plans().last().map(|p| self.nodes * p.c).unwrap_or(3 * self.channels)
    }
}

/// The stem: 3x3 convolution (padding 1, no bias) to 3C channels, then BN with affine parameters
/// (in the search network too).
pub(crate) struct Stem {
    w: Tensor,
    bn: BatchNorm,
}

impl Stem {
    pub(crate) fn new(shape: &DartsShape, init: &Init) -> Result<Self> {
        let (c_in, c) = (shape.in_channels, 3 * shape.channels);
        let w = init.uniform("stem.0.weight", &[c, c_in, 3, 3], 1.0 / ((9 * c_in) as f64).sqrt())?;
        Ok(Stem { w, bn: BatchNorm::new(c, init.pp("stem.1"))? })
    }

    pub(crate) fn forward(&self, x: &Tensor, mode: BnMode) -> Result<Tensor> {
        self.bn.forward(&x.conv2d(&mode.param(&self.w), 1, 1, 1, 1)?, mode)
    }
}

/// Global average pooling and the linear classifier (with bias).
pub(crate) struct Classifier {
    w: Tensor,
    b: Tensor,
}

impl Classifier {
    pub(crate) fn new(c: usize, classes: usize, init: &Init) -> Result<Self> {
        let bound = 1.0 / (c as f64).sqrt();
        Ok(Classifier {
            w: init.uniform("classifier.weight", &[classes, c], bound)?,
            b: init.uniform("classifier.bias", &[classes], bound)?,
        })
    }

    pub(crate) fn forward(&self, x: &Tensor, mode: BnMode) -> Result<Tensor> {
        global_avg_pool(x)?.matmul(&mode.param(&self.w).t()?)?.broadcast_add(&mode.param(&self.b))
    }
}

/// Checks the sizes before anything is allocated.
pub(crate) fn check_shape(shape: &DartsShape) -> Result<()> {
    if shape.layers == 0 || shape.nodes == 0 || shape.channels == 0 || shape.classes == 0 || shape.in_channels == 0 {
        candle_core::bail!(
            "a DARTS network needs at least one layer, node, channel, class and input channel: {shape:?}"
        );
    }
    Ok(())
}

/// `Σ w_t · y_t` over a node's mixture terms (`w_t` scalars) as one stack and one matrix product,
/// so that the graph holds the terms once more (the stack) instead of every product and running
/// sum (candle keeps each node of the graph until the loss is dropped).
pub(crate) fn weighted_sum(terms: Vec<(Tensor, Tensor)>) -> Result<Option<Tensor>> {
    let Some(first) = terms.first() else { return Ok(None) };
    let shape = first.0.shape().clone();
    let t = terms.len();
    let (ys, ws): (Vec<Tensor>, Vec<Tensor>) = terms.into_iter().unzip();
    let y = Tensor::stack(&ys, 0)?.reshape((t, shape.elem_count()))?;
    let w = Tensor::stack(&ws, 0)?.reshape((1, t))?;
    Ok(Some(w.matmul(&y)?.reshape(shape)?))
}

/// The sum of optional terms; `None` when every term is absent.
pub(crate) fn sum_terms(terms: impl IntoIterator<Item = Result<Option<Tensor>>>) -> Result<Option<Tensor>> {
    let mut sum: Option<Tensor> = None;
    for t in terms {
        if let Some(t) = t? {
            sum = Some(match sum {
                None => t,
                Some(s) => (s + t)?,
            });
        }
    }
    Ok(sum)
}
