//! `enas search`: ENAS. Each epoch trains the shared weights of the supernet for one pass over the
//! train split, a fresh arc from the controller for every minibatch; then the controller takes
//! `controller.train_steps` REINFORCE steps, each scoring `controller.num_aggregate` sampled arcs
//! on one validation minibatch apiece. The math lives in the child and controller crates; this
//! file is the algorithm.
//!
//! With `search.strategy` other than `reinforce` the supernet is the evaluator of that strategy:
//! the shared weights train on uniformly random arcs (single-path one-shot style), and the
//! controller's samples are replaced by the strategy's queries, as many per epoch
//! (`train_steps x num_aggregate`), each scored on one validation minibatch and told back.
mod checkpoint;
mod queries;
mod rows;
mod warm;

use crate::cli::SearchArgs;
use crate::derive::Source;
use crate::run::RunDir;
use crate::runtime;
use anyhow::{Context, Result};
use candle_core::Device;
use checkpoint::{Cursor, Phase, CHECKPOINT_STATE};
use enas_child::{
    clip_grad_norm, correct, cross_entropy, path_cost, sgd_lr, BnMode, InitRoot, MicroNet, MicroShape, ParamStore,
    SgdNesterov, Weights,
};
use enas_controller::strategy::{self, History, Strategy};
use enas_controller::{Controller, Reinforce};
use enas_shared::data::{batches, load_splits, num_batches, Batch, Dataset, LoaderOptions};
use enas_shared::strategy_config::StrategyKind;
use enas_shared::{Arch, Config, EnasMicro, Space};
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
pub use rows::ArchRow;
use rows::EpochRow;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Everything a search holds between steps.
pub struct Search {
    pub cfg: Config,
    pub dir: RunDir,
    pub space: EnasMicro,
    pub device: Device,
    pub train: Arc<Dataset>,
    pub valid: Arc<Dataset>,
    pub net: MicroNet,
    pub store: ParamStore,
    pub child_opt: SgdNesterov,
    pub controller: Controller,
    pub reinforce: Reinforce,
    /// The strategy when it is not ENAS's controller (`search.strategy`), and what it was told.
    pub strategy: Option<Box<dyn Strategy>>,
    pub history: History,
    /// What a proxy-guided strategy's warm start cost (zero for the others).
    pub warm: warm::WarmCost,
    pub arch_rows: Vec<ArchRow>,
    pub epoch_rows: Vec<EpochRow>,
}

/// Set by SIGINT: the loop finishes its step, checkpoints and exits 130.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Whether Ctrl-C was pressed (long loops outside the search, like derive, stop on it).
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

pub fn run(a: &SearchArgs) -> Result<ExitCode> {
    // First, so that Ctrl-C while the data loads still ends in a clean exit.
    ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst)).context("installing the Ctrl-C handler")?;
    let (mut search, mut cursor) = match &a.resume {
        Some(dir) => Search::resume(&RunDir::open(dir)?)?,
        None => {
            let cfg = a.load_config()?;
            if let Some(out) = &a.out {
                anyhow::ensure!(
                    !out.join("config.yaml").exists() && !out.join(CHECKPOINT_STATE).exists(),
                    "{} already holds a run: continue it with `enas search --resume {}` or choose another --out",
                    out.display(),
                    out.display()
                );
            }
            let dir = RunDir::create(a.out.as_deref(), "search")?;
            dir.write_config(&cfg)?;
            let seed = cfg.seed;
            (Search::new(cfg, dir)?, Cursor::start(seed))
        }
    };
    if INTERRUPTED.load(Ordering::SeqCst) {
        eprintln!("interrupted before the first step; nothing to checkpoint");
        return Ok(ExitCode::from(130));
    }
    let bar = progress(&search, &cursor);
    while cursor.epoch < search.cfg.search.epochs {
        let finished = search.run_epoch(&mut cursor, &bar)?;
        search.save_checkpoint(&cursor)?;
        if !finished {
            bar.abandon();
            eprintln!(
                "interrupted: checkpoint written at epoch {}, {} step {}.\nresume with: enas search --resume {}",
                cursor.epoch + 1,
                cursor.phase.name(),
                cursor.step,
                search.dir.path.display()
            );
            return Ok(ExitCode::from(130));
        }
    }
    bar.finish_and_clear();
    let derived =
        crate::derive::derive(&search, search.cfg.search.derive_samples, cursor.epoch as u64, Source::of(&search));
    let best = match derived.map(|mut c| c.swap_remove(0)) {
        Err(_) if interrupted() => {
            eprintln!(
                "interrupted while deriving; the search itself is complete.\nderive with: enas derive --run {}",
                search.dir.path.display()
            );
            return Ok(ExitCode::from(130));
        }
        other => other?,
    };
    search.write_summary(&best)?;
    println!("best arc (valid acc {:.4} on {} images): {}", best.valid_acc, search.valid.len(), best.arc);
    println!("  normal: {}\n  reduce: {}", best.normal, best.reduce);
    println!(
        "retrain it from scratch:\n  enas train --arc-file {} --config {}",
        search.dir.file("best_arch.txt").display(),
        search.dir.file("config.yaml").display()
    );
    Ok(ExitCode::SUCCESS)
}

impl Search {
    /// Builds the data, supernet, controller and optimisers of a new search.
    pub fn new(cfg: Config, dir: RunDir) -> Result<Search> {
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
        let space = EnasMicro::new(cfg.child.nodes);
        let shape = MicroShape::of_child(&cfg.child, splits.train.channels, splits.train.classes);
        let root = InitRoot::new(cfg.seed, &device);
        let net = MicroNet::new(shape, &Weights::Shared, root.init())?;
        let store = root.finish();
        let sgd = &cfg.search.sgd;
        let child_opt = SgdNesterov::new(store.vars.clone(), sgd.momentum, sgd.weight_decay);
        let controller = initial_controller(&cfg, &space, &device)?;
        let reinforce = Reinforce::new(&cfg.controller, &controller)?;
        let mut warm_cost = warm::WarmCost::default();
        let strategy = match cfg.search.strategy {
            StrategyKind::Reinforce => None,
            kind => {
                let mut rng = ChaCha8Rng::seed_from_u64(stream_seed(cfg.seed, 0, CONTROLLER_INIT));
                let proxies = kind.proxies(&cfg.strategy.proxy);
                let hw = (splits.train.height, splits.train.width);
                let (starts, cost) = warm::ranked_pool(&cfg, &proxies, &net, &space, hw, &mut rng)?;
                warm_cost = cost;
                let space = Space::from(&space);
                Some(strategy::build_with_starts(kind, &space, &cfg.strategy, &cfg.controller, starts, &mut rng)?)
            }
        };
        let history = History::new(cfg.strategy.repeats);
        Ok(Search {
            cfg,
            dir,
            space,
            device,
            train: Arc::new(splits.train),
            valid: Arc::new(splits.valid),
            net,
            store,
            child_opt,
            controller,
            reinforce,
            strategy,
            history,
            warm: warm_cost,
            arch_rows: Vec::new(),
            epoch_rows: Vec::new(),
        })
    }

    /// One epoch from `cursor` on: shared-weight steps, then controller steps. Returns false when
    /// interrupted (the cursor then points at the next step to run).
    fn run_epoch(&mut self, cursor: &mut Cursor, bar: &ProgressBar) -> Result<bool> {
        let started = Instant::now();
        let epoch = cursor.epoch;
        let lr = sgd_lr(&self.cfg.search.sgd, epoch as f64, self.cfg.search.epochs);
        if cursor.phase == Phase::Child {
            let opts = self.child_loader_options();
            let steps = self.child_steps();
            let loader = batches(self.train.clone(), opts, stream_seed(self.cfg.seed, epoch, 0));
            anyhow::ensure!(
                cursor.step <= steps,
                "the checkpoint is at shared-weight step {} but an epoch has {steps} (was search.child_steps changed?)",
                cursor.step
            );
            for batch in loader.skip(cursor.step).take(steps - cursor.step) {
                let arch = self.sample_arch(cursor)?;
                let (loss, right) = self.train_shared_step(&batch, &arch, lr)?;
                cursor.add_child(loss, right, batch.n);
                cursor.step += 1;
                bar.inc(1);
                bar.set_message(format!("epoch {} child loss {:.3}", epoch + 1, cursor.child_loss()));
                if INTERRUPTED.load(Ordering::SeqCst) {
                    return Ok(false);
                }
            }
            cursor.phase = Phase::Controller;
            cursor.step = 0;
        }
        let valid_opts = LoaderOptions {
            batch_size: self.cfg.search.reward_batch_size,
            shuffle: true,
            augment: false,
            drop_last: true,
        };
        let per_pass = num_batches(self.valid.len(), valid_opts).max(1);
        let aggregate = self.cfg.controller.num_aggregate;
        // The current shuffled validation pass, prepared once and indexed.
        let mut valid_pass: Option<(usize, Vec<Batch>)> = None;
        while cursor.step < self.cfg.controller.train_steps {
            let mut scored = Vec::with_capacity(aggregate);
            for k in 0..aggregate {
                let idx = cursor.step * aggregate + k;
                // One validation minibatch per sampled arc, cycling through shuffled passes.
                let pass = idx / per_pass;
                if valid_pass.as_ref().map(|(p, _)| *p) != Some(pass) {
                    let seed = stream_seed(self.cfg.seed, epoch, 1 + pass as u64);
                    valid_pass = Some((pass, batches(self.valid.clone(), valid_opts, seed).collect()));
                }
                let batch = valid_pass
                    .as_ref()
                    .and_then(|(_, b)| b.get(idx % per_pass))
                    .context("the validation split is smaller than search.reward_batch_size")?;
                scored.push(self.query(batch, &mut cursor.rng)?);
            }
            let stats = match self.strategy {
                None => {
                    let pairs: Vec<_> = scored.iter().filter_map(|(s, _, acc)| s.as_ref().map(|s| (s, *acc))).collect();
                    Some(self.reinforce.update(&self.controller, &pairs)?)
                }
                Some(_) => None,
            };
            for (k, (sample, arch, valid_acc)) in scored.iter().enumerate() {
                let (log_prob, entropy) = match sample {
                    Some(s) => (s.log_prob_value()?, s.entropy_value()?),
                    None => (f64::NAN, f64::NAN),
                };
                let reward = if sample.is_some() { self.reinforce.reward(*valid_acc, entropy) } else { *valid_acc };
                self.arch_rows.push(ArchRow {
                    epoch: epoch + 1,
                    step: cursor.step + 1,
                    sample: k + 1,
                    arc: self.space.format(arch)?,
                    normal: arch.normal.to_string(),
                    reduce: arch.reduce.to_string(),
                    reward,
                    valid_acc: *valid_acc,
                    log_prob,
                    entropy,
                    baseline: stats.map_or(f64::NAN, |s| s.baseline),
                    active_params: path_cost(&self.net, arch, self.train.height, self.train.width).0,
                });
                cursor.add_reward(reward, *valid_acc, if entropy.is_nan() { 0.0 } else { entropy });
            }
            cursor.step += 1;
            bar.inc(1);
            bar.set_message(format!("epoch {} controller reward {:.3}", epoch + 1, cursor.mean_reward()));
            if INTERRUPTED.load(Ordering::SeqCst) && cursor.step < self.cfg.controller.train_steps {
                cursor.seconds += started.elapsed().as_secs_f64();
                return Ok(false);
            }
        }
        cursor.seconds += started.elapsed().as_secs_f64();
        let mut row = cursor.epoch_row(lr, self.reinforce.baseline());
        if self.strategy.is_some() {
            (row.mean_entropy, row.baseline) = (f64::NAN, f64::NAN);
        }
        self.epoch_rows.push(row);
        let line = self.epoch_rows.last().expect("just pushed").describe();
        if bar.is_hidden() {
            eprintln!("{line}")
        } else {
            bar.println(line)
        }
        cursor.next_epoch(self.cfg.seed);
        Ok(true)
    }

    /// One SGD step of the shared weights on `arch`'s path. Returns the loss and correct count.
    fn train_shared_step(&mut self, batch: &Batch, arch: &Arch, lr: f64) -> Result<(f64, usize)> {
        let (x, y) = (batch.x.to_device(&self.device)?, batch.y.to_device(&self.device)?);
        let logits = self.net.forward(&x, arch, BnMode::Train)?;
        let loss = cross_entropy(&logits, &y)?;
        let mut grads = loss.backward()?;
        let clip = self.cfg.search.sgd.grad_clip;
        if clip > 0.0 {
            clip_grad_norm(&self.store.vars, &mut grads, clip)?;
        }
        self.child_opt.step(&grads, lr)?;
        let l = loss.to_scalar::<f32>()? as f64;
        anyhow::ensure!(l.is_finite(), "shared-weight training diverged (loss {l}); lower search.sgd.lr_max");
        Ok((l, correct(&logits, &y)?))
    }

    /// Accuracy of `arch` with the shared weights on one validation minibatch. As in ENAS, the
    /// child runs in training mode (batch statistics) but nothing is updated.
    pub(super) fn reward_accuracy(&self, batch: &Batch, arch: &Arch) -> Result<f64> {
        let logits = self.net.forward(&batch.x.to_device(&self.device)?, arch, BnMode::BatchStats)?;
        Ok(correct(&logits, &batch.y.to_device(&self.device)?)? as f64 / batch.n as f64)
    }

    fn child_loader_options(&self) -> LoaderOptions {
        LoaderOptions {
            batch_size: self.cfg.search.batch_size,
            shuffle: true,
            augment: self.cfg.data.augment,
            drop_last: true,
        }
    }

    /// Shared-weight steps per epoch: one pass, or the configured cap.
    fn child_steps(&self) -> usize {
        let pass = num_batches(self.train.len(), self.child_loader_options());
        self.cfg.search.child_steps.map_or(pass, |cap| cap.min(pass))
    }

    /// Steps of one epoch (shared-weight plus controller), for the progress bar.
    fn steps_per_epoch(&self) -> usize {
        self.child_steps() + self.cfg.controller.train_steps
    }
}

fn progress(search: &Search, cursor: &Cursor) -> ProgressBar {
    let per_epoch = search.steps_per_epoch();
    let bar = ProgressBar::new((per_epoch * search.cfg.search.epochs) as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}<{eta_precise}] {bar:30} {pos}/{len} {msg}")
            .expect("valid template"),
    );
    let done = cursor.epoch * per_epoch
        + if cursor.phase == Phase::Controller { search.child_steps() } else { 0 }
        + cursor.step;
    bar.set_position(done as u64);
    bar
}

/// The stream of the controller's initial weights (the supernet's use `seed` itself).
const CONTROLLER_INIT: u64 = 0xC0;

/// The controller as a search with `cfg` starts it: its initial weights come from the run seed.
pub fn initial_controller(cfg: &Config, space: &EnasMicro, device: &Device) -> Result<Controller> {
    Ok(Controller::new(&cfg.controller, space, stream_seed(cfg.seed, 0, CONTROLLER_INIT), device)?)
}

/// The seed of one of an epoch's random streams (0: child batches, 1 + k: the k-th validation
/// pass). Streams are functions of the run seed and the epoch only, so any epoch can be replayed.
pub fn stream_seed(seed: u64, epoch: usize, stream: u64) -> u64 {
    let mut z = seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03);
    // splitmix64 finaliser
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
