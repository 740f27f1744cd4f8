//! Parameters in creation order, initialised from the run's seeded RNG. candle's own CPU RNG cannot be
//! seeded, so every initial weight is drawn here from a ChaCha stream: the same seed and config give
//! the same weights. Trainable variables and BatchNorm running statistics (buffers) are kept apart;
//! the order of creation is kept so every sum over parameters (grad norms) is deterministic.
use candle_core::{DType, Device, Result, Tensor, Var};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;

/// Named tensors in creation order.
#[derive(Default)]
pub struct ParamStore {
    pub names: Vec<String>,
    pub vars: Vec<Var>,
    pub buffer_names: Vec<String>,
    pub buffers: Vec<Var>,
}

impl ParamStore {
    /// Number of trainable scalars.
    pub fn num_params(&self) -> usize {
        self.vars.iter().map(|v| v.elem_count()).sum()
    }

    /// All tensors (variables and buffers) by name, for safetensors.
    pub fn tensors(&self) -> HashMap<String, Tensor> {
        let vars = self.names.iter().zip(&self.vars);
        let bufs = self.buffer_names.iter().zip(&self.buffers);
        vars.chain(bufs).map(|(n, v)| (n.clone(), v.as_tensor().clone())).collect()
    }

    /// Saves every tensor to a safetensors file (atomically: temporary file, fsync, rename).
    pub fn save(&self, path: &Path) -> Result<()> {
        enas_shared::export::save_safetensors(path, &self.tensors()).map_err(candle_core::Error::wrap)
    }

    /// Loads every tensor from a safetensors file; each name and shape must match.
    pub fn load(&self, path: &Path) -> Result<()> {
        let loaded = candle_core::safetensors::load(path, &Device::Cpu)?;
        let expected = self.names.len() + self.buffer_names.len();
        if loaded.len() != expected {
            candle_core::bail!("{}: {} tensors, this network has {expected}", path.display(), loaded.len());
        }
        let all = self.names.iter().zip(&self.vars).chain(self.buffer_names.iter().zip(&self.buffers));
        for (name, var) in all {
            let t = loaded
                .get(name)
                .ok_or_else(|| candle_core::Error::Msg(format!("{}: tensor `{name}` is missing", path.display())))?;
            if t.dims() != var.dims() {
                candle_core::bail!(
                    "{}: tensor `{name}` has shape {:?}, expected {:?}",
                    path.display(),
                    t.dims(),
                    var.dims()
                );
            }
            var.set(&t.to_device(var.device())?)?;
        }
        Ok(())
    }
}

/// Creates parameters under a name prefix (`cells.3.node1.x.sep3.0`), drawing initial values from a
/// shared seeded RNG.
pub struct Init<'a> {
    store: &'a RefCell<ParamStore>,
    rng: &'a RefCell<ChaCha8Rng>,
    device: &'a Device,
    prefix: String,
}

/// The owner of a store and RNG while a network is being built.
pub struct InitRoot {
    store: RefCell<ParamStore>,
    rng: RefCell<ChaCha8Rng>,
    device: Device,
}

impl InitRoot {
    pub fn new(seed: u64, device: &Device) -> Self {
        InitRoot {
            store: RefCell::new(ParamStore::default()),
            rng: RefCell::new(ChaCha8Rng::seed_from_u64(seed)),
            device: device.clone(),
        }
    }

    pub fn init(&self) -> Init<'_> {
        Init { store: &self.store, rng: &self.rng, device: &self.device, prefix: String::new() }
    }

    pub fn finish(self) -> ParamStore {
        self.store.into_inner()
    }
}

impl Init<'_> {
    /// A builder for a sub-module: names get `prefix.name.`.
    pub fn pp(&self, name: impl std::fmt::Display) -> Self {
        let prefix = if self.prefix.is_empty() { name.to_string() } else { format!("{}.{name}", self.prefix) };
        Init { store: self.store, rng: self.rng, device: self.device, prefix }
    }

    fn name(&self, n: &str) -> String {
        if self.prefix.is_empty() {
            n.to_string()
        } else {
            format!("{}.{n}", self.prefix)
        }
    }

    fn tensor(&self, values: Vec<f32>, shape: &[usize]) -> Result<Var> {
        Var::from_tensor(&Tensor::from_vec(values, shape, self.device)?)
    }

    fn add_var(&self, name: &str, values: Vec<f32>, shape: &[usize]) -> Result<Tensor> {
        let var = self.tensor(values, shape)?;
        let t = var.as_tensor().clone();
        let mut store = self.store.borrow_mut();
        store.names.push(self.name(name));
        store.vars.push(var);
        Ok(t)
    }

    /// He-normal weights (std `sqrt(2 / fan_in)`), as ENAS initialises its convolutions.
    pub fn he_normal(&self, name: &str, shape: &[usize], fan_in: usize) -> Result<Tensor> {
        let std = (2.0 / fan_in as f64).sqrt();
        let n: usize = shape.iter().product();
        let mut rng = self.rng.borrow_mut();
        let values = (0..n)
            .map(|_| {
                let z: f64 = StandardNormal.sample(&mut *rng);
                (z * std) as f32
            })
            .collect();
        drop(rng);
        self.add_var(name, values, shape)
    }

    /// Uniform weights in `[-bound, bound]`.
    pub fn uniform(&self, name: &str, shape: &[usize], bound: f64) -> Result<Tensor> {
        let n: usize = shape.iter().product();
        let mut rng = self.rng.borrow_mut();
        let values = (0..n).map(|_| rng.random_range(-bound..=bound) as f32).collect();
        drop(rng);
        self.add_var(name, values, shape)
    }

    /// A trainable tensor filled with one value (BatchNorm's gamma and beta).
    pub fn constant(&self, name: &str, shape: &[usize], value: f32) -> Result<Tensor> {
        self.add_var(name, vec![value; shape.iter().product()], shape)
    }

    /// A non-trainable tensor (BatchNorm running statistics).
    pub fn buffer(&self, name: &str, shape: &[usize], value: f32) -> Result<Var> {
        let var = self.tensor(vec![value; shape.iter().product()], shape)?;
        let mut store = self.store.borrow_mut();
        store.buffer_names.push(self.name(name));
        store.buffers.push(var.clone());
        Ok(var)
    }

    pub fn device(&self) -> &Device {
        self.device
    }

    pub fn dtype(&self) -> DType {
        DType::F32
    }
}
