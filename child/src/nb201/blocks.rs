//! The pieces shared by the stand-alone NAS-Bench-201 network and the weight-sharing supernet:
//! convolution, ReLU-conv-BN, the ResNet block, BatchNorm with or without running statistics, the
//! network around the cells ([`Body`]: stem, stages, ResNet blocks, last BN-ReLU, classifier), the
//! cell's DAG and the parameter-free ops.
//!
//! Every module can list its tensors under the names `Init` gave them (`named`), so a supernet's
//! path can be copied into a stand-alone network by name.
use super::Nb201Shape;
use crate::layers::{global_avg_pool, BatchNorm, BnMode};
use crate::ops;
use crate::params::Init;
use candle_core::{DType, Result, Tensor};
use enas_shared::space::nb201::NB201_EDGES;
use enas_shared::OpKind;

/// PyTorch's BatchNorm epsilon (as `crate::layers`).
const BN_EPS: f64 = 1e-5;

/// Named tensors, in creation order.
pub(super) type Named = Vec<(String, Tensor)>;

/// The `Init` prefix of edge `k` of a cell (`edge2<-1`).
pub(super) fn edge_name(k: usize) -> String {
    let (to, from) = NB201_EDGES[k];
    format!("edge{to}<-{from}")
}

/// Which BatchNorm a network has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NormKind {
    /// No BatchNorm (synflow's `bn=False`).
    None,
    /// With running statistics (`track_running_stats=True`): a network trained on its own.
    Tracked,
    /// Without running statistics (`track_running_stats=False`, as NAS-Bench-201's weight-sharing
    /// search models): batch statistics always, and no buffers.
    Batch,
}

impl NormKind {
    fn build(self, c: usize, init: Init) -> Result<Option<Norm>> {
        Ok(match self {
            NormKind::None => None,
            NormKind::Tracked => Some(Norm::Tracked(BatchNorm::new(c, init)?)),
            NormKind::Batch => Some(Norm::Batch {
                gamma: init.constant("weight", &[c], 1.0)?,
                beta: init.constant("bias", &[c], 0.0)?,
            }),
        })
    }
}

/// A BatchNorm layer of either kind (scale 1 and shift 0 at initialisation).
#[derive(Clone)]
pub(super) enum Norm {
    Tracked(BatchNorm),
    Batch { gamma: Tensor, beta: Tensor },
}

impl Norm {
    fn forward(&self, x: &Tensor, mode: BnMode) -> Result<Tensor> {
        match self {
            Norm::Tracked(bn) => bn.forward(x, mode),
            Norm::Batch { gamma, beta } => {
                Ok(ops::batch_norm_train(x, &mode.param(gamma), &mode.param(beta), BN_EPS)?.0)
            }
        }
    }

    fn named(&self, prefix: &str, out: &mut Named) -> Result<()> {
        match self {
            Norm::Batch { gamma, beta } => {
                out.push((format!("{prefix}.weight"), gamma.clone()));
                out.push((format!("{prefix}.bias"), beta.clone()));
                Ok(())
            }
            Norm::Tracked(_) => candle_core::bail!("{prefix}: BatchNorm with running statistics is not listed"),
        }
    }
}

/// A convolution without bias: weight `(c_out, c_in, k, k)`, padding `k / 2`.
#[derive(Clone)]
pub(super) struct Conv {
    pub(super) w: Tensor,
    pub(super) stride: usize,
}

impl Conv {
    pub(super) fn new(c_in: usize, c_out: usize, k: usize, stride: usize, init: Init) -> Result<Self> {
        let fan_in = c_in * k * k;
        Ok(Conv { w: init.uniform("weight", &[c_out, c_in, k, k], 1.0 / (fan_in as f64).sqrt())?, stride })
    }

    fn forward(&self, x: &Tensor, run: &Run) -> Result<Tensor> {
        x.conv2d(&run.param(&self.w), self.w.dim(2)? / 2, self.stride, 1, 1)
    }

    fn named(&self, prefix: &str, out: &mut Named) {
        out.push((format!("{prefix}.weight"), self.w.clone()));
    }
}

/// ReLU - conv - BatchNorm.
#[derive(Clone)]
pub(super) struct ReluConvBn {
    pub(super) conv: Conv,
    pub(super) bn: Option<Norm>,
}

impl ReluConvBn {
    pub(super) fn new(c_in: usize, c_out: usize, k: usize, stride: usize, bn: NormKind, init: Init) -> Result<Self> {
        let conv = Conv::new(c_in, c_out, k, stride, init.pp("conv"))?;
        Ok(ReluConvBn { conv, bn: bn.build(c_out, init.pp("bn"))? })
    }

    pub(super) fn forward(&self, x: &Tensor, run: &mut Run) -> Result<Tensor> {
        let y = self.conv.forward(&run.relu(x)?, run)?;
        run.bn(self.bn.as_ref(), &y)
    }

    pub(super) fn named(&self, prefix: &str, out: &mut Named) -> Result<()> {
        self.conv.named(&format!("{prefix}.conv"), out);
        match &self.bn {
            Some(bn) => bn.named(&format!("{prefix}.bn"), out),
            None => Ok(()),
        }
    }
}

/// The ResNet basic block between stages: `conv_b(conv_a(x)) + conv1x1(avg_pool2x2(x))`.
#[derive(Clone)]
pub(super) struct ResBlock {
    pub(super) a: ReluConvBn,
    pub(super) b: ReluConvBn,
    pub(super) down: Conv,
}

impl ResBlock {
    fn forward(&self, x: &Tensor, run: &mut Run) -> Result<Tensor> {
        let main = self.b.forward(&self.a.forward(x, run)?, run)?;
        main + self.down.forward(&x.avg_pool2d(2)?, run)?
    }
}

/// A block of the network: a cell (of whatever kind) or a ResNet block.
#[derive(Clone)]
pub(super) enum Block<C> {
    Cell(C),
    Res(ResBlock),
}

/// The network around its cells: the stem, three stages of cells separated by ResNet blocks, the
/// last BN-ReLU, global average pooling and the linear classifier.
#[derive(Clone)]
pub(super) struct Body<C> {
    pub(super) stem: Conv,
    pub(super) stem_bn: Option<Norm>,
    pub(super) blocks: Vec<Block<C>>,
    pub(super) last_bn: Option<Norm>,
    pub(super) fc_w: Tensor,
    pub(super) fc_b: Tensor,
}

impl<C> Body<C> {
    /// Builds the network; `cell(channels, init)` builds each cell's part, under `cells.{i}`.
    pub(super) fn new(
        shape: Nb201Shape,
        bn: NormKind,
        init: &Init,
        mut cell: impl FnMut(usize, Init) -> Result<C>,
    ) -> Result<Self> {
        let c = shape.channels;
        let stem = Conv::new(shape.in_channels, c, 3, 1, init.pp("stem.conv"))?;
        let stem_bn = bn.build(c, init.pp("stem.bn"))?;
        let mut blocks = Vec::new();
        let mut c_prev = c;
        for stage in 0..3 {
            let c_stage = c << stage;
            if stage > 0 {
                let init = init.pp(format!("cells.{}", blocks.len()));
                blocks.push(Block::Res(ResBlock {
                    a: ReluConvBn::new(c_prev, c_stage, 3, 2, bn, init.pp("conv_a"))?,
                    b: ReluConvBn::new(c_stage, c_stage, 3, 1, bn, init.pp("conv_b"))?,
                    down: Conv::new(c_prev, c_stage, 1, 1, init.pp("downsample"))?,
                }));
            }
            for _ in 0..shape.cells {
                let init = init.pp(format!("cells.{}", blocks.len()));
                blocks.push(Block::Cell(cell(c_stage, init)?));
            }
            c_prev = c_stage;
        }
        let last_bn = bn.build(c_prev, init.pp("lastact.bn"))?;
        let bound = 1.0 / (c_prev as f64).sqrt();
        let fc_w = init.uniform("classifier.weight", &[shape.classes, c_prev], bound)?;
        let fc_b = init.uniform("classifier.bias", &[shape.classes], bound)?;
        Ok(Body { stem, stem_bn, blocks, last_bn, fc_w, fc_b })
    }

    /// Logits; `cell(part, x, run)` runs a cell.
    pub(super) fn forward(
        &self,
        x: &Tensor,
        run: &mut Run,
        mut cell: impl FnMut(&C, &Tensor, &mut Run) -> Result<Tensor>,
    ) -> Result<Tensor> {
        let mut h = run.bn(self.stem_bn.as_ref(), &self.stem.forward(x, run)?)?;
        for block in &self.blocks {
            h = match block {
                Block::Cell(c) => cell(c, &h, run)?,
                Block::Res(r) => r.forward(&h, run)?,
            };
        }
        let h = run.relu(&run.bn(self.last_bn.as_ref(), &h)?)?;
        global_avg_pool(&h)?.matmul(&run.param(&self.fc_w).t()?)?.broadcast_add(&run.param(&self.fc_b))
    }

    /// Every tensor in creation order, named as `Init` named it; `cell(part, prefix, out)` lists a
    /// cell's. Only for networks whose BatchNorm keeps no running statistics.
    pub(super) fn named(&self, mut cell: impl FnMut(&C, &str, &mut Named) -> Result<()>) -> Result<Named> {
        let mut out = Vec::new();
        self.stem.named("stem.conv", &mut out);
        if let Some(bn) = &self.stem_bn {
            bn.named("stem.bn", &mut out)?;
        }
        for (i, block) in self.blocks.iter().enumerate() {
            let prefix = format!("cells.{i}");
            match block {
                Block::Cell(c) => cell(c, &prefix, &mut out)?,
                Block::Res(r) => {
                    r.a.named(&format!("{prefix}.conv_a"), &mut out)?;
                    r.b.named(&format!("{prefix}.conv_b"), &mut out)?;
                    r.down.named(&format!("{prefix}.downsample"), &mut out);
                }
            }
        }
        if let Some(bn) = &self.last_bn {
            bn.named("lastact.bn", &mut out)?;
        }
        out.push(("classifier.weight".into(), self.fc_w.clone()));
        out.push(("classifier.bias".into(), self.fc_b.clone()));
        Ok(out)
    }
}

/// How one forward pass runs: BatchNorm's mode, whether weights enter the autograd graph, and (for
/// NASWOT) where ReLU inputs are kept.
pub(super) struct Run<'a> {
    pub(super) mode: BnMode,
    /// Convolution and classifier weights are detached (BatchNorm's follow `mode`).
    pub(super) detach: bool,
    pub(super) relu_inputs: Option<&'a mut Vec<Tensor>>,
}

impl Run<'_> {
    /// A pass whose weights all enter the graph.
    pub(super) fn new(mode: BnMode) -> Self {
        Run { mode, detach: false, relu_inputs: None }
    }

    fn param(&self, w: &Tensor) -> Tensor {
        if self.detach {
            w.detach()
        } else {
            w.clone()
        }
    }

    fn relu(&mut self, x: &Tensor) -> Result<Tensor> {
        if let Some(keep) = self.relu_inputs.as_deref_mut() {
            keep.push(x.clone());
        }
        if x.dtype() == DType::F32 {
            ops::relu(x)
        } else {
            x.relu()
        }
    }

    fn bn(&self, bn: Option<&Norm>, x: &Tensor) -> Result<Tensor> {
        match bn {
            Some(bn) => bn.forward(x, self.mode),
            None => Ok(x.clone()),
        }
    }
}

/// `op` on an edge: `None` for `none`; `conv` holds the weights of a `nor_conv_kxk` op.
pub(super) fn edge_op(op: OpKind, conv: Option<&ReluConvBn>, x: &Tensor, run: &mut Run) -> Result<Option<Tensor>> {
    Ok(Some(match (op, conv) {
        (OpKind::Zero, _) => return Ok(None),
        (OpKind::Identity, _) => x.clone(),
        (OpKind::AvgPool3x3, _) => avg_pool3x3(x)?,
        (OpKind::NorConv1x1 | OpKind::NorConv3x3, Some(c)) => c.forward(x, run)?,
        (OpKind::NorConv1x1 | OpKind::NorConv3x3, None) => candle_core::bail!("no weights for `{}`", op.name()),
        (other, _) => candle_core::bail!("`{}` is not a NAS-Bench-201 op", other.name()),
    }))
}

/// Node `j` sums `edge(k, node i, run)` over the cell's edges `k = (j, i)` (in [`NB201_EDGES`]
/// order); `None` (the `none` op) adds nothing. The output is the last node. A node whose every
/// input is `none` is zeros, and the ops on its out-edges still run (their ReLUs count for NASWOT,
/// as in the benchmark's network, whose `none` multiplies by 0).
pub(super) fn cell_forward(
    x: &Tensor,
    run: &mut Run,
    mut edge: impl FnMut(usize, &Tensor, &mut Run) -> Result<Option<Tensor>>,
) -> Result<Tensor> {
    let mut nodes: Vec<Tensor> = vec![x.clone()];
    for to in 1..4 {
        let mut sum: Option<Tensor> = None;
        for (k, &(t, from)) in NB201_EDGES.iter().enumerate() {
            if t != to {
                continue;
            }
            let Some(y) = edge(k, &nodes[from], run)? else { continue };
            sum = Some(match sum {
                None => y,
                Some(s) => (s + y)?,
            });
        }
        nodes.push(match sum {
            Some(s) => s,
            None => x.zeros_like()?,
        });
    }
    Ok(nodes.pop().expect("four nodes"))
}

/// 3x3 average pooling excluding padding, for any float dtype: the fast f32 op, or (f64, for
/// synflow) the padded 3x3 sum divided by each position's in-bounds count.
fn avg_pool3x3(x: &Tensor) -> Result<Tensor> {
    if x.dtype() == DType::F32 {
        return ops::avg_pool3x3(x);
    }
    let (_, _, h, w) = x.dims4()?;
    let p = x.pad_with_zeros(2, 1, 1)?.pad_with_zeros(3, 1, 1)?;
    let mut sum: Option<Tensor> = None;
    for dy in 0..3 {
        for dx in 0..3 {
            let t = p.narrow(2, dy, h)?.narrow(3, dx, w)?;
            sum = Some(match sum {
                None => t,
                Some(s) => (s + t)?,
            });
        }
    }
    let count = |i: usize, n: usize| (1 + usize::from(i > 0) + usize::from(i + 1 < n)) as f64;
    let inv: Vec<f64> = (0..h * w).map(|k| 1.0 / (count(k / w, h) * count(k % w, w))).collect();
    let inv = Tensor::from_vec(inv, (1, 1, h, w), x.device())?.to_dtype(x.dtype())?;
    sum.expect("nine taps").broadcast_mul(&inv)
}
