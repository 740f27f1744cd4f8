//! Writes what `scripts/proxies-vs-pytorch.py` needs to recompute the zero-cost proxies in
//! PyTorch: a deterministic minibatch (`batch.safetensors`: `images` f32 (N, 3, 32, 32),
//! `labels` u32), each architecture's initial weights as enas builds them (`net{k}.safetensors`,
//! BatchNorm buffers included) and enas's scores (`scores.json`).
//!
//! `cargo run --release -p enas-child --example proxy_dump -- OUT_DIR [BATCH] [ARCH...]`
use candle_core::{Device, Tensor};
use enas_child::proxy::{score_all, ProxyBatch, ProxyContext, ALL_PROXIES};
use enas_shared::space::nb201::NB201_OPS;
use enas_shared::space::Space;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use std::collections::HashMap;

const DEFAULT_ARCHS: [&str; 4] = [
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
    "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
    "|nor_conv_1x1~0|+|none~0|none~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|",
    "|none~0|+|skip_connect~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_1x1~2|",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = std::path::PathBuf::from(args.first().ok_or("usage: proxy_dump OUT_DIR [BATCH] [ARCH...]")?);
    let n: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(16);
    let archs: Vec<String> =
        if args.len() > 2 { args[2..].to_vec() } else { DEFAULT_ARCHS.iter().map(|s| s.to_string()).collect() };
    std::fs::create_dir_all(&out)?;
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let pixels: Vec<f32> = (0..n * 3 * 32 * 32).map(|_| StandardNormal.sample(&mut rng)).collect();
    let images = Tensor::from_vec(pixels, (n, 3, 32, 32), &Device::Cpu)?;
    let labels = Tensor::from_vec((0..n as u32).map(|i| i % 10).collect::<Vec<_>>(), n, &Device::Cpu)?;
    let batch: HashMap<String, Tensor> =
        [("images".to_string(), images.clone()), ("labels".to_string(), labels.clone())].into();
    enas_shared::export::save_safetensors(&out.join("batch.safetensors"), &batch)?;
    let ctx = ProxyContext::cifar10(0, Some(ProxyBatch { images, labels }));
    let space = Space::Nb201(Default::default());
    let mut rows = Vec::new();
    for (k, arch) in archs.iter().enumerate() {
        let cell: Vec<_> = space.parse(arch)?.iter().map(|&v| NB201_OPS[v]).collect();
        let (_, params) = ctx.network_and_params(&cell)?;
        params.save(&out.join(format!("net{k}.safetensors")))?;
        let scores = score_all(&ALL_PROXIES, &cell, &ctx)?;
        let mut row = serde_json::Map::new();
        row.insert("arch".into(), arch.clone().into());
        row.insert("weights".into(), format!("net{k}.safetensors").into());
        for (p, s) in ALL_PROXIES.iter().zip(scores) {
            row.insert(p.name().into(), s.into());
        }
        rows.push(serde_json::Value::Object(row));
    }
    std::fs::write(out.join("scores.json"), serde_json::to_string_pretty(&rows)?)?;
    println!("wrote {} architectures to {}", rows.len(), out.display());
    Ok(())
}
