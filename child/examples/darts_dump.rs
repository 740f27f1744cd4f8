//! Writes what `scripts/darts-vs-pytorch.py` needs to recompute one DARTS search forward/backward
//! in PyTorch (`../shared/bench/torch_darts_search.py`'s `Network`) on the same weights:
//! - `weights.safetensors`: the store (BN running statistics included), `order.json`: the
//!   trainable weights' names and shapes in creation order (PyTorch's registration order);
//! - `input.safetensors`: `x` f32 (8, 3, 16, 16), `y` u32 (8,), `alpha` f32 (2 * edges, 8), normal
//!   rows first;
//! - `out.json`: logits, loss and dL/dα of the mixture at softmax(α) in `BnMode::Train`;
//!   `grads.safetensors`: dL/dw of every trainable weight, keyed by name.
//!
//! `cargo run --release -p enas-child --example darts_dump -- OUT_DIR [ALPHA_SCALE] [CHANNELS] [LAYERS] [PARTIAL]`
//! (defaults: α scale 1e-3, 4 channels, 5 layers: both reductions and a factorized preprocess;
//! PARTIAL 1: PARTIAL K > 1 builds PC-DARTS's partial-channel network, its bypass weights 1).
use candle_core::{Device, Tensor, Var};
use enas_child::{cross_entropy, BnMode, DartsPath, DartsShape, DartsSupernet, InitRoot};
use std::collections::HashMap;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: darts_dump OUT_DIR [ALPHA_SCALE] [CHANNELS] [LAYERS] [PARTIAL]";
    let out = std::path::PathBuf::from(args.first().ok_or(usage)?);
    let scale: f64 = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(1e-3);
    let channels: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(4);
    let layers: usize = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(5);
    let partial: usize = args.get(4).map(|s| s.parse()).transpose()?.unwrap_or(1);
    std::fs::create_dir_all(&out)?;
    let dev = Device::Cpu;
    let shape = DartsShape { in_channels: 3, channels, layers, nodes: 4, classes: 10 };
    let root = InitRoot::new(0, &dev);
    let net = DartsSupernet::with_partial(shape, partial, root.init())?;
    let store = root.finish();

    let (n, hw) = (8usize, 16usize);
    let pixels: Vec<f32> = (0..n * 3 * hw * hw).map(|i| (0.37 * i as f32 + 0.1).sin()).collect();
    let x = Tensor::from_vec(pixels, (n, 3, hw, hw), &dev)?;
    let y = Tensor::from_vec((0..n as u32).map(|i| i % 10).collect::<Vec<_>>(), n, &dev)?;
    let rows = 2 * enas_shared::Darts::new(shape.nodes).edges();
    let a: Vec<f32> =
        (0..rows * 8).map(|i| (scale * ((1.3 * i as f64).sin() + 0.5 * (0.11 * i as f64).cos())) as f32).collect();
    let alpha = Var::from_tensor(&Tensor::from_vec(a, (rows, 8), &dev)?)?;
    let inputs: HashMap<String, Tensor> =
        [("x".to_string(), x.clone()), ("y".to_string(), y.clone()), ("alpha".to_string(), alpha.as_tensor().clone())]
            .into();
    enas_shared::export::save_safetensors(&out.join("input.safetensors"), &inputs)?;
    // Saved before the forward pass: training-mode BN updates the running statistics.
    store.save(&out.join("weights.safetensors"))?;
    let order: Vec<serde_json::Value> =
        store.names.iter().zip(&store.vars).map(|(name, v)| serde_json::json!([name, v.dims()])).collect();
    std::fs::write(out.join("order.json"), serde_json::to_string(&order)?)?;

    // Row softmax from differentiable ops (candle_nn's fused softmax passes no gradient back).
    let e = alpha.as_tensor().broadcast_sub(&alpha.as_tensor().max_keepdim(1)?)?.exp()?;
    let mut w = e.broadcast_div(&e.sum_keepdim(1)?)?;
    if partial > 1 {
        w = Tensor::cat(&[&w, &Tensor::ones((rows, 1), w.dtype(), &dev)?], 1)?;
    }
    let logits = net.forward(&x, &DartsPath::Mixed(&w), BnMode::Train)?;
    let loss = cross_entropy(&logits, &y)?;
    let grads = loss.backward()?;
    let mut named = HashMap::new();
    for (name, v) in store.names.iter().zip(&store.vars) {
        let g = grads.get(v).ok_or_else(|| format!("no gradient reaches `{name}`"))?;
        named.insert(name.clone(), g.clone());
    }
    enas_shared::export::save_safetensors(&out.join("grads.safetensors"), &named)?;
    let ga = grads.get(alpha.as_tensor()).ok_or("no gradient reaches alpha")?;
    let result = serde_json::json!({
        "shape": {"channels": channels, "layers": layers, "nodes": shape.nodes, "classes": shape.classes},
        "partial": partial,
        "alpha_scale": scale,
        "logits": logits.to_vec2::<f32>()?,
        "loss": loss.to_scalar::<f32>()?,
        "grad_alpha": ga.to_vec2::<f32>()?,
        "weights": store.num_params(),
    });
    std::fs::write(out.join("out.json"), serde_json::to_string(&result)?)?;
    println!(
        "loss {:.6}, {} weights in {} tensors, wrote {}",
        result["loss"],
        store.num_params(),
        store.names.len(),
        out.display()
    );
    Ok(())
}
