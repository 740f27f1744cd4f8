//! `enas search`: weight-sharing search. Each epoch trains the supernet's shared weights for one
//! pass over the train split (or `search.child_steps` steps) on the paths the method asks for,
//! one per minibatch; then the method takes its architecture steps, scoring architectures on
//! validation minibatches with the shared weights. The loop knows the method and the supernet
//! only through their traits (`method.rs`, `supernet.rs`): ENAS's controller and the other
//! strategies are `Sampled` methods, and the ENAS micro network is one `Supernet`.
mod build;
mod checkpoint;
mod cost;
mod darts;
mod darts_space;
mod dirichlet;
mod hessian;
mod method;
mod nb201;
#[cfg(test)]
mod planted;
mod report;
mod rows;
mod summary;
mod supernet;
mod unrolled;
mod warm;

use crate::cli::SearchArgs;
use crate::derive::Source;
use crate::run::{RunDir, RunLock};
use crate::runtime::{self, interrupted, stream_seed};
use anyhow::Result;
use candle_core::Device;
use checkpoint::{Cursor, Phase, CHECKPOINT_STATE};
pub use darts::softmax_rows;
use enas_child::{clip_grad_norm, sgd_lr, step_metrics, SgdNesterov};
use enas_controller::strategy::uniform;
use enas_shared::data::{batches, num_batches, Batch, Dataset, LoaderOptions};
use enas_shared::Config;
use indicatif::{ProgressBar, ProgressStyle};
pub use method::Method;
pub use rows::ArchRow;
use rows::EpochRow;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;
pub use supernet::Path;
pub use supernet::Supernet;
use supernet::{ArchContext, ValidStream, WeightStep};

/// Streams of the dropout masks (ENAS's `child.keep_prob`): the shared-weight step's, mixed into
/// the seed, and the reward pass's, an epoch stream of its own.
const TRAIN_DROPOUT: u64 = 0xD807_0000;
const REWARD_DROPOUT: u64 = 0xD0;

/// Everything a search holds between steps.
pub struct Search {
    pub cfg: Config,
    pub dir: RunDir,
    pub device: Device,
    pub train: Arc<Dataset>,
    pub valid: Arc<Dataset>,
    pub net: Arc<dyn Supernet>,
    pub child_opt: SgdNesterov,
    pub method: Box<dyn Method>,
    /// What a proxy-guided strategy's warm start cost (zero for the others).
    pub warm: warm::WarmCost,
    /// The benchmark table reports read (`search.table`), never the method.
    pub table: Option<enas_shared::table::Table>,
    /// The cost the objective reads (`objective:`), if any.
    pub cost: Option<cost::ArchCost>,
    pub arch_rows: Vec<ArchRow>,
    pub epoch_rows: Vec<EpochRow>,
    /// `genotypes.csv`: a method's architecture weights after every epoch (DARTS).
    pub genotype_rows: Vec<rows::GenotypeRow>,
    /// Why the method ended the search before its epochs, if it did.
    pub stopped: Option<String>,
}

pub fn run(a: &SearchArgs) -> Result<ExitCode> {
    // First, so that Ctrl-C while the data loads still ends in a clean exit.
    runtime::install_interrupt_handler()?;
    let _lock: RunLock;
    let (mut search, mut cursor) = match &a.resume {
        Some(dir) => {
            let (dir, lock) = RunDir::resume(dir, crate::run::RunKind::Search)?;
            _lock = lock;
            if dir.file(CHECKPOINT_STATE).exists() {
                let (search, cursor) = Search::resume(&dir)?;
                let epochs = search.cfg.search.epochs;
                match cursor.epoch < epochs {
                    true => eprintln!(
                        "resuming {} at epoch {} of {epochs}, {} step {}",
                        dir.path.display(),
                        cursor.epoch + 1,
                        cursor.phase.name(),
                        cursor.step
                    ),
                    false => eprintln!("resuming {}: its {epochs} epochs are done; deriving", dir.path.display()),
                }
                (search, cursor)
            } else {
                // The run stopped before its first checkpoint (data loading, memory): nothing
                // was computed that could be lost, so it starts over with its stored config.
                eprintln!(
                    "{} has no checkpoint yet: starting the run from the beginning with its config.yaml",
                    dir.path.display()
                );
                let cfg = dir.read_config()?;
                let seed = cfg.seed;
                (Search::new(cfg, dir)?, Cursor::start(seed))
            }
        }
        None => {
            // Paths absolute, so that the run resumes from any directory.
            let cfg = a.load_config()?.with_absolute_paths();
            crate::memory::check_search(&cfg)?;
            runtime::check_device(&cfg)?;
            let (dir, lock) = RunDir::create_new(a.out.as_deref(), "search")?;
            _lock = lock;
            dir.write_config(&cfg)?;
            let seed = cfg.seed;
            (Search::new(cfg, dir)?, Cursor::start(seed))
        }
    };
    if interrupted() {
        eprintln!("interrupted before the first step; nothing to checkpoint");
        return Ok(ExitCode::from(runtime::stop_code()));
    }
    let bar = progress(&search, &cursor);
    while cursor.epoch < search.cfg.search.epochs {
        // A method's early stop is asked at epoch boundaries after its first architecture epoch
        // (so a resumed run asks again, of the same restored state, and stops alike).
        let boundary = cursor.phase == Phase::Child && cursor.step == 0;
        if boundary && cursor.epoch > search.cfg.search.warmup_epochs {
            if let Some(reason) = search.method.stop_reason()? {
                let line = format!("stopping after epoch {}: {reason}", cursor.epoch);
                if bar.is_hidden() {
                    eprintln!("{line}")
                } else {
                    bar.println(line)
                }
                search.stopped = Some(format!("after epoch {}: {reason}", cursor.epoch));
                break;
            }
        }
        let finished = search.run_epoch(&mut cursor, &bar)?;
        search.save_checkpoint(&cursor)?;
        if !finished {
            bar.abandon();
            eprintln!(
                "interrupted: checkpoint written at epoch {}, {} step {}.\nresume with: enas search --resume {}",
                cursor.epoch + 1,
                cursor.phase.name(),
                cursor.step,
                crate::run::shell_quote(&search.dir.path)
            );
            return Ok(ExitCode::from(runtime::stop_code()));
        }
    }
    bar.finish_and_clear();
    // A rule that fires after the last epoch still decides what is returned (RobustDARTS's goes
    // back to an earlier cell): say so.
    if search.stopped.is_none() && cursor.epoch == search.cfg.search.epochs {
        if let Some(reason) = search.method.stop_reason()? {
            eprintln!("at the end of epoch {}: {reason}", cursor.epoch);
            search.stopped = Some(format!("at the end of the last epoch ({}): {reason}", cursor.epoch));
        }
    }
    let derived = crate::derive::derive(&search, search.cfg.search.derive_samples, cursor.epoch as u64, Source::Method);
    let best = match derived.map(|mut c| c.swap_remove(0)) {
        Err(_) if interrupted() => {
            eprintln!(
                "interrupted while deriving; the search itself is complete.\nderive with: enas search --resume {}",
                crate::run::shell_quote(&search.dir.path)
            );
            return Ok(ExitCode::from(runtime::stop_code()));
        }
        other => other?,
    };
    search.write_summary(&best)?;
    println!("best arc (valid acc {:.4} on {} images): {}", best.valid_acc, search.valid.len(), best.arc);
    if search.method.distribution().is_some() {
        // DARTS trained a mixture: its derived cell alone, on the mixture's weights, is not a
        // network that was trained; retraining (or the table) says how good the cell is.
        println!("  (that accuracy is the derived cell run alone on weights trained as a mixture; it says little)");
    }
    match (search.table_acc_of(&best.arc)?, search.table_optimum()) {
        (Some(acc), Some(opt)) => {
            let col = &search.cfg.bench.final_column;
            println!("  table {col}: {acc:.2} (the table's best: {opt:.2})");
        }
        _ => {
            println!("  normal: {}\n  reduce: {}", best.normal, best.reduce);
            println!(
                "retrain it from scratch:\n  enas train --arc-file {} --config {}",
                crate::run::shell_quote(&search.dir.file("best_arch.txt")),
                crate::run::shell_quote(&search.dir.file("config.yaml"))
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

impl Search {
    /// One epoch from `cursor` on: shared-weight steps, then the method's architecture steps.
    /// Returns false when interrupted (the cursor then points at the next step to run).
    fn run_epoch(&mut self, cursor: &mut Cursor, bar: &ProgressBar) -> Result<bool> {
        let started = Instant::now();
        let epoch = cursor.epoch;
        self.method.start_epoch(epoch, self.cfg.search.epochs);
        let lr = sgd_lr(&self.cfg.search.sgd, epoch as f64, self.cfg.search.epochs);
        let seed = self.cfg.seed;
        let batch_size = self.cfg.search.reward_batch_size;
        let mut valid = ValidStream::new(self.valid.clone(), batch_size, seed, epoch, cursor.valid_used);
        let dropout_seed = stream_seed(seed, epoch, REWARD_DROPOUT);
        if cursor.phase == Phase::Child {
            let opts = self.child_loader_options();
            let steps = self.child_steps();
            let loader = batches(self.train.clone(), opts, stream_seed(self.cfg.seed, epoch, 0));
            anyhow::ensure!(
                cursor.step <= steps,
                "the checkpoint is at shared-weight step {} but an epoch has {steps} (was search.child_steps changed?)",
                cursor.step
            );
            let warmup = epoch < self.cfg.search.warmup_epochs;
            for batch in loader.skip(cursor.step).take(steps - cursor.step) {
                // An interleaved architecture step (DARTS's) comes before its weight step.
                if let (Some(k), false) = (self.method.arch_every(), warmup) {
                    if cursor.step % k.max(1) == 0 {
                        self.arch_step(epoch, cursor, &mut valid, dropout_seed, Some((&batch, lr)))?;
                    }
                }
                let path = if warmup {
                    Path::Single(uniform(&self.net.space().decisions(), &mut cursor.rng))
                } else {
                    // A method keeps its architecture weights on the host; the mixture goes to the
                    // supernet's device (one small upload per step).
                    self.method.train_path(&mut cursor.rng)?.onto(&self.device)?
                };
                let dropout = stream_seed(self.cfg.seed ^ TRAIN_DROPOUT, epoch, cursor.step as u64);
                let (loss, right) = self.train_shared_step(&batch, &path, lr, dropout)?;
                cursor.add_child(loss, right, batch.n);
                cursor.step += 1;
                bar.inc(1);
                bar.set_message(format!("epoch {} child loss {:.3}", epoch + 1, cursor.child_loss()));
                if interrupted() {
                    return Ok(false);
                }
            }
            cursor.phase = Phase::Controller;
            cursor.step = 0;
        }
        let steps = self.arch_steps(epoch);
        while cursor.step < steps {
            self.arch_step(epoch, cursor, &mut valid, dropout_seed, None)?;
            cursor.step += 1;
            bar.inc(1);
            bar.set_message(format!("epoch {} architecture reward {:.3}", epoch + 1, cursor.mean_reward()));
            if interrupted() && cursor.step < steps {
                cursor.seconds += started.elapsed().as_secs_f64();
                return Ok(false);
            }
        }
        let mut ctx =
            ArchContext { net: &*self.net, device: &self.device, valid: &mut valid, dropout_seed, next_step: None };
        self.method.end_epoch(&mut ctx, &mut cursor.rng)?;
        cursor.valid_used = valid.used;
        cursor.seconds += started.elapsed().as_secs_f64();
        let mut row = cursor.epoch_row(lr, self.method.baseline());
        if let Some(values) = self.method.current(&self.arch_rows)? {
            row.current = self.net.describe(&values)?.arc;
            row.current_table_acc = self.table_acc(&values)?.unwrap_or(f64::NAN);
        }
        if let Some(dist) = self.method.distribution() {
            let curvature = self.method.curvature();
            self.genotype_rows.push(rows::GenotypeRow::new(epoch + 1, row.current.clone(), &dist, curvature));
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

    /// One architecture step of the method at `cursor`, its scores recorded; `next` is the weight
    /// step (batch, learning rate) that follows an interleaved one.
    fn arch_step(
        &mut self,
        epoch: usize,
        cursor: &mut Cursor,
        valid: &mut ValidStream,
        dropout_seed: u64,
        next: Option<(&Batch, f64)>,
    ) -> Result<()> {
        let mut ctx = ArchContext {
            net: &*self.net,
            device: &self.device,
            valid,
            dropout_seed,
            next_step: next.map(|(batch, lr)| WeightStep { batch, lr, opt: &self.child_opt }),
        };
        let scored = self.method.arch_step(&mut ctx, &mut cursor.rng)?;
        cursor.valid_used = ctx.valid.used;
        self.record(epoch, cursor, &scored)
    }

    /// Rows of `architectures.csv` for what an architecture step at `cursor` scored.
    fn record(&mut self, epoch: usize, cursor: &mut Cursor, scored: &[method::Scored]) -> Result<()> {
        let baseline = self.method.baseline();
        for (k, s) in scored.iter().enumerate() {
            let info = self.net.describe(&s.values)?;
            let (reward, log_prob, entropy) = match s.told {
                Some(t) => (t.reward, t.log_prob, t.entropy),
                None => (s.reward, f64::NAN, f64::NAN),
            };
            self.arch_rows.push(ArchRow {
                epoch: epoch + 1,
                step: cursor.step + 1,
                sample: k + 1,
                arc: info.arc,
                normal: info.normal,
                reduce: info.reduce,
                reward,
                valid_acc: s.valid_acc,
                cost: s.cost,
                log_prob,
                entropy,
                baseline,
                active_params: info.active_params,
            });
            cursor.add_reward(reward, s.valid_acc, entropy);
        }
        Ok(())
    }

    /// One SGD step of the shared weights on `path`. Returns the loss and correct count.
    fn train_shared_step(&mut self, batch: &Batch, path: &Path, lr: f64, dropout: u64) -> Result<(f64, usize)> {
        let (x, y) = (batch.x.to_device(&self.device)?, batch.y.to_device(&self.device)?);
        let (loss, logits) = self.net.train_loss(&x, &y, path, dropout)?;
        let mut grads = loss.backward()?;
        let clip = self.cfg.search.sgd.grad_clip;
        if clip > 0.0 {
            clip_grad_norm(&self.net.store().vars, &mut grads, clip)?;
        }
        self.child_opt.step(&grads, lr)?;
        // The step's one read back from the device.
        let (l, right) = step_metrics(&loss, &logits, &y)?;
        anyhow::ensure!(l.is_finite(), "shared-weight training diverged (loss {l}); lower search.sgd.lr_max");
        Ok((l, right))
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

    /// Architecture steps of an epoch: none during the warm-up.
    fn arch_steps(&self, epoch: usize) -> usize {
        if epoch < self.cfg.search.warmup_epochs {
            0
        } else {
            self.method.arch_steps()
        }
    }
}

fn progress(search: &Search, cursor: &Cursor) -> ProgressBar {
    let epochs = search.cfg.search.epochs;
    let per_epoch = |e: usize| search.child_steps() + search.arch_steps(e);
    let bar = ProgressBar::new((0..epochs).map(per_epoch).sum::<usize>() as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}<{eta_precise}] {bar:30} {pos}/{len} {msg}")
            .expect("valid template"),
    );
    let done = (0..cursor.epoch).map(per_epoch).sum::<usize>()
        + if cursor.phase == Phase::Controller { search.child_steps() } else { 0 }
        + cursor.step;
    bar.set_position(done as u64);
    bar
}
