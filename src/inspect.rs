//! `enas inspect`: sizes of an architecture of `search.space`, as JSON.
use crate::cli::InspectArgs;
use anyhow::Result;
use candle_core::Device;
use enas_child::darts::{darts_cost, Holds};
use enas_child::{path_cost, DartsShape, InitRoot, MicroNet, MicroShape, Weights};
use enas_shared::space::darts::Darts;
use enas_shared::SpaceKind;

pub fn run(a: &InspectArgs) -> Result<()> {
    anyhow::ensure!(
        a.image > 0 && a.in_channels > 0 && a.classes > 0,
        "--image, --in-channels and --classes must be at least 1 (got {}, {} and {})",
        a.image,
        a.in_channels,
        a.classes
    );
    let cfg = a.cfg.load(&[])?;
    crate::memory::check_inspect(&cfg, a.image)?;
    let origin = a.arc_file.as_ref().map(|f| f.display().to_string()).unwrap_or_else(|| "--arc".into());
    let text = a.arc_text()?;
    let arch = crate::train::net::parse(&cfg, &text, &origin)?;
    let base = serde_json::json!({
        "space": cfg.search.space,
        "normal": arch.normal.to_string(),
        "reduce": arch.reduce.to_string(),
        "in_channels": a.in_channels,
        "classes": a.classes,
        "nodes": cfg.child.nodes,
        "image": a.image,
    });
    let sizes = match cfg.search.space {
        // DARTS: the evaluation network at train.channels and train.layers, counted as DARTS
        // counts (no auxiliary head), and the path's share of the search network at child.*.
        SpaceKind::Darts => {
            let hw = (a.image, a.image);
            let eval = DartsShape {
                in_channels: a.in_channels,
                channels: cfg.train.channels,
                layers: cfg.train.layers,
                nodes: cfg.child.nodes,
                classes: a.classes,
            };
            let search = DartsShape { channels: cfg.child.channels, layers: cfg.child.layers, ..eval };
            let (params, flops) = darts_cost(&eval, Holds::Arch(&arch), false, hw);
            serde_json::json!({
                "arc": Darts::new(cfg.child.nodes).format(&arch)?,
                "layers": eval.layers,
                "channels": eval.channels,
                "params": params,
                "flops": flops,
                "search_layers": search.layers,
                "search_channels": search.channels,
                "active_params": darts_cost(&search, Holds::Arch(&arch), true, hw).0,
                "supernet_params": darts_cost(&search, Holds::All, true, hw).0,
            })
        }
        _ => {
            let shape = MicroShape::of_child(&cfg.child, a.in_channels, a.classes);
            let root = InitRoot::new(cfg.seed, &Device::Cpu);
            let net = MicroNet::new(shape, &Weights::Shared, root.init())?;
            let store = root.finish();
            let (active, macs) = path_cost(&net, &arch, a.image, a.image);
            serde_json::json!({
                "arc": text.split_whitespace().collect::<Vec<_>>().join(" "),
                "layers": shape.layers,
                "channels": shape.channels,
                "active_params": active,
                "supernet_params": store.num_params(),
                "flops": macs,
            })
        }
    };
    // The network `enas train` would train (train.layers, train.channels), measured on one thread
    // unless RAYON_NUM_THREADS says otherwise (the JSON says which).
    crate::runtime::init_threads(1);
    let device = crate::runtime::device(&cfg)?;
    let (net, _) = crate::train::net::build(&cfg, &arch, (a.in_channels, (a.image, a.image), a.classes), &device)?;
    let mut deploy = crate::train::net::deploy_costs(&*net, a.in_channels, (a.image, a.image), &device)?;
    deploy["layers"] = cfg.train.layers.into();
    deploy["channels"] = cfg.train.channels.into();
    let mut out = base;
    out["train_network"] = deploy;
    if let (Some(o), serde_json::Value::Object(s)) = (out.as_object_mut(), sizes) {
        o.extend(s);
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
