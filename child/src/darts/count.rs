//! Parameters and multiply-adds of DARTS networks, by formula from the layer shapes (no network
//! is built): a path of the search network, the whole search network, or a genotype's
//! evaluation network. Multiply-adds count convolutions and the classifier for one image, at each
//! op's output resolution (a stride-2 op counts its strided output, as the op is defined, not the
//! stride-1 work this crate does for it); pooling, BN and additions count nothing.
use super::DartsShape;
use enas_shared::space::darts::DARTS_OPS;
use enas_shared::{Arch, OpKind};

/// Which ops a cell holds.
#[derive(Debug, Clone, Copy)]
pub enum Holds<'a> {
    /// Every op on every edge: the search network.
    All,
    /// One architecture's two ops per node.
    Arch(&'a Arch),
}

/// Parameters and multiply-adds of one op on `c` channels at `stride`, whose output has `hw_out`
/// pixels; `affine`: BN with scale and shift.
fn op_cost(op: OpKind, c: usize, stride: usize, affine: bool, hw_out: usize) -> (usize, usize) {
    let bn = if affine { 2 * c } else { 0 };
    match op {
        OpKind::SepConv3x3 | OpKind::SepConv5x5 => {
            let k = if op == OpKind::SepConv3x3 { 9 } else { 25 };
            (2 * (c * k + c * c + bn), 2 * hw_out * (c * k + c * c))
        }
        OpKind::DilConv3x3 | OpKind::DilConv5x5 => {
            let k = if op == OpKind::DilConv3x3 { 9 } else { 25 };
            (c * k + c * c + bn, hw_out * (c * k + c * c))
        }
        OpKind::Identity if stride == 2 => (c * c + bn, hw_out * c * c),
        _ => (0, 0),
    }
}

/// `(parameters, multiply-adds per image)` of the network of `shape` holding `holds`, for
/// `hw = (height, width)` images. `search`: the search network's BN (no affine parameters in the
/// cells); else the evaluation network's. Without any auxiliary head.
pub fn darts_cost(shape: &DartsShape, holds: Holds, search: bool, hw: (usize, usize)) -> (usize, usize) {
    let affine = !search;
    let bn = |c: usize| if affine { 2 * c } else { 0 };
    let stem_c = 3 * shape.channels;
    let pixels = hw.0 * hw.1;
    // The stem's BN is affine in both networks.
    let (mut params, mut macs) = (stem_c * shape.in_channels * 9 + 2 * stem_c, pixels * stem_c * shape.in_channels * 9);
    // Resolutions (height, width) of the two latest states.
    let (mut r_pp, mut r_p) = (hw, hw);
    let half = |r: (usize, usize)| (r.0.div_ceil(2), r.1.div_ceil(2));
    for plan in shape.plans() {
        let c = plan.c;
        let r_out = if plan.reduction { half(r_p) } else { r_p };
        let (px_p, px_out) = (r_p.0 * r_p.1, r_out.0 * r_out.1);
        // preprocess0 brings s0 to s1's resolution (a factorized reduction if it is twice it).
        let px_pre0 = if plan.reduction_prev { half(r_pp).0 * half(r_pp).1 } else { r_pp.0 * r_pp.1 };
        params += plan.c_pp * c + bn(c) + plan.c_p * c + bn(c);
        macs += px_pre0 * plan.c_pp * c + px_p * plan.c_p * c;
        let mut add = |op: OpKind, input: usize| {
            let stride = if plan.reduction && input < 2 { 2 } else { 1 };
            let (p, m) = op_cost(op, c, stride, affine, px_out);
            params += p;
            macs += m;
        };
        match holds {
            Holds::All => {
                for node in 0..shape.nodes {
                    for input in 0..node + 2 {
                        DARTS_OPS.iter().for_each(|&op| add(op, input));
                    }
                }
            }
            Holds::Arch(arch) => {
                let cell = if plan.reduction { &arch.reduce } else { &arch.normal };
                for n in &cell.nodes {
                    add(n.x.op, n.x.input);
                    add(n.y.op, n.y.input);
                }
            }
        }
        (r_pp, r_p) = (r_p, r_out);
    }
    let out = shape.out_channels();
    (params + out * shape.classes + shape.classes, macs + out * shape.classes)
}
