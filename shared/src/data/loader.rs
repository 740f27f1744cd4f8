//! A prefetching batch loader.
//!
//! [`batches`] walks one epoch of a [`Dataset`] on a background thread, which shuffles the order,
//! gathers and (optionally) augments each batch, and hands it over a bounded channel of
//! [`PREFETCH`] batches, so the next batches are ready while the current one trains. The shuffle
//! order and every augmentation draw come from one ChaCha8 stream seeded with the `seed` argument:
//! the same data, options and seed always give the same batches. Dropping the iterator early stops
//! the thread (its next send fails) and joins it.
use std::sync::Arc;
use std::thread::JoinHandle;

use candle_core::{Device, Tensor};
use crossbeam::channel::{bounded, Receiver};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::Dataset;

/// Batches prepared ahead of the consumer.
pub const PREFETCH: usize = 4;
/// Zero padding of the random-crop augmentation, in pixels on each side.
pub const PAD: usize = 4;

/// How [`batches`] cuts an epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoaderOptions {
    /// Images per batch; 0 yields no batches.
    pub batch_size: usize,
    /// Visit the images in a seeded random order instead of their stored order.
    pub shuffle: bool,
    /// Pad 4 pixels with zeros (the mean, after normalisation), crop back at a random offset and
    /// flip horizontally with probability 1/2, independently per image.
    pub augment: bool,
    /// Leave out the final batch when it would be smaller than `batch_size`.
    pub drop_last: bool,
}

/// One batch: images and labels as CPU tensors.
#[derive(Clone, Debug)]
pub struct Batch {
    /// Images, shape (n, channels, height, width), f32.
    pub x: Tensor,
    /// Labels, shape (n,), u32.
    pub y: Tensor,
    /// Number of images in the batch.
    pub n: usize,
}

/// Number of batches one epoch of `len` images gives under `opts`.
pub fn num_batches(len: usize, opts: LoaderOptions) -> usize {
    match opts.batch_size {
        0 => 0,
        b if opts.drop_last => len / b,
        b => len.div_ceil(b),
    }
}

/// The batches of one epoch, prepared on a background thread; see the module documentation.
pub struct BatchIter {
    rx: Option<Receiver<Batch>>,
    handle: Option<JoinHandle<()>>,
    remaining: usize,
}

/// Starts one epoch over `data` with `opts`, shuffle and augmentation seeded with `seed`.
pub fn batches(data: Arc<Dataset>, opts: LoaderOptions, seed: u64) -> BatchIter {
    let remaining = num_batches(data.len(), opts);
    let (tx, rx) = bounded(PREFETCH);
    let handle = std::thread::Builder::new().name("enas-batches".into()).spawn(move || {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut order: Vec<usize> = (0..data.len()).collect();
        if opts.shuffle {
            order.shuffle(&mut rng);
        }
        for k in 0..remaining {
            let start = k * opts.batch_size;
            let idx = &order[start..(start + opts.batch_size).min(order.len())];
            let batch = make_batch(&data, idx, opts.augment, &mut rng);
            if tx.send(batch).is_err() {
                return; // the iterator was dropped
            }
        }
    });
    match handle {
        Ok(h) => BatchIter { rx: Some(rx), handle: Some(h), remaining },
        // Could not start a thread (resource exhaustion): yield nothing rather than panic.
        Err(_) => BatchIter { rx: None, handle: None, remaining: 0 },
    }
}

/// Gathers (and augments) the images at `idx` into a batch.
fn make_batch(data: &Dataset, idx: &[usize], augment: bool, rng: &mut ChaCha8Rng) -> Batch {
    let (c, h, w) = (data.channels, data.height, data.width);
    let l = data.image_len();
    let mut x = vec![0f32; idx.len() * l];
    let mut y = Vec::with_capacity(idx.len());
    for (k, &i) in idx.iter().enumerate() {
        y.push(data.labels[i]);
        let dst = &mut x[k * l..(k + 1) * l];
        let src = data.image(i);
        if augment {
            let dy = rng.random_range(0..=2 * PAD);
            let dx = rng.random_range(0..=2 * PAD);
            let flip = rng.random::<bool>();
            crop_flip(src, dst, c, h, w, dy, dx, flip);
        } else {
            dst.copy_from_slice(src);
        }
    }
    let n = idx.len();
    // The shapes are computed from the same n, c, h, w as the buffers, so this cannot fail.
    let x = Tensor::from_vec(x, (n, c, h, w), &Device::Cpu).expect("batch image shape");
    let y = Tensor::from_vec(y, n, &Device::Cpu).expect("batch label shape");
    Batch { x, y, n }
}

/// Writes the `h`x`w` window at offset (`dy`, `dx`) of `src` zero-padded by [`PAD`] into `dst`,
/// mirrored left-right when `flip`.
#[allow(clippy::too_many_arguments)]
fn crop_flip(src: &[f32], dst: &mut [f32], c: usize, h: usize, w: usize, dy: usize, dx: usize, flip: bool) {
    for ch in 0..c {
        for oy in 0..h {
            let sy = (oy + dy).wrapping_sub(PAD);
            for ox in 0..w {
                let cx = if flip { w - 1 - ox } else { ox };
                let sx = (cx + dx).wrapping_sub(PAD);
                dst[(ch * h + oy) * w + ox] = if sy < h && sx < w { src[(ch * h + sy) * w + sx] } else { 0.0 };
            }
        }
    }
}

impl BatchIter {
    /// Batches not yet handed out.
    pub fn remaining(&self) -> usize {
        self.remaining
    }
}

impl Iterator for BatchIter {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        let b = self.rx.as_ref()?.recv().ok()?;
        self.remaining = self.remaining.saturating_sub(1);
        Some(b)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl Drop for BatchIter {
    fn drop(&mut self) {
        // Disconnect first so a producer blocked on a full channel wakes up and exits.
        drop(self.rx.take());
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crop_without_shift_or_flip_is_identity() {
        let src: Vec<f32> = (0..2 * 3 * 5).map(|v| v as f32).collect();
        let mut dst = vec![0f32; src.len()];
        crop_flip(&src, &mut dst, 2, 3, 5, PAD, PAD, false);
        assert_eq!(dst, src);
        crop_flip(&src, &mut dst, 2, 3, 5, PAD, PAD, true);
        assert_eq!(&dst[..5], &[4., 3., 2., 1., 0.]);
        crop_flip(&src, &mut dst, 2, 3, 5, PAD + 1, PAD, false);
        assert_eq!(&dst[..5], &src[5..10]);
        assert_eq!(&dst[10..15], &[0.0; 5]);
    }

    #[test]
    fn num_batches_rounds() {
        let o = |b, d| LoaderOptions { batch_size: b, shuffle: false, augment: false, drop_last: d };
        assert_eq!(num_batches(10, o(3, false)), 4);
        assert_eq!(num_batches(10, o(3, true)), 3);
        assert_eq!(num_batches(10, o(0, false)), 0);
        assert_eq!(num_batches(0, o(3, false)), 0);
    }
}
