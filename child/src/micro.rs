//! The ENAS micro child network, as a weight-sharing supernet or as one fixed architecture.
//! `../shared/bench/torch_enas_micro.py` is the executable definition this follows: a 3x3 stem to
//! 3C channels; `layers` cells plus two reduction cells at `layers/3` and `2*(layers/3)+1`, each
//! preceded by a factorized reduction; nodes sum op(x) + op(y) with one weight bank per
//! (layer, node, branch, input, op); unused states are concatenated and projected by ReLU-1x1-BN;
//! ReLU, global average pool, linear classifier without bias.
//!
//! `Weights::Shared` creates every bank up front (the supernet); `Weights::Fixed(arch)` creates only
//! the arc's own weights (a derived network trained from scratch). The forward pass is one code path.
//!
//! Two options of ENAS's child, both off unless asked for: dropout on the pooled features before
//! the classifier (`Forward::dropout`, ENAS `--child_keep_prob`), and the auxiliary head
//! (`MicroNet::new_with_aux`, `Forward::aux`; ENAS `--child_use_aux_heads`).
use crate::aux_head::AuxHead;
use crate::forward::Forward;
use crate::layers::{global_avg_pool, BatchNorm, BnMode, FactorizedReduce, ReluConvBn, SepConv};
use crate::ops;
use crate::params::Init;
use candle_core::{Result, Tensor};
use enas_shared::{Arch, Branch, Cell, OpKind};

/// The shape of a child network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MicroShape {
    pub in_channels: usize,
    pub classes: usize,
    pub layers: usize,
    pub channels: usize,
    pub nodes: usize,
}

impl MicroShape {
    /// The search supernet's shape: `child:` of the config, for images with `in_channels`
    /// channels and `classes` classes.
    pub fn of_child(child: &enas_shared::ChildConfig, in_channels: usize, classes: usize) -> Self {
        MicroShape { in_channels, classes, layers: child.layers, channels: child.channels, nodes: child.nodes }
    }

    /// The layers that hold reduction cells.
    pub fn is_reduction(&self, layer: usize) -> bool {
        let d = self.layers / 3;
        layer == d || layer == 2 * d + 1
    }

    /// The layer whose output feeds the auxiliary head: ENAS's `pool_layers[-1] + 1`, the cell
    /// right after the second reduction cell; `None` if the network has no such layer.
    pub fn aux_head_layer(&self) -> Option<usize> {
        let layer = 2 * (self.layers / 3) + 2;
        (layer < self.layers + 2).then_some(layer)
    }

    /// Channels and (height, width) of the auxiliary head's input for `image = (height, width)`
    /// images: 4x `channels` (two reductions), each side halved (rounded up) twice.
    pub fn aux_head_input(&self, image: (usize, usize)) -> (usize, (usize, usize)) {
        let half = |n: usize| n.div_ceil(2).div_ceil(2);
        (4 * self.channels, (half(image.0), half(image.1)))
    }
}

/// Which weights a network owns.
#[derive(Debug, Clone)]
pub enum Weights {
    /// Every (layer, node, branch, input, op) bank: the ENAS supernet.
    Shared,
    /// Only the weights this architecture uses.
    Fixed(Arch),
}

/// A branch's sep-conv banks, indexed by input; `None` where the weights do not exist.
struct BranchBank {
    sep3: Vec<Option<SepConv>>,
    sep5: Vec<Option<SepConv>>,
}

impl BranchBank {
    fn new(c: usize, n_inputs: usize, only: Option<Branch>, init: Init) -> Result<Self> {
        let make = |op: OpKind, k: usize, name: &str| -> Result<Vec<Option<SepConv>>> {
            (0..n_inputs)
                .map(|i| match only {
                    Some(b) if b != (Branch { input: i, op }) => Ok(None),
                    _ => SepConv::new(c, k, init.pp(format!("{name}.{i}"))).map(Some),
                })
                .collect()
        };
        Ok(BranchBank { sep3: make(OpKind::SepConv3x3, 3, "sep3")?, sep5: make(OpKind::SepConv5x5, 5, "sep5")? })
    }

    fn sep(&self, b: Branch) -> Result<Option<&SepConv>> {
        let bank = match b.op {
            OpKind::SepConv3x3 => &self.sep3,
            OpKind::SepConv5x5 => &self.sep5,
            _ => return Ok(None),
        };
        match bank.get(b.input) {
            Some(Some(s)) => Ok(Some(s)),
            _ => candle_core::bail!("no weights for {}({}) in this network", b.op, b.input),
        }
    }

    fn forward(&self, h: &Tensor, b: Branch, mode: BnMode) -> Result<Tensor> {
        match b.op {
            OpKind::SepConv3x3 | OpKind::SepConv5x5 => self.sep(b)?.expect("sep op has a bank").forward(h, mode),
            OpKind::AvgPool3x3 => ops::avg_pool3x3(h),
            OpKind::MaxPool3x3 => ops::max_pool3x3(h),
            OpKind::Identity => Ok(h.clone()),
            op => candle_core::bail!("op {op} is not in the ENAS micro space"),
        }
    }
}

/// How an input of a cell is brought to the cell's channels and resolution.
enum Calibrate {
    None,
    Conv(ReluConvBn),
    /// ReLU then factorized reduction (the input is one resolution level above the cell).
    Reduce(FactorizedReduce),
}

impl Calibrate {
    fn new(c_in: usize, lvl_in: usize, c: usize, lvl: usize, init: Init) -> Result<Self> {
        Ok(if lvl_in != lvl {
            Calibrate::Reduce(FactorizedReduce::new(c_in, c, init)?)
        } else if c_in != c {
            Calibrate::Conv(ReluConvBn::new(c_in, c, init)?)
        } else {
            Calibrate::None
        })
    }

    fn forward(&self, x: &Tensor, mode: BnMode) -> Result<Tensor> {
        match self {
            Calibrate::None => Ok(x.clone()),
            Calibrate::Conv(m) => m.forward(x, mode),
            Calibrate::Reduce(m) => m.forward(&ops::relu(x)?, mode),
        }
    }
}

/// One layer: calibration of its two inputs, the nodes' banks, the output projection.
struct CellNet {
    c: usize,
    pre0: Calibrate,
    pre1: Calibrate,
    nodes: Vec<(BranchBank, BranchBank)>,
    /// The output projection, one (c_in, c_out) slice per state as in the reference's
    /// `(nodes + 2, c, c)` parameter; a fixed network keeps only its unused states' slices.
    proj: Tensor,
    /// The row of `proj` of each state, `None` where a fixed network has none.
    proj_rows: Vec<Option<u32>>,
    bn: BatchNorm,
}

impl CellNet {
    fn new(
        in0: (usize, usize),
        in1: (usize, usize),
        c: usize,
        lvl: usize,
        nodes: usize,
        only: Option<&Cell>,
        init: Init,
    ) -> Result<Self> {
        let pre0 = Calibrate::new(in0.0, in0.1, c, lvl, init.pp("pre0"))?;
        let pre1 = Calibrate::new(in1.0, in1.1, c, lvl, init.pp("pre1"))?;
        let node_banks = (0..nodes)
            .map(|i| {
                let n = init.pp(format!("node{i}"));
                let sel = only.map(|cell| cell.nodes[i]);
                Ok((
                    BranchBank::new(c, i + 2, sel.map(|s| s.x), n.pp("x"))?,
                    BranchBank::new(c, i + 2, sel.map(|s| s.y), n.pp("y"))?,
                ))
            })
            .collect::<Result<_>>()?;
        let states: Vec<usize> = match only {
            Some(cell) => cell.unused_states(),
            None => (0..nodes + 2).collect(),
        };
        let mut proj_rows = vec![None; nodes + 2];
        for (row, &k) in states.iter().enumerate() {
            proj_rows[k] = Some(row as u32);
        }
        let proj = init.he_normal("proj", &[states.len(), c, c], c)?;
        Ok(CellNet { c, pre0, pre1, nodes: node_banks, proj, proj_rows, bn: BatchNorm::new(c, init.pp("bn"))? })
    }

    fn forward(&self, s0: &Tensor, s1: &Tensor, cell: &Cell, mode: BnMode) -> Result<Tensor> {
        let mut states = vec![self.pre0.forward(s0, mode)?, self.pre1.forward(s1, mode)?];
        for (node, (bx, by)) in cell.nodes.iter().zip(&self.nodes) {
            let x = bx.forward(&states[node.x.input], node.x, mode)?;
            let y = by.forward(&states[node.y.input], node.y, mode)?;
            states.push((x + y)?);
        }
        let unused = cell.unused_states();
        let mut xs = Vec::with_capacity(unused.len());
        let mut rows = Vec::with_capacity(unused.len());
        for &k in &unused {
            xs.push(states[k].clone());
            match self.proj_rows[k] {
                Some(r) => rows.push(r),
                None => candle_core::bail!("no projection weights for state {k} in this network"),
            }
        }
        // As the reference: w = proj[idx].reshape(len * c, c).t(), a (c_out, len * c_in) 1x1 conv.
        // Rows off the path get a zero gradient, so weight decay and momentum still move them.
        let idx = Tensor::new(rows.as_slice(), self.proj.device())?;
        let w = mode.param(&self.proj).index_select(&idx, 0)?.reshape((unused.len() * self.c, self.c))?.t()?;
        // relu(cat(xs)) = cat(relu(x) for x in xs): one fused ReLU-1x1 op over the concatenation.
        let out = ops::relu_pw(&Tensor::cat(&xs, 1)?, &w)?;
        self.bn.forward(&out, mode)
    }
}

/// The ENAS micro child network.
pub struct MicroNet {
    pub shape: MicroShape,
    stem: Tensor,
    stem_bn: BatchNorm,
    /// `(factorized reduction before the cell, if any; the cell)` per layer.
    layers: Vec<(Option<FactorizedReduce>, CellNet)>,
    classifier: Tensor,
    /// The auxiliary head and the layer whose output feeds it.
    aux: Option<(usize, AuxHead)>,
}

impl MicroNet {
    /// The network without an auxiliary head.
    pub fn new(shape: MicroShape, weights: &Weights, init: Init) -> Result<Self> {
        Self::new_with_aux(shape, weights, None, init)
    }

    /// The network, with ENAS's auxiliary head when `aux_image` gives the input images'
    /// `(height, width)` (the head's second convolution spans the map that reaches it, so its
    /// weights depend on the image size). The head's weights are created after every other
    /// weight, so the rest of the network gets the same initial values from the same seed with
    /// or without it.
    ///
    /// The head's parameters (names `aux_head.*`) count in the store's total (`num_params`), but
    /// not in `path_cost`, which counts the sampled child as it would be derived and evaluated:
    /// the head only shapes the training loss, as in ENAS, whose reported model size also leaves
    /// the aux head out.
    pub fn new_with_aux(
        shape: MicroShape,
        weights: &Weights,
        aux_image: Option<(usize, usize)>,
        init: Init,
    ) -> Result<Self> {
        let c = shape.channels;
        if let Weights::Fixed(arch) = weights {
            for cell in [&arch.normal, &arch.reduce] {
                if cell.nodes.len() != shape.nodes {
                    candle_core::bail!(
                        "architecture has {} nodes per cell, the network {}",
                        cell.nodes.len(),
                        shape.nodes
                    );
                }
            }
        }
        let stem = init.he_normal("stem.conv", &[3 * c, shape.in_channels, 3, 3], shape.in_channels * 9)?;
        let stem_bn = BatchNorm::new(3 * c, init.pp("stem.bn"))?;
        let mut prev = [(3 * c, 0), (3 * c, 0)];
        let (mut c_cur, mut level) = (c, 0);
        let mut layers = Vec::with_capacity(shape.layers + 2);
        for layer in 0..shape.layers + 2 {
            let reduction = shape.is_reduction(layer);
            let mut reduce = None;
            if reduction {
                (c_cur, level) = (2 * c_cur, level + 1);
                reduce = Some(FactorizedReduce::new(prev[1].0, c_cur, init.pp(format!("reduce{layer}")))?);
                prev = [prev[1], (c_cur, level)];
            }
            let only = match weights {
                Weights::Shared => None,
                Weights::Fixed(a) => Some(if reduction { &a.reduce } else { &a.normal }),
            };
            let cell =
                CellNet::new(prev[0], prev[1], c_cur, level, shape.nodes, only, init.pp(format!("cell{layer}")))?;
            layers.push((reduce, cell));
            prev = [prev[1], (c_cur, level)];
        }
        let classifier = init.uniform("classifier", &[shape.classes, c_cur], 1.0 / (c_cur as f64).sqrt())?;
        let aux = match aux_image {
            None => None,
            Some(image) => {
                let Some(layer) = shape.aux_head_layer() else {
                    candle_core::bail!(
                        "a network of {} layers has no layer after its reductions for an aux head",
                        shape.layers
                    )
                };
                let (c_in, hw) = shape.aux_head_input(image);
                Some((layer, AuxHead::new(c_in, hw, shape.classes, init.pp("aux_head"))?))
            }
        };
        Ok(MicroNet { shape, stem, stem_bn, layers, classifier, aux })
    }

    /// The auxiliary head, if this network has one.
    pub fn aux_head(&self) -> Option<&AuxHead> {
        self.aux.as_ref().map(|(_, h)| h)
    }

    /// Logits (n, classes) of the architecture `arch` on images `x` (n, in_channels, h, w).
    pub fn forward(&self, x: &Tensor, arch: &Arch, mode: BnMode) -> Result<Tensor> {
        Ok(self.forward_opts(x, arch, mode, &Forward::default())?.0)
    }

    /// Logits (n, classes) and, when `opts.aux`, the auxiliary head's logits (n, classes).
    /// With `Forward::default()` this is `forward`, bit for bit.
    pub fn forward_opts(
        &self,
        x: &Tensor,
        arch: &Arch,
        mode: BnMode,
        opts: &Forward,
    ) -> Result<(Tensor, Option<Tensor>)> {
        let aux_layer = match (&self.aux, opts.aux) {
            (_, false) => None,
            (Some((layer, _)), true) => Some(*layer),
            (None, true) => candle_core::bail!("aux logits asked for, but this network has no aux head"),
        };
        let stem = self.stem_bn.forward(&x.conv2d(&mode.param(&self.stem), 1, 1, 1, 1)?, mode)?;
        let (mut s0, mut s1) = (stem.clone(), stem);
        let mut aux_logits = None;
        for (layer, (reduce, cell)) in self.layers.iter().enumerate() {
            let arc = if self.shape.is_reduction(layer) { &arch.reduce } else { &arch.normal };
            if let Some(r) = reduce {
                let reduced = r.forward(&s1, mode)?;
                s0 = std::mem::replace(&mut s1, reduced);
            }
            let out = cell.forward(&s0, &s1, arc, mode)?;
            if aux_layer == Some(layer) {
                let (_, head) = self.aux.as_ref().expect("checked above");
                aux_logits = Some(head.forward(&out, mode)?);
            }
            s0 = std::mem::replace(&mut s1, out);
        }
        let mut features = global_avg_pool(&ops::relu(&s1)?)?;
        if let Some(d) = &opts.dropout {
            features = d.apply(&features)?;
        }
        Ok((features.matmul(&mode.param(&self.classifier).t()?)?, aux_logits))
    }
}

/// Parameters and multiply-adds of one architecture's path, counted from the structure (not from
/// tensors), so a supernet can report the size of any sampled child without building it. An
/// auxiliary head is not part of the path and is not counted (see `MicroNet::new_with_aux`).
pub fn path_cost(net: &MicroNet, arch: &Arch, height: usize, width: usize) -> (usize, usize) {
    let bn = |c: usize| 2 * c;
    let s = &net.shape;
    let mut params = net.stem.elem_count() + bn(3 * s.channels) + net.classifier.elem_count();
    let mut hw = height * width;
    let mut macs = hw * net.stem.elem_count() + net.classifier.elem_count();
    let (mut h, mut w) = (height, width);
    let calib = |cal: &Calibrate, hw_out: usize| match cal {
        Calibrate::None => (0, 0),
        Calibrate::Conv(m) => (m.conv.elem_count() + bn(m.conv.dim(0).unwrap_or(0)), m.macs(hw_out)),
        Calibrate::Reduce(m) => (m.conv1.elem_count() + m.conv2.elem_count() + bn(m.bn_channels()), m.macs(hw_out)),
    };
    for (layer, (reduce, cell)) in net.layers.iter().enumerate() {
        let arc = if s.is_reduction(layer) { &arch.reduce } else { &arch.normal };
        if let Some(r) = reduce {
            (h, w) = (h.div_ceil(2), w.div_ceil(2));
            hw = h * w;
            params += r.conv1.elem_count() + r.conv2.elem_count() + bn(r.bn_channels());
            macs += r.macs(hw);
        }
        for cal in [&cell.pre0, &cell.pre1] {
            let (p, m) = calib(cal, hw);
            params += p;
            macs += m;
        }
        for node in &arc.nodes {
            for b in [node.x, node.y] {
                if let Some(k) = b.op.kernel().filter(|_| matches!(b.op, OpKind::SepConv3x3 | OpKind::SepConv5x5)) {
                    let c = cell.c;
                    params += 2 * (c * k * k + c * c + bn(c));
                    macs += 2 * hw * c * (k * k + c);
                }
            }
        }
        let unused = arc.unused_states().len();
        params += unused * cell.c * cell.c + bn(cell.c);
        macs += hw * unused * cell.c * cell.c;
    }
    (params, macs)
}
