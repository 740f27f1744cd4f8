//! `enas inspect`: sizes of an architecture, as JSON.
use crate::cli::{parse_arc, InspectArgs};
use anyhow::Result;
use candle_core::Device;
use enas_child::{path_cost, InitRoot, MicroNet, MicroShape, Weights};

pub fn run(a: &InspectArgs) -> Result<()> {
    anyhow::ensure!(
        a.image > 0 && a.in_channels > 0 && a.classes > 0,
        "--image, --in-channels and --classes must be at least 1 (got {}, {} and {})",
        a.image,
        a.in_channels,
        a.classes
    );
    let cfg = a.cfg.load(&[])?;
    let arch = parse_arc(&cfg, &a.arc, "--arc")?;
    let shape = MicroShape::of_child(&cfg.child, a.in_channels, a.classes);
    let root = InitRoot::new(cfg.seed, &Device::Cpu);
    let net = MicroNet::new(shape, &Weights::Shared, root.init())?;
    let store = root.finish();
    let (active, macs) = path_cost(&net, &arch, a.image, a.image);
    let out = serde_json::json!({
        "arc": a.arc.split_whitespace().collect::<Vec<_>>().join(" "),
        "normal": arch.normal.to_string(),
        "reduce": arch.reduce.to_string(),
        "in_channels": a.in_channels,
        "classes": a.classes,
        "layers": shape.layers,
        "channels": shape.channels,
        "nodes": shape.nodes,
        "image": a.image,
        "active_params": active,
        "supernet_params": store.num_params(),
        "flops": macs,
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
