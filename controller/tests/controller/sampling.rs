//! Sampling is reproducible from the RNG, always valid, and scored the same as teacher forcing.
use crate::controller;
use candle_core::Device;
use enas_controller::{Controller, ControllerConfig};
use enas_shared::space::DecisionKind;
use enas_shared::{Darts, EnasMicro};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

#[test]
fn same_seed_gives_same_arcs_and_different_seeds_differ() {
    let cfg = ControllerConfig::default();
    let draw = |weights_seed: u64, rng_seed: u64| {
        let c = controller(&cfg, 5, weights_seed);
        let mut rng = ChaCha8Rng::seed_from_u64(rng_seed);
        (0..20).map(|_| c.sample(&mut rng).unwrap().values).collect::<Vec<_>>()
    };
    let a = draw(1, 2);
    assert_eq!(a, draw(1, 2));
    assert_ne!(a, draw(1, 3));
    assert_ne!(a, draw(4, 2));
}

#[test]
fn samples_are_valid_and_cover_every_choice() {
    let cfg = ControllerConfig::default();
    let space = EnasMicro::new(5);
    let c = controller(&cfg, 5, 0);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let decisions = space.decisions();
    let mut seen = decisions.iter().map(|d| vec![false; d.choices]).collect::<Vec<_>>();
    for _ in 0..300 {
        let s = c.sample(&mut rng).unwrap();
        space.validate(&s.values).unwrap();
        space.from_values(&s.values).unwrap();
        for (pos, v) in s.values.iter().enumerate() {
            seen[pos][*v] = true;
        }
        let (lp, ent) = (s.log_prob_value().unwrap(), s.entropy_value().unwrap());
        assert!(lp < 0.0 && lp.is_finite() && ent > 0.0, "log_prob {lp} entropy {ent}");
    }
    // ENAS's bounded logits keep every choice reachable.
    for (pos, s) in seen.iter().enumerate() {
        assert!(s.iter().all(|x| *x), "{}: not every choice sampled in 300 arcs: {s:?}", decisions[pos].label);
    }
}

#[test]
fn sampled_log_prob_equals_teacher_forced_log_prob() {
    for cfg in [ControllerConfig::default(), ControllerConfig { tanh_constant: None, ..Default::default() }] {
        let c = controller(&cfg, 5, 3);
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for _ in 0..5 {
            let s = c.sample(&mut rng).unwrap();
            let t = c.evaluate(&s.values).unwrap();
            assert_eq!(s.values, t.values);
            assert!((s.log_prob_value().unwrap() - t.log_prob_value().unwrap()).abs() < 1e-5);
            assert!((s.entropy_value().unwrap() - t.entropy_value().unwrap()).abs() < 1e-5);
        }
    }
}

#[test]
fn invalid_values_are_rejected_by_evaluate() {
    let c = controller(&ControllerConfig::default(), 2, 0);
    let err = c.evaluate(&[0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).unwrap_err().to_string();
    assert!(err.contains("position 2"), "{err}");
}

#[test]
fn shaping_bounds_every_probability() {
    // With ENAS's shaping an input logit lies in ±1.1 and an op logit in ±1.1/2.5 (±(0.44 + 0.25)
    // in the normal cell), whatever the weights: no choice can become (nearly) certain.
    let cfg = ControllerConfig { init_range: 3.0, ..Default::default() };
    let c = controller(&cfg, 4, 1);
    let bound = |c: f64, k: usize| c.exp() / (c.exp() + (k - 1) as f64 * (-c).exp());
    let decisions = c.space().decisions();
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    for _ in 0..20 {
        let s = c.sample(&mut rng).unwrap();
        for (pos, probs) in c.distributions(&s.values).unwrap().iter().enumerate() {
            let k = decisions[pos].choices;
            let max = match decisions[pos].kind {
                DecisionKind::Input => bound(1.1, k),
                DecisionKind::Op if pos < decisions.len() / 2 => bound(0.44 + 0.25, k),
                DecisionKind::Op => bound(0.44, k),
            };
            assert_eq!(probs.len(), k);
            assert!((probs.iter().sum::<f32>() - 1.0).abs() < 1e-5);
            for p in probs {
                assert!((*p as f64) <= max + 1e-6, "{}: {probs:?} exceeds {max}", decisions[pos].label);
            }
        }
    }
}

#[test]
fn uniform_draws_are_uniform_and_paired_with_the_controllers() {
    // ENAS's default controller prefers the sep convs; sample_uniform must not.
    let space = EnasMicro::new(5);
    let c = controller(&ControllerConfig::default(), 5, 0);
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let decisions = space.decisions();
    let ops: Vec<usize> = (0..decisions.len()).filter(|&i| decisions[i].kind == DecisionKind::Op).collect();
    let (mut counts, mut controller_counts) = ([0usize; 5], [0usize; 5]);
    let draws = 400;
    for k in 0..draws {
        let u = c.sample_uniform(&mut rng).unwrap();
        space.validate(&u.values).unwrap();
        let s = c.sample(&mut rng).unwrap();
        for &i in &ops {
            counts[u.values[i]] += 1;
            controller_counts[s.values[i]] += 1;
        }
        // The table's log_prob is the controller's for the uniform arc.
        if k < 10 {
            let lp = c.evaluate(&u.values).unwrap().log_prob_value().unwrap();
            assert!((u.log_prob_value().unwrap() - lp).abs() < 1e-9);
        }
    }
    let total = (draws * ops.len()) as f64;
    for (op, &n) in counts.iter().enumerate() {
        // 8,000 draws: a share's standard error is 0.0045.
        assert!((n as f64 / total - 0.2).abs() < 0.02, "op {op}: share {}", n as f64 / total);
    }
    assert!(controller_counts[0] as f64 / total > 0.23, "the default controller favours sep_conv_3x3");

    // A controller that is uniform (no op prior, near-zero weights) makes the very same draws
    // as sample_uniform from the same RNG state.
    let flat = ControllerConfig {
        init_range: 1e-7,
        op_bias_init: vec![0.0; 5],
        normal_op_bias: vec![0.0; 5],
        ..Default::default()
    };
    let c = controller(&flat, 5, 0);
    let (mut a, mut b) = (ChaCha8Rng::seed_from_u64(5), ChaCha8Rng::seed_from_u64(5));
    for _ in 0..20 {
        assert_eq!(c.sample(&mut a).unwrap().values, c.sample_uniform(&mut b).unwrap().values);
    }
}

/// The controller walks DARTS's cell space as it walks ENAS micro's (the same decisions over seven
/// ops): its op embedding and softmax have seven rows / columns, the config's op prior lands on
/// the same ops (the sep convs), and every sample is a valid DARTS vector that scores the same
/// under teacher forcing, every choice of every decision (the dilated convs included) reached.
#[test]
fn samples_valid_darts_space_vectors() {
    let cfg = ControllerConfig::default();
    let space = Darts::new(4);
    let c = Controller::new(&cfg, space.clone(), 0, &Device::Cpu).unwrap();
    let var = |name: &str| c.vars().iter().find(|(n, _)| n == name).unwrap().1.as_tensor().clone();
    assert_eq!(var("emb.w").dims(), &[7, cfg.lstm_size]);
    assert_eq!(var("softmax.w").dims(), &[cfg.lstm_size, 7]);
    // DARTS's order: max_pool, avg_pool, skip, sep3, sep5, dil3, dil5; ENAS's prior is on the sep convs.
    let b: Vec<f32> = var("softmax.b").flatten_all().unwrap().to_vec1().unwrap();
    assert_eq!(b, vec![0.0, 0.0, 0.0, 10.0, 10.0, 0.0, 0.0]);
    let decisions = space.decisions();
    let mut seen = decisions.iter().map(|d| vec![false; d.choices]).collect::<Vec<_>>();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for i in 0..300 {
        let s = c.sample(&mut rng).unwrap();
        assert_eq!(s.values.len(), 32);
        space.validate(&s.values).unwrap();
        space.format(&space.from_values(&s.values).unwrap()).unwrap();
        for (pos, v) in s.values.iter().enumerate() {
            seen[pos][*v] = true;
        }
        if i < 5 {
            let t = c.evaluate(&s.values).unwrap();
            assert!((s.log_prob_value().unwrap() - t.log_prob_value().unwrap()).abs() < 1e-5);
        }
    }
    for (pos, s) in seen.iter().enumerate() {
        assert!(s.iter().all(|x| *x), "{}: not every choice sampled in 300 arcs: {s:?}", decisions[pos].label);
    }
}
