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
mod count;

pub use count::{nb201_flops, nb201_params};

use crate::layers::{global_avg_pool, BatchNorm, BnMode};
use crate::ops;
use crate::params::Init;
use candle_core::{DType, Result, Tensor};
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

/// A convolution without bias: weight `(c_out, c_in, k, k)`, padding `k / 2`.
#[derive(Clone)]
struct Conv {
    w: Tensor,
    stride: usize,
}

impl Conv {
    fn new(c_in: usize, c_out: usize, k: usize, stride: usize, init: Init) -> Result<Self> {
        let fan_in = c_in * k * k;
        Ok(Conv { w: init.uniform("weight", &[c_out, c_in, k, k], 1.0 / (fan_in as f64).sqrt())?, stride })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.conv2d(&self.w, self.w.dim(2)? / 2, self.stride, 1, 1)
    }
}

/// ReLU - conv - BatchNorm.
#[derive(Clone)]
struct ReluConvBn {
    conv: Conv,
    bn: Option<BatchNorm>,
}

impl ReluConvBn {
    fn new(c_in: usize, c_out: usize, k: usize, stride: usize, bn: bool, init: Init) -> Result<Self> {
        let conv = Conv::new(c_in, c_out, k, stride, init.pp("conv"))?;
        let bn = if bn { Some(BatchNorm::new(c_out, init.pp("bn"))?) } else { None };
        Ok(ReluConvBn { conv, bn })
    }

    fn forward(&self, x: &Tensor, run: &mut Run) -> Result<Tensor> {
        let y = self.conv.forward(&run.relu(x)?)?;
        run.bn(self.bn.as_ref(), &y)
    }
}

#[derive(Clone)]
enum Edge {
    Zero,
    Skip,
    AvgPool,
    Conv(ReluConvBn),
}

/// The ResNet basic block between stages: `conv_b(conv_a(x)) + conv1x1(avg_pool2x2(x))`.
#[derive(Clone)]
struct ResBlock {
    a: ReluConvBn,
    b: ReluConvBn,
    down: Conv,
}

#[derive(Clone)]
enum Block {
    Cell(Vec<Edge>),
    Res(ResBlock),
}

/// How one forward pass runs: BatchNorm's mode, and (for NASWOT) where ReLU inputs are kept.
struct Run<'a> {
    mode: BnMode,
    relu_inputs: Option<&'a mut Vec<Tensor>>,
}

impl Run<'_> {
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

    fn bn(&self, bn: Option<&BatchNorm>, x: &Tensor) -> Result<Tensor> {
        match bn {
            Some(bn) => bn.forward(x, self.mode),
            None => Ok(x.clone()),
        }
    }
}

/// A NAS-Bench-201 network for one cell.
#[derive(Clone)]
pub struct Nb201Net {
    stem: Conv,
    stem_bn: Option<BatchNorm>,
    blocks: Vec<Block>,
    last_bn: Option<BatchNorm>,
    fc_w: Tensor,
    fc_b: Tensor,
}

impl Nb201Net {
    /// Builds the network for `cell` (the op on each edge, in [`NB201_EDGES`] order), with or
    /// without its BatchNorm layers.
    pub fn new(cell: &[OpKind], shape: Nb201Shape, bn: bool, init: Init) -> Result<Self> {
        if cell.len() != NB201_EDGES.len() {
            candle_core::bail!("a NAS-Bench-201 cell has {} edges, got {}", NB201_EDGES.len(), cell.len());
        }
        let c = shape.channels;
        let stem = Conv::new(shape.in_channels, c, 3, 1, init.pp("stem.conv"))?;
        let stem_bn = if bn { Some(BatchNorm::new(c, init.pp("stem.bn"))?) } else { None };
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
                let edges = cell
                    .iter()
                    .zip(NB201_EDGES)
                    .map(|(&op, (to, from))| edge(op, c_stage, bn, init.pp(format!("edge{to}<-{from}"))))
                    .collect::<Result<Vec<_>>>()?;
                blocks.push(Block::Cell(edges));
            }
            c_prev = c_stage;
        }
        let last_bn = if bn { Some(BatchNorm::new(c_prev, init.pp("lastact.bn"))?) } else { None };
        let bound = 1.0 / (c_prev as f64).sqrt();
        let fc_w = init.uniform("classifier.weight", &[shape.classes, c_prev], bound)?;
        let fc_b = init.uniform("classifier.bias", &[shape.classes], bound)?;
        Ok(Nb201Net { stem, stem_bn, blocks, last_bn, fc_w, fc_b })
    }

    /// Logits `(N, classes)` for images `(N, 3, H, W)`.
    pub fn forward(&self, x: &Tensor, mode: BnMode) -> Result<Tensor> {
        self.run(x, &mut Run { mode, relu_inputs: None })
    }

    /// Logits, and the input of every ReLU in the order they run (for NASWOT's activation codes).
    pub fn forward_relu_inputs(&self, x: &Tensor, mode: BnMode) -> Result<(Tensor, Vec<Tensor>)> {
        let mut kept = Vec::new();
        let logits = self.run(x, &mut Run { mode, relu_inputs: Some(&mut kept) })?;
        Ok((logits, kept))
    }

    fn run(&self, x: &Tensor, run: &mut Run) -> Result<Tensor> {
        let mut h = run.bn(self.stem_bn.as_ref(), &self.stem.forward(x)?)?;
        for block in &self.blocks {
            h = match block {
                Block::Cell(edges) => cell_forward(edges, &h, run)?,
                Block::Res(r) => {
                    let main = r.b.forward(&r.a.forward(&h, run)?, run)?;
                    (main + r.down.forward(&h.avg_pool2d(2)?)?)?
                }
            };
        }
        let h = run.relu(&run.bn(self.last_bn.as_ref(), &h)?)?;
        global_avg_pool(&h)?.matmul(&self.fc_w.t()?)?.broadcast_add(&self.fc_b)
    }

    /// The weights of every convolution and of the linear layer, in forward order: the
    /// parameters the pruning-at-init proxies score (their `Conv2d` and `Linear` layers).
    pub fn scored_weights(&self) -> Vec<&Tensor> {
        let mut out = vec![&self.stem.w];
        for block in &self.blocks {
            match block {
                Block::Cell(edges) => out.extend(edges.iter().filter_map(|e| match e {
                    Edge::Conv(c) => Some(&c.conv.w),
                    _ => None,
                })),
                Block::Res(r) => out.extend([&r.a.conv.w, &r.b.conv.w, &r.down.w]),
            }
        }
        out.push(&self.fc_w);
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
        let (mut total, mut h, mut w) = conv(&self.stem, h, w)?;
        for block in &self.blocks {
            match block {
                Block::Cell(edges) => {
                    for e in edges {
                        if let Edge::Conv(r) = e {
                            total += conv(&r.conv, h, w)?.0;
                        }
                    }
                }
                Block::Res(r) => {
                    let (a, ha, wa) = conv(&r.a.conv, h, w)?;
                    total += a + conv(&r.b.conv, ha, wa)?.0 + conv(&r.down, h / 2, w / 2)?.0;
                    (h, w) = (ha, wa);
                }
            }
        }
        Ok(total + self.fc_w.elem_count())
    }

    /// A copy without BatchNorm whose convolution and linear parameters are `f(parameter)`, each a
    /// fresh variable (synflow's `|θ|` in f64).
    pub fn map_without_bn(&self, f: impl Fn(&Tensor) -> Result<Tensor>) -> Result<Nb201Net> {
        let var = |t: &Tensor| -> Result<Tensor> { Ok(candle_core::Var::from_tensor(&f(t)?)?.as_tensor().clone()) };
        let conv = |c: &Conv| -> Result<Conv> { Ok(Conv { w: var(&c.w)?, stride: c.stride }) };
        let rcb = |r: &ReluConvBn| -> Result<ReluConvBn> { Ok(ReluConvBn { conv: conv(&r.conv)?, bn: None }) };
        let blocks = self
            .blocks
            .iter()
            .map(|b| {
                Ok(match b {
                    Block::Cell(edges) => Block::Cell(
                        edges
                            .iter()
                            .map(|e| {
                                Ok(match e {
                                    Edge::Conv(r) => Edge::Conv(rcb(r)?),
                                    other => other.clone(),
                                })
                            })
                            .collect::<Result<_>>()?,
                    ),
                    Block::Res(r) => Block::Res(ResBlock { a: rcb(&r.a)?, b: rcb(&r.b)?, down: conv(&r.down)? }),
                })
            })
            .collect::<Result<_>>()?;
        Ok(Nb201Net {
            stem: conv(&self.stem)?,
            stem_bn: None,
            blocks,
            last_bn: None,
            fc_w: var(&self.fc_w)?,
            fc_b: var(&self.fc_b)?,
        })
    }
}

fn edge(op: OpKind, c: usize, bn: bool, init: Init) -> Result<Edge> {
    Ok(match op {
        OpKind::Zero => Edge::Zero,
        OpKind::Identity => Edge::Skip,
        OpKind::AvgPool3x3 => Edge::AvgPool,
        OpKind::NorConv1x1 => Edge::Conv(ReluConvBn::new(c, c, 1, 1, bn, init)?),
        OpKind::NorConv3x3 => Edge::Conv(ReluConvBn::new(c, c, 3, 1, bn, init)?),
        other => candle_core::bail!("`{}` is not a NAS-Bench-201 op", other.name()),
    })
}

/// Node `j` sums `op(node i)` over the cell's edges into it; the output is the last node. A node
/// whose every input is `none` is zeros, and the ops on its out-edges still run (their ReLUs
/// count for NASWOT, as in the benchmark's network, whose `none` multiplies by 0).
fn cell_forward(edges: &[Edge], x: &Tensor, run: &mut Run) -> Result<Tensor> {
    let mut nodes: Vec<Tensor> = vec![x.clone()];
    for to in 1..4 {
        let mut sum: Option<Tensor> = None;
        for (e, &(t, from)) in edges.iter().zip(NB201_EDGES.iter()) {
            if t != to {
                continue;
            }
            let input = &nodes[from];
            let y = match e {
                Edge::Zero => continue,
                Edge::Skip => input.clone(),
                Edge::AvgPool => avg_pool3x3(input)?,
                Edge::Conv(r) => r.forward(input, run)?,
            };
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
