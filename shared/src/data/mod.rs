//! Datasets: in-memory image sets, the sources they are read from, train/valid/test splits and a
//! prefetching batch loader.
//!
//! A run names its data with a [`DataSpec`] (`synthetic`, `cifar10:DIR`, `mnist:DIR`,
//! `optdigits:DIR`) inside a [`DataConfig`]; [`load_splits`] reads the source, holds out the
//! validation (and, where the source has no test file, the test) images with a shuffle seeded by
//! `split_seed`, and normalises every split with the per-channel mean and std of the train split.
//! [`loader::batches`] then turns a split into reproducible, optionally augmented, batches.
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::error::{Error, Result};

pub mod cifar10;
mod config;
mod io;
pub mod loader;
pub mod mnist;
pub mod optdigits;
mod splits;
pub mod synthetic;

pub use config::DataConfig;
pub use loader::{batches, num_batches, Batch, BatchIter, LoaderOptions};
pub use splits::{channel_stats, load_splits, normalise, split_source, Splits};

/// An image classification set held in memory.
///
/// Images are stored back to back in NCHW order (`images.len() == len() * image_len()`); the loaders
/// produce pixels on a 0..1 scale, and [`load_splits`] normalises them per channel afterwards.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// Pixels of all images, N*C*H*W values in NCHW order.
    pub images: Vec<f32>,
    /// One class label per image, each below `classes`.
    pub labels: Vec<u32>,
    /// Channels per image (3 for RGB, 1 for grey).
    pub channels: usize,
    /// Image height in pixels.
    pub height: usize,
    /// Image width in pixels.
    pub width: usize,
    /// Number of classes of the task (labels lie in `0..classes`).
    pub classes: usize,
}

impl Dataset {
    /// An empty set with the given image geometry and class count.
    pub fn empty(channels: usize, height: usize, width: usize, classes: usize) -> Dataset {
        Dataset { images: Vec::new(), labels: Vec::new(), channels, height, width, classes }
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the set holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Values per image: `channels * height * width`.
    pub fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// The pixels of image `i` (C*H*W values). Panics if `i >= len()`.
    pub fn image(&self, i: usize) -> &[f32] {
        let l = self.image_len();
        &self.images[i * l..(i + 1) * l]
    }

    /// A new set holding the images at `indices`, in that order (repeats allowed).
    ///
    /// Panics if an index is `>= len()`; indices come from the caller, never from a data file.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let l = self.image_len();
        let mut images = Vec::with_capacity(indices.len() * l);
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            images.extend_from_slice(self.image(i));
            labels.push(self.labels[i]);
        }
        Dataset { images, labels, ..Dataset::empty(self.channels, self.height, self.width, self.classes) }
    }
}

/// Where a run's images come from, written `synthetic`, `cifar10:DIR`, `mnist:DIR` or
/// `optdigits:DIR`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataSpec {
    /// The generated 10-class 32x32 RGB motif set of [`synthetic`]; needs no files.
    Synthetic,
    /// CIFAR-10 binary batches (`data_batch_*.bin`, `test_batch.bin`) in a directory; see [`cifar10`].
    Cifar10(PathBuf),
    /// MNIST IDX files, gzipped or not, in a directory; see [`mnist`].
    Mnist(PathBuf),
    /// UCI optical digits (`optdigits.tra`, `optdigits.tes`) in a directory; see [`optdigits`].
    Optdigits(PathBuf),
}

/// The accepted spellings of a [`DataSpec`], for error messages and docs.
pub const DATA_SPEC_FORMS: &str = "synthetic, cifar10:DIR, mnist:DIR, optdigits:DIR";

impl DataSpec {
    /// Parses `synthetic`, `cifar10:DIR`, `mnist:DIR` or `optdigits:DIR`.
    pub fn parse(text: &str) -> Result<DataSpec> {
        let t = text.trim();
        if t == "synthetic" {
            return Ok(DataSpec::Synthetic);
        }
        let bad = |why: &str| {
            Error::Data(format!("data spec {:?}: {why}; expected one of {DATA_SPEC_FORMS}", crate::error::clip(text)))
        };
        let Some((kind, dir)) = t.split_once(':') else {
            return Err(bad("unknown data source"));
        };
        if dir.is_empty() {
            return Err(bad(&format!("{}: needs a directory after the colon", crate::error::clip(kind))));
        }
        let dir = PathBuf::from(dir);
        match kind {
            "cifar10" => Ok(DataSpec::Cifar10(dir)),
            "mnist" => Ok(DataSpec::Mnist(dir)),
            "optdigits" => Ok(DataSpec::Optdigits(dir)),
            _ => Err(bad(&format!("unknown data source kind {:?}", crate::error::clip(kind)))),
        }
    }

    /// The directory the source reads, if it reads one.
    pub fn dir(&self) -> Option<&std::path::Path> {
        match self {
            DataSpec::Synthetic => None,
            DataSpec::Cifar10(d) | DataSpec::Mnist(d) | DataSpec::Optdigits(d) => Some(d),
        }
    }
}

impl FromStr for DataSpec {
    type Err = Error;
    fn from_str(s: &str) -> Result<DataSpec> {
        DataSpec::parse(s)
    }
}

impl fmt::Display for DataSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataSpec::Synthetic => write!(f, "synthetic"),
            DataSpec::Cifar10(d) => write!(f, "cifar10:{}", d.display()),
            DataSpec::Mnist(d) => write!(f, "mnist:{}", d.display()),
            DataSpec::Optdigits(d) => write!(f, "optdigits:{}", d.display()),
        }
    }
}

/// What a source yields before splitting: its train images and, if it has one, its test file.
#[derive(Clone, Debug)]
pub struct Source {
    /// The training pool (validation, and test when `test` is `None`, are held out of it).
    pub train: Dataset,
    /// The separate test set, when the source ships one.
    pub test: Option<Dataset>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_round_trip() {
        for t in ["synthetic", "cifar10:/a/b", "mnist:rel/dir", "optdigits:x"] {
            let s: DataSpec = t.parse().unwrap();
            assert_eq!(s.to_string(), t);
        }
        let e = DataSpec::parse("imagenet:/x").unwrap_err().to_string();
        assert!(e.contains("imagenet") && e.contains("mnist:DIR"), "{e}");
        let e = DataSpec::parse("bogus").unwrap_err().to_string();
        assert!(e.contains("bogus") && e.contains("synthetic"), "{e}");
        assert!(DataSpec::parse("mnist:").is_err());
    }

    #[test]
    fn subset_copies_images() {
        let d = Dataset {
            images: (0..12).map(|v| v as f32).collect(),
            labels: vec![0, 1, 2],
            channels: 1,
            height: 2,
            width: 2,
            classes: 3,
        };
        let s = d.subset(&[2, 0]);
        assert_eq!(s.labels, vec![2, 0]);
        assert_eq!(s.images, vec![8., 9., 10., 11., 0., 1., 2., 3.]);
        assert_eq!(s.image_len(), 4);
        assert!(!s.is_empty());
    }
}
