//! `enas proxy`: zero-cost proxy scores of NAS-Bench-201 architectures, a CSV with one row per
//! architecture (`arch`, then one column per proxy), and with `--table` their rank correlations
//! with the table's final column. Architectures are scored in parallel, one per core, each
//! network's kernels on its own thread.
pub mod engine;

use crate::cli::{resolve, ProxyArgs};
use crate::parallel::par_map;
use crate::runtime;
use anyhow::{Context, Result};
use enas_controller::strategy::warm::draw_pool;
use enas_shared::export::csv_bytes;
use enas_shared::export::csv_f64::shortest;
use enas_shared::rank::{finite_pairs, kendall_tau_b, spearman};
use enas_shared::table::{Columns, Table};
use enas_shared::{ProxyKind, Space, SpaceKind};
use engine::ProxyEngine;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Instant;

/// A row of the output: the architecture, then its score by each proxy, a column each (in
/// `--proxy` order; the numbers as they are, shortest text).
#[derive(Serialize)]
struct ScoreRow {
    arch: String,
    #[serde(serialize_with = "shortest::serialize_all")]
    scores: Vec<f64>,
}

/// How often the scores of a run with --out are saved to OUT.partial.
const PARTIAL_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// `OUT.partial`: the scores of an unfinished `enas proxy --out OUT`.
fn partial_path(out: &std::path::Path) -> std::path::PathBuf {
    let mut name = out.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    out.with_file_name(name)
}

pub fn run(a: &ProxyArgs) -> Result<ExitCode> {
    runtime::install_interrupt_handler()?;
    let cfg = a.load_config()?;
    runtime::cpu_only(&cfg, "enas proxy")?;
    anyhow::ensure!(
        a.space == SpaceKind::Nb201,
        "--space {}: zero-cost proxies are implemented for the NAS-Bench-201 network only (--space nb201)",
        a.space
    );
    let space = SpaceKind::Nb201.space(cfg.child.nodes);
    let proxies = resolve("--proxy", &a.proxy, || ProxyKind::ALL.to_vec())?;
    if let Some(out) = &a.out {
        for (input, flag) in [(&a.archs, "--archs"), (&a.table, "--table")] {
            if let Some(input) = input {
                crate::run::refuse_overwriting_input(out, input, flag)?;
            }
        }
    }
    let archs: Vec<Vec<usize>> = match (&a.sample, &a.archs) {
        (Some(n), None) => {
            anyhow::ensure!(*n > 0, "--sample must be at least 1");
            let size = space.size();
            anyhow::ensure!(*n as f64 <= size, "--sample {n}: the NAS-Bench-201 space has only {size} architectures");
            let mut rng = ChaCha8Rng::seed_from_u64(crate::runtime::stream_seed(cfg.seed, 0, 0x5A));
            draw_pool(&space.decisions(), *n, &mut rng)?
        }
        (None, Some(path)) => read_archs(&space, path)?,
        _ => anyhow::bail!("give either --sample N or --archs FILE"),
    };
    let table = match &a.table {
        Some(path) => {
            let col = cfg.bench.final_column.clone();
            let columns = Columns { arch: cfg.bench.arch_column.clone(), reward: col.clone(), report: col };
            Some(Table::load(path, &space, &columns)?)
        }
        None => None,
    };
    if let Some(t) = &table {
        // Before any scoring: every architecture must have a row to correlate with.
        if let Some(missing) = archs.iter().find(|v| t.get(v).is_none()) {
            anyhow::bail!("{}: no row for {}", t.path.display(), space.format(missing)?);
        }
    }
    let mut workers = runtime::job_workers(cfg.threads);
    if proxies.contains(&ProxyKind::Latency) {
        eprintln!(
            "latency (column `latency`, milliseconds): one image, BatchNorm's running statistics, the median of {} \
             forward passes after {} untimed ones, on one thread",
            enas_shared::proxy_kind::LATENCY_REPEATS,
            enas_shared::proxy_kind::LATENCY_WARMUP
        );
        if workers > 1 {
            // Timings taken side by side would compete for the cores and the memory bus.
            eprintln!("latency: measuring one architecture at a time on one thread (not {workers} in parallel)");
            workers = 1;
        }
    }
    let needs_data = proxies.iter().any(|p| p.needs_data());
    if a.data.is_some() && !needs_data {
        eprintln!("note: --data is not read: no proxy asked for here uses images");
    }
    let engine = ProxyEngine::for_config(&cfg, needs_data, a.data.is_some())?;
    // With --out, scores are kept in OUT.partial as they come (every few seconds, and at a stop
    // or an error), and a run of the same command reuses them: a stop loses no finished work.
    let partial = a.out.as_ref().map(|o| partial_path(o));
    if let Some(p) = &partial {
        let n = engine.load(p)?;
        if n > 0 {
            eprintln!("{}: {n} scores of an interrupted run reused", p.display());
        }
    }
    let last_save = Mutex::new(Instant::now());
    let started = Instant::now();
    let scored = par_map(&archs, workers, "architectures", |_, values| {
        anyhow::ensure!(!runtime::interrupted(), "interrupted");
        let s = engine
            .evaluate(&proxies, values)
            .with_context(|| format!("scoring {}", space.format(values).unwrap_or_default()))?;
        if let Some(p) = &partial {
            let mut t = last_save.lock().expect("no panic holding the lock");
            if t.elapsed() >= PARTIAL_EVERY {
                engine.save(p)?;
                *t = Instant::now();
            }
        }
        Ok(s)
    });
    let scored = match (scored, &partial) {
        (Ok(s), _) => s,
        (Err(e), Some(p)) => {
            engine.save(p)?;
            if runtime::interrupted() {
                eprintln!(
                    "interrupted: the scores computed so far are kept in {}; run the same command again to continue",
                    p.display()
                );
                return Ok(ExitCode::from(runtime::stop_code()));
            }
            return Err(e.context(format!("(the scores computed so far are kept in {})", p.display())));
        }
        (Err(e), None) => return Err(e),
    };
    let wall = started.elapsed().as_secs_f64();

    let header: Vec<&str> = ["arch"].into_iter().chain(proxies.iter().map(|p| p.name())).collect();
    let rows = archs
        .iter()
        .zip(&scored)
        .map(|(values, s)| Ok(ScoreRow { arch: space.format(values)?, scores: s.iter().map(|x| x.score).collect() }))
        .collect::<Result<Vec<_>>>()?;
    let csv = csv_bytes(&header, &rows)?;
    match &a.out {
        Some(path) => {
            enas_shared::export::atomic_write(path, &csv)?;
            if let Some(p) = &partial {
                let _ = std::fs::remove_file(p);
            }
            eprintln!("wrote {} rows to {}", archs.len(), path.display());
        }
        None => {
            use std::io::Write;
            std::io::stdout().write_all(&csv).context("writing the CSV to standard output")?;
        }
    }

    let n = archs.len() as f64;
    eprintln!(
        "{} architectures in {wall:.1} s on {workers} threads: {:.1} ms per architecture (wall)",
        archs.len(),
        wall * 1e3 / n
    );
    let mut report = format!("{:<10} {:>18}", "proxy", "ms/arch (1 thread)");
    if let Some(t) = &table {
        report += &format!(" {:>9} {:>9} {:>6} {:>8}", "spearman", "kendall", "n", "dropped");
        report = format!("rank correlation with `{}` of {}\n{report}", t.columns.report, t.path.display());
    }
    for (k, p) in proxies.iter().enumerate() {
        let ms = scored.iter().map(|s| s[k].seconds).sum::<f64>() * 1e3 / n;
        report += &format!("\n{:<10} {:>18.1}", p.name(), ms);
        if let Some(t) = &table {
            let mut x = Vec::new();
            let mut y = Vec::new();
            for (values, s) in archs.iter().zip(&scored) {
                let row = t
                    .get(values)
                    .with_context(|| format!("{} is not in the table", space.format(values).unwrap_or_default()))?;
                x.push(s[k].score);
                y.push(row.report);
            }
            let (x, y, dropped) = finite_pairs(&x, &y);
            let (rho, tau) = match x.len() {
                // Two points always rank ±1 against each other; one has no rank correlation.
                0..=2 => ("n/a".to_string(), "n/a".to_string()),
                _ => (format!("{:.3}", spearman(&x, &y)), format!("{:.3}", kendall_tau_b(&x, &y))),
            };
            report += &format!(" {rho:>9} {tau:>9} {:>6} {dropped:>8}", x.len());
        }
    }
    if table.is_some() {
        report += "\n(n: architectures with a finite score, which the correlations use; dropped: the others; \
                   n/a: fewer than 3)";
    }
    if proxies.iter().filter(|p| p.needs_data()).count() > 1 {
        report += "\n(the data proxies share one forward pass; its time is split evenly among them)";
    }
    // Without --out the CSV has standard output to itself.
    if a.out.is_some() {
        println!("{report}");
    } else {
        eprintln!("{report}");
    }
    Ok(ExitCode::SUCCESS)
}

/// One NB201 string per line; blank lines and lines starting with `#` are skipped; a repeated
/// architecture is an error (it would count twice in the correlations).
fn read_archs(space: &Space, path: &std::path::Path) -> Result<Vec<Vec<usize>>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading --archs {}", path.display()))?;
    let mut out = Vec::new();
    let mut seen = std::collections::HashMap::new();
    // A UTF-8 byte-order mark (some editors write one) is no part of the first line.
    for (i, line) in enas_shared::error::strip_bom(&text).lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let values = space.parse(line).with_context(|| format!("{}: line {}", path.display(), i + 1))?;
        if let Some(first) = seen.insert(values.clone(), i + 1) {
            anyhow::bail!("{}: line {} repeats the architecture of line {first}", path.display(), i + 1);
        }
        out.push(values);
    }
    anyhow::ensure!(!out.is_empty(), "{}: no architecture in the file", path.display());
    Ok(out)
}
