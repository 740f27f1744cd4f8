//! The NAS-Bench-201 network (Dong & Yang, ICLR 2020), as the benchmark's `TinyNetwork` /
//! `InferCell` define it: a 3x3 stem convolution to `C` channels with BatchNorm; three stages of
//! `N` cells at `C`, `2C` and `4C` channels, separated by ResNet basic blocks with stride 2; then
//! BatchNorm-ReLU, global average pooling and a linear classifier. The benchmark's network has
//! `C = 16`, `N = 5`.
//!
//! A cell has 4 nodes; node `j` is the sum of `op(node i)` over `i < j`, the output is node 3.
//! The ops: `nor_conv_kxk` is ReLU - conv (no bias) - BatchNorm (affine), `avg_pool_3x3` averages
//! the in-bounds elements of each window (`count_include_pad=False`), `skip_connect` passes its
//! input, `none` contributes nothing (a node whose every input is `none` is zero).
//!
//! Initialisation is PyTorch's default, which the zero-cost proxy papers score: convolution and
//! linear weights uniform in `±1/sqrt(fan_in)` (`kaiming_uniform_(a=sqrt(5))`), the linear bias
//! likewise, BatchNorm scale 1 and shift 0. A network can be built without BatchNorm (synflow's
//! `bn=False`); its other weights are then the same as with it, for the same seed.
//!
//! [`Nb201Supernet`] (`supernet.rs`) is the same network with weights shared by every cell; the
//! pieces both are built from are in `blocks.rs`.
mod blocks;
mod count;
mod supernet;

pub use count::{nb201_flops, nb201_params};
pub use supernet::Nb201Supernet;

use crate::layers::BnMode;
use crate::params::Init;
use blocks::{cell_forward, edge_name, edge_op, Block, Body, Conv, NormKind, ReluConvBn, ResBlock, Run};
use candle_core::{Result, Tensor};
use enas_shared::space::nb201::NB201_EDGES;
use enas_shared::OpKind;

/// The sizes of a NAS-Bench-201 network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nb201Shape {
    /// Image channels (3 for CIFAR-10).
    pub in_channels: usize,
    /// Channels of the first stage (16 in the benchmark).
    pub channels: usize,
    /// Cells per stage (5 in the benchmark).
    pub cells: usize,
    /// Output classes (10 for CIFAR-10).
    pub classes: usize,
}

impl Default for Nb201Shape {
    fn default() -> Self {
        Nb201Shape { in_channels: 3, channels: 16, cells: 5, classes: 10 }
    }
}

/// An edge of a stand-alone network: its op, and the weights of a `nor_conv_kxk` op.
#[derive(Clone)]
struct Edge {
    op: OpKind,
    conv: Option<ReluConvBn>,
}

/// A NAS-Bench-201 network for one cell.
#[derive(Clone)]
pub struct Nb201Net {
    body: Body<Vec<Edge>>,
}

impl Nb201Net {
    /// Builds the network for `cell` (the op on each edge, in [`NB201_EDGES`] order), with or
    /// without its BatchNorm layers.
    pub fn new(cell: &[OpKind], shape: Nb201Shape, bn: bool, init: Init) -> Result<Self> {
        if cell.len() != NB201_EDGES.len() {
            candle_core::bail!("a NAS-Bench-201 cell has {} edges, got {}", NB201_EDGES.len(), cell.len());
        }
        let norm = if bn { NormKind::Tracked } else { NormKind::None };
        let body = Body::new(shape, norm, &init, |c, init| {
            cell.iter().enumerate().map(|(k, &op)| edge(op, c, norm, init.pp(edge_name(k)))).collect()
        })?;
        Ok(Nb201Net { body })
    }

    /// Logits `(N, classes)` for images `(N, 3, H, W)`.
    pub fn forward(&self, x: &Tensor, mode: BnMode) -> Result<Tensor> {
        self.run(x, &mut Run::new(mode))
    }

    /// Logits, and the input of every ReLU in the order they run (for NASWOT's activation codes).
    pub fn forward_relu_inputs(&self, x: &Tensor, mode: BnMode) -> Result<(Tensor, Vec<Tensor>)> {
        let mut kept = Vec::new();
        let logits = self.run(x, &mut Run { relu_inputs: Some(&mut kept), ..Run::new(mode) })?;
        Ok((logits, kept))
    }

    fn run(&self, x: &Tensor, run: &mut Run) -> Result<Tensor> {
        self.body.forward(x, run, |edges, h, run| {
            cell_forward(h, run, |k, input, run| edge_op(edges[k].op, edges[k].conv.as_ref(), input, run))
        })
    }

    /// The weights of every convolution and of the linear layer, in forward order: the
    /// parameters the pruning-at-init proxies score (their `Conv2d` and `Linear` layers).
    pub fn scored_weights(&self) -> Vec<&Tensor> {
        let mut out = vec![&self.body.stem.w];
        for block in &self.body.blocks {
            match block {
                Block::Cell(edges) => out.extend(edges.iter().filter_map(|e| Some(&e.conv.as_ref()?.conv.w))),
                Block::Res(r) => out.extend([&r.a.conv.w, &r.b.conv.w, &r.down.w]),
            }
        }
        out.push(&self.body.fc_w);
        out
    }

    /// Multiply-adds of one forward pass of one `h x w` image, counted from the layers as built
    /// (each convolution's weight shape and stride, and the classifier); tests check
    /// [`nb201_flops`] against it.
    pub fn macs(&self, h: usize, w: usize) -> Result<usize> {
        let conv = |c: &Conv, h: usize, w: usize| -> Result<(usize, usize, usize)> {
            let (co, ci, k, _) = c.w.dims4()?;
            let (ho, wo) = ((h + 2 * (k / 2) - k) / c.stride + 1, (w + 2 * (k / 2) - k) / c.stride + 1);
            Ok((co * ci * k * k * ho * wo, ho, wo))
        };
        let (mut total, mut h, mut w) = conv(&self.body.stem, h, w)?;
        for block in &self.body.blocks {
            match block {
                Block::Cell(edges) => {
                    for r in edges.iter().filter_map(|e| e.conv.as_ref()) {
                        total += conv(&r.conv, h, w)?.0;
                    }
                }
                Block::Res(r) => {
                    let (a, ha, wa) = conv(&r.a.conv, h, w)?;
                    total += a + conv(&r.b.conv, ha, wa)?.0 + conv(&r.down, h / 2, w / 2)?.0;
                    (h, w) = (ha, wa);
                }
            }
        }
        Ok(total + self.body.fc_w.elem_count())
    }

    /// A copy without BatchNorm whose convolution and linear parameters are `f(parameter)`, each a
    /// fresh variable (synflow's `|θ|` in f64).
    pub fn map_without_bn(&self, f: impl Fn(&Tensor) -> Result<Tensor>) -> Result<Nb201Net> {
        let var = |t: &Tensor| -> Result<Tensor> { Ok(candle_core::Var::from_tensor(&f(t)?)?.as_tensor().clone()) };
        let conv = |c: &Conv| -> Result<Conv> { Ok(Conv { w: var(&c.w)?, stride: c.stride }) };
        let rcb = |r: &ReluConvBn| -> Result<ReluConvBn> { Ok(ReluConvBn { conv: conv(&r.conv)?, bn: None }) };
        let edge = |e: &Edge| -> Result<Edge> { Ok(Edge { op: e.op, conv: e.conv.as_ref().map(rcb).transpose()? }) };
        let b = &self.body;
        let blocks = b
            .blocks
            .iter()
            .map(|block| {
                Ok(match block {
                    Block::Cell(edges) => Block::Cell(edges.iter().map(edge).collect::<Result<_>>()?),
                    Block::Res(r) => Block::Res(ResBlock { a: rcb(&r.a)?, b: rcb(&r.b)?, down: conv(&r.down)? }),
                })
            })
            .collect::<Result<_>>()?;
        let body = Body {
            stem: conv(&b.stem)?,
            stem_bn: None,
            blocks,
            last_bn: None,
            fc_w: var(&b.fc_w)?,
            fc_b: var(&b.fc_b)?,
        };
        Ok(Nb201Net { body })
    }
}

/// An edge with weights for `op` only (at `c` channels).
fn edge(op: OpKind, c: usize, bn: NormKind, init: Init) -> Result<Edge> {
    let conv = match op {
        OpKind::Zero | OpKind::Identity | OpKind::AvgPool3x3 => None,
        OpKind::NorConv1x1 => Some(ReluConvBn::new(c, c, 1, 1, bn, init)?),
        OpKind::NorConv3x3 => Some(ReluConvBn::new(c, c, 3, 1, bn, init)?),
        other => candle_core::bail!("`{}` is not a NAS-Bench-201 op", other.name()),
    };
    Ok(Edge { op, conv })
}
