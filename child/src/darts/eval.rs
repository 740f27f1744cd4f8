//! DARTS's evaluation network (`NetworkCIFAR` in DARTS's `model.py`): one genotype's cells with
//! their own weights (affine BN, pooling without BN), trained from scratch. Options of a training
//! pass: drop-path on every op that is not the identity (each image's branch zeroed with
//! probability p, the kept ones scaled by 1/(1-p)), and the auxiliary head's logits.
use super::ops::{EdgeOp, Preprocess};
use super::search::check_arch;
use super::{check_shape, sum_terms, CellPlan, Classifier, DartsShape, Stem};
use crate::aux_head::AuxHead;
use crate::dropout::Dropout;
use crate::layers::BnMode;
use crate::params::Init;
use candle_core::{Result, Tensor};
use enas_shared::{Arch, Cell};

/// Options of one forward pass; the default is the plain pass.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DartsForward {
    /// Drop-path probability and the seed of this pass's masks (the caller derives a fresh seed
    /// per step); `None` or a probability of 0 drops nothing.
    pub drop_path: Option<(f64, u64)>,
    /// Also return the auxiliary head's logits (the network must have one).
    pub aux: bool,
}

struct FixedCell {
    pre0: Preprocess,
    pre1: Preprocess,
    /// Per node, its two branches: the op and the state it reads.
    ops: Vec<[(EdgeOp, usize); 2]>,
}

impl FixedCell {
    fn new(plan: CellPlan, cell: &Cell, init: Init) -> Result<Self> {
        let pre0 = Preprocess::new(plan.c_pp, plan.c, plan.reduction_prev, true, init.pp("preprocess0"))?;
        let pre1 = Preprocess::new(plan.c_p, plan.c, false, true, init.pp("preprocess1"))?;
        let mut k = 0;
        let mut branch = |input: usize, op| {
            let stride = if plan.reduction && input < 2 { 2 } else { 1 };
            let e = EdgeOp::new(op, plan.c, stride, false, init.pp(format!("_ops.{k}")));
            k += 1;
            Ok::<_, candle_core::Error>((e?, input))
        };
        let ops = cell
            .nodes
            .iter()
            .map(|n| Ok([branch(n.x.input, n.x.op)?, branch(n.y.input, n.y.op)?]))
            .collect::<Result<_>>()?;
        Ok(FixedCell { pre0, pre1, ops })
    }

    fn forward(&self, s0: &Tensor, s1: &Tensor, mode: BnMode, drop: &mut DropPath) -> Result<Tensor> {
        let mut states = vec![self.pre0.forward(s0, mode)?, self.pre1.forward(s1, mode)?];
        for node in &self.ops {
            let terms = node.iter().map(|(op, input)| {
                let y = op.forward(&states[*input], mode)?;
                match y {
                    Some(y) if !op.is_identity() => drop.apply(&y).map(Some),
                    other => Ok(other),
                }
            });
            let s = match sum_terms(terms.collect::<Vec<_>>())? {
                Some(s) => s,
                None => candle_core::bail!("a DARTS genotype node has no op other than none"),
            };
            states.push(s);
        }
        Tensor::cat(&states[2..], 1)
    }
}

/// Drop-path masks for one pass: a fresh stream per branch, from the pass's seed.
struct DropPath {
    prob: f64,
    seed: u64,
    count: u64,
}

impl DropPath {
    fn apply(&mut self, x: &Tensor) -> Result<Tensor> {
        if self.prob <= 0.0 {
            return Ok(x.clone());
        }
        self.count += 1;
        let seed = self.seed ^ self.count.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mask = Dropout { keep: 1.0 - self.prob, seed }.mask(&[x.dim(0)?, 1, 1, 1], x.device())?;
        x.broadcast_mul(&mask.to_dtype(x.dtype())?)
    }
}

/// The evaluation network of one genotype.
pub struct DartsNet {
    shape: DartsShape,
    stem: Stem,
    cells: Vec<FixedCell>,
    aux: Option<(usize, AuxHead)>,
    classifier: Classifier,
}

impl DartsNet {
    /// The network of `arch`; `aux_image`: the image size, when the auxiliary head is wanted
    /// (its input map is that size halved twice, rounded up).
    pub fn new(shape: DartsShape, arch: &Arch, aux_image: Option<(usize, usize)>, init: Init) -> Result<Self> {
        check_shape(&shape)?;
        check_arch(arch, shape.nodes)?;
        let stem = Stem::new(&shape, &init)?;
        let cells = shape
            .plans()
            .into_iter()
            .enumerate()
            .map(|(i, plan)| {
                let cell = if plan.reduction { &arch.reduce } else { &arch.normal };
                FixedCell::new(plan, cell, init.pp(format!("cells.{i}")))
            })
            .collect::<Result<_>>()?;
        let aux = match aux_image {
            Some((h, w)) => {
                let (at, c) = shape.aux_input();
                let hw = (h.div_ceil(2).div_ceil(2), w.div_ceil(2).div_ceil(2));
                Some((at, AuxHead::darts(c, hw, shape.classes, init.pp("auxiliary_head"))?))
            }
            None => None,
        };
        let classifier = Classifier::new(shape.out_channels(), shape.classes, &init)?;
        Ok(DartsNet { shape, stem, cells, aux, classifier })
    }

    pub fn shape(&self) -> DartsShape {
        self.shape
    }

    /// Trainable scalars of the auxiliary head (0 without one): DARTS counts the network's
    /// parameters without it.
    pub fn head_params(&self) -> usize {
        self.aux.as_ref().map_or(0, |(_, h)| h.num_params())
    }

    /// Logits of the plain pass.
    pub fn forward(&self, x: &Tensor, mode: BnMode) -> Result<Tensor> {
        Ok(self.forward_opts(x, mode, &DartsForward::default())?.0)
    }

    /// Logits, and the auxiliary head's when `opts.aux`.
    pub fn forward_opts(&self, x: &Tensor, mode: BnMode, opts: &DartsForward) -> Result<(Tensor, Option<Tensor>)> {
        if opts.aux && self.aux.is_none() {
            candle_core::bail!("aux logits asked of a DARTS network built without an auxiliary head");
        }
        let (prob, seed) = opts.drop_path.unwrap_or((0.0, 0));
        if !(0.0..1.0).contains(&prob) {
            candle_core::bail!("drop-path probability must be in [0, 1), got {prob}");
        }
        let mut drop = DropPath { prob, seed, count: 0 };
        let mut s0 = self.stem.forward(x, mode)?;
        let mut s1 = s0.clone();
        let mut aux_logits = None;
        for (i, cell) in self.cells.iter().enumerate() {
            (s0, s1) = (s1.clone(), cell.forward(&s0, &s1, mode, &mut drop)?);
            if let Some((at, head)) = &self.aux {
                if opts.aux && *at == i {
                    aux_logits = Some(head.forward(&s1, mode)?);
                }
            }
        }
        Ok((self.classifier.forward(&s1, mode)?, aux_logits))
    }
}
