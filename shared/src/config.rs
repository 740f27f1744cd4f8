//! `Config`: the one serde tree every run reads from YAML. Every field has a default and a doc
//! comment; `configs/default.yaml` is `Config::default()` written out (a test keeps them equal).
//! Unknown keys are errors, `--set section.key=value` overrides from the command line, and
//! `validate` checks ranges with messages that name the file and the key.
use crate::data::DataConfig;
use crate::error::{clip, clip_message};
pub use crate::search_config::ControllerConfig;
use crate::space::SpaceKind;
pub use crate::strategy_config::{BenchConfig, StrategyConfig, StrategyKind};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_yaml::Value;

pub use crate::config_override::apply_override;
use crate::config_override::merge;
pub use crate::sgd_config::SgdConfig;
use std::path::Path;

pub use crate::device::DeviceKind;

/// The whole configuration of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Seed of every random choice of the run: weight initialisation, batch order, augmentation.
    pub seed: u64,
    /// Device to run on: `cpu` (default), `cuda` / `cuda:N` (a build with the `cuda` feature), or
    /// `auto` (a GPU when the build and the machine have one, else the CPU).
    pub device: DeviceKind,
    /// Worker threads for tensor kernels; 0 uses every core. `RAYON_NUM_THREADS` wins when set.
    pub threads: usize,
    /// The dataset and its splits.
    pub data: DataConfig,
    /// The shape of the child network during search (the weight-sharing supernet).
    pub child: ChildConfig,
    /// Training a fixed architecture from scratch (`enas train`).
    pub train: TrainConfig,
    /// The ENAS search loop: shared-weight training and controller updates (`enas search`).
    pub search: SearchConfig,
    /// The LSTM controller and its REINFORCE training.
    pub controller: ControllerConfig,
    /// DARTS's architect (`search.strategy: darts`).
    pub darts: crate::darts_config::DartsConfig,
    /// The other search strategies: evolution, local search, repeats.
    pub strategy: StrategyConfig,
    /// `enas bench` on a tabular benchmark: columns, and REINFORCE's controller there.
    pub bench: BenchConfig,
    /// What is optimised: the reward, or the reward against a cost (constraint, soft, Pareto).
    pub objective: crate::objective::ObjectiveConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            seed: 0,
            device: DeviceKind::Cpu,
            threads: 0,
            data: DataConfig::default(),
            child: ChildConfig::default(),
            train: TrainConfig::default(),
            search: SearchConfig::default(),
            controller: ControllerConfig::default(),
            darts: Default::default(),
            strategy: StrategyConfig::default(),
            bench: BenchConfig::default(),
            objective: Default::default(),
        }
    }
}

/// The child network's shape in search. ENAS searched with 6 layers, 20 channels and 5 nodes
/// (`configs/cifar10-search.yaml` style); the defaults are smaller so that `enas search` with no
/// arguments finishes in minutes on a 2-core CPU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChildConfig {
    /// Normal layers; two reduction cells are added at `layers/3` and `2*(layers/3)+1`
    /// (ENAS: 6).
    pub layers: usize,
    /// Channels of the first cells (doubled at each reduction); the stem has 3x this (ENAS: 20).
    pub channels: usize,
    /// Nodes per cell (B in the ENAS paper).
    pub nodes: usize,
    /// Keep probability of the dropout on the pooled features before the classifier, in the
    /// shared-weight training step and the reward pass (ENAS `--child_keep_prob`: 0.9); in
    /// (0, 1], 1 disables it.
    pub keep_prob: f64,
    /// Weight of the auxiliary head's loss (ENAS `--child_use_aux_heads`: loss + 0.4 x aux loss);
    /// >= 0, and 0 builds no head.
    pub aux_weight: f64,
    /// NAS-Bench-201 supernet: cells per stage (the benchmark: 5).
    pub cells: usize,
}

impl Default for ChildConfig {
    fn default() -> Self {
        ChildConfig { layers: 2, channels: 8, nodes: 5, keep_prob: 1.0, aux_weight: 0.0, cells: 1 }
    }
}

impl ChildConfig {
    /// Range checks of the keys without a check in `Config::validate`'s shared loops; messages
    /// name the key (`child.keep_prob`) and the value.
    pub fn validate(&self, origin: &str) -> Result<()> {
        let bad = |key: &str, msg: String| {
            Err(Error::Config { origin: origin.to_string(), msg: format!("child.{key}: {msg}") })
        };
        if !(self.keep_prob > 0.0 && self.keep_prob <= 1.0) {
            return bad("keep_prob", format!("must be in (0, 1] (1 disables dropout), got {}", self.keep_prob));
        }
        if !(self.aux_weight >= 0.0 && self.aux_weight.is_finite()) {
            return bad(
                "aux_weight",
                format!("must be a finite number >= 0 (0: no aux head), got {}", self.aux_weight),
            );
        }
        if self.cells == 0 {
            return bad("cells", "must be at least 1, got 0".into());
        }
        Ok(())
    }
}

/// Training a fixed architecture from scratch. ENAS trains its final CIFAR network with 15 layers
/// and 36 channels for 630 epochs; the defaults here fit a 2-core CPU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Passes over the train split.
    pub epochs: usize,
    /// Images per training step.
    pub batch_size: usize,
    /// Images per step when evaluating (no gradient, so larger fits).
    pub eval_batch_size: usize,
    /// Normal layers of the fixed network (ENAS final CIFAR network: 15).
    pub layers: usize,
    /// Channels of the fixed network's first cells (ENAS final CIFAR network: 36).
    pub channels: usize,
    /// The weight optimiser and its learning-rate schedule.
    pub sgd: SgdConfig,
    /// Weight of the auxiliary head's loss (0: no head). ENAS and DARTS: 0.4.
    pub aux_weight: f64,
    /// DARTS's drop-path: each op other than the identity dropped per image with this
    /// probability times the fraction of epochs done (DARTS: 0.2). DARTS space only.
    pub drop_path_prob: f64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 10,
            batch_size: 64,
            eval_batch_size: 256,
            layers: 6,
            channels: 20,
            sgd: SgdConfig::default(),
            aux_weight: 0.0,
            drop_path_prob: 0.0,
        }
    }
}

/// The ENAS search loop. Each epoch trains the shared weights for one pass over the train split
/// (a fresh arc from the controller for every minibatch), then takes `controller.train_steps`
/// controller steps, each scoring `controller.num_aggregate` sampled arcs on one validation
/// minibatch each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SearchConfig {
    /// The space searched: `enas_micro` (ENAS's cells, `child.layers/channels/nodes`) or `nb201`
    /// (NAS-Bench-201's cell in the benchmark's network, `child.channels/cells`).
    pub space: SpaceKind,
    /// The strategy that proposes arcs: `reinforce` (ENAS's controller), or `random`,
    /// `evolution`, `local` and the proxy-guided ones (then the shared weights train on uniformly
    /// random arcs, as in single-path one-shot NAS, and the strategy's queries replace the
    /// controller's samples), or `darts` (NB201 only: architecture weights trained by gradient
    /// through the mixed supernet, `darts:`).
    pub strategy: StrategyKind,
    /// Search epochs (ENAS: 150 on CIFAR-10).
    pub epochs: usize,
    /// Images per shared-weight training step (ENAS: 160 in micro search).
    pub batch_size: usize,
    /// Validation images per reward: each sampled arc is scored on one minibatch of this size.
    pub reward_batch_size: usize,
    /// Cap on shared-weight steps per epoch; null is one full pass over the train split.
    pub child_steps: Option<usize>,
    /// Arcs `enas derive` samples from the trained controller and scores on the whole
    /// validation split (ENAS samples and scores candidates the same way at the end of search).
    pub derive_samples: usize,
    /// Images per step when scoring on the whole validation split (no gradient).
    pub eval_batch_size: usize,
    /// Epochs at the start in which the shared weights train on uniformly random paths and the
    /// method takes no architecture steps (a remedy for early collapse: the method first learns
    /// from a supernet in which every op has trained). 0: none.
    pub warmup_epochs: usize,
    /// A benchmark table (NAS-Bench-201's CSV) to report the accuracy of the cells a search
    /// returns, from `bench.final_column`: read only for reports, never shown to the method.
    pub table: Option<std::path::PathBuf>,
    /// The shared weights' optimiser and learning-rate schedule (ENAS micro search: 0.05 to
    /// 0.0005, cycles of 10 then 20 epochs, weight decay 1e-4, clipping 5).
    pub sgd: SgdConfig,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig {
            space: SpaceKind::EnasMicro,
            strategy: StrategyKind::Reinforce,
            epochs: 3,
            batch_size: 64,
            reward_batch_size: 64,
            child_steps: None,
            derive_samples: 100,
            eval_batch_size: 256,
            warmup_epochs: 0,
            table: None,
            sgd: SgdConfig::default(),
        }
    }
}

impl Config {
    /// Reads a YAML file, applies `--set` overrides and validates. `origin` in errors is the path.
    pub fn load(path: Option<&Path>, overrides: &[String]) -> Result<Config> {
        let (origin, mut value) = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| Error::io("reading config", p, e))?;
                let origin = p.display().to_string();
                let cfg_err = |e: serde_yaml::Error| Error::Config {
                    origin: origin.clone(),
                    msg: clip_message(&e.to_string()).into(),
                };
                // Parse the file on its own first, so errors carry its line numbers and key paths.
                let value: Value = serde_yaml::from_str(&text).map_err(cfg_err)?;
                if value.is_null() {
                    (origin, Value::Mapping(Default::default()))
                } else {
                    serde_yaml::from_str::<Config>(&text).map_err(cfg_err)?;
                    (origin, value)
                }
            }
            None => ("(defaults)".to_string(), Value::Mapping(Default::default())),
        };
        for o in overrides {
            apply_override(&mut value, o)?;
            serde_yaml::from_value::<Config>(value.clone()).map_err(|e| Error::Config {
                origin: format!("--set {}", clip(o)),
                msg: clip_message(&e.to_string()).into(),
            })?;
        }
        // Keys the file leaves out take the defaults of the section they sit in (so a partial
        // `bench.controller` keeps the bench's defaults, not the top-level controller's).
        let mut merged = serde_yaml::to_value(Config::default()).expect("defaults serialise");
        merge(&mut merged, value);
        let cfg: Config = serde_yaml::from_value(merged)
            .map_err(|e| Error::Config { origin: origin.clone(), msg: clip_message(&e.to_string()).into() })?;
        let sets: Vec<_> = overrides.iter().map(|o| clip(o)).collect();
        let origin =
            if overrides.is_empty() { origin } else { format!("{origin} with --set {}", sets.join(" --set ")) };
        cfg.validate(&origin)?;
        Ok(cfg)
    }

    /// The resolved config as YAML, as written into run directories.
    pub fn to_yaml(&self) -> String {
        serde_yaml::to_string(self).expect("a Config always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_set_nested_keys_and_reject_unknown_ones() {
        let cfg =
            Config::load(None, &["child.layers=3".into(), "train.sgd.lr_max=0.1".into(), "seed=7".into()]).unwrap();
        assert_eq!((cfg.child.layers, cfg.train.sgd.lr_max, cfg.seed), (3, 0.1, 7));
        let err = Config::load(None, &["child.layer=3".into()]).unwrap_err().to_string();
        assert!(err.contains("child.layer") && err.contains("layers"), "{err}");
        let err = Config::load(None, &["child.layers=three".into()]).unwrap_err().to_string();
        assert!(err.contains("--set child.layers=three"), "{err}");
        let err = Config::load(None, &["child".into()]).unwrap_err().to_string();
        assert!(err.contains("section.key=value"), "{err}");
        // A key under a value names the value (it listed an empty set of "known keys there").
        let err = Config::load(None, &["train.layers.x=3".into()]).unwrap_err().to_string();
        assert!(err.contains("`train.layers` is a value, not a section: it has no key `x`"), "{err}");
    }

    #[test]
    fn validation_names_the_key() {
        let err = Config::load(None, &["train.sgd.momentum=1.5".into()]).unwrap_err().to_string();
        assert!(err.contains("train.sgd.momentum") && err.contains("1.5"), "{err}");
        let err = Config::load(None, &["child.nodes=0".into()]).unwrap_err().to_string();
        assert!(err.contains("child.nodes"), "{err}");
        let err = Config::load(None, &["train.epochs=0".into()]).unwrap_err().to_string();
        assert!(err.contains("train.epochs: must be at least 1"), "{err}");
        let err = Config::load(None, &["search.epochs=2".into(), "search.warmup_epochs=2".into()]).unwrap_err();
        assert!(err.to_string().contains("search.warmup_epochs: 2 warm-up epochs in a search of 2"), "{err}");
        Config::load(None, &["search.epochs=2".into(), "search.warmup_epochs=1".into()]).unwrap();
        let darts = ["search.strategy=darts".into(), "search.epochs=3".into(), "darts.arch_warmup_epochs=3".into()];
        let err = Config::load(None, &darts).unwrap_err().to_string();
        assert!(err.contains("darts.arch_warmup_epochs: 3 warm-up epochs in a search of 3"), "{err}");
        let err = Config::load(None, &["strategy.sweep.levels=2000".into()]).unwrap_err().to_string();
        assert!(err.contains("strategy.sweep.levels") && err.contains("strategy.proxy.pool (1000)"), "{err}");
        let err = Config::load(None, &["strategy.sweep.gate=1.5".into()]).unwrap_err().to_string();
        assert!(err.contains("strategy.sweep.gate") && err.contains("[0, 1)"), "{err}");
        let gate = [
            "search.strategy=proxy-sweep".into(),
            "search.space=nb201".into(),
            "objective.kind=pareto".into(),
            "objective.cost_table=c.csv".into(),
            "objective.cost_column=ms".into(),
            "strategy.sweep.gate=0.9".into(),
        ];
        let err = Config::load(None, &gate).unwrap_err().to_string();
        assert!(err.contains("strategy.sweep.gate") && err.contains("enas bench"), "{err}");
    }
}
