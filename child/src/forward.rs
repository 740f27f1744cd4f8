//! Options of one forward pass of the ENAS micro network (`MicroNet::forward_opts`): ENAS's
//! dropout before the classifier and the auxiliary head's logits.
use crate::dropout::Dropout;

/// Options of one forward pass beyond the architecture and the BatchNorm mode. The default is
/// the plain pass (`MicroNet::forward`): no dropout, no aux logits.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Forward {
    /// Inverted dropout on the globally pooled features before the classifier (ENAS
    /// `--child_keep_prob`, 0.9 in its search). ENAS's search child forces `is_training` on in
    /// every graph it builds, so it drops out in the shared-weight training step and in the
    /// controller's reward pass alike (and in its valid/test graphs too).
    pub dropout: Option<Dropout>,
    /// Also return the auxiliary head's logits (the network must have been built with one).
    pub aux: bool,
}

impl Forward {
    /// The search child's options from `child:` of the config: dropout when `keep_prob < 1`
    /// (its mask from `seed`, which the caller derives fresh for every step), aux logits when
    /// `aux_weight > 0`.
    pub fn of_child(child: &enas_shared::ChildConfig, seed: u64) -> Self {
        Forward {
            dropout: (child.keep_prob < 1.0).then_some(Dropout { keep: child.keep_prob, seed }),
            aux: child.aux_weight > 0.0,
        }
    }
}
