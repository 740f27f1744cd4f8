//! The networks `enas train` trains from scratch, one per search space that has a training
//! network: ENAS's micro child and DARTS's evaluation network. The training loop knows a network
//! only through [`FixedNet`]; `build` is the one place that maps `search.space` to a network.
use anyhow::{Context, Result};
use candle_core::{Device, Tensor};
use enas_child::{
    cross_entropy, BnMode, DartsForward, DartsNet, DartsShape, Forward, InitRoot, MicroNet, MicroShape, ParamStore,
    Weights,
};
use enas_shared::space::darts::Darts;
use enas_shared::{Arch, Config, EnasMicro, SpaceKind};

/// One architecture's network, with its own weights.
pub trait FixedNet {
    /// The loss of a training step and its logits: cross-entropy plus `train.aux_weight` times the
    /// auxiliary head's, where there is one. `seed` draws this step's masks; `progress` is the
    /// fraction of training done (DARTS's drop-path probability grows with it).
    fn train_loss(&self, x: &Tensor, y: &Tensor, seed: u64, progress: f64) -> Result<(Tensor, Tensor)>;
    /// Logits for evaluation: running BatchNorm statistics, no masks, no graph.
    fn eval_logits(&self, x: &Tensor) -> Result<Tensor>;
    /// The architecture's text, as the space writes it.
    fn arc_text(&self) -> Result<String>;
    /// Parameters as the space's papers count them (without an auxiliary head).
    fn params(&self) -> usize;
    /// Multiply-adds of one forward pass of one `h` x `w` image (without an auxiliary head).
    fn flops(&self, h: usize, w: usize) -> usize;
}

/// What an architecture costs to deploy: its parameters, multiply-adds per image, and the
/// inference latency measured here (batch 1, running BatchNorm statistics; median of 21 passes
/// after 3 warm-ups) on the threads the command runs with, all stated in the JSON.
pub fn deploy_costs(
    net: &dyn FixedNet,
    in_channels: usize,
    hw: (usize, usize),
    device: &Device,
) -> Result<serde_json::Value> {
    let x = Tensor::ones((1, in_channels, hw.0, hw.1), candle_core::DType::F32, device)?;
    let ms = enas_child::latency::median_ms(|| {
        net.eval_logits(&x).map_err(candle_core::Error::wrap)?.sum_all()?.to_scalar::<f32>()?;
        Ok(())
    })?;
    Ok(serde_json::json!({
        "params": net.params(),
        "flops": net.flops(hw.0, hw.1),
        "latency_ms": ms,
        "latency_batch": 1,
        "latency_threads": crate::runtime::threads(),
        "latency_device": match device.location() {
            candle_core::DeviceLocation::Cpu => "cpu".to_string(),
            candle_core::DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
            candle_core::DeviceLocation::Metal { gpu_id } => format!("metal:{gpu_id}"),
        },
    }))
}

/// The space `enas train` reads architectures of: `search.space`.
pub fn parse(cfg: &Config, text: &str, origin: &str) -> Result<Arch> {
    let nodes = cfg.child.nodes;
    if cfg.search.space == SpaceKind::EnasMicro
        && text.trim_start_matches('\u{feff}').trim_start().starts_with("Genotype")
    {
        anyhow::bail!(
            "{origin} holds a DARTS genotype and search.space is enas_micro: add --set search.space=darts (or pass \
             the search's config.yaml with --config)"
        );
    }
    let parsed = match cfg.search.space {
        SpaceKind::EnasMicro => EnasMicro::new(nodes).parse(text.trim()),
        SpaceKind::Darts => Darts::new(nodes).parse(text.trim()),
        SpaceKind::Nb201 => anyhow::bail!(
            "{origin}: enas train trains enas_micro and darts architectures; NAS-Bench-201 cells are looked up in \
             the benchmark's table (search.table), not retrained"
        ),
    };
    parsed.with_context(|| format!("{origin} (search.space = {}, child.nodes = {nodes})", cfg.search.space))
}

/// The network of `arch` sized by `train:`, for `in_channels`-channel `image` images of `classes`
/// classes, its weights drawn from `cfg.seed`.
pub fn build(
    cfg: &Config,
    arch: &Arch,
    data: (usize, (usize, usize), usize),
    device: &Device,
) -> Result<(Box<dyn FixedNet>, ParamStore)> {
    let (in_channels, image, classes) = data;
    let t = &cfg.train;
    let root = InitRoot::new(cfg.seed, device);
    let aux = (t.aux_weight > 0.0).then_some(image);
    Ok(match cfg.search.space {
        SpaceKind::Darts => {
            let shape =
                DartsShape { in_channels, channels: t.channels, layers: t.layers, nodes: cfg.child.nodes, classes };
            let net = DartsNet::new(shape, arch, aux, root.init())?;
            let store = root.finish();
            let params = store.num_params() - net.head_params();
            (Box::new(DartsTrain { net, arch: arch.clone(), cfg: cfg.clone(), params, shape }), store)
        }
        _ => {
            anyhow::ensure!(
                t.drop_path_prob == 0.0,
                "train.drop_path_prob is a DARTS option; ENAS's micro network has no drop-path (set it to 0)"
            );
            let shape =
                MicroShape { in_channels, classes, layers: t.layers, channels: t.channels, nodes: cfg.child.nodes };
            let net = MicroNet::new_with_aux(shape, &Weights::Fixed(arch.clone()), aux, root.init())?;
            let store = root.finish();
            let params = store.num_params() - net.aux_head().map_or(0, |h| h.num_params());
            (Box::new(MicroTrain { net, arch: arch.clone(), cfg: cfg.clone(), params }), store)
        }
    })
}

struct MicroTrain {
    net: MicroNet,
    arch: Arch,
    cfg: Config,
    params: usize,
}

impl FixedNet for MicroTrain {
    fn train_loss(&self, x: &Tensor, y: &Tensor, _seed: u64, _progress: f64) -> Result<(Tensor, Tensor)> {
        let aux = self.cfg.train.aux_weight;
        let opts = Forward { dropout: None, aux: aux > 0.0 };
        let (logits, aux_logits) = self.net.forward_opts(x, &self.arch, BnMode::Train, &opts)?;
        Ok((with_aux(cross_entropy(&logits, y)?, aux_logits, y, aux)?, logits))
    }

    fn eval_logits(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.net.forward(x, &self.arch, BnMode::Eval)?)
    }

    fn arc_text(&self) -> Result<String> {
        Ok(EnasMicro::new(self.cfg.child.nodes).format(&self.arch)?)
    }

    fn params(&self) -> usize {
        self.params
    }

    fn flops(&self, h: usize, w: usize) -> usize {
        enas_child::path_cost(&self.net, &self.arch, h, w).1
    }
}

struct DartsTrain {
    net: DartsNet,
    arch: Arch,
    cfg: Config,
    params: usize,
    shape: DartsShape,
}

impl FixedNet for DartsTrain {
    /// DARTS's schedule: drop-path probability `train.drop_path_prob` times the fraction of
    /// epochs done.
    fn train_loss(&self, x: &Tensor, y: &Tensor, seed: u64, progress: f64) -> Result<(Tensor, Tensor)> {
        let t = &self.cfg.train;
        let opts = DartsForward { drop_path: Some((t.drop_path_prob * progress, seed)), aux: t.aux_weight > 0.0 };
        let (logits, aux_logits) = self.net.forward_opts(x, BnMode::Train, &opts)?;
        Ok((with_aux(cross_entropy(&logits, y)?, aux_logits, y, t.aux_weight)?, logits))
    }

    fn eval_logits(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.net.forward(x, BnMode::Eval)?)
    }

    fn arc_text(&self) -> Result<String> {
        Ok(Darts::new(self.cfg.child.nodes).format(&self.arch)?)
    }

    fn params(&self) -> usize {
        self.params
    }

    fn flops(&self, h: usize, w: usize) -> usize {
        enas_child::darts::darts_cost(&self.shape, enas_child::darts::Holds::Arch(&self.arch), false, (h, w)).1
    }
}

fn with_aux(loss: Tensor, aux: Option<Tensor>, y: &Tensor, weight: f64) -> Result<Tensor> {
    Ok(match aux {
        Some(a) => (loss + (cross_entropy(&a, y)? * weight)?)?,
        None => loss,
    })
}
