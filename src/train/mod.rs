//! `enas train`: one fixed architecture trained from scratch, as ENAS retrains its derived cells.
mod checkpoint;
pub mod net;

use crate::cli::TrainArgs;
use crate::run::RunDir;
use crate::runtime;
use crate::runtime::stream_seed;
use anyhow::{Context, Result};
use candle_core::Device;
use checkpoint::Position;
use enas_child::{clip_grad_norm, correct, sgd_lr, step_metrics, SgdNesterov};
use enas_shared::data::{batches, load_splits, num_batches, Dataset, LoaderOptions};
use enas_shared::{Arch, Config};
use indicatif::{ProgressBar, ProgressStyle};
use net::FixedNet;
use serde::{Deserialize, Serialize};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

/// A row of `metrics.csv`: one per epoch.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct MetricsRow {
    epoch: usize,
    lr: f64,
    train_loss: f64,
    train_acc: f64,
    /// Empty when the run has no validation split.
    valid_acc: Option<f64>,
    seconds: f64,
}

pub fn run(a: &TrainArgs) -> Result<ExitCode> {
    // First, so that a stop while the data loads still ends in a clean exit.
    runtime::install_interrupt_handler()?;
    let (dir, _lock, cfg, arc_text, resume) = match &a.resume {
        Some(path) => {
            let (dir, lock) = RunDir::resume(path, crate::run::RunKind::Train)?;
            let cfg = dir.read_config()?;
            let arc_path = dir.file(ARC_FILE);
            let arc = std::fs::read_to_string(&arc_path).with_context(|| format!("reading {}", arc_path.display()))?;
            let resume = dir.file(checkpoint::TRAIN_STATE).exists();
            if !resume {
                eprintln!(
                    "{} has no checkpoint yet: starting the run from the beginning with its config.yaml",
                    dir.path.display()
                );
            }
            (dir, lock, cfg, arc, resume)
        }
        None => {
            let mut extra = Vec::new();
            if let Some(d) = &a.data {
                extra.push(format!("data.spec={}", crate::cli::yaml_str(d)));
            }
            if let Some(e) = a.epochs {
                extra.push(format!("train.epochs={e}"));
            }
            if let Some(s) = a.seed {
                extra.push(format!("seed={s}"));
            }
            // Paths absolute, so that the run resumes from any directory.
            let cfg = a.cfg.load(&extra)?.with_absolute_paths();
            let origin = a.arc_file.as_ref().map(|f| f.display().to_string()).unwrap_or_else(|| "--arc".into());
            let arc = a.arc_text()?;
            net::parse(&cfg, &arc, &origin)?;
            crate::memory::check_train(&cfg)?;
            runtime::check_device(&cfg)?;
            let (dir, lock) = RunDir::create_new(a.out.as_deref(), "train")?;
            dir.write_config(&cfg)?;
            dir.write_text(ARC_FILE, &format!("{}\n", arc.trim()))?;
            (dir, lock, cfg, arc, false)
        }
    };
    runtime::init_threads(cfg.threads);
    let arch = net::parse(&cfg, &arc_text, &dir.file(ARC_FILE).display().to_string())?;
    let summary = match train_fixed(&cfg, &arch, &dir, resume)? {
        Outcome::Finished(s) => s,
        Outcome::Stopped(pos) => {
            eprintln!(
                "interrupted: checkpoint written at epoch {}, step {}.\nresume with: enas train --resume {}",
                pos.epoch + 1,
                pos.step,
                crate::run::shell_quote(&dir.path)
            );
            return Ok(ExitCode::from(runtime::stop_code()));
        }
    };
    println!(
        "test accuracy {:.4} ({} test images), {} parameters, {:.1} s; outputs in {}",
        summary.test_acc,
        summary.test_images,
        summary.params,
        summary.seconds,
        dir.path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The arc a train run trains, as given, kept in its directory for `--resume`.
const ARC_FILE: &str = "arc.txt";

/// What a finished training run reports.
pub struct TrainSummary {
    pub test_acc: f64,
    pub test_images: usize,
    pub params: usize,
    pub seconds: f64,
}

/// How `train_fixed` ended: done, or stopped by a signal after checkpointing.
enum Outcome {
    Finished(TrainSummary),
    Stopped(Position),
}

/// Trains `arch` from scratch with `cfg.train` (from the run's checkpoint when `resume`),
/// writing `metrics.csv` every epoch, a checkpoint every epoch and at a stop, and at the end
/// `summary.json` and `model.safetensors`.
fn train_fixed(cfg: &Config, arch: &Arch, dir: &RunDir, resume: bool) -> Result<Outcome> {
    let started = Instant::now();
    crate::memory::check_train(cfg)?;
    let device = runtime::device(cfg)?;
    let splits = load_splits(&cfg.data)?;
    let test_held_out = splits.test_held_out;
    let (train, valid, test) = (Arc::new(splits.train), Arc::new(splits.valid), Arc::new(splits.test));
    let (net, store) = net::build(cfg, arch, (train.channels, (train.height, train.width), train.classes), &device)?;
    let params = net.params();
    let t = &cfg.train;
    let mut opt = SgdNesterov::new(store.vars.clone(), t.sgd.momentum, t.sgd.weight_decay);
    let (mut pos, mut rows) = if resume {
        let r = checkpoint::restore(dir, cfg, &store, &mut opt)?;
        let path = dir.file("metrics.csv");
        let (rows, total) = enas_shared::export::read_rows::<MetricsRow>(&path, r.metrics_rows)?;
        anyhow::ensure!(
            total >= r.metrics_rows,
            "{}: {total} rows, the checkpoint recorded {}",
            path.display(),
            r.metrics_rows
        );
        let (p, path) = (&r.position, dir.path.display());
        match p.epoch < t.epochs {
            true => eprintln!("resuming {path} at epoch {} of {}, step {}", p.epoch + 1, t.epochs, p.step),
            false => eprintln!("resuming {path}: its {} epochs are done; evaluating", t.epochs),
        }
        (r.position, rows)
    } else {
        (Position::default(), Vec::new())
    };
    let opts = LoaderOptions { batch_size: t.batch_size, shuffle: true, augment: cfg.data.augment, drop_last: false };
    let steps = num_batches(train.len(), opts);
    let bar = ProgressBar::new((steps * t.epochs) as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}<{eta_precise}] {bar:30} {pos}/{len} {msg}")
            .expect("valid template"),
    );
    bar.set_position((pos.epoch * steps + pos.step) as u64);
    let seconds_before = pos.seconds;
    while pos.epoch < t.epochs {
        let epoch = pos.epoch;
        let t0 = Instant::now();
        let epoch_seconds_before = pos.epoch_seconds;
        let lr = sgd_lr(&t.sgd, epoch as f64, t.epochs);
        let loader = batches(train.clone(), opts, stream_seed(cfg.seed, epoch, 0));
        for batch in loader.skip(pos.step) {
            let (x, y) = (batch.x.to_device(&device)?, batch.y.to_device(&device)?);
            let progress = (epoch * steps + pos.step) as f64 / (steps * t.epochs) as f64;
            let (loss, logits) = net.train_loss(&x, &y, stream_seed(cfg.seed, epoch, 1 + pos.step as u64), progress)?;
            let mut grads = loss.backward()?;
            if t.sgd.grad_clip > 0.0 {
                clip_grad_norm(&store.vars, &mut grads, t.sgd.grad_clip)?;
            }
            opt.step(&grads, lr)?;
            // The step's one read back from the device.
            let (l, right) = step_metrics(&loss, &logits, &y)?;
            anyhow::ensure!(
                l.is_finite(),
                "training diverged: loss is {l} in epoch {} step {}; lower train.sgd.lr_max",
                epoch + 1,
                pos.step + 1
            );
            pos.loss_sum += l * batch.n as f64;
            pos.correct += right;
            pos.seen += batch.n;
            pos.step += 1;
            bar.inc(1);
            bar.set_message(format!(
                "epoch {}/{} lr {lr:.4} loss {:.3} acc {:.3}",
                epoch + 1,
                t.epochs,
                pos.loss_sum / pos.seen as f64,
                pos.correct as f64 / pos.seen as f64
            ));
            if runtime::interrupted() && pos.step < steps {
                pos.epoch_seconds = epoch_seconds_before + t0.elapsed().as_secs_f64();
                pos.seconds = seconds_before + started.elapsed().as_secs_f64();
                checkpoint::save(dir, cfg, &store, &opt, &pos, rows.len())?;
                bar.abandon();
                return Ok(Outcome::Stopped(pos));
            }
        }
        let valid_acc = evaluate(&*net, &valid, t.eval_batch_size, &device)?;
        rows.push(MetricsRow {
            epoch: epoch + 1,
            lr,
            train_loss: pos.loss_sum / pos.seen.max(1) as f64,
            train_acc: pos.correct as f64 / pos.seen.max(1) as f64,
            valid_acc,
            seconds: epoch_seconds_before + t0.elapsed().as_secs_f64(),
        });
        dir.write_rows("metrics.csv", &rows)?;
        let r = &rows[epoch];
        let valid = r.valid_acc.map(|v| format!("{v:.4}")).unwrap_or_else(|| "-".into());
        let line = format!(
            "epoch {}/{}: lr {:.4}, train loss {:.4}, train acc {:.4}, valid acc {valid}, {:.1} s",
            r.epoch, t.epochs, r.lr, r.train_loss, r.train_acc, r.seconds
        );
        if bar.is_hidden() {
            eprintln!("{line}")
        } else {
            bar.println(line)
        }
        pos = Position {
            epoch: epoch + 1,
            seconds: seconds_before + started.elapsed().as_secs_f64(),
            ..Position::default()
        };
        checkpoint::save(dir, cfg, &store, &opt, &pos, rows.len())?;
        if runtime::interrupted() && pos.epoch < t.epochs {
            bar.abandon();
            return Ok(Outcome::Stopped(pos));
        }
    }
    bar.finish_and_clear();
    let test_acc = evaluate(&*net, &test, t.eval_batch_size, &device)?.unwrap_or(f64::NAN);
    store.save(&dir.file("model.safetensors")).context("saving model.safetensors")?;
    let seconds = seconds_before + started.elapsed().as_secs_f64();
    let deploy = net::deploy_costs(&*net, train.channels, (train.height, train.width), &device)?;
    eprintln!(
        "deployed: {} parameters, {} multiply-adds per image, {:.3} ms per image here (batch 1, {} threads, median)",
        deploy["params"],
        deploy["flops"],
        deploy["latency_ms"].as_f64().unwrap_or(f64::NAN),
        deploy["latency_threads"]
    );
    let summary = serde_json::json!({
        "deploy": deploy,
        "test_acc": test_acc,
        "test_images": test.len(),
        "test_held_out": test_held_out,
        "params": params,
        "epochs": t.epochs,
        "seconds": seconds,
        "threads": runtime::threads(),
        "arc": net.arc_text()?,
        "space": cfg.search.space,
        "config": serde_json::to_value(cfg)?,
    });
    dir.write_json("summary.json", &summary)?;
    // The run is complete: its last checkpoint only repeats model.safetensors.
    let _ = std::fs::remove_dir_all(dir.file("checkpoints"));
    let _ = std::fs::remove_file(dir.file(checkpoint::TRAIN_STATE));
    Ok(Outcome::Finished(TrainSummary { test_acc, test_images: test.len(), params, seconds }))
}

/// Accuracy of `net` on a whole dataset with running BatchNorm statistics; `None` when it is empty.
pub fn evaluate(net: &dyn FixedNet, data: &Arc<Dataset>, batch_size: usize, device: &Device) -> Result<Option<f64>> {
    if data.is_empty() {
        return Ok(None);
    }
    let opts = LoaderOptions { batch_size, shuffle: false, augment: false, drop_last: false };
    let mut right = 0;
    for batch in batches(data.clone(), opts, 0) {
        let logits = net.eval_logits(&batch.x.to_device(device)?)?;
        right += correct(&logits, &batch.y.to_device(device)?)?;
    }
    Ok(Some(right as f64 / data.len() as f64))
}
