//! The command line: one clap derive tree (`main.rs` dispatches its subcommands). Flags that
//! name members of a closed set (search spaces, strategies, proxies) parse into their enums, and
//! `--help` lists the names.
use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use enas_shared::objective::ObjectiveKind;
use enas_shared::strategy_config::StrategyKind;
use enas_shared::{Config, ProxyKind, SpaceKind};
use std::path::PathBuf;

pub use crate::cli_arch::{parse_arc, InspectArgs, TrainArgs};
pub use crate::cli_names::{name, name_or_all, resolve, OneOrAll};

#[derive(Parser)]
#[command(name = "enas", version, about = "Efficient Neural Architecture Search on candle", propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Print the parameter count and multiply-adds of an ENAS micro architecture as JSON.
    Inspect(InspectArgs),
    /// Train one fixed architecture from scratch and report its test accuracy.
    Train(TrainArgs),
    /// Search for a cell with ENAS: shared-weight training alternating with controller updates.
    Search(SearchArgs),
    /// Sample arcs from a finished search's controller and keep the best on the validation split.
    Derive(DeriveArgs),
    /// Write a run's sampled architectures to CSV (optionally the best K, de-duplicated).
    Export(ExportArgs),
    /// Compare search strategies on a tabular benchmark (NAS-Bench-201): trials x budget queries.
    Bench(BenchArgs),
    /// Score NAS-Bench-201 architectures with zero-cost proxies (no training); with --table, rank
    /// correlations with the benchmark.
    Proxy(ProxyArgs),
    /// Time supernet training steps (the peer of ../shared/bench/torch_enas_micro.py).
    BenchStep(BenchStepArgs),
    /// Run the ENAS, NAS-Bench-201 and DARTS supernet steps on --device by the device-generic ops
    /// and compare them with the CPU kernels' (loss, gradients, update, running statistics).
    DeviceCheck(DeviceCheckArgs),
}

#[derive(Args)]
pub struct DeviceCheckArgs {
    #[command(flatten)]
    pub cfg: ConfigArgs,
    /// Largest relative difference allowed (GPU float reductions run in other orders).
    #[arg(long, default_value_t = 1e-3)]
    pub tol: f32,
}

#[derive(Args)]
pub struct SearchArgs {
    #[command(flatten)]
    pub cfg: ConfigArgs,
    /// Dataset: `synthetic`, `cifar10:DIR`, `mnist:DIR` or `optdigits:DIR` (overrides data.spec).
    #[arg(long, value_name = "SPEC")]
    pub data: Option<String>,
    /// Run directory (default: runs/search-<UTC time>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Seed (overrides seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Search space (overrides search.space): enas_micro, nb201 or darts.
    #[arg(long, value_parser = name::<SpaceKind>())]
    pub space: Option<SpaceKind>,
    /// A benchmark table to report the found cells' accuracy from (overrides search.table);
    /// only reports read it, never the search method.
    #[arg(long, value_name = "FILE")]
    pub table: Option<PathBuf>,
    /// Continue the search in DIR from its last checkpoint (its config.yaml is used as is).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["config", "set", "data", "out", "seed", "space", "table"])]
    pub resume: Option<PathBuf>,
}

impl SearchArgs {
    pub fn load_config(&self) -> Result<Config> {
        let mut extra = data_and_seed(self.data.as_deref(), self.seed);
        if let Some(space) = self.space {
            extra.push(format!("search.space={space}"));
        }
        let mut cfg = self.cfg.load(&extra)?;
        if let Some(t) = &self.table {
            cfg.search.table = Some(t.clone());
        }
        Ok(cfg)
    }
}

/// `text` as a YAML string, whatever it holds (`#`, `: `, quotes): a command-line value is a
/// string, never YAML to interpret.
pub fn yaml_str(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The overrides of the common `--data` and `--seed` flags.
fn data_and_seed(data: Option<&str>, seed: Option<u64>) -> Vec<String> {
    let mut extra = Vec::new();
    if let Some(d) = data {
        extra.push(format!("data.spec={}", yaml_str(d)));
    }
    if let Some(s) = seed {
        extra.push(format!("seed={s}"));
    }
    extra
}

#[derive(Args)]
pub struct DeriveArgs {
    /// The search's run directory.
    #[arg(long, value_name = "DIR")]
    pub run: PathBuf,
    /// Arcs to sample and score (default: search.derive_samples, 100).
    #[arg(long)]
    pub samples: Option<usize>,
    /// Score uniformly random arcs instead of the controller's, under the same shared weights
    /// (the baseline a trained controller must beat); writes random.csv, leaves best_arch.txt.
    #[arg(long)]
    pub random: bool,
    /// Score arcs from the controller as the search started it (its seeded initial weights),
    /// under the trained shared weights: separates what the controller learned from its prior;
    /// writes initial.csv, leaves best_arch.txt.
    #[arg(long, conflicts_with = "random")]
    pub initial: bool,
    /// Rank quality of the supernet: score N fixed random cells (the same N for every run) on
    /// the validation split with the shared weights and print the Kendall tau and Spearman rho
    /// of those accuracies with the table's (search.table, bench.final_column); writes
    /// rank_check.csv and rank_check.json, leaves best_arch.txt.
    #[arg(long, value_name = "N", conflicts_with_all = ["random", "initial", "samples"])]
    pub rank_check: Option<usize>,
}

#[derive(Args)]
pub struct ExportArgs {
    /// The search's run directory.
    #[arg(long, value_name = "DIR")]
    pub run: PathBuf,
    /// The CSV file to write.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Only the K best rows by validation accuracy.
    #[arg(long, value_name = "K")]
    pub top: Option<usize>,
    /// One row per distinct arc (its best-scoring one).
    #[arg(long)]
    pub unique: bool,
}

#[derive(Args)]
pub struct BenchArgs {
    /// The benchmark's CSV table (e.g. ../shared/data/nb201/cifar10.csv).
    #[arg(long, value_name = "FILE", required_unless_present = "resume")]
    pub table: Option<PathBuf>,
    /// The search space of the table's architecture column.
    #[arg(long, default_value = "nb201", value_parser = name::<SpaceKind>())]
    pub space: SpaceKind,
    /// A strategy, several comma-separated, or `all` (those the space supports).
    #[arg(
        long,
        value_name = "NAME[,NAME...]",
        default_value = "all",
        value_delimiter = ',',
        value_parser = name_or_all::<StrategyKind>()
    )]
    pub strategy: Vec<OneOrAll<StrategyKind>>,
    /// Queries per trial.
    #[arg(long, default_value_t = 100)]
    pub budget: usize,
    /// Independent trials per strategy, each with its own seed.
    #[arg(long, default_value_t = 10)]
    pub trials: usize,
    /// Seed of the trials (overrides seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// The column a strategy is told as reward (overrides bench.reward_column).
    #[arg(long, value_name = "NAME")]
    pub reward_column: Option<String>,
    /// The column reported for the best-rewarded architecture (overrides bench.final_column).
    #[arg(long, value_name = "NAME")]
    pub final_column: Option<String>,
    /// Output directory for trajectories.csv, summary.json and plot.svg (default: runs/bench-<UTC time>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Images of the data proxies of the proxy-guided strategies (overrides data.spec).
    #[arg(long, value_name = "SPEC")]
    pub data: Option<String>,
    /// Keep the proxy scores computed here in FILE and reuse those already in it (same seed and
    /// proxy settings only); each reused score still counts the seconds it first cost.
    #[arg(long, value_name = "FILE")]
    pub proxy_cache: Option<PathBuf>,
    /// What the strategies optimise (overrides objective.kind): `reward`; `constraint` (the reward
    /// where the cost is at most objective.limit); `soft` (MnasNet's reward against
    /// objective.target); `pareto` (the front of reward and cost, reported as regret under cost
    /// budgets and hypervolume). All but `reward` need a cost table.
    #[arg(long, value_parser = name::<ObjectiveKind>())]
    pub objective: Option<ObjectiveKind>,
    /// A CSV table of a cost per architecture, joined on bench.arch_column (e.g.
    /// ../shared/data/nb201/latency_pixel3.csv; overrides objective.cost_table).
    #[arg(long, value_name = "FILE")]
    pub cost_table: Option<PathBuf>,
    /// The cost table's column to minimise (e.g. latency_pixel3_ms; overrides objective.cost_column).
    #[arg(long, value_name = "NAME")]
    pub cost_column: Option<String>,
    #[command(flatten)]
    pub cfg: ConfigArgs,
    /// Continue the bench run in DIR: the trials it completed are kept, the others run (its
    /// config.yaml and bench.json are used as they are).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["table", "space", "strategy", "budget", "trials", "seed",
        "reward_column", "final_column", "out", "data", "proxy_cache", "objective", "cost_table", "cost_column",
        "config", "set"])]
    pub resume: Option<PathBuf>,
}

impl BenchArgs {
    pub fn load_config(&self) -> Result<Config> {
        let mut extra = data_and_seed(self.data.as_deref(), self.seed);
        if let Some(c) = &self.reward_column {
            extra.push(format!("bench.reward_column={}", yaml_str(c)));
        }
        if let Some(c) = &self.final_column {
            extra.push(format!("bench.final_column={}", yaml_str(c)));
        }
        if let Some(k) = self.objective {
            extra.push(format!("objective.kind={k}"));
        }
        if let Some(t) = &self.cost_table {
            extra.push(format!("objective.cost_table={}", yaml_str(&t.display().to_string())));
        }
        if let Some(c) = &self.cost_column {
            extra.push(format!("objective.cost_column={}", yaml_str(c)));
        }
        self.cfg.load(&extra)
    }
}

#[derive(Args)]
pub struct BenchStepArgs {
    /// Fixed ENAS arc; default: a new random arc every step, as ENAS training does.
    #[arg(long, allow_hyphen_values = true)]
    pub arc: Option<String>,
    /// The supernet: enas_micro (an ENAS training step) or darts (a first-order DARTS search
    /// iteration, the peer of torch_darts_search.py).
    #[arg(long, default_value = "enas_micro", value_parser = clap::builder::TypedValueParser::map(
        clap::builder::PossibleValuesParser::new(["enas_micro", "darts"]),
        |s| s.parse::<SpaceKind>().expect("a listed space"),
    ))]
    pub space: SpaceKind,
    #[command(flatten)]
    pub cfg: ConfigArgs,
    /// Timed steps.
    #[arg(long, default_value_t = 20)]
    pub steps: usize,
    /// Untimed steps first.
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    /// Images per step.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Image height and width.
    #[arg(long, default_value_t = 32)]
    pub image: usize,
    /// Image channels.
    #[arg(long, default_value_t = 3)]
    pub in_channels: usize,
    /// Number of classes.
    #[arg(long, default_value_t = 10)]
    pub classes: usize,
    /// Train on a deterministic batch (`x[i] = sin(0.37 i + 0.1)`, label `n % classes`) and print
    /// every step's loss (`losses`), to compare loss curves with another implementation.
    #[arg(long)]
    pub curve: bool,
}

#[derive(Args)]
pub struct ProxyArgs {
    /// Search space; zero-cost proxies exist for `nb201` only.
    #[arg(long, default_value = "nb201", value_parser = name::<SpaceKind>())]
    pub space: SpaceKind,
    /// Proxies, comma-separated, or `all`.
    #[arg(
        long,
        value_name = "NAME[,NAME...]",
        required = true,
        value_delimiter = ',',
        value_parser = name_or_all::<ProxyKind>()
    )]
    pub proxy: Vec<OneOrAll<ProxyKind>>,
    /// Score N distinct architectures drawn uniformly with the seed.
    #[arg(long, value_name = "N", conflicts_with = "archs", required_unless_present = "archs")]
    pub sample: Option<usize>,
    /// Score the architectures of FILE, one NB201 string per line.
    #[arg(long, value_name = "FILE")]
    pub archs: Option<std::path::PathBuf>,
    /// Seed of the sample, of the networks' initialisation and of the minibatch (overrides seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Images of the data proxies: `cifar10:DIR`, ... (overrides data.spec).
    #[arg(long, value_name = "SPEC")]
    pub data: Option<String>,
    /// A benchmark table (NAS-Bench-201 CSV): print each proxy's Spearman and Kendall rank
    /// correlation with its final column (bench.final_column).
    #[arg(long, value_name = "FILE")]
    pub table: Option<PathBuf>,
    /// Write the CSV here (atomically); default: standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub cfg: ConfigArgs,
}

impl ProxyArgs {
    pub fn load_config(&self) -> Result<Config> {
        self.cfg.load(&data_and_seed(self.data.as_deref(), self.seed))
    }
}

/// Options shared by every command that reads a config.
#[derive(Args, Clone, Debug)]
pub struct ConfigArgs {
    /// YAML config file (see configs/); defaults apply to every key it leaves out.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Override one config key, e.g. `--set child.layers=6`; repeatable; applied after --config.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Where networks run (overrides device): cpu, cuda, cuda:N, or auto (a GPU if this build and
    /// machine have one, else the CPU).
    #[arg(long, value_name = "DEVICE", value_parser = |s: &str| s.parse::<enas_shared::DeviceKind>().map_err(|e| e.to_string()))]
    pub device: Option<enas_shared::DeviceKind>,
}

impl ConfigArgs {
    /// Loads the config with the overrides, plus extra ones from dedicated flags.
    pub fn load(&self, extra: &[String]) -> Result<Config> {
        let mut sets = self.set.clone();
        sets.extend_from_slice(extra);
        if let Some(d) = self.device {
            sets.push(format!("device={d}"));
        }
        Ok(Config::load(self.config.as_deref(), &sets)?)
    }
}
