//! The ENAS controller's parameters and its LSTM cell, as `src/cifar10/micro_controller.py`
//! of melodyguan/enas creates them: stacked LSTM weights without bias (`[2n, 4n]` per layer, gates
//! in the order i, f, o, g), the start embedding `g_emb`, op embeddings, the op softmax (one row or
//! column per op of the space) and, for a space with input decisions (ENAS micro, DARTS), the
//! attention of input choices. One controller serves
//! every space: see `policy.rs` for how it walks a space's decisions. Every weight is uniform in `[-init_range, init_range]` except the op
//! softmax bias, which starts at `controller.op_bias_init` (ENAS: `[10, 10, 0, 0, 0]`) and is trained like the rest.
//!
//! The variables live in the controller's own ordered list (never shared with a child network);
//! `save`/`load` write and read them as safetensors for checkpoints.
use candle_core::{DType, Device, Tensor, Var};
use enas_shared::search_config::ControllerConfig;
use enas_shared::space::enas_micro::ENAS_OPS;
use enas_shared::space::DecisionKind;
use enas_shared::{Error, Result, Space};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use std::path::Path;

/// Number of ops ENAS's micro space chooses among (`num_branches`): the length of the config's
/// per-op lists (`controller.op_bias_init`, `controller.normal_op_bias`).
pub const NUM_OPS: usize = enas_shared::search_config::CONTROLLER_OPS;

/// The config's per-op values (`op_bias_init`, `normal_op_bias`, [`NUM_OPS`] of them) for the ops
/// of `space`: one per op in the space's order where it has that many ops (ENAS micro,
/// NAS-Bench-201); otherwise (DARTS's seven) each op of the space takes the value the list gives
/// the same op in ENAS's op order (sep_conv_3x3, sep_conv_5x5, avg_pool_3x3, max_pool_3x3,
/// identity, as the config documents it), 0 for an op ENAS lacks (the dilated convs).
pub(crate) fn op_values(values: &[f64], space: &Space) -> Vec<f32> {
    let ops = space.ops();
    if ops.len() == values.len() {
        return values.iter().map(|&v| v as f32).collect();
    }
    let value = |op| ENAS_OPS.iter().position(|o| *o == op).and_then(|i| values.get(i)).map_or(0.0, |&v| v as f32);
    ops.iter().map(|&op| value(op)).collect()
}

/// The LSTM state: `(c, h)` per layer, each `[1, lstm_size]`.
pub type LstmState = Vec<(Tensor, Tensor)>;

/// The ENAS controller: an LSTM that samples an architecture decision by decision.
#[derive(Debug)]
pub struct Controller {
    pub(crate) cfg: ControllerConfig,
    pub(crate) space: Space,
    pub(crate) device: Device,
    vars: Vec<(String, Var)>,
}

// Positions of the non-LSTM variables in `vars`, after the `lstm_layers` LSTM weights.
const G_EMB: usize = 0;
const W_EMB: usize = 1;
const W_SOFT: usize = 2;
const B_SOFT: usize = 3;
const W_ATTN_1: usize = 4;
const W_ATTN_2: usize = 5;
const V_ATTN: usize = 6;

impl Controller {
    /// A fresh controller for `space`, its weights drawn from `ChaCha8Rng::seed_from_u64(seed)`.
    pub fn new(cfg: &ControllerConfig, space: impl Into<Space>, seed: u64, device: &Device) -> Result<Controller> {
        Controller::with_rng(cfg, space, &mut ChaCha8Rng::seed_from_u64(seed), device)
    }

    /// A fresh controller whose weights are drawn from `rng`, in ENAS's creation order: LSTM
    /// layers, `g_emb`, `emb/w`, `softmax/w`, (`softmax/b` is constant), `attention/w_1`, `w_2`, `v`
    /// (the attention only for a space with input decisions).
    pub fn with_rng(
        cfg: &ControllerConfig,
        space: impl Into<Space>,
        rng: &mut impl Rng,
        device: &Device,
    ) -> Result<Self> {
        let space = space.into();
        cfg.validate("(controller)")?;
        let decisions = space.decisions();
        // Rows of the op embedding and columns of the op softmax: the choices of an op decision.
        let num_ops = decisions.iter().find(|d| d.kind == DecisionKind::Op).map_or(0, |d| d.choices);
        if decisions.iter().any(|d| d.kind == DecisionKind::Op && d.choices != num_ops) {
            return Err(Error::Arch(format!(
                "the controller needs one op count for every op decision of {}",
                space.name()
            )));
        }
        let has_inputs = decisions.iter().any(|d| d.kind == DecisionKind::Input);
        if has_inputs && !matches!(space, Space::EnasMicro(_) | Space::Darts(_)) {
            return Err(Error::Arch(format!(
                "the controller's input attention knows the ENAS micro / DARTS cell layout only; {} has input \
                 decisions",
                space.name()
            )));
        }
        let n = cfg.lstm_size;
        let r = cfg.init_range as f32;
        let mut uniform = |name: String, rows: usize, cols: usize| -> Result<(String, Var)> {
            let data: Vec<f32> = (0..rows * cols).map(|_| rng.random_range(-r..=r)).collect();
            Ok((name, Var::from_vec(data, (rows, cols), device)?))
        };
        let mut vars = Vec::with_capacity(cfg.lstm_layers + 7);
        for layer in 0..cfg.lstm_layers {
            vars.push(uniform(format!("lstm.layer_{layer}.w"), 2 * n, 4 * n)?);
        }
        vars.push(uniform("g_emb".into(), 1, n)?);
        vars.push(uniform("emb.w".into(), num_ops, n)?);
        vars.push(uniform("softmax.w".into(), n, num_ops)?);
        let b_soft = op_values(&cfg.op_bias_init, &space);
        vars.push(("softmax.b".into(), Var::from_vec(b_soft, (1, num_ops), device)?));
        if has_inputs {
            vars.push(uniform("attention.w_1".into(), n, n)?);
            vars.push(uniform("attention.w_2".into(), n, n)?);
            vars.push(uniform("attention.v".into(), n, 1)?);
        }
        Ok(Controller { cfg: cfg.clone(), space, device: device.clone(), vars })
    }

    /// The configuration the controller was built with.
    pub fn config(&self) -> &ControllerConfig {
        &self.cfg
    }

    /// The search space whose decisions the controller samples.
    pub fn space(&self) -> &Space {
        &self.space
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The trainable variables with their checkpoint names, in a fixed order.
    pub fn vars(&self) -> &[(String, Var)] {
        &self.vars
    }

    /// Number of trainable scalars.
    pub fn num_params(&self) -> usize {
        self.vars.iter().map(|(_, v)| v.elem_count()).sum()
    }

    fn w(&self, i: usize) -> &Tensor {
        self.vars[self.cfg.lstm_layers + i].1.as_tensor()
    }

    /// The LSTM weight of `layer`, `[2n, 4n]`.
    pub(crate) fn w_lstm(&self, layer: usize) -> &Tensor {
        self.vars[layer].1.as_tensor()
    }
    pub(crate) fn g_emb(&self) -> &Tensor {
        self.w(G_EMB)
    }
    pub(crate) fn w_emb(&self) -> &Tensor {
        self.w(W_EMB)
    }
    pub(crate) fn w_soft(&self) -> &Tensor {
        self.w(W_SOFT)
    }
    pub(crate) fn b_soft(&self) -> &Tensor {
        self.w(B_SOFT)
    }
    pub(crate) fn w_attn_1(&self) -> &Tensor {
        self.w(W_ATTN_1)
    }
    pub(crate) fn w_attn_2(&self) -> &Tensor {
        self.w(W_ATTN_2)
    }
    pub(crate) fn v_attn(&self) -> &Tensor {
        self.w(V_ATTN)
    }

    /// The all-zero state ENAS starts the normal cell from.
    pub(crate) fn zero_state(&self) -> Result<LstmState> {
        let z = Tensor::zeros((1, self.cfg.lstm_size), DType::F32, &self.device)?;
        Ok((0..self.cfg.lstm_layers).map(|_| (z.clone(), z.clone())).collect())
    }

    /// One step of ENAS's `stack_lstm`: layer 0 reads `x`, layer `l` reads layer `l-1`'s new `h`.
    pub(crate) fn lstm_step(&self, x: &Tensor, state: &[(Tensor, Tensor)]) -> Result<LstmState> {
        let n = self.cfg.lstm_size;
        let mut next: LstmState = Vec::with_capacity(state.len());
        for (layer, (c, h)) in state.iter().enumerate() {
            let input = if layer == 0 { x } else { &next[layer - 1].1 };
            let ifog = Tensor::cat(&[input, h], 1)?.matmul(self.w_lstm(layer))?;
            let i = candle_nn::ops::sigmoid(&ifog.narrow(1, 0, n)?)?;
            let f = candle_nn::ops::sigmoid(&ifog.narrow(1, n, n)?)?;
            let o = candle_nn::ops::sigmoid(&ifog.narrow(1, 2 * n, n)?)?;
            let g = ifog.narrow(1, 3 * n, n)?.tanh()?;
            let c = ((i * g)? + (f * c)?)?;
            let h = (o * c.tanh()?)?;
            next.push((c, h));
        }
        Ok(next)
    }

    /// Writes the variables to a safetensors file (through a temporary file and a rename).
    pub fn save(&self, path: &Path) -> Result<()> {
        let map: HashMap<String, Tensor> = self.vars.iter().map(|(k, v)| (k.clone(), v.as_tensor().clone())).collect();
        enas_shared::export::save_safetensors(path, &map)
    }

    /// Reads variables written by `save` into this controller, in place. Every variable must be
    /// in the file with its shape, and the file must hold nothing else.
    pub fn load(&mut self, path: &Path) -> Result<()> {
        let mut map = candle_core::safetensors::load(path, &self.device)?;
        for (name, var) in &self.vars {
            let t = map.remove(name).ok_or_else(|| Error::format(path, format!("missing tensor `{name}`")))?;
            if t.dims() != var.dims() {
                let msg = format!("tensor `{name}` has shape {:?}, the controller expects {:?}", t.dims(), var.dims());
                return Err(Error::format(path, msg));
            }
            var.set(&t.to_dtype(DType::F32)?)?;
        }
        if let Some(extra) = map.keys().min() {
            return Err(Error::format(path, format!("unexpected tensor `{extra}` (a different controller config?)")));
        }
        Ok(())
    }
}
