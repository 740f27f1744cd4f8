//! The `data:` section of the run configuration.
use serde::{Deserialize, Serialize};

use super::DataSpec;
use crate::error::{Error, Result};

/// Which images a run uses and how they are split, normalised and augmented (the `data:` section
/// of the YAML config). Every key is optional; the defaults give a quick run on generated data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// Data source: `synthetic` (generated, no files), `cifar10:DIR` (CIFAR-10 binary batches),
    /// `mnist:DIR` (IDX files, gzipped or not) or `optdigits:DIR` (UCI `optdigits.tra`/`.tes`).
    /// Default `synthetic`.
    pub spec: String,
    /// Images held out of the train split as the validation split (the controller's reward set).
    /// Chosen by a shuffle seeded with `split_seed`. 0 leaves the validation split empty. Default
    /// 1000, which fits every bundled source (ENAS used 5000 of CIFAR-10's 50,000).
    pub valid_size: usize,
    /// Images held out as the test split, only for sources without a separate test file (for
    /// example an MNIST folder with only the `t10k` files, or CIFAR-10 without `test_batch.bin`):
    /// they are drawn from the whole source before the validation split. Default 2000.
    pub test_size: usize,
    /// Cap on the train split after the validation images are held out, for quick runs; a random
    /// (split-seeded) subset of that size is kept. Must not exceed what is left. Default: no cap.
    pub train_size: Option<usize>,
    /// Seed of the shuffle that chooses the held-out sets (and of the synthetic generator),
    /// independent of the run seed so the splits stay fixed across runs. Default 0.
    pub split_seed: u64,
    /// Augment train batches CIFAR-style: zero-pad 4 pixels (zero is the mean after
    /// normalisation), crop back to the original size at a random offset, flip horizontally with
    /// probability 1/2. Validation and test batches are never augmented. Default false.
    pub augment: bool,
    /// Number of generated train images (before validation is held out) of the `synthetic`
    /// source. Default 5000 (with the 1000 test images, about 0.15 s to generate).
    pub synthetic_train: usize,
    /// Number of generated test images of the `synthetic` source. Default 1000.
    pub synthetic_test: usize,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            spec: "synthetic".into(),
            valid_size: 1000,
            test_size: 2000,
            train_size: None,
            split_seed: 0,
            augment: false,
            synthetic_train: 5000,
            synthetic_test: 1000,
        }
    }
}

/// Largest accepted synthetic set size (keeps a typo from allocating tens of gigabytes).
const MAX_SYNTHETIC: usize = 1_000_000;

impl DataConfig {
    /// The parsed `spec`.
    pub fn data_spec(&self) -> Result<DataSpec> {
        DataSpec::parse(&self.spec)
    }

    /// Checks value ranges that do not depend on the data itself; `origin` names the config source
    /// (a file path, `--set`, ...) in the error. Sizes against the actual data are checked by
    /// [`load_splits`](super::load_splits).
    pub fn validate(&self, origin: &str) -> Result<()> {
        let err = |key: &str, msg: String| {
            Err(Error::Config { origin: origin.to_string(), msg: format!("data.{key}: {msg}") })
        };
        if let Err(e) = self.data_spec() {
            let msg = match e {
                Error::Data(m) => m,
                other => other.to_string(),
            };
            return err("spec", msg);
        }
        if self.test_size == 0 {
            return err("test_size", "must be at least 1".into());
        }
        if self.train_size == Some(0) {
            return err("train_size", "must be at least 1 when set (leave it out for no cap)".into());
        }
        for (key, v) in [("synthetic_train", self.synthetic_train), ("synthetic_test", self.synthetic_test)] {
            if v == 0 || v > MAX_SYNTHETIC {
                return err(key, format!("{v} is out of range, expected 1..={MAX_SYNTHETIC}"));
            }
        }
        if self.data_spec().ok() == Some(DataSpec::Synthetic) && self.valid_size >= self.synthetic_train {
            return err(
                "valid_size",
                format!(
                    "{} leaves no train images out of data.synthetic_train = {}",
                    self.valid_size, self.synthetic_train
                ),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_round_trip() {
        let c = DataConfig::default();
        c.validate("test").unwrap();
        let y = serde_yaml::to_string(&c).unwrap();
        let back: DataConfig = serde_yaml::from_str(&y).unwrap();
        assert_eq!(back, c);
        let partial: DataConfig = serde_yaml::from_str("valid_size: 10\n").unwrap();
        assert_eq!(partial.valid_size, 10);
        assert_eq!(partial.spec, "synthetic");
        assert!(serde_yaml::from_str::<DataConfig>("valid_sise: 10\n").is_err());
    }

    #[test]
    fn validate_names_the_key() {
        let c = DataConfig { spec: "foo:bar".into(), ..Default::default() };
        let e = c.validate("run.yaml").unwrap_err().to_string();
        assert!(e.contains("run.yaml") && e.contains("data.spec") && e.contains("foo"), "{e}");
        let c = DataConfig { train_size: Some(0), ..Default::default() };
        assert!(c.validate("x").unwrap_err().to_string().contains("data.train_size"));
        let c = DataConfig { valid_size: 5000, ..Default::default() };
        assert!(c.validate("x").unwrap_err().to_string().contains("data.valid_size"));
        let c = DataConfig { synthetic_test: 0, ..Default::default() };
        assert!(c.validate("x").unwrap_err().to_string().contains("data.synthetic_test"));
    }
}
