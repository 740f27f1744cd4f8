//! `enas derive`: as ENAS ends its search, sample arcs from the trained controller, score each on
//! the whole validation split with the shared weights, keep the best. A search by another
//! strategy (`search.strategy`) has no trained sampler: its candidates are the best distinct arcs
//! it queried, by their minibatch reward, re-scored the same way.
use crate::cli::DeriveArgs;
use crate::run::RunDir;
use crate::search::{initial_controller, stream_seed, Search};
use anyhow::Result;
use enas_child::{correct, path_cost, BnMode};
use enas_shared::data::{batches, LoaderOptions};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// `sample` is the draw's position in its stream: derive tables from one run pair up by it.
pub const DERIVE_HEADER: [&str; 8] =
    ["rank", "arc", "normal", "reduce", "valid_acc", "log_prob", "active_params", "sample"];

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
}

pub fn run(a: &DeriveArgs) -> Result<()> {
    let dir = RunDir::open(&a.run)?;
    let (search, cursor) = Search::resume(&dir)?;
    let n = a.samples.unwrap_or(search.cfg.search.derive_samples);
    anyhow::ensure!(n > 0, "--samples must be at least 1");
    let source = match (a.random, a.initial) {
        (true, _) => Source::Uniform,
        (_, true) => Source::Initial,
        _ => Source::of(&search),
    };
    anyhow::ensure!(
        !(source == Source::Initial && search.strategy.is_some()),
        "--initial compares a trained controller with its start; this run searched with {}, not the controller",
        search.cfg.search.strategy
    );
    let scored = derive(&search, n, cursor.epoch as u64, source)?;
    let (mean, std) = mean_std(&scored);
    // Standard error of the mean, from the sample standard deviation (n - 1).
    let se = if n > 1 {
        format!("{:.4}", std * (n as f64 / (n - 1) as f64).sqrt() / (n as f64).sqrt())
    } else {
        "n/a".into()
    };
    println!(
        "{n} {} arcs on {} validation images: mean accuracy {mean:.4} (std {std:.4}, standard error {se}), best {:.4}: {}",
        source.describe(),
        search.valid.len(),
        scored[0].valid_acc,
        scored[0].arc
    );
    match source {
        Source::Controller | Source::Queried => {
            println!("wrote {} and {}", dir.file(source.file()).display(), dir.file("best_arch.txt").display())
        }
        Source::Uniform | Source::Initial => println!("wrote {}", dir.file(source.file()).display()),
    }
    Ok(())
}

/// Where derive's arcs come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Sampled from the trained controller.
    Controller,
    /// Uniformly at random from the search space (every decision independently).
    Uniform,
    /// Sampled from the controller as the search started it (before any REINFORCE step).
    Initial,
    /// The best distinct arcs another strategy queried during the search, by minibatch reward.
    Queried,
}

impl Source {
    /// The table its candidates are written to.
    /// Where a search's own candidates come from: its controller, or its strategy's queries.
    pub fn of(search: &Search) -> Source {
        if search.strategy.is_some() {
            Source::Queried
        } else {
            Source::Controller
        }
    }

    pub fn file(self) -> &'static str {
        match self {
            Source::Controller | Source::Queried => "derive.csv",
            Source::Uniform => "random.csv",
            Source::Initial => "initial.csv",
        }
    }

    /// How its arcs were drawn, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Source::Controller => "controller-sampled",
            Source::Uniform => "uniformly random",
            Source::Initial => "initial-controller",
            Source::Queried => "best-queried",
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
/// table; for controller samples the best also goes to `best_arch.txt`. Returns them best first.
pub fn derive(search: &Search, n: usize, stream: u64, source: Source) -> Result<Vec<Candidate>> {
    let scored = score_samples(search, n, stream, source)?;
    write_candidates(search, source.file(), &scored)?;
    if matches!(source, Source::Controller | Source::Queried) {
        search.dir.write_text("best_arch.txt", &format!("{}\n", scored[0].arc))?;
    }
    Ok(scored)
}

/// Draws `n` arcs (from a stream of their own, so derive does not disturb the search's), or takes
/// the `n` best queried ones, and scores each on the whole validation split with the shared
/// weights; best first.
pub fn score_samples(search: &Search, n: usize, stream: u64, source: Source) -> Result<Vec<Candidate>> {
    let draws = match source {
        Source::Queried => best_queried(search, n)?,
        _ => draw(search, n, stream, source)?,
    };
    let mut out = Vec::with_capacity(draws.len());
    for (values, log_prob, sample) in draws {
        anyhow::ensure!(!crate::search::interrupted(), "interrupted");
        let arch = search.space.from_values(&values)?;
        let opts = LoaderOptions {
            batch_size: search.cfg.search.eval_batch_size,
            shuffle: false,
            augment: false,
            drop_last: false,
        };
        let mut right = 0;
        for batch in batches(search.valid.clone(), opts, 0) {
            let logits = search.net.forward(&batch.x.to_device(&search.device)?, &arch, BnMode::BatchStats)?;
            right += correct(&logits, &batch.y.to_device(&search.device)?)?;
        }
        out.push(Candidate {
            arc: search.space.format(&arch)?,
            normal: arch.normal.to_string(),
            reduce: arch.reduce.to_string(),
            valid_acc: right as f64 / search.valid.len() as f64,
            log_prob,
            active_params: path_cost(&search.net, &arch, search.train.height, search.train.width).0,
            sample,
        });
    }
    // Best first; ties keep sampling order.
    out.sort_by(|a, b| b.valid_acc.total_cmp(&a.valid_acc));
    Ok(out)
}

/// `n` arcs drawn by `source` with their log-probability under the trained controller (always the
/// trained one, so the tables compare) and their position in the stream.
fn draw(search: &Search, n: usize, stream: u64, source: Source) -> Result<Vec<(Vec<usize>, f64, usize)>> {
    let mut rng = ChaCha8Rng::seed_from_u64(stream_seed(search.cfg.seed, usize::MAX, stream));
    let initial = match source {
        Source::Initial => Some(initial_controller(&search.cfg, &search.space, &search.device)?),
        _ => None,
    };
    let mut out = Vec::with_capacity(n);
    for k in 0..n {
        let sample = match source {
            Source::Initial => initial.as_ref().expect("built above").sample(&mut rng)?,
            // Paired with the controller's draws (same stream, same use of it).
            Source::Uniform => search.controller.sample_uniform(&mut rng)?,
            _ => search.controller.sample(&mut rng)?,
        };
        let log_prob = match (source, &search.strategy) {
            // A run by another strategy has no trained controller to ask.
            (_, Some(_)) => f64::NAN,
            (Source::Initial, None) => search.controller.evaluate(&sample.values)?.log_prob_value()?,
            (_, None) => sample.log_prob_value()?,
        };
        out.push((sample.values, log_prob, k + 1));
    }
    Ok(out)
}

/// The `n` best distinct arcs of `architectures.csv` by minibatch accuracy (a later query wins a
/// tie), with their row number there as `sample`.
fn best_queried(search: &Search, n: usize) -> Result<Vec<(Vec<usize>, f64, usize)>> {
    let mut rows: Vec<(usize, &crate::search::ArchRow)> = search.arch_rows.iter().enumerate().collect();
    anyhow::ensure!(!rows.is_empty(), "the search has queried no architecture yet");
    rows.sort_by(|a, b| b.1.valid_acc.total_cmp(&a.1.valid_acc).then(b.0.cmp(&a.0)));
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(n);
    for (i, row) in rows {
        if out.len() == n {
            break;
        }
        if seen.insert(row.arc.clone()) {
            let values = search.space.to_values(&search.space.parse(&row.arc)?)?;
            out.push((values, f64::NAN, i + 1));
        }
    }
    Ok(out)
}

/// Writes candidates as a ranked table.
fn write_candidates(search: &Search, file: &str, out: &[Candidate]) -> Result<()> {
    let rows: Vec<Vec<String>> = out
        .iter()
        .enumerate()
        .map(|(i, c)| {
            vec![
                (i + 1).to_string(),
                c.arc.clone(),
                c.normal.clone(),
                c.reduce.clone(),
                format!("{:.6}", c.valid_acc),
                if c.log_prob.is_nan() { String::new() } else { format!("{:.6}", c.log_prob) },
                c.active_params.to_string(),
                c.sample.to_string(),
            ]
        })
        .collect();
    search.dir.write_table(file, &DERIVE_HEADER, &rows)
}

impl Search {
    /// `summary.json` at the end of a search.
    pub fn write_summary(&self, best: &Candidate) -> Result<()> {
        let last = self.epoch_rows.last();
        let summary = serde_json::json!({
            "epochs": self.epoch_rows.len(),
            "best_arc": best.arc,
            "best_normal": best.normal,
            "best_reduce": best.reduce,
            "best_valid_acc": best.valid_acc,
            "best_active_params": best.active_params,
            "valid_images": self.valid.len(),
            "derive_samples": self.cfg.search.derive_samples,
            "final_mean_reward": last.map(|r| r.mean_reward),
            "final_baseline": last.map(|r| r.baseline),
            "scored_arcs": self.arch_rows.len(),
            "supernet_params": self.store.num_params(),
            "seconds": self.epoch_rows.iter().map(|r| r.seconds).sum::<f64>(),
            "threads": crate::runtime::threads(),
            "proxy_evaluations": self.warm.evaluations,
            "proxy_seconds": self.warm.seconds,
        });
        self.dir.write_json("summary.json", &summary)
    }
}
