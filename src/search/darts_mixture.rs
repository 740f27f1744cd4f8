//! How DARTS's α becomes the mixture's weights: softmax (DARTS) or a Dirichlet sample (DrNAS)
//! per edge over the ops still in the search (progressive pruning, P-DARTS / DrNAS), PC-DARTS's
//! edge normalisation, DARTS-'s auxiliary skip and PC-DARTS's bypass column; and the pruning
//! itself.
use super::Darts;
use crate::search::dirichlet::Draw;
use candle_core::Tensor;
use enas_shared::darts_config::Relaxation;
use rand_chacha::ChaCha8Rng;

impl Darts {
    /// softmax(α) per row over the ops still in the search (pruned ops 0), as numbers (`rows x
    /// ops`); with edge normalisation each row times its edge's weight, the softmax of β over the
    /// node's edges (PC-DARTS's genotype). DrNAS derives from this too.
    pub fn weights(&self) -> Vec<f64> {
        let (rows, cols) = self.shape;
        let mut out = Vec::with_capacity(rows * self.ops);
        let edge = self.edge_weights();
        for r in 0..rows {
            let a = &self.state.alpha[r * cols..r * cols + self.ops];
            let kept = |k: usize| self.state.keep.as_ref().map_or(true, |m| m[r * self.ops + k]);
            let max = (0..self.ops).filter(|&k| kept(k)).map(|k| a[k]).fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = (0..self.ops).map(|k| if kept(k) { (a[k] - max).exp() } else { 0.0 }).collect();
            let sum: f64 = e.iter().sum();
            out.extend(e.iter().map(|x| x / sum * edge.as_ref().map_or(1.0, |e| e[r])));
        }
        out
    }

    /// Each row's edge weight (edge normalisation): the softmax of β over the rows of its node.
    fn edge_weights(&self) -> Option<Vec<f64>> {
        let same = self.same_node.as_ref()?;
        let (rows, cols) = self.shape;
        let beta: Vec<f64> = (0..rows).map(|r| self.state.alpha[r * cols + self.ops]).collect();
        let max = beta.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = beta.iter().map(|b| (b - max).exp()).collect();
        Some((0..rows).map(|r| e[r] / (0..rows).map(|s| f64::from(same[r * rows + s]) * e[s]).sum::<f64>()).collect())
    }

    /// Draws the Dirichlet sample the next mixtures use (DrNAS), from the current α; nothing
    /// under the softmax relaxation.
    pub(super) fn redraw(&mut self, rng: &mut ChaCha8Rng) {
        if self.cfg.relaxation == Relaxation::Dirichlet {
            let shape = (self.shape.0, self.ops);
            let cols = self.shape.1;
            let alpha: Vec<f64> =
                (0..shape.0).flat_map(|r| self.state.alpha[r * cols..r * cols + self.ops].to_vec()).collect();
            self.draw = Some(Draw::new(&alpha, shape, self.state.keep.as_deref(), rng));
        }
    }

    /// The mixture's weights from α's tensor: per row over the ops still in the search, softmax
    /// (DARTS) or the current Dirichlet draw (DrNAS); times each edge's normalised weight
    /// (PC-DARTS's edge normalisation); plus DARTS-'s auxiliary skip (`aux_weight` on the skip
    /// column, outside the relaxation) when on; and with partial channels a last column weighing
    /// each edge's bypassed channels (its normalised weight, or 1).
    pub(in crate::search) fn mixture(&self, alpha: &Tensor) -> candle_core::Result<Tensor> {
        let rows = self.shape.0;
        let ops = alpha.narrow(1, 0, self.ops)?;
        let keep = match &self.state.keep {
            Some(k) => {
                let k: Vec<f32> = k.iter().map(|&b| f32::from(u8::from(b))).collect();
                Some(Tensor::from_vec(k, (rows, self.ops), alpha.device())?)
            }
            None => None,
        };
        let mut w = match (self.cfg.relaxation, &self.draw) {
            (Relaxation::Softmax, _) => masked_softmax_rows(&ops, keep.as_ref())?,
            (Relaxation::Dirichlet, Some(draw)) => draw.weights(&ops)?,
            (Relaxation::Dirichlet, None) => candle_core::bail!("the Dirichlet relaxation's mixture before any draw"),
        };
        let edge = match &self.same_node {
            Some(same) => {
                let beta = alpha.narrow(1, self.ops, 1)?;
                let e = beta.broadcast_sub(&beta.max_keepdim(0)?)?.exp()?;
                let same = Tensor::from_vec(same.clone(), (rows, rows), alpha.device())?;
                let edge = (&e / same.matmul(&e)?)?;
                w = w.broadcast_mul(&edge)?;
                Some(edge)
            }
            None => None,
        };
        if let (Some(j), true) = (self.skip, self.aux_weight > 0.0) {
            let mut offset = vec![0f32; rows * self.ops];
            offset.iter_mut().skip(j).step_by(self.ops).for_each(|x| *x = self.aux_weight as f32);
            w = (w + Tensor::from_vec(offset, (rows, self.ops), alpha.device())?)?;
        }
        if self.cfg.partial_channels > 1 {
            let edge = match edge {
                Some(e) => e,
                None => Tensor::ones((rows, 1), w.dtype(), w.device())?,
            };
            w = Tensor::cat(&[&w, &edge], 1)?;
        }
        Ok(w)
    }

    /// Applies the pruning stages due by `epoch` that have not been applied: each edge keeps its
    /// `prune_keep` strongest remaining ops by α (ties to the earlier op).
    pub(super) fn prune_due(&mut self, epoch: usize) {
        let c = &self.cfg;
        while let (Some(&at), Some(&keep)) = (c.prune_at.get(self.state.pruned), c.prune_keep.get(self.state.pruned)) {
            if at > epoch {
                break;
            }
            let (rows, cols) = self.shape;
            let mut mask = self.state.keep.clone().unwrap_or_else(|| vec![true; rows * self.ops]);
            for r in 0..rows {
                let a = &self.state.alpha[r * cols..r * cols + self.ops];
                let mut kept: Vec<usize> = (0..self.ops).filter(|&k| mask[r * self.ops + k]).collect();
                kept.sort_by(|&x, &y| a[y].total_cmp(&a[x]).then(x.cmp(&y)));
                for &k in kept.iter().skip(keep) {
                    mask[r * self.ops + k] = false;
                }
            }
            self.state.keep = Some(mask);
            self.state.pruned += 1;
        }
    }
}

/// Row-wise softmax of a 2-D tensor, differentiable.
pub fn softmax_rows(a: &Tensor) -> candle_core::Result<Tensor> {
    masked_softmax_rows(a, None)
}

/// Row-wise softmax over the columns where `keep` (0/1, same shape) is 1; the others 0.
fn masked_softmax_rows(a: &Tensor, keep: Option<&Tensor>) -> candle_core::Result<Tensor> {
    let Some(k) = keep else {
        let e = a.broadcast_sub(&a.max_keepdim(1)?)?.exp()?;
        return e.broadcast_div(&e.sum_keepdim(1)?);
    };
    // The maximum over the kept columns only (a pruned op's α may be the row's largest).
    let kept_max = ((a * k)? + ((k - 1.0)? * 1e9)?)?.max_keepdim(1)?.detach();
    let e = (a.broadcast_sub(&kept_max)?.minimum(0.0)?.exp()? * k)?;
    e.broadcast_div(&e.sum_keepdim(1)?)
}
