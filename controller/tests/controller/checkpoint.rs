//! Saving and loading the controller, Adam's state and the baseline resumes a run exactly.
use crate::controller;
use enas_controller::{Controller, ControllerConfig, Reinforce, UpdateStats};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// `steps` updates with a made-up reward; returns every sampled arc and the stats.
fn run(
    ctl: &Controller,
    rl: &mut Reinforce,
    rng: &mut ChaCha8Rng,
    steps: usize,
) -> (Vec<Vec<usize>>, Vec<UpdateStats>) {
    let (mut arcs, mut stats) = (Vec::new(), Vec::new());
    for _ in 0..steps {
        let batch: Vec<_> = (0..ctl.config().num_aggregate)
            .map(|_| {
                let s = ctl.sample(rng).unwrap();
                let acc = s.values.iter().sum::<usize>() as f64 / 100.0;
                (s, acc)
            })
            .collect();
        arcs.extend(batch.iter().map(|(s, _)| s.values.clone()));
        stats.push(rl.update(ctl, &batch).unwrap());
    }
    (arcs, stats)
}

fn weights(ctl: &Controller) -> Vec<Vec<f32>> {
    ctl.vars().iter().map(|(_, v)| v.as_tensor().flatten_all().unwrap().to_vec1().unwrap()).collect()
}

#[test]
fn checkpoint_round_trip_continues_exactly() {
    let cfg = ControllerConfig { num_aggregate: 4, lr: 0.05, ..Default::default() };
    let dir = tempfile::tempdir().unwrap();
    let (ctl_path, opt_path) = (dir.path().join("controller.safetensors"), dir.path().join("opt.safetensors"));

    let ctl = controller(&cfg, 3, 0);
    let mut rl = Reinforce::new(&cfg, &ctl).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    run(&ctl, &mut rl, &mut rng, 3);
    ctl.save(&ctl_path).unwrap();
    rl.save(&opt_path).unwrap();
    let resume_rng = rng.clone();
    let (arcs, stats) = run(&ctl, &mut rl, &mut rng, 3);

    // A controller built from another seed, then loaded, continues as the uninterrupted run.
    let mut ctl2 = controller(&cfg, 3, 99);
    let mut rl2 = Reinforce::new(&cfg, &ctl2).unwrap();
    ctl2.load(&ctl_path).unwrap();
    rl2.load(&opt_path).unwrap();
    assert_eq!(rl2.optimizer().step_count(), 3);
    let mut rng2 = resume_rng;
    let (arcs2, stats2) = run(&ctl2, &mut rl2, &mut rng2, 3);
    assert_eq!(arcs, arcs2);
    assert_eq!(stats, stats2);
    assert_eq!(rl.baseline(), rl2.baseline());
    assert_eq!(weights(&ctl), weights(&ctl2));
}

#[test]
fn loading_a_mismatched_checkpoint_names_the_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.safetensors");
    controller(&ControllerConfig { lstm_size: 8, ..Default::default() }, 2, 0).save(&path).unwrap();
    let mut other = controller(&ControllerConfig::default(), 2, 0);
    let err = other.load(&path).unwrap_err().to_string();
    assert!(err.contains("c.safetensors") && err.contains("shape"), "{err}");
    let cfg2 = ControllerConfig { lstm_layers: 2, lstm_size: 8, ..Default::default() };
    let err = controller(&cfg2, 2, 0).load(&path).unwrap_err().to_string();
    assert!(err.contains("missing tensor `lstm.layer_1.w`"), "{err}");
}
