//! `Config::validate`: the range and consistency checks of a loaded config, each error naming
//! the key and what was expected.
use crate::config::Config;
use crate::space::SpaceKind;
use crate::{Error, Result};

impl Config {
    /// Range checks; the message names the key and what was expected.
    pub fn validate(&self, origin: &str) -> Result<()> {
        let bad =
            |key: &str, msg: String| Err(Error::Config { origin: origin.to_string(), msg: format!("{key}: {msg}") });
        // child.channels and train.channels: at least 2, below.
        for (key, v) in [
            ("child.layers", self.child.layers),
            ("child.nodes", self.child.nodes),
            ("train.layers", self.train.layers),
            ("train.batch_size", self.train.batch_size),
            ("train.eval_batch_size", self.train.eval_batch_size),
        ] {
            if v == 0 {
                return bad(key, "must be at least 1, got 0".into());
            }
        }
        for (key, c) in [("child.channels", self.child.channels), ("train.channels", self.train.channels)] {
            if c < 2 {
                return bad(
                    key,
                    format!("must be at least 2 (a factorized reduction splits channels in two), got {c}"),
                );
            }
        }
        self.child.validate(origin)?;
        self.train.sgd.validate(origin, "train.sgd")?;
        if !(self.train.aux_weight >= 0.0 && self.train.aux_weight.is_finite()) {
            return bad(
                "train.aux_weight",
                format!("must be a finite number at least 0, got {}", self.train.aux_weight),
            );
        }
        if !(0.0..1.0).contains(&self.train.drop_path_prob) {
            return bad("train.drop_path_prob", format!("must be in [0, 1), got {}", self.train.drop_path_prob));
        }
        self.search.sgd.validate(origin, "search.sgd")?;
        for (key, v) in [
            ("search.epochs", self.search.epochs),
            ("train.epochs", self.train.epochs),
            ("search.batch_size", self.search.batch_size),
            ("search.reward_batch_size", self.search.reward_batch_size),
            ("search.derive_samples", self.search.derive_samples),
            ("search.eval_batch_size", self.search.eval_batch_size),
            ("search.child_steps", self.search.child_steps.unwrap_or(1)),
        ] {
            if v == 0 {
                return bad(key, "must be at least 1, got 0".into());
            }
        }
        if self.search.strategy.needs_cost() && !self.objective.kind.needs_cost() {
            let msg = format!(
                "`{}` needs a cost per query: set objective.kind (constraint, soft or pareto) and objective.cost",
                self.search.strategy
            );
            return bad("search.strategy", msg);
        }
        if self.search.strategy == crate::strategy_config::StrategyKind::ProxySweep
            && self.strategy.sweep.gate.is_some()
        {
            let msg = "proxy-sweep's gate scores neighbours by synflow on the fly, which enas bench does; in enas \
                       search leave it null";
            return bad("strategy.sweep.gate", msg.into());
        }
        if self.search.strategy == crate::strategy_config::StrategyKind::Darts && self.objective.kind.needs_cost() {
            let msg = format!(
                "`{}`: DARTS descends the validation loss and reads no cost; use a strategy that queries \
                 architectures (random, evolution, reinforce, pareto-evolution, ...) or objective.kind reward",
                self.objective.kind
            );
            return bad("objective.kind", msg);
        }
        let darts = self.search.strategy == crate::strategy_config::StrategyKind::Darts;
        for (key, warmup, applies) in [
            ("search.warmup_epochs", self.search.warmup_epochs, true),
            ("darts.arch_warmup_epochs", self.darts.arch_warmup_epochs, darts),
        ] {
            if applies && warmup > 0 && warmup >= self.search.epochs {
                let msg = format!(
                    "{warmup} warm-up epochs in a search of {} (search.epochs) leave no epoch with an \
                     architecture step; it must be below search.epochs",
                    self.search.epochs
                );
                return bad(key, msg);
            }
        }
        self.controller.validate(origin)?;
        self.darts.validate(origin)?;
        if let Some(&last) = self.darts.prune_at.last() {
            if last >= self.search.epochs {
                let msg = format!(
                    "{:?}: epoch {last} is not within the search's {} epochs (search.epochs; epochs count from 0)",
                    self.darts.prune_at, self.search.epochs
                );
                return bad("darts.prune_at", msg);
            }
        }
        self.strategy.validate(origin)?;
        self.objective.validate(origin)?;
        for p in self.search.strategy.proxies(&self.strategy.proxy) {
            if self.search.space == SpaceKind::Nb201 {
                break;
            }
            if !p.structural() {
                let msg = format!(
                    "`{}` with proxy `{p}`: on the {} space `enas search` scores arcs by params or flops \
                     only (set strategy.proxy.score or strategy.proxy.vote); synflow and the data proxies \
                     are implemented for the NAS-Bench-201 network (`enas bench`, `enas proxy`)",
                    self.search.strategy,
                    self.search.space.name()
                );
                return bad("search.strategy", msg);
            }
        }
        self.bench.controller.validate_section(origin, "bench.controller")?;
        for (key, v) in [
            ("bench.arch_column", &self.bench.arch_column),
            ("bench.reward_column", &self.bench.reward_column),
            ("bench.final_column", &self.bench.final_column),
        ] {
            if v.trim().is_empty() {
                return bad(key, "must name a column, got an empty string".into());
            }
        }
        self.data.validate(origin)?;
        Ok(())
    }
}
