//! Building a search: data, the supernet for the configured space, its weight optimiser, and the
//! method for the configured strategy. The one place that maps config choices to implementations.
use super::darts_space::DartsSearch;
use super::method::{Method, Sampled};
use super::nb201::Nb201Search;
use super::supernet::{MicroSupernet, Supernet};
use super::{warm, Search};
use crate::run::RunDir;
use crate::runtime::{self, stream_seed};
use anyhow::Result;
use enas_child::{
    DartsShape, DartsSupernet, InitRoot, MicroNet, MicroShape, Nb201Shape, Nb201Supernet, SgdNesterov, Weights,
};
use enas_controller::strategy;
use enas_shared::data::{load_splits, Dataset};
use enas_shared::strategy_config::StrategyKind;
use enas_shared::{Config, EnasMicro, Nb201, Space, SpaceKind};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

/// The stream of a method's initial state: REINFORCE's controller weights, a proxy-guided
/// strategy's warm-start pool (the supernet's weights use `seed` itself).
const METHOD_INIT: u64 = 0xC0;

impl Search {
    /// Builds the data, supernet, method and optimiser of a new search.
    pub fn new(cfg: Config, dir: RunDir) -> Result<Search> {
        // DARTS's search network: the cells at layers/3 and 2*layers/3 reduce, so with fewer than
        // 3 there is no normal cell, yet a normal genotype (the initial α) would be reported.
        anyhow::ensure!(
            cfg.search.space != SpaceKind::Darts || cfg.child.layers >= 3,
            "child.layers: must be at least 3 to search the darts space, got {}: the cells at layers/3 and \
             2*layers/3 are reduction cells, so fewer leave no normal cell to search",
            cfg.child.layers
        );
        crate::memory::check_search(&cfg)?;
        runtime::init_threads(cfg.threads);
        let device = runtime::device(&cfg)?;
        let splits = load_splits(&cfg.data)?;
        anyhow::ensure!(
            splits.valid.len() >= cfg.search.reward_batch_size,
            "search.reward_batch_size is {} but the validation split has {} images (data.valid_size)",
            cfg.search.reward_batch_size,
            splits.valid.len()
        );
        anyhow::ensure!(
            splits.train.len() >= cfg.search.batch_size,
            "search.batch_size is {} but the train split has only {} images",
            cfg.search.batch_size,
            splits.train.len()
        );
        let net = supernet(&cfg, &splits.train, &device)?;
        let table = super::report::load_table(&cfg, net.space())?;
        let sgd = &cfg.search.sgd;
        let child_opt = SgdNesterov::new(net.store().vars.clone(), sgd.momentum, sgd.weight_decay);
        let cost = super::cost::ArchCost::new(&cfg, net.space())?;
        let (method, warm) = method(&cfg, &net, cost.clone())?;
        Ok(Search {
            cost,
            cfg,
            dir,
            device,
            train: Arc::new(splits.train),
            valid: Arc::new(splits.valid),
            net,
            child_opt,
            method,
            warm,
            table,
            arch_rows: Vec::new(),
            epoch_rows: Vec::new(),
            genotype_rows: Vec::new(),
            stopped: None,
        })
    }

    /// The method as this search started it (its seeded initial state), e.g. to compare what it
    /// learned with its prior.
    pub fn initial_method(&self) -> Result<Box<dyn Method>> {
        Ok(method(&self.cfg, &self.net, self.cost.clone())?.0)
    }
}

/// The supernet of the configured space, its weights drawn from `cfg.seed`.
fn supernet(cfg: &Config, train: &Dataset, device: &candle_core::Device) -> Result<Arc<dyn Supernet>> {
    let root = InitRoot::new(cfg.seed, device);
    let hw = (train.height, train.width);
    Ok(match cfg.search.space {
        SpaceKind::EnasMicro => {
            // No mixture here; a PC-DARTS setting would be silently unused.
            partial_channels(cfg)?;
            let micro = EnasMicro::new(cfg.child.nodes);
            let shape = MicroShape::of_child(&cfg.child, train.channels, train.classes);
            let aux = (cfg.child.aux_weight > 0.0).then_some(hw);
            let net = MicroNet::new_with_aux(shape, &Weights::Shared, aux, root.init())?;
            let child = cfg.child.clone();
            Arc::new(MicroSupernet { net, child, store: root.finish(), space: Space::from(&micro), micro, hw })
        }
        SpaceKind::Nb201 => {
            let c = &cfg.child;
            no_micro_options(c, "the nb201 space has")?;
            let shape = Nb201Shape {
                in_channels: train.channels,
                channels: c.channels,
                cells: c.cells,
                classes: train.classes,
            };
            let net = Nb201Supernet::with_partial(shape, partial_channels(cfg)?, root.init())?;
            Arc::new(Nb201Search { net, store: root.finish(), space: Space::Nb201(Nb201), hw })
        }
        SpaceKind::Darts => {
            let c = &cfg.child;
            no_micro_options(c, "DARTS's search network has")?;
            let shape = DartsShape {
                in_channels: train.channels,
                channels: c.channels,
                layers: c.layers,
                nodes: c.nodes,
                classes: train.classes,
            };
            let net = DartsSupernet::with_partial(shape, partial_channels(cfg)?, root.init())?;
            let darts = enas_shared::space::darts::Darts::new(c.nodes);
            let space = Space::Darts(darts.clone());
            Arc::new(DartsSearch { net, store: root.finish(), darts, space, hw })
        }
    })
}

/// PC-DARTS's K for the supernet: `darts.partial_channels`, which only DARTS's own steps use.
fn partial_channels(cfg: &Config) -> Result<usize> {
    let k = cfg.darts.partial_channels;
    anyhow::ensure!(
        k == 1 || cfg.search.strategy == StrategyKind::Darts,
        "darts.partial_channels {k} is PC-DARTS's mixture, for search.strategy darts (it is {}); set it to 1",
        cfg.search.strategy.name()
    );
    Ok(k)
}

/// Refuses ENAS's dropout and auxiliary head for a network that has neither (`which` names it).
fn no_micro_options(c: &enas_shared::ChildConfig, which: &str) -> Result<()> {
    anyhow::ensure!(
        c.keep_prob == 1.0 && c.aux_weight == 0.0,
        "child.keep_prob and child.aux_weight are ENAS's micro-child options; {which} neither (set them to 1.0 and 0.0)"
    );
    Ok(())
}

/// The method of `search.strategy` under the objective's cost (loaded once, by the caller), and
/// what its warm start cost.
fn method(
    cfg: &Config,
    net: &Arc<dyn Supernet>,
    arch_cost: Option<super::cost::ArchCost>,
) -> Result<(Box<dyn Method>, warm::WarmCost)> {
    let kind = cfg.search.strategy;
    let init_seed = stream_seed(cfg.seed, 0, METHOD_INIT);
    let mut rng = ChaCha8Rng::seed_from_u64(init_seed);
    if kind == StrategyKind::Darts {
        let darts = super::darts::Darts::new(&cfg.darts, net.space(), &mut rng)?;
        return Ok((Box::new(darts), warm::WarmCost::default()));
    }
    let space = net.space().clone();
    let (starts, cost) = warm::ranked_pool(cfg, kind, &**net, &mut rng)?;
    let strategy = match (kind.reads_costs_first(), &arch_cost) {
        (true, Some(cost)) => {
            let known = strategy::Known { cost: Arc::new(cost.known(net.clone())), score: None };
            strategy::build_with_costs(kind, &space, &cfg.strategy, &cfg.controller, starts, known, &mut rng)?
        }
        _ => strategy::build_seeded(kind, &space, &cfg.strategy, &cfg.controller, starts, Some(init_seed), &mut rng)?,
    };
    let c = &cfg.controller;
    let sampled = Sampled::new(strategy, space.clone(), cfg.strategy.repeats, c.num_aggregate, c.train_steps)
        .with_objective(cfg.objective.build(), arch_cost);
    Ok((Box::new(sampled), cost))
}
