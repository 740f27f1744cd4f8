//! DARTS's architect (`darts:`): the Adam optimiser of the architecture weights α and the order
//! of its gradient. The network weights' SGD is `search.sgd` as for every method.
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// DARTS (Liu et al., ICLR 2019) architecture-step settings; the defaults are the paper's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DartsConfig {
    /// 1: the gradient of the validation loss at the current weights (first order); 2: through
    /// one virtual SGD step of the weights, the Hessian-vector product by finite differences
    /// (second order).
    pub order: u32,
    /// Adam's learning rate for α.
    pub arch_lr: f64,
    /// Adam's β1 and β2 for α.
    pub arch_beta1: f64,
    pub arch_beta2: f64,
    /// L2 weight decay of α (added to its gradient, as `torch.optim.Adam(weight_decay=...)`).
    pub arch_weight_decay: f64,
    /// The standard deviation of α's initial values (DARTS: 1e-3 x standard normal).
    pub init_std: f64,
    /// DARTS- (Chu et al., ICLR 2021): an auxiliary skip connection on every edge, its weight
    /// `aux_skip` at the start decaying linearly to 0 over the search epochs (DARTS-: 1.0), added
    /// to the mixture outside the softmax; 0 is off.
    pub aux_skip: f64,
    /// DARTS+ (Liang et al. 2019), its first criterion: stop the search once the derived normal
    /// cell holds this many skip connections (DARTS+: 2), and return that cell; 0 is off.
    pub stop_at_skips: usize,
    /// P-DARTS's limit on skip connections in the derived normal cell: while it holds more than
    /// this many, the smallest non-zero skip weight of the normal cell is set to 0 and the cell
    /// derived again (P-DARTS: 2); 0 is off.
    pub max_skips: usize,
    /// RobustDARTS (Zela et al. 2020): measure the dominant eigenvalue of the validation loss's
    /// Hessian with respect to α after every epoch (written to `genotypes.csv`).
    pub hessian_eigen: bool,
    /// RobustDARTS's early stop (DARTS-ES): with the eigenvalue averaged over `eigen_window`
    /// epochs, stop once its value `eigen_window` epochs before over its value now falls below
    /// this ratio (R-DARTS: 0.75), returning the cell of `eigen_window` epochs before; 0 is off.
    /// Needs `hessian_eigen`.
    pub stop_eigen_ratio: f64,
    /// The window and lag of the early stop, in epochs (R-DARTS: 5).
    pub eigen_window: usize,
    /// PC-DARTS (Xu et al., ICLR 2020), partial channel connections: each edge's ops see 1/K of
    /// its input's channels (the first C/K), the rest pass by (max-pooled 2x2 on a stride-2
    /// edge), and the two parts are concatenated and channel-shuffled in K groups (PC-DARTS:
    /// K = 4); 1 is off (every op sees every channel).
    pub partial_channels: usize,
    /// PC-DARTS's edge normalisation: a weight β per edge, and each node's input edges weighted
    /// by the softmax of their β (learned with α, by the same Adam); the derived cell ranks the
    /// edges by softmax(α) x softmax(β).
    pub edge_norm: bool,
    /// Architecture steps begin after this many epochs; before, the weights train on the
    /// mixture at the initial α (PC-DARTS: 15 of 50). Not `search.warmup_epochs`, which trains
    /// uniformly sampled single paths.
    pub arch_warmup_epochs: usize,
    /// How α becomes each edge's op weights: `softmax` (DARTS) or `dirichlet` (DrNAS: a sample
    /// of Dirichlet(elu(α) + 1) for every forward pass, learned through the sample; the derived
    /// cell still reads softmax(α), as DrNAS's genotype does).
    pub relaxation: Relaxation,
    /// Progressive pruning of ops (P-DARTS's search-space approximation, DrNAS's progressive
    /// search): at the start of epoch `prune_at[i]` each edge keeps its `prune_keep[i]` strongest
    /// remaining ops by α (P-DARTS: 8, 5, 3 ops in three stages; DrNAS on NAS-Bench-201: 5 then
    /// 3), the others leave the mixture for good. Empty: no pruning.
    pub prune_at: Vec<usize>,
    pub prune_keep: Vec<usize>,
}

/// How DARTS relaxes an edge's choice of op into weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Relaxation {
    /// softmax(α) over the edge's ops (DARTS).
    #[default]
    Softmax,
    /// A Dirichlet(elu(α) + 1) sample per forward pass (DrNAS).
    Dirichlet,
}

impl Default for DartsConfig {
    fn default() -> Self {
        DartsConfig {
            order: 1,
            arch_lr: 3e-4,
            arch_beta1: 0.5,
            arch_beta2: 0.999,
            arch_weight_decay: 1e-3,
            init_std: 1e-3,
            aux_skip: 0.0,
            stop_at_skips: 0,
            max_skips: 0,
            hessian_eigen: false,
            stop_eigen_ratio: 0.0,
            eigen_window: 5,
            partial_channels: 1,
            edge_norm: false,
            arch_warmup_epochs: 0,
            relaxation: Relaxation::Softmax,
            prune_at: vec![],
            prune_keep: vec![],
        }
    }
}

impl DartsConfig {
    pub fn validate(&self, origin: &str) -> Result<()> {
        let bad = |key: &str, msg: String| {
            Err(Error::Config { origin: origin.to_string(), msg: format!("darts.{key}: {msg}") })
        };
        if !(1..=2).contains(&self.order) {
            return bad("order", format!("{} must be 1 (first order) or 2 (second order)", self.order));
        }
        if !(self.arch_lr > 0.0 && self.arch_lr.is_finite()) {
            return bad("arch_lr", format!("{} must be a positive number", self.arch_lr));
        }
        for (key, b) in [("arch_beta1", self.arch_beta1), ("arch_beta2", self.arch_beta2)] {
            if !(0.0..1.0).contains(&b) {
                return bad(key, format!("{b} must be in [0, 1)"));
            }
        }
        if !(self.arch_weight_decay >= 0.0 && self.arch_weight_decay.is_finite()) {
            return bad("arch_weight_decay", format!("{} must be a non-negative number", self.arch_weight_decay));
        }
        if !(self.aux_skip >= 0.0 && self.aux_skip.is_finite()) {
            return bad("aux_skip", format!("{} must be a non-negative number (DARTS-: 1.0; 0: off)", self.aux_skip));
        }
        if !(0.0..1.0).contains(&self.stop_eigen_ratio) {
            return bad(
                "stop_eigen_ratio",
                format!("{} must be in [0, 1) (R-DARTS: 0.75; 0: off)", self.stop_eigen_ratio),
            );
        }
        if self.stop_eigen_ratio > 0.0 && !self.hessian_eigen {
            return bad("stop_eigen_ratio", "needs darts.hessian_eigen: true (the rule reads the eigenvalues)".into());
        }
        if self.partial_channels == 0 {
            return bad("partial_channels", "must be at least 1 (1: off; PC-DARTS: 4)".into());
        }
        if self.eigen_window == 0 {
            return bad("eigen_window", "must be at least 1 epoch".into());
        }
        if !(self.init_std >= 0.0 && self.init_std.is_finite()) {
            return bad("init_std", format!("{} must be a non-negative number", self.init_std));
        }
        if self.prune_at.len() != self.prune_keep.len() {
            return bad(
                "prune_keep",
                format!(
                    "has {} entries, darts.prune_at {}: one number of ops to keep per pruning epoch",
                    self.prune_keep.len(),
                    self.prune_at.len()
                ),
            );
        }
        if self.prune_at.windows(2).any(|w| w[0] >= w[1]) {
            return bad("prune_at", format!("{:?} must be increasing epochs", self.prune_at));
        }
        if self.prune_keep.windows(2).any(|w| w[0] <= w[1]) || self.prune_keep.contains(&0) {
            return bad("prune_keep", format!("{:?} must be decreasing and at least 1", self.prune_keep));
        }
        Ok(())
    }
}
