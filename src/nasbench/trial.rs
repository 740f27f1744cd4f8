//! One bench trial: a fresh strategy and history, its pool scored where it uses one, `budget`
//! queries of the table; and the trials of a run spread over threads, saved as they complete.

use super::{resume, Step, Trial};
use crate::parallel::par_map;
use crate::proxy::engine::ProxyEngine;
use crate::run::RunDir;
use crate::runtime;
use anyhow::{Context, Result};
use enas_controller::strategy::{self, warm, History, KnownScore};
use enas_shared::strategy_config::StrategyKind;
use enas_shared::table::{ObjectiveEvaluator, Table, TableEvaluator};
use enas_shared::{Config, Space};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;
use std::time::Instant;

/// The seed of trial `trial`: the same for every strategy, so trial k of two strategies starts
/// from the same stream.
fn trial_seed(seed: u64, trial: usize) -> u64 {
    crate::runtime::stream_seed(seed, trial, 0xBE)
}

/// What every trial of a bench run shares.
pub(super) struct Jobs<'a> {
    pub(super) cfg: &'a Config,
    pub(super) space: &'a Space,
    pub(super) table: &'a Table,
    /// The cost table of `--objective pareto`, told to the strategies with each reward.
    pub(super) costs: Option<&'a enas_shared::cost::Costs>,
    pub(super) budget: usize,
    pub(super) engine: Option<&'a Arc<ProxyEngine>>,
    /// Where each trial is saved as it completes, and found again on a resume.
    pub(super) dir: &'a RunDir,
}

/// Runs every (strategy, trial) on `workers` threads, taking trials saved by an earlier
/// (stopped) run as they are; results come back in (strategy, trial) order.
pub(super) fn run_trials(jobs: &Jobs, kinds: &[StrategyKind], trials: usize, workers: usize) -> Result<Vec<Trial>> {
    let all: Vec<(StrategyKind, usize)> = kinds.iter().flat_map(|&k| (0..trials).map(move |t| (k, t))).collect();
    let saved = all.iter().filter(|&&(k, t)| resume::is_saved(jobs.dir, k, t)).count();
    if saved > 0 {
        eprintln!("{saved} of {} trials were completed before; running the other {}", all.len(), all.len() - saved);
    }
    par_map(&all, workers, "trials", |_, &(kind, trial)| {
        if let Some(done) = resume::load_trial(jobs.dir, kind, trial)? {
            return Ok(done);
        }
        // A stop lets the running trials finish (and be saved) and starts no new one.
        anyhow::ensure!(!runtime::interrupted(), "interrupted");
        let t = run_trial(jobs, kind, trial).with_context(|| format!("strategy {kind}, trial {trial}"))?;
        resume::save_trial(jobs.dir, &t)?;
        Ok(t)
    })
}

/// One trial: a fresh strategy and history, `budget` queries; a proxy-guided strategy first
/// scores its pool (no query) and starts from the ranking.
fn run_trial(jobs: &Jobs, kind: StrategyKind, trial: usize) -> Result<Trial> {
    let (cfg, space, table, budget, engine) = (jobs.cfg, jobs.space, jobs.table, jobs.budget, jobs.engine);
    let started = Instant::now();
    let mut rng = ChaCha8Rng::seed_from_u64(trial_seed(cfg.seed, trial));
    let proxies = kind.proxies(&cfg.strategy.proxy);
    let (mut starts, mut proxy_evals, mut proxy_seconds) = (Vec::new(), 0, 0.0);
    if kind.uses_pool(&cfg.strategy.proxy) {
        let pool = warm::draw_pool(&space.decisions(), cfg.strategy.proxy.pool, &mut rng)?;
        starts = match proxies.is_empty() {
            true => pool,
            false => {
                let engine = engine.context("the proxy engine of a proxy-guided strategy was not built")?;
                let mut scores = Vec::with_capacity(pool.len());
                for values in &pool {
                    anyhow::ensure!(!runtime::interrupted(), "interrupted");
                    let s = engine.evaluate(&proxies, values)?;
                    proxy_evals += s.len();
                    proxy_seconds += s.iter().map(|x| x.seconds).sum::<f64>();
                    scores.push(s.iter().map(|x| x.score).collect::<Vec<_>>());
                }
                match (kind.ranks_pool_with_cost(), jobs.costs) {
                    (true, Some(costs)) => {
                        let cost = pool.iter().map(|v| costs.get(v)).collect::<enas_shared::Result<Vec<f64>>>()?;
                        warm::rank_with_cost(&pool, &scores, &cost)
                    }
                    _ => warm::rank(&pool, &scores),
                }
            }
        };
    }
    let (strategy_cfg, controller) = (&cfg.strategy, &cfg.bench.controller);
    // The proxy a gated proxy-sweep weighs neighbours by, counting what it computes.
    let scorer = match (engine, proxies.as_slice()) {
        (Some(engine), &[proxy]) if kind.reads_costs_first() && cfg.strategy.sweep.gate.is_some() => {
            Some(Arc::new(EngineScore::new(engine, proxy, &starts)))
        }
        _ => None,
    };
    let mut strat = match (kind.reads_costs_first(), jobs.costs) {
        (true, Some(costs)) => {
            let score = scorer.clone().map(|s| s as Arc<dyn KnownScore>);
            let known = strategy::Known { cost: Arc::new(costs.clone()), score };
            strategy::build_with_costs(kind, space, strategy_cfg, controller, starts, known, &mut rng)?
        }
        _ => strategy::build_with_starts(kind, space, strategy_cfg, controller, starts, &mut rng)?,
    };
    let mut history = History::new(cfg.strategy.repeats);
    let mut table_evaluator = TableEvaluator { table, costs: jobs.costs };
    let objective = cfg.objective.build();
    let mut evaluator =
        ObjectiveEvaluator { inner: &mut table_evaluator, objective: objective.as_ref(), costs: jobs.costs };
    let mut steps = Vec::with_capacity(budget);
    let mut best: Option<(f64, f64)> = None;
    let mut failure = None;
    strategy::run(strat.as_mut(), space, &mut evaluator, budget, &mut history, &mut rng, &mut |q| {
        let report = q.eval.report.unwrap_or(f64::NAN);
        if !best.is_some_and(|(r, _)| q.eval.reward <= r) {
            best = Some((q.eval.reward, report));
        }
        match space.format(&q.values) {
            Ok(arch) => {
                steps.push(Step { arch, reward: q.eval.reward, report, best_report: best.map_or(f64::NAN, |b| b.1) })
            }
            Err(e) => failure = Some(e.into()),
        }
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    if let Some(s) = scorer {
        let (evals, seconds) = s.spent();
        proxy_evals += evals;
        proxy_seconds += seconds;
    }
    Ok(Trial {
        strategy: kind,
        trial,
        steps,
        seconds: started.elapsed().as_secs_f64(),
        fallbacks: strat.fallbacks(),
        proxy_evals,
        proxy_seconds,
    })
}

/// A proxy's score of any architecture from the bench's engine (cached across trials), counting
/// each architecture the strategy asks about beyond its pool (already counted) once, with the
/// single-thread seconds its score first cost.
struct EngineScore {
    engine: Arc<ProxyEngine>,
    proxy: enas_shared::ProxyKind,
    spent: std::sync::Mutex<Spent>,
}

#[derive(Default)]
struct Spent {
    scored: std::collections::HashSet<Vec<usize>>,
    evals: usize,
    seconds: f64,
}

impl EngineScore {
    fn new(engine: &Arc<ProxyEngine>, proxy: enas_shared::ProxyKind, pool: &[Vec<usize>]) -> EngineScore {
        let spent = Spent { scored: pool.iter().cloned().collect(), ..Spent::default() };
        EngineScore { engine: Arc::clone(engine), proxy, spent: std::sync::Mutex::new(spent) }
    }

    /// Evaluations beyond the pool, and their seconds.
    fn spent(&self) -> (usize, f64) {
        let s = self.spent.lock().expect("proxy count lock");
        (s.evals, s.seconds)
    }
}

impl KnownScore for EngineScore {
    fn score(&self, values: &[usize]) -> enas_shared::Result<f64> {
        let s = self
            .engine
            .evaluate(&[self.proxy], values)
            .map_err(|e| enas_shared::Error::Name(format!("proxy {}: {e:#}", self.proxy)))?;
        let mut spent = self.spent.lock().expect("proxy count lock");
        if spent.scored.insert(values.to_vec()) {
            spent.evals += 1;
            spent.seconds += s[0].seconds;
        }
        Ok(s[0].score)
    }
}
