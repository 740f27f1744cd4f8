//! The flags of the commands that take one architecture (`enas inspect`, `enas train`), and
//! reading and parsing its text.
use crate::cli::ConfigArgs;
use anyhow::{Context, Result};
use clap::Args;
use enas_shared::{Config, EnasMicro};
use std::path::PathBuf;

#[derive(Args)]
pub struct InspectArgs {
    /// Architecture text of `search.space`: ENAS arc (4 integers per node: x_input x_op y_input
    /// y_op, normal cell then reduction cell) or a DARTS genotype.
    #[arg(long, allow_hyphen_values = true, conflicts_with = "arc_file", required_unless_present = "arc_file")]
    pub arc: Option<String>,
    /// File holding the architecture text (e.g. a run's best_arch.txt).
    #[arg(long, value_name = "FILE")]
    pub arc_file: Option<PathBuf>,
    #[command(flatten)]
    pub cfg: ConfigArgs,
    /// Image channels (3 for CIFAR-10, 1 for MNIST).
    #[arg(long, default_value_t = 3)]
    pub in_channels: usize,
    /// Number of classes.
    #[arg(long, default_value_t = 10)]
    pub classes: usize,
    /// Image height and width, for the multiply-add count.
    #[arg(long, default_value_t = 32)]
    pub image: usize,
}

#[derive(Args)]
pub struct TrainArgs {
    /// ENAS arc text to train (4 integers per node, normal cell then reduction cell).
    // A value such as "-1 2 ..." is the arc (which the arc parser then refuses), not a flag.
    #[arg(
        long,
        allow_hyphen_values = true,
        conflicts_with = "arc_file",
        required_unless_present_any = ["arc_file", "resume"]
    )]
    pub arc: Option<String>,
    /// File holding the arc text (e.g. a run's best_arch.txt).
    #[arg(long, value_name = "FILE")]
    pub arc_file: Option<PathBuf>,
    #[command(flatten)]
    pub cfg: ConfigArgs,
    /// Dataset: `synthetic`, `cifar10:DIR`, `mnist:DIR` or `optdigits:DIR` (overrides data.spec).
    #[arg(long, value_name = "SPEC")]
    pub data: Option<String>,
    /// Epochs (overrides train.epochs).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Output directory for metrics.csv, summary.json and model.safetensors.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Seed (overrides seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Continue the training run in DIR from its last checkpoint (its config.yaml and arc.txt
    /// are used as they are).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["arc", "arc_file", "config", "set", "data", "epochs", "out", "seed"])]
    pub resume: Option<PathBuf>,
}

impl TrainArgs {
    pub fn arc_text(&self) -> Result<String> {
        arc_text(&self.arc, &self.arc_file)
    }
}

impl InspectArgs {
    pub fn arc_text(&self) -> Result<String> {
        arc_text(&self.arc, &self.arc_file)
    }
}

/// The architecture text of `--arc`, else of the file `--arc-file`.
fn arc_text(arc: &Option<String>, file: &Option<PathBuf>) -> Result<String> {
    match (arc, file) {
        (Some(a), _) => Ok(a.clone()),
        (None, Some(f)) => std::fs::read_to_string(f).with_context(|| format!("reading the arc file {}", f.display())),
        (None, None) => anyhow::bail!("give the architecture with --arc or --arc-file"),
    }
}

/// Parses an arc for the config's node count, naming where the text came from on error.
pub fn parse_arc(cfg: &Config, text: &str, origin: &str) -> Result<enas_shared::Arch> {
    EnasMicro::new(cfg.child.nodes)
        .parse(text.trim())
        .with_context(|| format!("{origin} (child.nodes = {})", cfg.child.nodes))
}
