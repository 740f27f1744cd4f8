//! The NAS-Bench-201 weight-sharing supernet: the network of [`Nb201Net`](super::Nb201Net) with
//! one set of weights per (cell, edge, op) for the ops that have weights (`nor_conv_1x1`,
//! `nor_conv_3x3`, each ReLU - conv - BatchNorm with its own BatchNorm), and the stem, ResNet
//! blocks, last BatchNorm and classifier shared by every path.
//!
//! BatchNorm is as NAS-Bench-201's one-shot search models have it (`track_running_stats=False`):
//! batch statistics always, in training and in scoring, and no running statistics (no buffers);
//! the affine scale and shift are trained.
//!
//! A path (one op per edge, the same cell in every cell position) is [`Nb201Supernet::forward`];
//! DARTS's continuous relaxation (each edge the weighted sum of all its ops) is
//! [`Nb201Supernet::forward_mixed`]. With PC-DARTS's partial channels
//! ([`Nb201Supernet::with_partial`], `crate::partial`) every edge's ops hold and see 1/K of its
//! channels and the rest pass by, in the mixture and on a path alike.
use super::blocks::{cell_forward, edge_name, edge_op, Body, Named, NormKind, ReluConvBn, Run};
use super::Nb201Shape;
use crate::layers::BnMode;
use crate::params::Init;
use crate::partial;
use candle_core::{Result, Tensor};
use enas_shared::space::nb201::{NB201_EDGES, NB201_OPS};
use enas_shared::OpKind;

/// The weights of one edge of one cell: a ReLU-conv-BN per op with weights, under the op's name
/// (`cells.1.edge2<-0.nor_conv_3x3.conv.weight`).
struct EdgeBank {
    conv1x1: ReluConvBn,
    conv3x3: ReluConvBn,
}

impl EdgeBank {
    fn new(c: usize, init: Init) -> Result<Self> {
        let conv = |op: OpKind, k: usize| ReluConvBn::new(c, c, k, 1, NormKind::Batch, init.pp(op.name()));
        Ok(EdgeBank { conv1x1: conv(OpKind::NorConv1x1, 1)?, conv3x3: conv(OpKind::NorConv3x3, 3)? })
    }

    /// The weights of `op`, if it has any.
    fn weights(&self, op: OpKind) -> Option<&ReluConvBn> {
        match op {
            OpKind::NorConv1x1 => Some(&self.conv1x1),
            OpKind::NorConv3x3 => Some(&self.conv3x3),
            _ => None,
        }
    }

    fn forward(&self, op: OpKind, x: &Tensor, run: &mut Run) -> Result<Option<Tensor>> {
        edge_op(op, self.weights(op), x, run)
    }
}

/// The NAS-Bench-201 supernet. Its weights are created in a fixed order from `Init` (same seed,
/// same weights) and live in the caller's `ParamStore`; it has no buffers.
pub struct Nb201Supernet {
    shape: Nb201Shape,
    /// PC-DARTS's K (1: every op sees every channel).
    partial: usize,
    body: Body<Vec<EdgeBank>>,
}

impl Nb201Supernet {
    /// Builds every weight: the shared network, then per cell per edge (in [`NB201_EDGES`] order)
    /// `nor_conv_1x1` then `nor_conv_3x3`, in forward order of the blocks.
    pub fn new(shape: Nb201Shape, init: Init) -> Result<Self> {
        Self::with_partial(shape, 1, init)
    }

    /// The supernet with PC-DARTS's partial channel connections: each edge's convolutions hold
    /// `C / partial` channels and see the first `C / partial` of the edge's input.
    pub fn with_partial(shape: Nb201Shape, partial: usize, init: Init) -> Result<Self> {
        let body = Body::new(shape, NormKind::Batch, &init, |c, init| {
            let c = partial::op_channels(c, partial)?;
            (0..NB201_EDGES.len()).map(|k| EdgeBank::new(c, init.pp(edge_name(k)))).collect()
        })?;
        Ok(Nb201Supernet { shape, partial, body })
    }

    /// What an edge's ops read (its input, or its first `C / partial` channels) and, with
    /// partial channels, the channels that pass by.
    fn parts(&self, input: &Tensor) -> Result<(Tensor, Option<Tensor>)> {
        if self.partial == 1 {
            return Ok((input.clone(), None));
        }
        let (ops, rest) = partial::split(input, self.partial)?;
        Ok((ops, Some(rest)))
    }

    /// An edge's output from its op part `y` (`None`: zeros shaped as `ops`, what the ops read)
    /// and the passed-by channels `rest`, weighted by `rest_weight` (PC-DARTS's shuffle of the
    /// two); `y` itself without partial channels.
    fn join(
        &self,
        y: Option<Tensor>,
        ops: &Tensor,
        rest: Option<Tensor>,
        rest_weight: Option<&Tensor>,
    ) -> Result<Option<Tensor>> {
        let Some(rest) = rest else { return Ok(y) };
        let y = match y {
            Some(y) => y,
            None => ops.zeros_like()?,
        };
        let rest = match rest_weight {
            Some(w) => rest.broadcast_mul(w)?,
            None => rest,
        };
        Ok(Some(partial::join(&y, &rest, self.partial)?))
    }

    /// The sizes it was built with.
    pub fn shape(&self) -> Nb201Shape {
        self.shape
    }

    /// Logits `(N, classes)` of the path `cell` (the op on each edge, in [`NB201_EDGES`] order, as
    /// `Nb201Net::new` takes it) for images `(N, in_channels, H, W)`: only the chosen op runs on
    /// each edge. Every weight on the path enters the autograd graph (for training).
    pub fn forward(&self, x: &Tensor, cell: &[OpKind]) -> Result<Tensor> {
        self.path(x, cell, &mut Run::new(BnMode::Train))
    }

    /// The same logits as [`forward`](Self::forward), with every weight detached: no autograd
    /// graph is built, so activations are freed as the pass goes (scoring paths on large batches).
    pub fn forward_detached(&self, x: &Tensor, cell: &[OpKind]) -> Result<Tensor> {
        self.path(x, cell, &mut Run { mode: BnMode::BatchStats, detach: true, relu_inputs: None })
    }

    fn path(&self, x: &Tensor, cell: &[OpKind], run: &mut Run) -> Result<Tensor> {
        check_cell(cell)?;
        self.body.forward(x, run, |banks, h, run| {
            cell_forward(h, run, |k, input, run| {
                let (ops, rest) = self.parts(input)?;
                let y = banks[k].forward(cell[k], &ops, run)?;
                self.join(y, &ops, rest, None)
            })
        })
    }

    /// DARTS's mixed forward: edge `k` of every cell outputs `Σ_j weights[k, j] · op_j(x)` over
    /// the ops in [`NB201_OPS`] order (`none` contributes nothing), `weights` being `(6, 5)`
    /// (typically `softmax(alpha)` per row; gradients reach it). Every op with weights runs,
    /// except where its weight is exactly 0, which means the op is off (pruned): it is skipped,
    /// and its weight gets no gradient.
    /// With partial channels `weights` is `(6, 6)`, its last column weighing each edge's bypassed
    /// channels (PC-DARTS: the edge's normalised weight, or 1).
    pub fn forward_mixed(&self, x: &Tensor, weights: &Tensor) -> Result<Tensor> {
        let cols = NB201_OPS.len() + usize::from(self.partial > 1);
        if weights.dims() != [NB201_EDGES.len(), cols] {
            candle_core::bail!("mixed-op weights must be (6, {cols}), got {:?}", weights.dims());
        }
        // An op whose weight is exactly 0 (pruned from the search) is not run: it would add 0.
        let host = weights.to_vec2::<f32>()?;
        let mut run = Run::new(BnMode::Train);
        self.body.forward(x, &mut run, |banks, h, run| {
            cell_forward(h, run, |k, input, run| {
                let mut sum: Option<Tensor> = None;
                let (ops, rest) = self.parts(input)?;
                for (j, &op) in NB201_OPS.iter().enumerate() {
                    if host[k][j] == 0.0 {
                        continue;
                    }
                    let Some(y) = banks[k].forward(op, &ops, run)? else { continue };
                    let y = y.broadcast_mul(&weights.get(k)?.get(j)?)?;
                    sum = Some(match sum {
                        None => y,
                        Some(s) => (s + y)?,
                    });
                }
                let rest_weight = if self.partial > 1 { Some(weights.get(k)?.get(NB201_OPS.len())?) } else { None };
                self.join(sum, &ops, rest, rest_weight.as_ref())
            })
        })
    }

    /// Every weight of the supernet, named as `Init` named it, in creation order.
    pub fn named_params(&self) -> Result<Vec<(String, Tensor)>> {
        self.body.named(|banks, prefix, out| {
            for (k, bank) in banks.iter().enumerate() {
                let edge = format!("{prefix}.{}", edge_name(k));
                bank.conv1x1.named(&format!("{edge}.{}", OpKind::NorConv1x1.name()), out)?;
                bank.conv3x3.named(&format!("{edge}.{}", OpKind::NorConv3x3.name()), out)?;
            }
            Ok(())
        })
    }

    /// The weights the path `cell` uses (the shared ones and its ops'), named and ordered as
    /// `Nb201Net::new` creates the weights of the network for `cell` (BatchNorm running
    /// statistics aside): `cells.1.edge2<-0.conv.weight`, not `...edge2<-0.nor_conv_3x3.conv...`.
    pub fn path_params(&self, cell: &[OpKind]) -> Result<Vec<(String, Tensor)>> {
        check_cell(cell)?;
        self.body.named(|banks, prefix, out| {
            for (k, bank) in banks.iter().enumerate() {
                if let Some(w) = bank.weights(cell[k]) {
                    w.named(&format!("{prefix}.{}", edge_name(k)), out)?;
                }
            }
            Ok(())
        })
    }

    /// Trainable scalars of the whole supernet.
    pub fn num_params(&self) -> usize {
        count(self.named_params())
    }

    /// Trainable scalars of the path `cell`: `nb201_params(cell, shape)`.
    pub fn path_num_params(&self, cell: &[OpKind]) -> Result<usize> {
        check_cell(cell)?;
        Ok(count(self.path_params(cell)))
    }
}

fn count(named: Result<Named>) -> usize {
    named.map(|n| n.iter().map(|(_, t)| t.elem_count()).sum()).expect("a supernet lists its weights")
}

fn check_cell(cell: &[OpKind]) -> Result<()> {
    if cell.len() != NB201_EDGES.len() {
        candle_core::bail!("a NAS-Bench-201 cell has {} edges, got {}", NB201_EDGES.len(), cell.len());
    }
    if let Some(op) = cell.iter().find(|op| !NB201_OPS.contains(op)) {
        candle_core::bail!("`{}` is not a NAS-Bench-201 op", op.name());
    }
    Ok(())
}
