//! `enas bench`: search strategies compared on a tabular benchmark. Each strategy runs `trials`
//! independent trials of `budget` queries; a query is a table lookup of the reward column, and
//! after every query a trial reports the final column of the architecture with the best reward so
//! far (what a researcher would publish for it). Trials run in parallel, each on its own seed, so
//! results do not depend on the thread count.
mod pareto;
mod pareto_plot;
mod plot;
mod report;
mod resume;
mod trial;

use crate::cli::{resolve, BenchArgs};
use crate::proxy::engine::ProxyEngine;
use crate::run::RunDir;
use crate::runtime;
use anyhow::{Context, Result};
use enas_shared::objective::ObjectiveKind;
use enas_shared::strategy_config::StrategyKind;
use enas_shared::table::{Columns, Table};
use enas_shared::{Config, Space};
use resume::Invocation;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;
use trial::{run_trials, Jobs};

/// One query of one trial, as `trajectories.csv` writes it.
#[derive(Debug, Clone)]
pub struct Step {
    pub arch: String,
    pub reward: f64,
    pub report: f64,
    /// The reported value of the best-rewarded architecture so far.
    pub best_report: f64,
}

/// One trial of one strategy.
#[derive(Debug, Clone)]
pub struct Trial {
    pub strategy: StrategyKind,
    pub trial: usize,
    pub steps: Vec<Step>,
    pub seconds: f64,
    /// Queries the strategy proposed by its uniform fallback rather than its own rule.
    pub fallbacks: usize,
    /// Zero-cost proxy evaluations of the warm start (no query), and the single-thread seconds
    /// they cost (measured when each was computed, whether this trial or an earlier one did).
    pub proxy_evals: usize,
    pub proxy_seconds: f64,
}

pub fn run(a: &BenchArgs) -> Result<ExitCode> {
    // First, so that a stop at any point ends in a clean exit with the trials done so far kept.
    runtime::install_interrupt_handler()?;
    // A new run's directory is made once the table has loaded: bad input leaves nothing behind.
    let (existing, cfg, inv) = match &a.resume {
        Some(path) => {
            let (dir, lock) = RunDir::resume(path, crate::run::RunKind::Bench)?;
            let cfg = dir.read_config()?;
            let inv = Invocation::read(&dir, &cfg)?;
            (Some((dir, lock)), cfg, inv)
        }
        None => {
            let cfg = a.load_config()?.with_absolute_paths();
            runtime::cpu_only(&cfg, "enas bench (table lookups; the proxies score on the CPU)")?;
            anyhow::ensure!(a.budget > 0, "--budget must be at least 1");
            anyhow::ensure!(a.trials > 0, "--trials must be at least 1");
            let table = a.table.as_deref().context("--table FILE is needed (or --resume DIR)")?;
            let o = &cfg.objective;
            anyhow::ensure!(
                !o.kind.needs_cost() || o.cost == enas_shared::objective::CostKind::Table,
                "objective.cost {}: enas bench reads costs from a table (objective.cost: table); NAS-Bench-201's \
                 own params_m column is one: --cost-table TABLE --cost-column params_m",
                o.cost.name()
            );
            let space = a.space.space(cfg.child.nodes);
            let inv = Invocation {
                table: std::path::absolute(table).unwrap_or_else(|_| table.to_path_buf()),
                space: a.space,
                strategies: resolve("--strategy", &a.strategy, || all_strategies(&space, cfg.objective.kind))?,
                budget: a.budget,
                trials: a.trials,
                proxy_cache: a
                    .proxy_cache
                    .as_deref()
                    .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())),
                data_given: a.data.is_some(),
                objective: cfg.objective.kind,
                cost: cfg.objective.cost(),
                config: cfg.to_yaml(),
                inputs: None,
            };
            (None, cfg, inv)
        }
    };
    let queries = (inv.strategies.len() as f64) * (inv.trials as f64) * (inv.budget as f64);
    let part = crate::memory::Part { what: "query rows", bytes: queries * 400.0 };
    crate::memory::check("this bench", &[part], "--trials, --budget or the strategies")?;
    let space = inv.space.space(cfg.child.nodes);
    let kinds = inv.strategies.clone();
    let columns = Columns {
        arch: cfg.bench.arch_column.clone(),
        reward: cfg.bench.reward_column.clone(),
        report: cfg.bench.final_column.clone(),
    };
    let loaded = Instant::now();
    let table = Table::load(&inv.table, &space, &columns)?;
    anyhow::ensure!(
        (inv.budget as f64) <= table.rows.len() as f64 || cfg.strategy.repeats,
        "--budget {} is larger than the table ({} architectures) and strategy.repeats is off",
        inv.budget,
        table.rows.len()
    );
    eprintln!(
        "{}: {} architectures, reward `{}`, reported `{}` (optimum {}), read in {:.2} s",
        inv.table.display(),
        table.rows.len(),
        columns.reward,
        columns.report,
        table.optimum(),
        loaded.elapsed().as_secs_f64()
    );
    // The Pareto report's costs, every architecture of the table joined (before any output).
    let costs = match &inv.cost {
        Some((path, column)) => {
            let costs = enas_shared::cost::Costs::load(path, &space, &columns.arch, column)?;
            costs.for_table(&table)?;
            Some(costs)
        }
        None => None,
    };
    if let (Some(k), None) = (kinds.iter().find(|k| k.needs_cost()), &costs) {
        anyhow::bail!(
            "--strategy {k} needs a cost per architecture: add --objective pareto (or constraint, soft) \
             --cost-table FILE --cost-column NAME"
        );
    }
    // Before any output: a constraint that admits too few architectures is an error.
    let optimum = objective_optimum(&cfg, &table, costs.as_ref(), inv.budget)?;
    // Trials run one per core; each trial's kernels stay on its own thread.
    let workers = runtime::job_workers(cfg.threads);
    let engine = proxy_engine(&cfg, &space, &kinds, inv.data_given, inv.proxy_cache.as_deref())?.map(Arc::new);
    let fingerprint = enas_shared::fingerprint::file;
    let inputs = resume::Inputs {
        table: fingerprint(&inv.table)?,
        cost_table: inv.cost.as_ref().map(|(p, _)| fingerprint(p)).transpose()?,
        proxies: engine.as_ref().map(|e| e.settings().to_string()),
    };
    let (dir, _lock) = match existing {
        Some(claimed) => {
            if let Some(saved) = &inv.inputs {
                saved.check_unchanged(&inputs, &inv)?;
            }
            claimed
        }
        None => {
            let (dir, lock) = RunDir::create_new(a.out.as_deref(), "bench")?;
            dir.write_config(&cfg)?;
            Invocation { inputs: Some(inputs), ..inv.clone() }.write(&dir)?;
            (dir, lock)
        }
    };
    let started = Instant::now();
    let jobs = Jobs {
        cfg: &cfg,
        space: &space,
        table: &table,
        costs: costs.as_ref(),
        budget: inv.budget,
        engine: engine.as_ref(),
        dir: &dir,
    };
    let trials = run_trials(&jobs, &kinds, inv.trials, workers);
    match (&engine, &inv.proxy_cache) {
        // Kept even when a trial failed or a stop came.
        (Some(e), Some(path)) => {
            e.save(path)?;
            eprintln!("proxy scores kept in {}", path.display());
        }
        (None, Some(_)) => eprintln!("note: --proxy-cache is unused: no proxy-guided strategy ran"),
        _ => {}
    }
    let trials = match trials {
        Err(_) if runtime::interrupted() => {
            eprintln!(
                "interrupted: every completed trial is kept in {}.\nresume with: enas bench --resume {}",
                dir.file("trials").display(),
                crate::run::shell_quote(&dir.path)
            );
            return Ok(ExitCode::from(runtime::stop_code()));
        }
        other => other?,
    };
    let wall = started.elapsed().as_secs_f64();
    let summary = report::Summary::new(&trials, &kinds, inv.budget, optimum);
    println!("{}", summary.table(&columns.report));
    let under = match cfg.objective.kind {
        ObjectiveKind::Reward | ObjectiveKind::Pareto => String::new(),
        k => format!(" under objective {k}"),
    };
    println!(
        "{} strategies x {} trials x {} queries in {wall:.1} s on {workers} threads; table optimum{under} {optimum}",
        kinds.len(),
        inv.trials,
        inv.budget,
    );
    let meta = serde_json::json!({
        "table": inv.table.display().to_string(),
        "space": space.name(),
        "reward_column": columns.reward,
        "final_column": columns.report,
        "budget": inv.budget,
        "trials": inv.trials,
        "seed": cfg.seed,
        "wall_seconds": wall,
        "threads": workers,
        "objective": serde_json::to_value(&cfg.objective)?,
    });
    let mut json = summary.to_json(meta);
    if let (ObjectiveKind::Pareto, Some(costs)) = (cfg.objective.kind, &costs) {
        let p = pareto::ParetoSummary::new(&trials, &kinds, inv.budget, &table, costs)?;
        println!("{}", p.table(&costs.column, inv.trials));
        p.extend_json(&mut json);
        dir.write_text("pareto.svg", &pareto_plot::svg(&p, &columns.report, &costs.column))?;
        json["cost_table"] = costs.path.display().to_string().into();
        json["cost_column"] = costs.column.clone().into();
    }
    dir.write_json("summary.json", &json)?;
    report::write_trajectories(&dir, &trials)?;
    dir.write_text("plot.svg", &plot::svg(&summary, &columns.report))?;
    // Every trial is in trajectories.csv now; the per-trial files only served a resume.
    let _ = std::fs::remove_dir_all(dir.file("trials"));
    let pareto = if cfg.objective.kind == ObjectiveKind::Pareto { ", pareto.svg" } else { "" };
    eprintln!("wrote trajectories.csv, summary.json{pareto} and plot.svg to {}", dir.path.display());
    Ok(ExitCode::SUCCESS)
}

/// The final value of the table's best architecture under the objective: the best final value
/// where a constraint holds; under MnasNet's soft reward, the final value of the architecture whose
/// final value scores best. An objective that admits no architecture, or fewer than `budget`
/// distinct ones when a query may not repeat, is an error.
fn objective_optimum(
    cfg: &Config,
    table: &Table,
    costs: Option<&enas_shared::cost::Costs>,
    budget: usize,
) -> Result<f64> {
    let objective = cfg.objective.build();
    let mut best: Option<(f64, f64)> = None;
    let mut admitted = 0usize;
    for row in &table.rows {
        let cost = costs.map(|c| c.get(&row.values)).transpose()?;
        if let Some(v) = objective.value(row.report, cost) {
            admitted += 1;
            if !best.is_some_and(|(b, _)| v <= b) {
                best = Some((v, row.report));
            }
        }
    }
    // Only a constraint refuses architectures, and it has a limit and a cost table.
    let refusal = || match costs {
        Some(c) => format!(
            "objective.limit {:?} in {} column `{}` (least cost {:?})",
            cfg.objective.limit.unwrap_or(f64::NAN),
            c.path.display(),
            c.column,
            c.least()
        ),
        None => format!("objective {}", cfg.objective.kind),
    };
    let Some((_, optimum)) = best else {
        anyhow::bail!("{}: no architecture of {} costs that little or less", refusal(), table.path.display());
    };
    anyhow::ensure!(
        admitted >= budget || cfg.strategy.repeats,
        "{}: only {admitted} of the table's {} architectures cost that little or less, fewer than --budget {budget} \
         queries of distinct architectures; lower the budget to at most {admitted} or set strategy.repeats=true",
        refusal(),
        table.rows.len()
    );
    Ok(optimum)
}

/// What `--strategy all` runs: every strategy the space and objective support (the proxy-guided
/// ones need NAS-Bench-201, the Pareto ones an objective with a cost).
fn all_strategies(space: &Space, objective: ObjectiveKind) -> Vec<StrategyKind> {
    let proxies = matches!(space, Space::Nb201(_));
    let costs = objective.needs_cost();
    let cfg = enas_shared::strategy_config::ProxyConfig::default();
    StrategyKind::ALL
        .into_iter()
        .filter(|k| (proxies || k.proxies(&cfg).is_empty()) && (costs || !k.needs_cost()))
        .collect()
}

/// The proxy engine the proxy-guided strategies among `kinds` need (none if there are none):
/// NAS-Bench-201 only, with a minibatch when a data proxy is asked for, and scores kept in `cache`.
fn proxy_engine(
    cfg: &Config,
    space: &Space,
    kinds: &[StrategyKind],
    data_given: bool,
    cache: Option<&Path>,
) -> Result<Option<ProxyEngine>> {
    let mut wanted = Vec::new();
    for k in kinds {
        for p in k.proxies(&cfg.strategy.proxy) {
            if !wanted.contains(&p) {
                wanted.push(p);
            }
        }
    }
    if wanted.is_empty() {
        return Ok(None);
    }
    anyhow::ensure!(
        matches!(space, Space::Nb201(_)),
        "the proxy-guided strategies score NAS-Bench-201 networks; --space {} has no zero-cost proxies",
        space.name()
    );
    let engine = ProxyEngine::for_config(cfg, wanted.iter().any(|p| p.needs_data()), data_given)?;
    if let Some(path) = cache {
        let n = engine.load(path)?;
        eprintln!("{}: {n} proxy scores reused", path.display());
        // Checked now, creating nothing: a path that cannot be created fails here, not after every
        // trial has run.
        enas_shared::export::check_creatable(path).context("--proxy-cache")?;
    }
    Ok(Some(engine))
}
