//! DARTS's search network (`child::DartsSupernet`) behind the search loop's `Supernet` trait: the
//! mixture for DARTS's own steps, one genotype's path for the sampling methods (ENAS's
//! controller, random, evolution on the DARTS space). BatchNorm keeps running statistics, as
//! DARTS's search network does; weight steps update them, reward passes use batch statistics.
use super::supernet::{Path, PathInfo, Supernet};
use anyhow::Result;
use candle_core::Tensor;
use enas_child::darts::{darts_cost, DartsPath, DartsShape, DartsSupernet, Holds};
use enas_child::{BnMode, ParamStore};
use enas_shared::space::darts::Darts;
use enas_shared::{Arch, Space};

pub struct DartsSearch {
    pub net: DartsSupernet,
    pub store: ParamStore,
    pub darts: Darts,
    pub space: Space,
    /// Image height and width, for multiply-adds.
    pub hw: (usize, usize),
}

impl DartsSearch {
    fn arch(&self, values: &[usize]) -> Result<Arch> {
        Ok(self.darts.from_values(values)?)
    }

    pub fn shape(&self) -> DartsShape {
        self.net.shape()
    }
}

impl Supernet for DartsSearch {
    fn space(&self) -> &Space {
        &self.space
    }

    fn forward(&self, x: &Tensor, path: &Path, mode: BnMode) -> Result<Tensor> {
        Ok(match path {
            Path::Single(values) => self.net.forward(x, &DartsPath::Single(&self.arch(values)?), mode)?,
            Path::Mixed(weights) => self.net.forward(x, &DartsPath::Mixed(weights), mode)?,
        })
    }

    fn store(&self) -> &ParamStore {
        &self.store
    }

    fn describe(&self, values: &[usize]) -> Result<PathInfo> {
        let arch = self.arch(values)?;
        Ok(PathInfo {
            arc: self.space.format(values)?,
            normal: arch.normal.to_string(),
            reduce: arch.reduce.to_string(),
            active_params: self.costs(values)?.0,
        })
    }

    /// The path's weights in the search network (BN without affine parameters) and its
    /// multiply-adds per image.
    fn costs(&self, values: &[usize]) -> Result<(usize, usize)> {
        let arch = self.arch(values)?;
        Ok(darts_cost(&self.shape(), Holds::Arch(&arch), true, self.hw))
    }
}
