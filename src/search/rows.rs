//! The rows of a search's result tables: `architectures.csv` (one row per scored arc) and
//! `epochs.csv` (one row per epoch). Columns are fixed here, once. A value that does not apply
//! (the log-probability, entropy and baseline of a strategy other than REINFORCE) is NaN in
//! memory and an empty field in the file.
use anyhow::{Context, Result};

/// One arc the controller sampled and scored.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchRow {
    pub epoch: usize,
    pub step: usize,
    pub sample: usize,
    pub arc: String,
    pub normal: String,
    pub reduce: String,
    pub reward: f64,
    pub valid_acc: f64,
    pub log_prob: f64,
    pub entropy: f64,
    pub baseline: f64,
    pub active_params: usize,
}

pub const ARCH_HEADER: [&str; 12] = [
    "epoch",
    "step",
    "sample",
    "arc",
    "normal",
    "reduce",
    "reward",
    "valid_acc",
    "log_prob",
    "entropy",
    "baseline",
    "active_params",
];

/// Six decimals, or an empty field for NaN.
fn num6(x: f64) -> String {
    if x.is_nan() {
        String::new()
    } else {
        format!("{x:.6}")
    }
}

/// Parses a number written by `num6`.
fn parse_num(text: &str) -> Option<f64> {
    if text.is_empty() {
        Some(f64::NAN)
    } else {
        text.parse().ok()
    }
}

impl ArchRow {
    pub fn fields(&self) -> Vec<String> {
        vec![
            self.epoch.to_string(),
            self.step.to_string(),
            self.sample.to_string(),
            self.arc.clone(),
            self.normal.clone(),
            self.reduce.clone(),
            num6(self.reward),
            num6(self.valid_acc),
            num6(self.log_prob),
            num6(self.entropy),
            num6(self.baseline),
            self.active_params.to_string(),
        ]
    }

    /// Parses a row written by `fields`; `line` is its line number for errors.
    pub fn parse(f: &[String], line: usize) -> Result<ArchRow> {
        anyhow::ensure!(
            f.len() == ARCH_HEADER.len(),
            "line {line}: {} fields, expected {}",
            f.len(),
            ARCH_HEADER.len()
        );
        let num = |i: usize| -> Result<f64> {
            parse_num(&f[i]).with_context(|| format!("line {line}: {} `{}` is not a number", ARCH_HEADER[i], f[i]))
        };
        let int = |i: usize| -> Result<usize> {
            f[i].parse().with_context(|| format!("line {line}: {} `{}` is not an integer", ARCH_HEADER[i], f[i]))
        };
        Ok(ArchRow {
            epoch: int(0)?,
            step: int(1)?,
            sample: int(2)?,
            arc: f[3].clone(),
            normal: f[4].clone(),
            reduce: f[5].clone(),
            reward: num(6)?,
            valid_acc: num(7)?,
            log_prob: num(8)?,
            entropy: num(9)?,
            baseline: num(10)?,
            active_params: int(11)?,
        })
    }
}

/// One search epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochRow {
    pub epoch: usize,
    pub lr: f64,
    pub child_loss: f64,
    pub child_acc: f64,
    pub mean_reward: f64,
    pub mean_valid_acc: f64,
    pub mean_entropy: f64,
    pub baseline: f64,
    pub seconds: f64,
}

pub const EPOCH_HEADER: [&str; 9] =
    ["epoch", "lr", "child_loss", "child_acc", "mean_reward", "mean_valid_acc", "mean_entropy", "baseline", "seconds"];

impl EpochRow {
    pub fn fields(&self) -> Vec<String> {
        vec![
            self.epoch.to_string(),
            num6(self.lr),
            num6(self.child_loss),
            num6(self.child_acc),
            num6(self.mean_reward),
            num6(self.mean_valid_acc),
            num6(self.mean_entropy),
            num6(self.baseline),
            format!("{:.3}", self.seconds),
        ]
    }

    pub fn parse(f: &[String], line: usize) -> Result<EpochRow> {
        anyhow::ensure!(
            f.len() == EPOCH_HEADER.len(),
            "line {line}: {} fields, expected {}",
            f.len(),
            EPOCH_HEADER.len()
        );
        let num = |i: usize| -> Result<f64> {
            parse_num(&f[i]).with_context(|| format!("line {line}: {} `{}` is not a number", EPOCH_HEADER[i], f[i]))
        };
        Ok(EpochRow {
            epoch: f[0].parse().with_context(|| format!("line {line}: epoch `{}` is not an integer", f[0]))?,
            lr: num(1)?,
            child_loss: num(2)?,
            child_acc: num(3)?,
            mean_reward: num(4)?,
            mean_valid_acc: num(5)?,
            mean_entropy: num(6)?,
            baseline: num(7)?,
            seconds: num(8)?,
        })
    }

    pub fn describe(&self) -> String {
        if self.baseline.is_nan() {
            return format!(
                "epoch {}: lr {:.4}, child loss {:.3} acc {:.3}, strategy valid acc {:.3}, {:.1} s",
                self.epoch, self.lr, self.child_loss, self.child_acc, self.mean_valid_acc, self.seconds
            );
        }
        format!(
            "epoch {}: lr {:.4}, child loss {:.3} acc {:.3}, controller reward {:.3} (valid acc {:.3}, entropy {:.2}, baseline {:.3}), {:.1} s",
            self.epoch, self.lr, self.child_loss, self.child_acc, self.mean_reward, self.mean_valid_acc, self.mean_entropy, self.baseline, self.seconds
        )
    }
}
