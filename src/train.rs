//! `enas train`: one fixed architecture trained from scratch, as ENAS retrains its derived cells.
use crate::cli::{parse_arc, TrainArgs};
use crate::run::RunDir;
use crate::runtime;
use crate::runtime::stream_seed;
use anyhow::{Context, Result};
use candle_core::Device;
use enas_child::{
    clip_grad_norm, correct, cross_entropy, sgd_lr, BnMode, InitRoot, MicroNet, MicroShape, SgdNesterov, Weights,
};
use enas_shared::data::{batches, load_splits, num_batches, Dataset, LoaderOptions};
use enas_shared::export::{atomic_write, write_csv};
use enas_shared::{Arch, Config};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

const METRICS_HEADER: [&str; 6] = ["epoch", "lr", "train_loss", "train_acc", "valid_acc", "seconds"];

pub fn run(a: &TrainArgs) -> Result<()> {
    let mut extra = Vec::new();
    if let Some(d) = &a.data {
        extra.push(format!("data.spec={d}"));
    }
    if let Some(e) = a.epochs {
        extra.push(format!("train.epochs={e}"));
    }
    if let Some(s) = a.seed {
        extra.push(format!("seed={s}"));
    }
    let cfg = a.cfg.load(&extra)?;
    runtime::init_threads(cfg.threads);
    let origin = a.arc_file.as_ref().map(|f| f.display().to_string()).unwrap_or_else(|| "--arc".into());
    let arch = parse_arc(&cfg, &a.arc_text()?, &origin)?;
    let (dir, _lock) = RunDir::create_new(a.out.as_deref(), "train")?;
    let out = dir.path.clone();
    let summary = train_fixed(&cfg, &arch, &out)?;
    println!(
        "test accuracy {:.4} ({} test images), {} parameters, {:.1} s; outputs in {}",
        summary.test_acc,
        summary.test_images,
        summary.params,
        summary.seconds,
        out.display()
    );
    Ok(())
}

/// What a finished training run reports.
pub struct TrainSummary {
    pub test_acc: f64,
    pub test_images: usize,
    pub params: usize,
    pub seconds: f64,
}

/// Trains `arch` from scratch with `cfg.train`, writing `metrics.csv`, `summary.json` and
/// `model.safetensors` into `out`.
pub fn train_fixed(cfg: &Config, arch: &Arch, out: &Path) -> Result<TrainSummary> {
    let started = Instant::now();
    let device = runtime::device(cfg)?;
    let splits = load_splits(&cfg.data)?;
    let test_held_out = splits.test_held_out;
    let (train, valid, test) = (Arc::new(splits.train), Arc::new(splits.valid), Arc::new(splits.test));
    let shape = MicroShape {
        in_channels: train.channels,
        classes: train.classes,
        layers: cfg.train.layers,
        channels: cfg.train.channels,
        nodes: cfg.child.nodes,
    };
    let root = InitRoot::new(cfg.seed, &device);
    let net = MicroNet::new(shape, &Weights::Fixed(arch.clone()), root.init())?;
    let store = root.finish();
    let params = store.num_params();
    let t = &cfg.train;
    let mut opt = SgdNesterov::new(store.vars.clone(), t.sgd.momentum, t.sgd.weight_decay);
    let opts = LoaderOptions { batch_size: t.batch_size, shuffle: true, augment: cfg.data.augment, drop_last: false };
    let steps = num_batches(train.len(), opts);
    let bar = ProgressBar::new((steps * t.epochs) as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}<{eta_precise}] {bar:30} {pos}/{len} {msg}")
            .expect("valid template"),
    );
    let mut rows: Vec<Vec<String>> = Vec::new();
    for epoch in 0..t.epochs {
        let t0 = Instant::now();
        let lr = sgd_lr(&t.sgd, epoch as f64, t.epochs);
        let (mut loss_sum, mut right, mut seen) = (0f64, 0usize, 0usize);
        for batch in batches(train.clone(), opts, stream_seed(cfg.seed, epoch, 0)) {
            let (x, y) = (batch.x.to_device(&device)?, batch.y.to_device(&device)?);
            let logits = net.forward(&x, arch, BnMode::Train)?;
            let loss = cross_entropy(&logits, &y)?;
            let mut grads = loss.backward()?;
            if t.sgd.grad_clip > 0.0 {
                clip_grad_norm(&store.vars, &mut grads, t.sgd.grad_clip)?;
            }
            opt.step(&grads, lr)?;
            let l = loss.to_scalar::<f32>()? as f64;
            anyhow::ensure!(l.is_finite(), "training diverged: loss is {l} in epoch {epoch}; lower train.sgd.lr_max");
            loss_sum += l * batch.n as f64;
            right += correct(&logits, &y)?;
            seen += batch.n;
            bar.inc(1);
            bar.set_message(format!(
                "epoch {}/{} lr {lr:.4} loss {:.3} acc {:.3}",
                epoch + 1,
                t.epochs,
                loss_sum / seen as f64,
                right as f64 / seen as f64
            ));
        }
        let valid_acc = evaluate(&net, arch, &valid, t.eval_batch_size, &device)?;
        rows.push(vec![
            (epoch + 1).to_string(),
            format!("{lr:.6}"),
            format!("{:.6}", loss_sum / seen.max(1) as f64),
            format!("{:.6}", right as f64 / seen.max(1) as f64),
            valid_acc.map(|v| format!("{v:.6}")).unwrap_or_default(),
            format!("{:.3}", t0.elapsed().as_secs_f64()),
        ]);
        write_csv(&out.join("metrics.csv"), &METRICS_HEADER, &rows)?;
        let line = format!(
            "epoch {}/{}: {}",
            epoch + 1,
            t.epochs,
            METRICS_HEADER[1..]
                .iter()
                .zip(&rows[epoch][1..])
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if bar.is_hidden() {
            eprintln!("{line}")
        } else {
            bar.println(line)
        }
    }
    bar.finish_and_clear();
    let test_acc = evaluate(&net, arch, &test, t.eval_batch_size, &device)?.unwrap_or(f64::NAN);
    store.save(&out.join("model.safetensors")).context("saving model.safetensors")?;
    let seconds = started.elapsed().as_secs_f64();
    let summary = serde_json::json!({
        "test_acc": test_acc,
        "test_images": test.len(),
        "test_held_out": test_held_out,
        "params": params,
        "epochs": t.epochs,
        "seconds": seconds,
        "threads": runtime::threads(),
        "arc": enas_shared::EnasMicro::new(cfg.child.nodes).format(arch)?,
        "config": serde_json::to_value(cfg)?,
    });
    atomic_write(&out.join("summary.json"), serde_json::to_string_pretty(&summary)?.as_bytes())?;
    Ok(TrainSummary { test_acc, test_images: test.len(), params, seconds })
}

/// Accuracy of `arch` on a whole dataset with running BatchNorm statistics; `None` when it is empty.
pub fn evaluate(
    net: &MicroNet,
    arch: &Arch,
    data: &Arc<Dataset>,
    batch_size: usize,
    device: &Device,
) -> Result<Option<f64>> {
    if data.is_empty() {
        return Ok(None);
    }
    let opts = LoaderOptions { batch_size, shuffle: false, augment: false, drop_last: false };
    let mut right = 0;
    for batch in batches(data.clone(), opts, 0) {
        let logits = net.forward(&batch.x.to_device(device)?, arch, BnMode::Eval)?;
        right += correct(&logits, &batch.y.to_device(device)?)?;
    }
    Ok(Some(right as f64 / data.len() as f64))
}
