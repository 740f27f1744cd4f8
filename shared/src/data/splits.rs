//! Train/validation/test splits and per-channel normalisation.
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{cifar10, mnist, optdigits, synthetic, DataConfig, DataSpec, Dataset, Source};
use crate::error::{Error, Result};

/// The three splits of a run, normalised with the train split's per-channel statistics.
#[derive(Clone, Debug)]
pub struct Splits {
    /// Images the child networks train on (augmented by the loader when asked).
    pub train: Dataset,
    /// Held-out train images that score architectures; may be empty.
    pub valid: Dataset,
    /// The test set, from the source's test file or held out of the whole source.
    pub test: Dataset,
    /// Whether the test set was held out of the train files because the source has no test
    /// file (a CIFAR-10 directory without `test_batch.bin`, MNIST with only `t10k-*`).
    pub test_held_out: bool,
    /// Per-channel mean of the raw (0..1) train pixels, subtracted from every split.
    pub mean: Vec<f32>,
    /// Per-channel standard deviation of the raw train pixels, dividing every split (1 where a
    /// channel is constant).
    pub std: Vec<f32>,
}

/// Reads the source `cfg.spec` names, holds out the test (when the source has no test file) and
/// validation images with a shuffle seeded by `cfg.split_seed`, caps the train split at
/// `cfg.train_size`, and normalises all three splits with the train split's per-channel mean/std.
///
/// Within each split images keep their order in the source. Errors when a requested size exceeds
/// what the source holds, naming both numbers.
pub fn load_splits(cfg: &DataConfig) -> Result<Splits> {
    let spec = cfg.data_spec()?;
    let source = match &spec {
        DataSpec::Synthetic => synthetic::generate(cfg.synthetic_train, cfg.synthetic_test, cfg.split_seed),
        DataSpec::Cifar10(dir) => cifar10::load(dir)?,
        DataSpec::Mnist(dir) => mnist::load(dir)?,
        DataSpec::Optdigits(dir) => optdigits::load(dir)?,
    };
    let splits = split_source(source, cfg, &spec.to_string())?;
    if splits.test_held_out {
        eprintln!(
            "note: {spec} has no separate test file (cifar10: test_batch.bin; mnist: train-* beside t10k-*; \
             optdigits: optdigits.tes); {} of its training images are held out as the test set (data.test_size)",
            splits.test.len()
        );
    }
    Ok(splits)
}

/// Splits an already-read source as [`load_splits`] does; `name` appears in error messages.
pub fn split_source(source: Source, cfg: &DataConfig, name: &str) -> Result<Splits> {
    let Source { train: pool, test } = source;
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.split_seed);
    let mut order: Vec<usize> = (0..pool.len()).collect();
    order.shuffle(&mut rng);

    let test_held_out = test.is_none();
    let (test, rest) = match test {
        Some(t) => (t, &order[..]),
        None => {
            if cfg.test_size >= pool.len() {
                return Err(Error::Data(format!(
                    "{name}: test_size {} must be below the {} images of a source without a \
                     separate test file",
                    cfg.test_size,
                    pool.len()
                )));
            }
            (pool.subset(&sorted(&order[..cfg.test_size])), &order[cfg.test_size..])
        }
    };
    if cfg.valid_size >= rest.len() {
        return Err(Error::Data(format!(
            "{name}: valid_size {} must be below the {} train images available{}",
            cfg.valid_size,
            rest.len(),
            if rest.len() < pool.len() { " after holding out the test images" } else { "" }
        )));
    }
    let (valid_idx, mut train_idx) = (&rest[..cfg.valid_size], &rest[cfg.valid_size..]);
    if let Some(cap) = cfg.train_size {
        if cap > train_idx.len() {
            return Err(Error::Data(format!(
                "{name}: train_size {cap} exceeds the {} train images left after holding out {} \
                 validation images",
                train_idx.len(),
                cfg.valid_size
            )));
        }
        train_idx = &train_idx[..cap];
    }
    let mut train = pool.subset(&sorted(train_idx));
    let mut valid = pool.subset(&sorted(valid_idx));
    let mut test = test;
    if test.channels != train.channels || test.height != train.height || test.width != train.width {
        return Err(Error::Data(format!(
            "{name}: test images are {}x{}x{} but train images are {}x{}x{}",
            test.channels, test.height, test.width, train.channels, train.height, train.width
        )));
    }
    let (mean, std) = channel_stats(&train);
    for d in [&mut train, &mut valid, &mut test] {
        normalise(d, &mean, &std);
    }
    Ok(Splits { train, valid, test, test_held_out, mean, std })
}

fn sorted(idx: &[usize]) -> Vec<usize> {
    let mut v = idx.to_vec();
    v.sort_unstable();
    v
}

/// Per-channel mean and population standard deviation of a set's pixels (std 1 for a constant
/// channel, mean 0 and std 1 for an empty set).
pub fn channel_stats(d: &Dataset) -> (Vec<f32>, Vec<f32>) {
    let plane = d.height * d.width;
    let mut sum = vec![0f64; d.channels];
    let mut sq = vec![0f64; d.channels];
    if plane == 0 {
        return (vec![0.0; d.channels], vec![1.0; d.channels]);
    }
    for img in d.images.chunks_exact(d.image_len()) {
        for (c, p) in img.chunks_exact(plane).enumerate() {
            let (mut s, mut q) = (0f64, 0f64);
            for &v in p {
                s += f64::from(v);
                q += f64::from(v) * f64::from(v);
            }
            sum[c] += s;
            sq[c] += q;
        }
    }
    let n = (d.len() * plane) as f64;
    let mut mean = vec![0f32; d.channels];
    let mut std = vec![1f32; d.channels];
    if n > 0.0 {
        for c in 0..d.channels {
            let m = sum[c] / n;
            let var = (sq[c] / n - m * m).max(0.0);
            mean[c] = m as f32;
            std[c] = if var.sqrt() > 1e-6 { var.sqrt() as f32 } else { 1.0 };
        }
    }
    (mean, std)
}

/// Subtracts `mean` and divides by `std`, channel by channel, in place.
pub fn normalise(d: &mut Dataset, mean: &[f32], std: &[f32]) {
    let plane = d.height * d.width;
    let l = d.image_len();
    if l == 0 {
        return;
    }
    for img in d.images.chunks_exact_mut(l) {
        for (c, p) in img.chunks_exact_mut(plane).enumerate() {
            let (m, inv) = (mean[c], 1.0 / std[c]);
            p.iter_mut().for_each(|v| *v = (*v - m) * inv);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy(n: usize) -> Dataset {
        Dataset {
            images: (0..n * 4).map(|i| (i % 7) as f32 / 7.0).collect(),
            labels: (0..n as u32).map(|i| i % 3).collect(),
            channels: 1,
            height: 2,
            width: 2,
            classes: 3,
        }
    }

    #[test]
    fn holds_out_test_then_valid() {
        let cfg = DataConfig { valid_size: 10, test_size: 20, train_size: Some(50), ..Default::default() };
        let s = split_source(Source { train: toy(100), test: None }, &cfg, "toy").unwrap();
        assert_eq!((s.train.len(), s.valid.len(), s.test.len()), (50, 10, 20));
        let cfg = DataConfig { valid_size: 0, test_size: 20, ..Default::default() };
        let s = split_source(Source { train: toy(100), test: Some(toy(5)) }, &cfg, "toy").unwrap();
        assert_eq!((s.train.len(), s.valid.len(), s.test.len()), (100, 0, 5));
        let m: f32 = s.train.images.iter().sum::<f32>() / s.train.images.len() as f32;
        assert!(m.abs() < 1e-5);
    }

    #[test]
    fn too_large_sizes_name_the_numbers() {
        let cfg = DataConfig { valid_size: 90, test_size: 20, ..Default::default() };
        let e = split_source(Source { train: toy(100), test: None }, &cfg, "toy").unwrap_err();
        let e = e.to_string();
        assert!(e.contains("90") && e.contains("80"), "{e}");
        let cfg = DataConfig { valid_size: 10, test_size: 200, ..Default::default() };
        let e = split_source(Source { train: toy(100), test: None }, &cfg, "toy").unwrap_err();
        assert!(e.to_string().contains("200"), "{e}");
        let cfg = DataConfig { valid_size: 10, train_size: Some(95), ..Default::default() };
        let e = split_source(Source { train: toy(100), test: Some(toy(3)) }, &cfg, "toy");
        let e = e.unwrap_err().to_string();
        assert!(e.contains("95") && e.contains("90"), "{e}");
    }
}
