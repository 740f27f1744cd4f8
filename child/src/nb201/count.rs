//! Closed-form sizes of a NAS-Bench-201 network: trainable parameters (the benchmark's
//! `params`, BatchNorm's scale and shift included, running statistics not) and multiply-adds.
//! Tests check both against the network as built.
use super::Nb201Shape;
use enas_shared::OpKind;

/// Trainable parameters of the network for `cell`, counted as the benchmark counts them (every
/// `nn.Parameter`: convolution weights, BatchNorm scale and shift, the classifier's weight and
/// bias). Ops outside NAS-Bench-201's set count as parameter-free.
pub fn nb201_params(cell: &[OpKind], shape: Nb201Shape) -> usize {
    let c = shape.channels;
    let bn = |c: usize| 2 * c;
    let conv_bn = |c_in: usize, c_out: usize, k: usize| c_in * c_out * k * k + bn(c_out);
    let mut total = conv_bn(shape.in_channels, c, 3);
    let mut c_prev = c;
    for stage in 0..3 {
        let cs = c << stage;
        if stage > 0 {
            total += conv_bn(c_prev, cs, 3) + conv_bn(cs, cs, 3) + c_prev * cs;
        }
        let per_cell: usize = cell
            .iter()
            .map(|op| match op {
                OpKind::NorConv1x1 => conv_bn(cs, cs, 1),
                OpKind::NorConv3x3 => conv_bn(cs, cs, 3),
                _ => 0,
            })
            .sum();
        total += shape.cells * per_cell;
        c_prev = cs;
    }
    total + bn(c_prev) + c_prev * shape.classes + shape.classes
}

/// Multiply-adds of one forward pass of one `h x w` image: every convolution and the classifier's
/// weight. BatchNorm, pooling, ReLU, additions and the classifier's bias are not counted (FLOP
/// counters differ on these; NAS-Bench-201's own counter adds some of them).
pub fn nb201_flops(cell: &[OpKind], shape: Nb201Shape, h: usize, w: usize) -> usize {
    let c = shape.channels;
    let mut total = shape.in_channels * c * 9 * h * w;
    let (mut h, mut w) = (h, w);
    let mut c_prev = c;
    for stage in 0..3 {
        let cs = c << stage;
        if stage > 0 {
            // conv_a has stride 2 and padding 1; the shortcut pools 2x2 (floor) then convolves 1x1.
            let (ha, wa) = (h.div_ceil(2), w.div_ceil(2));
            let (hp, wp) = (h / 2, w / 2);
            total += 9 * c_prev * cs * ha * wa + 9 * cs * cs * ha * wa + c_prev * cs * hp * wp;
            (h, w) = (ha, wa);
        }
        let per_cell: usize = cell
            .iter()
            .map(|op| match op {
                OpKind::NorConv1x1 => cs * cs * h * w,
                OpKind::NorConv3x3 => 9 * cs * cs * h * w,
                _ => 0,
            })
            .sum();
        total += shape.cells * per_cell;
        c_prev = cs;
    }
    total + c_prev * shape.classes
}
