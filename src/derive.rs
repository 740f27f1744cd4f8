//! `enas derive`: as ENAS ends its search, sample arcs from the trained controller, score each on
//! the whole validation split with the shared weights, keep the best. A method without a trained
//! sampler offers the best distinct arcs it queried, by their minibatch reward, re-scored the same
//! way (`Method::candidates`).
use crate::cli::DeriveArgs;
use crate::run::RunDir;
use crate::runtime::{interrupted, stream_seed};
use crate::search::{Path, Search};
use anyhow::{Context, Result};
use enas_child::{correct, BnMode};
use enas_shared::data::{batches, LoaderOptions};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// A row of a derive table (`derive.csv`, `random.csv`, `initial.csv`): a candidate and its rank,
/// best first. `sample` is the draw's position in its stream: derive tables from one run pair up
/// by it. A log-probability the method has none of is an empty field.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct DeriveRow {
    pub rank: usize,
    pub arc: String,
    pub normal: String,
    pub reduce: String,
    #[serde(with = "enas_shared::export::csv_f64::fixed6")]
    pub valid_acc: f64,
    #[serde(with = "enas_shared::export::csv_f64::fixed6")]
    pub log_prob: f64,
    pub active_params: usize,
    pub sample: usize,
    /// The cost the objective reads and the objective's value (the rank's key); empty without one.
    #[serde(default)]
    pub cost: Option<f64>,
    #[serde(default)]
    pub objective: Option<f64>,
}

/// One derived candidate.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub arc: String,
    pub normal: String,
    pub reduce: String,
    pub valid_acc: f64,
    pub log_prob: f64,
    pub active_params: usize,
    /// Position (from 1) in the sampling stream.
    pub sample: usize,
    /// The cost the objective reads, if any, and the objective's value (the accuracy without one).
    pub cost: Option<f64>,
    pub objective: f64,
}

pub fn run(a: &DeriveArgs) -> Result<()> {
    let rows = a.samples.unwrap_or(0).max(a.rank_check.unwrap_or(0)) as f64;
    let part = crate::memory::Part { what: "candidate rows", bytes: rows * 512.0 };
    crate::memory::check("this derive", &[part], "--samples or --rank-check")?;
    let dir = RunDir::open(&a.run)?;
    let _lock = crate::run::RunLock::acquire(&dir.path)?;
    match crate::run::RunKind::of(&dir.path) {
        Some(crate::run::RunKind::Search) => {}
        Some(kind) => {
            anyhow::bail!("{} is an `enas {}` run: derive reads a search's", dir.path.display(), kind.command())
        }
        None => anyhow::bail!("{} is not a search run: it has no state.json or architectures.csv", dir.path.display()),
    }
    // A stopped search's supernet and method are mid-training: what a derive wrote from them
    // (best_arch.txt) would stand beside the finished run's own results.
    anyhow::ensure!(
        dir.file("summary.json").exists(),
        "{} is a search that has not finished (it has no summary.json): continue it with `enas search --resume {}`, \
         which derives at its end",
        dir.path.display(),
        crate::run::shell_quote(&dir.path)
    );
    let (search, cursor) = Search::resume(&dir)?;
    if let Some(n) = a.rank_check {
        return crate::rank_check::run(&search, n);
    }
    let n = a.samples.unwrap_or(search.cfg.search.derive_samples);
    anyhow::ensure!(n > 0, "--samples must be at least 1");
    let source = match (a.random, a.initial) {
        (true, _) => Source::Uniform,
        (_, true) => Source::Initial,
        _ => Source::Method,
    };
    let (scored, kind, written) = derive_kind(&search, n, cursor.epoch as u64, source)?;
    let (mean, std) = mean_std(&scored);
    let n = scored.len();
    // Standard error of the mean, from the sample standard deviation (n - 1).
    let se = if n > 1 {
        format!("{:.4}", std * (n as f64 / (n - 1) as f64).sqrt() / (n as f64).sqrt())
    } else {
        "n/a".into()
    };
    println!(
        "{n} {kind} arcs on {} validation images: mean accuracy {mean:.4} (std {std:.4}, standard error {se}), best {:.4}: {}",
        search.valid.len(),
        scored[0].valid_acc,
        scored[0].arc
    );
    println!("wrote {} (from the checkpoint after epoch {})", dir.file(&written.file).display(), cursor.epoch);
    if let Some(note) = written.best {
        println!("{note}");
    }
    Ok(())
}

/// Where a derive's table went, and what became of the run's best arc.
struct Written {
    file: String,
    best: Option<String>,
}

/// Where derive's arcs come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The search method's own candidates: sampled from its trained policy (ENAS's controller),
    /// or the best distinct architectures it queried, by minibatch reward.
    Method,
    /// Uniformly at random from the search space (every decision independently), drawn with the
    /// method's use of the random stream where it samples (paired draws).
    Uniform,
    /// Sampled from the method as the search started it (its seeded initial policy).
    Initial,
}

impl Source {
    /// The table its candidates are written to.
    pub fn file(self) -> &'static str {
        match self {
            Source::Method => "derive.csv",
            Source::Uniform => "random.csv",
            Source::Initial => "initial.csv",
        }
    }
}

/// Mean and standard deviation of the candidates' validation accuracies.
pub fn mean_std(c: &[Candidate]) -> (f64, f64) {
    let n = c.len().max(1) as f64;
    let mean = c.iter().map(|c| c.valid_acc).sum::<f64>() / n;
    let var = c.iter().map(|c| (c.valid_acc - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// Samples and scores `n` arcs (see `score_samples`) and writes them best first to the source's
/// table; for the method's own candidates the best also goes to `best_arch.txt`. Returns them
/// best first.
pub fn derive(search: &Search, n: usize, stream: u64, source: Source) -> Result<Vec<Candidate>> {
    Ok(derive_kind(search, n, stream, source)?.0)
}

/// [`derive`], how the candidates were chosen, and what was written. A derive adds to what a run
/// holds: its table goes to the source's file, or when that exists to the next free numbered one
/// (`derive-2.csv`, ...); `best_arch.txt` and `summary.json` change only to a better arc (by
/// whole-validation accuracy), and the message says which happened.
fn derive_kind(
    search: &Search,
    n: usize,
    stream: u64,
    source: Source,
) -> Result<(Vec<Candidate>, &'static str, Written)> {
    let (scored, kind) = score_samples(search, n, stream, source)?;
    let previous = if source == Source::Method { previous_best(search)? } else { None };
    let file = free_name(search, source.file());
    write_candidates(search, &file, &scored)?;
    let mut best = None;
    if source == Source::Method {
        let new = &scored[0];
        match previous {
            Some((arc, acc)) if new.valid_acc <= acc => {
                best = Some(format!(
                    "kept best_arch.txt: its arc ({acc:.4}) is at least as good as this derive's best ({:.4}); {arc}",
                    new.valid_acc
                ));
            }
            previous => {
                search.dir.write_text("best_arch.txt", &format!("{}\n", new.arc))?;
                if search.dir.file("summary.json").exists() {
                    search.write_summary(new)?;
                }
                best = Some(match previous {
                    Some((_, acc)) => {
                        format!(
                            "best_arch.txt and summary.json now hold this derive's best ({:.4} > {acc:.4})",
                            new.valid_acc
                        )
                    }
                    None => format!("wrote {}", search.dir.file("best_arch.txt").display()),
                });
            }
        }
    }
    Ok((scored, kind, Written { file, best }))
}

/// `name`, or when the run already has it, `stem-2.csv`, `stem-3.csv`, ...: the first free one.
fn free_name(search: &Search, name: &str) -> String {
    if !search.dir.file(name).exists() {
        return name.to_string();
    }
    let stem = name.trim_end_matches(".csv");
    (2..).map(|k| format!("{stem}-{k}.csv")).find(|f| !search.dir.file(f).exists()).expect("a free name")
}

/// The run's best arc so far and its whole-validation accuracy: from summary.json, else from the
/// first row of derive.csv; `None` when the run has neither.
fn previous_best(search: &Search) -> Result<Option<(String, f64)>> {
    let summary = search.dir.file("summary.json");
    if summary.exists() {
        let text = std::fs::read_to_string(&summary).with_context(|| format!("reading {}", summary.display()))?;
        let v: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("{} is not JSON", summary.display()))?;
        if let (Some(arc), Some(acc)) = (v["best_arc"].as_str(), v["best_valid_acc"].as_f64()) {
            return Ok(Some((arc.to_string(), acc)));
        }
    }
    let derived = search.dir.file("derive.csv");
    if derived.exists() {
        let (rows, _) = enas_shared::export::read_rows::<DeriveRow>(&derived, 1)?;
        return Ok(rows.into_iter().next().map(|r| (r.arc, r.valid_acc)));
    }
    Ok(None)
}

/// Draws `n` arcs (from a stream of their own, so derive does not disturb the search's), or takes
/// the method's `n` best queried ones, and scores each on the whole validation split with the
/// shared weights; best first.
pub fn score_samples(search: &Search, n: usize, stream: u64, source: Source) -> Result<(Vec<Candidate>, &'static str)> {
    let mut rng = ChaCha8Rng::seed_from_u64(stream_seed(search.cfg.seed, usize::MAX, stream));
    let (kind, draws) = match source {
        Source::Method => {
            let c = search.method.candidates(n, &mut rng, &search.arch_rows)?;
            (c.kind, c.draws)
        }
        Source::Uniform => ("uniformly random", uniform_draws(search, n, &mut rng)?),
        Source::Initial => ("initial-policy", initial_draws(search, n, &mut rng)?),
    };
    let objective = search.cfg.objective.build();
    let mut out = Vec::with_capacity(draws.len());
    let mut refused = 0;
    for (values, log_prob, sample) in draws {
        anyhow::ensure!(!interrupted(), "interrupted");
        let cost = search.cost.as_ref().map(|c| c.of(&*search.net, &values)).transpose()?;
        if objective.value(0.0, cost).is_none() {
            // A constraint's refusal: the candidate is not scored.
            refused += 1;
            continue;
        }
        let valid_acc = valid_accuracy(search, &values)?;
        let value = objective.value(valid_acc, cost).unwrap_or(f64::NEG_INFINITY);
        let info = search.net.describe(&values)?;
        out.push(Candidate {
            arc: info.arc,
            normal: info.normal,
            reduce: info.reduce,
            valid_acc,
            log_prob,
            active_params: info.active_params,
            sample,
            cost,
            objective: value,
        });
    }
    anyhow::ensure!(
        !out.is_empty(),
        "all {refused} {kind} candidates cost more than objective.limit {}; derive more (--samples) or relax the limit",
        search.cfg.objective.limit.unwrap_or(f64::NAN)
    );
    if refused > 0 {
        eprintln!("{refused} {kind} candidates cost more than objective.limit and were left out");
    }
    // Best first by the objective (the accuracy without one); ties keep sampling order.
    out.sort_by(|a, b| b.objective.total_cmp(&a.objective));
    Ok((out, kind))
}

/// Accuracy of a path on the whole validation split with the shared weights (batch statistics).
pub fn valid_accuracy(search: &Search, values: &[usize]) -> Result<f64> {
    let opts = LoaderOptions {
        batch_size: search.cfg.search.eval_batch_size,
        shuffle: false,
        augment: false,
        drop_last: false,
    };
    let path = Path::Single(values.to_vec());
    let mut right = 0;
    for batch in batches(search.valid.clone(), opts, 0) {
        let logits = search.net.forward(&batch.x.to_device(&search.device)?, &path, BnMode::BatchStats)?;
        right += correct(&logits, &batch.y.to_device(&search.device)?)?;
    }
    Ok(right as f64 / search.valid.len() as f64)
}

/// `n` uniform draws, with their log-probability under the trained method (NaN: it has none).
fn uniform_draws(search: &Search, n: usize, rng: &mut ChaCha8Rng) -> Result<Vec<(Vec<usize>, f64, usize)>> {
    (0..n)
        .map(|k| {
            let values = search.method.draw_uniform(rng)?;
            let log_prob = search.method.log_prob(&values)?.unwrap_or(f64::NAN);
            Ok((values, log_prob, k + 1))
        })
        .collect()
}

/// `n` draws from the method as the search started it, with their log-probability under the
/// trained one (so the tables compare).
fn initial_draws(search: &Search, n: usize, rng: &mut ChaCha8Rng) -> Result<Vec<(Vec<usize>, f64, usize)>> {
    let initial = search.initial_method()?;
    let mut out = Vec::with_capacity(n);
    for k in 0..n {
        let Some(d) = initial.draw(rng)? else {
            anyhow::bail!(
                "--initial compares a trained policy with its start; this run searched with {}, which learns no \
                 distribution to sample",
                search.cfg.search.strategy
            );
        };
        let log_prob = search.method.log_prob(&d.values)?.unwrap_or(f64::NAN);
        out.push((d.values, log_prob, k + 1));
    }
    Ok(out)
}
/// Writes candidates as a ranked table.
fn write_candidates(search: &Search, file: &str, out: &[Candidate]) -> Result<()> {
    let rows: Vec<DeriveRow> = out
        .iter()
        .enumerate()
        .map(|(i, c)| DeriveRow {
            rank: i + 1,
            arc: c.arc.clone(),
            normal: c.normal.clone(),
            reduce: c.reduce.clone(),
            valid_acc: c.valid_acc,
            log_prob: c.log_prob,
            active_params: c.active_params,
            sample: c.sample,
            cost: c.cost,
            objective: c.cost.map(|_| c.objective),
        })
        .collect();
    search.dir.write_rows(file, &rows)
}
