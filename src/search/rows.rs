//! The rows of a search's result tables: `architectures.csv` (one row per scored arc) and
//! `epochs.csv` (one row per epoch), serde structs whose fields are the columns
//! (`enas_shared::export::write_rows`). A value that does not apply (the log-probability, entropy
//! and baseline of a strategy other than REINFORCE) is NaN in memory and an empty field in the
//! file; numbers have six decimals, seconds three.
use enas_shared::export::csv_f64::{fixed3, fixed6};
use serde::{Deserialize, Serialize};

/// One arc the controller sampled and scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArchRow {
    pub epoch: usize,
    pub step: usize,
    pub sample: usize,
    pub arc: String,
    pub normal: String,
    pub reduce: String,
    #[serde(with = "fixed6")]
    pub reward: f64,
    #[serde(with = "fixed6")]
    pub valid_acc: f64,
    #[serde(with = "fixed6")]
    pub log_prob: f64,
    #[serde(with = "fixed6")]
    pub entropy: f64,
    #[serde(with = "fixed6")]
    pub baseline: f64,
    pub active_params: usize,
    /// The cost the objective reads (`objective:`); empty without one.
    #[serde(default)]
    pub cost: Option<f64>,
}

/// One search epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRow {
    pub epoch: usize,
    #[serde(with = "fixed6")]
    pub lr: f64,
    #[serde(with = "fixed6")]
    pub child_loss: f64,
    #[serde(with = "fixed6")]
    pub child_acc: f64,
    #[serde(with = "fixed6")]
    pub mean_reward: f64,
    #[serde(with = "fixed6")]
    pub mean_valid_acc: f64,
    #[serde(with = "fixed6")]
    pub mean_entropy: f64,
    #[serde(with = "fixed6")]
    pub baseline: f64,
    #[serde(with = "fixed3")]
    pub seconds: f64,
    /// The architecture the method would return after this epoch (`Method::current`): a
    /// policy's most likely one, else its best query by minibatch accuracy; empty before any.
    pub current: String,
    /// That architecture's accuracy in the run's benchmark table (`search.table`,
    /// `bench.final_column`); empty without a table.
    #[serde(with = "fixed6")]
    pub current_table_acc: f64,
}

/// The architecture weights of a method that has them (DARTS), after one epoch: `genotypes.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenotypeRow {
    pub epoch: usize,
    /// The architecture derived from the weights now (DARTS's rule).
    pub genotype: String,
    /// The mean over decisions of the entropy (nats) of their choice distribution.
    #[serde(with = "fixed6")]
    pub entropy: f64,
    /// RobustDARTS's dominant eigenvalue of the validation loss's Hessian w.r.t. α at the
    /// epoch's end, when measured (`darts.hessian_eigen`); empty otherwise.
    pub hessian_eig: Option<f64>,
    /// The distribution of each decision (softmax(α) of each edge), six decimals, decisions
    /// separated by `;` and choices by spaces, in the space's op order.
    pub weights: String,
}

impl GenotypeRow {
    pub fn new(epoch: usize, genotype: String, dist: &[Vec<f64>], hessian_eig: Option<f64>) -> GenotypeRow {
        let entropy =
            dist.iter().map(|p| -p.iter().filter(|&&x| x > 0.0).map(|&x| x * x.ln()).sum::<f64>()).sum::<f64>()
                / dist.len().max(1) as f64;
        let weights = dist
            .iter()
            .map(|p| p.iter().map(|x| format!("{x:.6}")).collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join(";");
        GenotypeRow { epoch, genotype, entropy, hessian_eig, weights }
    }
}

impl EpochRow {
    pub fn describe(&self) -> String {
        let table = if self.current_table_acc.is_nan() {
            String::new()
        } else {
            format!(", current cell {:.2} in the table", self.current_table_acc)
        };
        if self.baseline.is_nan() {
            return format!(
                "epoch {}: lr {:.4}, child loss {:.3} acc {:.3}, strategy valid acc {:.3}{table}, {:.1} s",
                self.epoch, self.lr, self.child_loss, self.child_acc, self.mean_valid_acc, self.seconds
            );
        }
        format!(
            "epoch {}: lr {:.4}, child loss {:.3} acc {:.3}, controller reward {:.3} (valid acc {:.3}, entropy {:.2}, baseline {:.3}){table}, {:.1} s",
            self.epoch, self.lr, self.child_loss, self.child_acc, self.mean_reward, self.mean_valid_acc, self.mean_entropy, self.baseline, self.seconds
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use enas_shared::export::{read_rows, write_rows};

    /// The files are what the hand-written rows gave (lines from a run before the serde rows).
    #[test]
    fn tables_keep_their_format_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let arch = ArchRow {
            epoch: 1,
            step: 1,
            sample: 1,
            arc: "0 4".into(),
            normal: "n2=identity(0)+max_pool_3x3(1)".into(),
            reduce: "n2=max_pool_3x3(0)+sep_conv_3x3(1)".into(),
            reward: 0.08,
            valid_acc: 0.08,
            log_prob: f64::NAN,
            entropy: f64::NAN,
            baseline: f64::NAN,
            active_params: 5900,
            cost: None,
        };
        let with_controller = ArchRow { log_prob: -55.632065, entropy: 57.18634, baseline: 0.00375, ..arch.clone() };
        let path = dir.path().join("architectures.csv");
        write_rows(&path, &[arch.clone(), with_controller.clone()]).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "epoch,step,sample,arc,normal,reduce,reward,valid_acc,log_prob,entropy,baseline,active_params,cost\n\
             1,1,1,0 4,n2=identity(0)+max_pool_3x3(1),n2=max_pool_3x3(0)+sep_conv_3x3(1),0.080000,0.080000,,,,5900,\n\
             1,1,1,0 4,n2=identity(0)+max_pool_3x3(1),n2=max_pool_3x3(0)+sep_conv_3x3(1),0.080000,0.080000,\
             -55.632065,57.186340,0.003750,5900,\n"
        );
        let (back, total) = read_rows::<ArchRow>(&path, 2).unwrap();
        assert_eq!(total, 2);
        assert!(back[0].log_prob.is_nan() && back[0].entropy.is_nan() && back[0].baseline.is_nan());
        assert_eq!(back[1], with_controller);
        // A run written before the cost column (no objective) reads back with no cost.
        std::fs::write(
            &path,
            "epoch,step,sample,arc,normal,reduce,reward,valid_acc,log_prob,entropy,baseline,active_params\n\
             1,1,1,0 4,n,r,0.080000,0.080000,,,,5900\n",
        )
        .unwrap();
        let (old, _) = read_rows::<ArchRow>(&path, 1).unwrap();
        assert_eq!(old[0].cost, None);
        assert_eq!(old[0].active_params, 5900);

        let epoch = EpochRow {
            epoch: 1,
            lr: 0.05,
            child_loss: 2.342761,
            child_acc: 0.078125,
            mean_reward: 0.08,
            mean_valid_acc: 0.08,
            mean_entropy: f64::NAN,
            baseline: f64::NAN,
            seconds: 1.6204,
            current: "0 4".into(),
            current_table_acc: f64::NAN,
        };
        let path = dir.path().join("epochs.csv");
        write_rows(&path, &[epoch]).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "epoch,lr,child_loss,child_acc,mean_reward,mean_valid_acc,mean_entropy,baseline,seconds,current,current_table_acc\n\
             1,0.050000,2.342761,0.078125,0.080000,0.080000,,,1.620,0 4,\n"
        );
        let (back, _) = read_rows::<EpochRow>(&path, 1).unwrap();
        assert_eq!((back[0].epoch, back[0].seconds), (1, 1.62));
    }
}
