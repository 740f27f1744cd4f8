//! Dataset readers on the real data beside the checkout, malformed files, splits and the loader.
mod common;

use common::real_data;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use enas_shared::data::{
    batches, channel_stats, cifar10, load_splits, mnist, num_batches, optdigits, synthetic, DataConfig, Dataset,
    LoaderOptions,
};

fn cfg(spec: String, valid_size: usize) -> DataConfig {
    DataConfig { spec, valid_size, ..DataConfig::default() }
}

/// Asserts every channel of `d` has mean ~0 and std ~1.
fn assert_normalised(d: &Dataset) {
    let (m, s) = channel_stats(d);
    for c in 0..d.channels {
        assert!(m[c].abs() < 1e-3, "channel {c} mean {}", m[c]);
        assert!((s[c] - 1.0).abs() < 1e-3, "channel {c} std {}", s[c]);
    }
}

fn assert_labels(d: &Dataset) {
    assert!(d.labels.iter().all(|&l| l < 10));
    assert_eq!(d.images.len(), d.len() * d.image_len());
}

#[test]
fn mnist_t10k_only_holds_out_test() {
    let Some(dir) = real_data("mnist") else {
        return;
    };
    let raw = mnist::load(&dir).unwrap();
    assert_eq!(raw.train.len(), 10_000);
    assert!(raw.test.is_none());
    assert_eq!((raw.train.channels, raw.train.height, raw.train.width), (1, 28, 28));
    assert!(raw.train.images.iter().all(|v| (0.0..=1.0).contains(v)));
    let c = DataConfig { test_size: 2000, ..cfg(format!("mnist:{}", dir.display()), 1000) };
    let s = load_splits(&c).unwrap();
    assert_eq!(s.train.len() + s.valid.len(), 8000);
    assert_eq!((s.train.len(), s.valid.len(), s.test.len()), (7000, 1000, 2000));
    for d in [&s.train, &s.valid, &s.test] {
        assert_labels(d);
    }
    assert_eq!((0..10).filter(|&k| s.train.labels.contains(&k)).count(), 10);
    assert_normalised(&s.train);
    // MNIST's well-known pixel mean is about 0.13.
    assert!((s.mean[0] - 0.13).abs() < 0.01, "mean {:?}", s.mean);
}

#[test]
fn optdigits_train_and_test_files() {
    let Some(dir) = real_data("optdigits") else {
        return;
    };
    let raw = optdigits::load(&dir).unwrap();
    assert_eq!(raw.train.len(), 3823);
    assert_eq!(raw.test.as_ref().unwrap().len(), 1797);
    assert_eq!((raw.train.channels, raw.train.height, raw.train.width), (1, 8, 8));
    let s = load_splits(&cfg(format!("optdigits:{}", dir.display()), 500)).unwrap();
    assert_eq!((s.train.len(), s.valid.len(), s.test.len()), (3323, 500, 1797));
    for d in [&s.train, &s.valid, &s.test] {
        assert_labels(d);
    }
    assert_normalised(&s.train);
}

#[test]
fn cifar10_subset_counts_and_statistics() {
    let Some(dir) = real_data("cifar10-subset") else {
        return;
    };
    let raw = cifar10::load(&dir).unwrap();
    assert_eq!(raw.train.len(), 10_000);
    assert_eq!(raw.test.as_ref().unwrap().len(), 2000);
    // The README: record i has label i % 10.
    assert!(raw.train.labels.iter().enumerate().all(|(i, &l)| l as usize == i % 10));
    let (m, s) = channel_stats(&raw.train);
    for (c, (want_m, want_s)) in [(0.4934, 0.2460), (0.4831, 0.2441), (0.4470, 0.2616)].iter().enumerate() {
        assert!((m[c] - want_m).abs() < 2e-3, "channel {c} mean {} vs README {want_m}", m[c]);
        assert!((s[c] - want_s).abs() < 2e-3, "channel {c} std {} vs README {want_s}", s[c]);
    }
    let s = load_splits(&cfg(format!("cifar10:{}", dir.display()), 0)).unwrap();
    assert_eq!((s.train.len(), s.valid.len(), s.test.len()), (10_000, 0, 2000));
    assert_labels(&s.train);
    assert_labels(&s.test);
    assert_normalised(&s.train);
    // The test split is normalised with the train statistics: close to, not exactly, 0/1.
    let (tm, _) = channel_stats(&s.test);
    assert!(tm.iter().all(|v| v.abs() < 0.1), "test means {tm:?}");
}

#[test]
fn synthetic_splits_are_deterministic() {
    let c = DataConfig::default();
    let a = load_splits(&c).unwrap();
    let b = load_splits(&c).unwrap();
    assert_eq!((a.train.len(), a.valid.len(), a.test.len()), (4000, 1000, 1000));
    assert_eq!(a.train, b.train);
    assert_eq!(a.valid, b.valid);
    assert_eq!(a.test, b.test);
    assert_eq!((a.mean.clone(), a.std.clone()), (b.mean, b.std));
    assert_normalised(&a.train);
    let other = load_splits(&DataConfig { split_seed: 1, ..c.clone() }).unwrap();
    assert_ne!(a.train.images, other.train.images);
    let capped = load_splits(&DataConfig { train_size: Some(100), ..c }).unwrap();
    assert_eq!(capped.train.len(), 100);
}

// ---------------------------------------------------------------------------------------------
// Malformed files.

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn err_text<T: std::fmt::Debug>(r: enas_shared::Result<T>) -> String {
    r.unwrap_err().to_string()
}

#[test]
fn cifar_wrong_size_and_bad_label() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "data_batch_1.bin", &vec![0u8; 2 * 3073 + 5]);
    let e = err_text(cifar10::load(tmp.path()));
    assert!(e.contains("data_batch_1.bin") && e.contains("6151") && e.contains("3073"), "{e}");

    let mut recs = vec![1u8; 3 * 3073];
    recs[3073] = 12;
    write(tmp.path(), "data_batch_1.bin", &recs);
    let e = err_text(cifar10::load(tmp.path()));
    assert!(e.contains("data_batch_1.bin") && e.contains("record 1") && e.contains("12"), "{e}");

    recs[3073] = 9;
    write(tmp.path(), "data_batch_1.bin", &recs);
    write(tmp.path(), "data_batch_2.bin", &recs[..3073]);
    let s = cifar10::load(tmp.path()).unwrap();
    assert_eq!(s.train.len(), 4);
    assert_eq!(s.train.labels, vec![1, 9, 1, 1]);
    assert!(s.test.is_none());

    // An empty test file is an error (it gave a NaN test accuracy, 0 of 0), not a missing one.
    write(tmp.path(), "test_batch.bin", &[]);
    let e = err_text(cifar10::load(tmp.path()));
    assert!(e.contains("test_batch.bin") && e.contains("the file is empty"), "{e}");
}

#[test]
fn cifar_missing_dir_or_batches() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope");
    let e = err_text(cifar10::load(&missing));
    assert!(e.contains("nope") && e.contains("data_batch_1.bin") && e.contains("test_batch.bin"), "{e}");
    let e = err_text(cifar10::load(tmp.path()));
    assert!(e.contains(&tmp.path().display().to_string()) && e.contains("no data_batch"), "{e}");
    let e = err_text(load_splits(&cfg(format!("cifar10:{}", missing.display()), 0)));
    assert!(e.contains("nope"), "{e}");
}

fn idx_images(n: u32, rows: u32, cols: u32, magic: u32) -> Vec<u8> {
    let mut b = Vec::new();
    for v in [magic, n, rows, cols] {
        b.extend_from_slice(&v.to_be_bytes());
    }
    b.extend((0..n * rows * cols).map(|i| (i % 256) as u8));
    b
}

fn idx_labels(n: u32) -> Vec<u8> {
    let mut b = Vec::new();
    for v in [0x801u32, n] {
        b.extend_from_slice(&v.to_be_bytes());
    }
    b.extend((0..n).map(|i| (i % 10) as u8));
    b
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn mnist_reads_plain_and_gzipped_pairs() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "train-images-idx3-ubyte.gz", &gz(&idx_images(5, 28, 28, 0x803)));
    write(tmp.path(), "train-labels-idx1-ubyte", &idx_labels(5));
    write(tmp.path(), "t10k-images-idx3-ubyte", &idx_images(3, 28, 28, 0x803));
    write(tmp.path(), "t10k-labels-idx1-ubyte.gz", &gz(&idx_labels(3)));
    let s = mnist::load(tmp.path()).unwrap();
    assert_eq!(s.train.len(), 5);
    assert_eq!(s.test.as_ref().unwrap().len(), 3);
    assert_eq!(s.train.labels, vec![0, 1, 2, 3, 4]);
    assert_eq!(s.train.images[1], 1.0 / 255.0);
}

#[test]
fn mnist_truncated_plain_and_gz_files() {
    let tmp = tempfile::tempdir().unwrap();
    let full = idx_images(3, 28, 28, 0x803);
    write(tmp.path(), "t10k-labels-idx1-ubyte", &idx_labels(3));
    write(tmp.path(), "t10k-images-idx3-ubyte", &full[..116]);
    let e = err_text(mnist::load(tmp.path()));
    assert!(
        e.contains("t10k-images-idx3-ubyte") && e.contains("truncated") && e.contains("2368") && e.contains("116"),
        "{e}"
    );
    std::fs::remove_file(tmp.path().join("t10k-images-idx3-ubyte")).unwrap();
    let z = gz(&full);
    write(tmp.path(), "t10k-images-idx3-ubyte.gz", &z[..z.len() / 2]);
    let e = err_text(mnist::load(tmp.path()));
    assert!(e.contains("t10k-images-idx3-ubyte.gz") && e.contains("gzip") && e.contains("truncated"), "{e}");
    // Shorter than the header itself.
    write(tmp.path(), "t10k-images-idx3-ubyte.gz", &gz(&full[..6]));
    let e = err_text(mnist::load(tmp.path()));
    assert!(e.contains("t10k-images-idx3-ubyte.gz") && e.contains("header"), "{e}");
}

#[test]
fn mnist_bad_magic_and_count_mismatch() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "t10k-images-idx3-ubyte", &idx_images(3, 28, 28, 0x804));
    write(tmp.path(), "t10k-labels-idx1-ubyte", &idx_labels(3));
    let e = err_text(mnist::load(tmp.path()));
    assert!(e.contains("t10k-images-idx3-ubyte") && e.contains("0x00000804") && e.contains("0x00000803"), "{e}");
    write(tmp.path(), "t10k-images-idx3-ubyte", &idx_images(3, 28, 28, 0x803));
    write(tmp.path(), "t10k-labels-idx1-ubyte", &idx_labels(2));
    let e = err_text(mnist::load(tmp.path()));
    assert!(e.contains("t10k-labels-idx1-ubyte") && e.contains("2 labels") && e.contains("3 images"), "{e}");
    std::fs::remove_file(tmp.path().join("t10k-labels-idx1-ubyte")).unwrap();
    let e = err_text(mnist::load(tmp.path()));
    assert!(e.contains("t10k-labels-idx1-ubyte"), "{e}");
    let empty = tempfile::tempdir().unwrap();
    let e = err_text(mnist::load(empty.path()));
    assert!(e.contains("no IDX files") && e.contains("t10k-images-idx3-ubyte"), "{e}");
}

#[test]
fn optdigits_bad_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let good = format!("{},3\n", vec!["16"; 64].join(","));
    let short = format!("{},3\n", vec!["1"; 63].join(","));
    write(tmp.path(), "optdigits.tra", format!("{good}{good}{short}").as_bytes());
    let e = err_text(optdigits::load(tmp.path()));
    assert!(e.contains("optdigits.tra") && e.contains("line 3") && e.contains("64 fields") && e.contains("65"), "{e}");
    let big = format!("{},17,4\n", vec!["0"; 63].join(","));
    write(tmp.path(), "optdigits.tra", format!("{good}{big}").as_bytes());
    let e = err_text(optdigits::load(tmp.path()));
    assert!(e.contains("line 2") && e.contains("\"17\"") && e.contains("0-16"), "{e}");
    write(tmp.path(), "optdigits.tra", format!("{good}\n{good}").as_bytes());
    write(tmp.path(), "optdigits.tes", format!("{},x\n", vec!["0"; 64].join(",")).as_bytes());
    let e = err_text(optdigits::load(tmp.path()));
    assert!(e.contains("optdigits.tes") && e.contains("line 1") && e.contains("label"), "{e}");
    std::fs::remove_file(tmp.path().join("optdigits.tes")).unwrap();
    let s = optdigits::load(tmp.path()).unwrap();
    assert_eq!((s.train.len(), s.train.images[0]), (2, 1.0));
}

// ---------------------------------------------------------------------------------------------
// Loader.

fn opts(batch_size: usize, shuffle: bool, augment: bool, drop_last: bool) -> LoaderOptions {
    LoaderOptions { batch_size, shuffle, augment, drop_last }
}

/// A set whose image i is filled with the value i (so a batch says which images it holds).
fn indexed(n: usize) -> Arc<Dataset> {
    Arc::new(Dataset {
        images: (0..n).flat_map(|i| [i as f32; 4]).collect(),
        labels: (0..n as u32).map(|i| i % 10).collect(),
        channels: 1,
        height: 2,
        width: 2,
        classes: 10,
    })
}

fn flat(b: &enas_shared::data::Batch) -> (Vec<f32>, Vec<u32>) {
    (b.x.flatten_all().unwrap().to_vec1().unwrap(), b.y.to_vec1().unwrap())
}

#[test]
fn batch_shapes_and_counts() {
    let d = Arc::new(synthetic::generate_set(103, 3, 0));
    let o = opts(10, true, false, false);
    let all: Vec<_> = batches(d.clone(), o, 1).collect();
    assert_eq!(all.len(), num_batches(103, o));
    assert_eq!(all.len(), 11);
    assert_eq!(all[0].x.dims(), &[10, 3, 32, 32]);
    assert_eq!(all[0].y.dims(), &[10]);
    assert_eq!(all[0].x.dtype(), candle_core::DType::F32);
    assert_eq!(all[0].y.dtype(), candle_core::DType::U32);
    assert_eq!((all[10].n, all[10].x.dims()[0]), (3, 3));
    assert_eq!(batches(d, opts(10, true, false, true), 1).count(), 10);
}

#[test]
fn every_image_once_per_epoch_and_reproducible() {
    let d = indexed(57);
    let o = opts(8, true, false, false);
    let epoch = |seed| -> Vec<f32> {
        batches(d.clone(), o, seed)
            .flat_map(|b| {
                let (x, y) = flat(&b);
                let firsts: Vec<f32> = x.chunks(4).map(|c| c[0]).collect();
                assert!(firsts.iter().zip(&y).all(|(v, &l)| (*v as u32) % 10 == l));
                firsts
            })
            .collect()
    };
    let a = epoch(5);
    let mut sorted = a.clone();
    sorted.sort_by(f32::total_cmp);
    assert_eq!(sorted, (0..57).map(|i| i as f32).collect::<Vec<_>>());
    assert_eq!(a, epoch(5));
    assert_ne!(a, epoch(6));
    let plain: Vec<f32> = batches(d.clone(), opts(8, false, false, false), 5)
        .flat_map(|b| flat(&b).0.chunks(4).map(|c| c[0]).collect::<Vec<_>>())
        .collect();
    assert_eq!(plain, (0..57).map(|i| i as f32).collect::<Vec<_>>());
}

#[test]
fn dropping_early_stops_the_thread() {
    let d = Arc::new(synthetic::generate_set(2000, 9, 0));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let t = Instant::now();
        let mut it = batches(d, opts(4, true, true, false), 3);
        let first = it.next().unwrap();
        assert_eq!(first.n, 4);
        assert_eq!(it.remaining(), 499);
        drop(it);
        tx.send(t.elapsed()).unwrap();
    });
    rx.recv_timeout(Duration::from_secs(20)).expect("dropping the loader hung");
    // A never-consumed iterator drops cleanly too.
    drop(batches(indexed(100), opts(1, false, false, false), 0));
}

#[test]
fn augment_changes_images_but_not_shapes() {
    let d = Arc::new(synthetic::generate_set(64, 4, 0));
    let plain: Vec<_> = batches(d.clone(), opts(16, false, false, false), 2).collect();
    let aug: Vec<_> = batches(d.clone(), opts(16, false, true, false), 2).collect();
    let aug2: Vec<_> = batches(d, opts(16, false, true, false), 2).collect();
    assert_eq!(plain.len(), aug.len());
    let mut changed = 0;
    for ((p, a), a2) in plain.iter().zip(&aug).zip(&aug2) {
        assert_eq!(p.x.dims(), a.x.dims());
        let ((px, py), (ax, ay)) = (flat(p), flat(a));
        assert_eq!(py, ay);
        assert_eq!(ax, flat(a2).0, "same seed, same augmentation");
        changed += px.chunks(3072).zip(ax.chunks(3072)).filter(|(u, v)| u != v).count();
        // Crops only move pixels or pad with zeros: every value comes from the source or is 0.
        for (u, v) in px.chunks(3072).zip(ax.chunks(3072)) {
            assert!(v.iter().all(|x| *x == 0.0 || u.contains(x)));
        }
    }
    // Only an unshifted, unflipped draw leaves an image unchanged (1 in 162).
    assert!(changed >= 60, "only {changed} of 64 images changed");
}
