//! The NAS-Bench-201 supernet (`child::Nb201Supernet`) behind the search loop's `Supernet`
//! trait. BatchNorm always normalises with batch statistics, as the benchmark's one-shot methods
//! run it (`track_running_stats=False`), so `BnMode` only chooses whether a graph is built.
use super::supernet::{Path, PathInfo, Supernet};
use anyhow::Result;
use candle_core::Tensor;
use enas_child::nb201::{nb201_flops, Nb201Shape, Nb201Supernet};
use enas_child::{BnMode, ParamStore};
use enas_shared::{Nb201, Space};

pub struct Nb201Search {
    pub net: Nb201Supernet,
    pub store: ParamStore,
    pub space: Space,
    /// Image height and width, for FLOPs.
    pub hw: (usize, usize),
}

impl Nb201Search {
    fn cell(&self, values: &[usize]) -> Result<Vec<enas_shared::OpKind>> {
        Ok(Nb201.ops_of(values)?)
    }

    pub fn shape(&self) -> Nb201Shape {
        self.net.shape()
    }
}

impl Supernet for Nb201Search {
    fn space(&self) -> &Space {
        &self.space
    }

    fn forward(&self, x: &Tensor, path: &Path, mode: BnMode) -> Result<Tensor> {
        match path {
            Path::Single(values) => {
                let cell = self.cell(values)?;
                Ok(if mode.trains() { self.net.forward(x, &cell)? } else { self.net.forward_detached(x, &cell)? })
            }
            // DARTS's mixed edges; batch statistics as always here.
            Path::Mixed(weights) => Ok(self.net.forward_mixed(x, weights)?),
        }
    }

    fn store(&self) -> &ParamStore {
        &self.store
    }

    fn describe(&self, values: &[usize]) -> Result<PathInfo> {
        let arc = self.space.format(values)?;
        Ok(PathInfo { normal: arc.clone(), arc, reduce: String::new(), active_params: self.costs(values)?.0 })
    }

    fn costs(&self, values: &[usize]) -> Result<(usize, usize)> {
        let cell = self.cell(values)?;
        Ok((self.net.path_num_params(&cell)?, nb201_flops(&cell, self.shape(), self.hw.0, self.hw.1)))
    }
}
