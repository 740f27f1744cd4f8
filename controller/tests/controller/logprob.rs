//! The controller's log-probability and entropy against a plain-f64 transcription of ENAS's
//! `MicroController._build_sampler` (melodyguan/enas `src/cifar10/micro_controller.py`):
//!
//! ```python
//! for layer_id in range(2):                       # the cell inputs: zero anchors, keys from h
//!   next_c, next_h = stack_lstm(g_emb, prev_c, prev_h, w_lstm)
//!   anchors_w_1.append(matmul(next_h[-1], w_attn_1))
//! for each node:  inputs = g_emb
//!   for i in range(2):                            # x input, y input
//!     next_c, next_h = stack_lstm(inputs, ...)
//!     logits = v_attn . tanh(anchors_w_1 + next_h[-1] @ w_attn_2); logits /= T; c * tanh(logits)
//!     inputs = anchors[index]
//!   for i in range(2):                            # x op, y op
//!     logits = next_h[-1] @ w_soft + b_soft; /= T; (c / op_tanh_reduce) * tanh; + b_no_learn (normal)
//!     inputs = w_emb[op_id]
//!   next_c, next_h = stack_lstm(inputs, ...); anchors.append(next_h[-1])
//! ```
use crate::controller;
use enas_controller::{Controller, ControllerConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

type Mat = Vec<Vec<f64>>;

fn mat(c: &Controller, name: &str) -> Mat {
    let (_, v) = c.vars().iter().find(|(k, _)| k == name).unwrap();
    let rows: Vec<Vec<f32>> = v.as_tensor().to_vec2().unwrap();
    rows.into_iter().map(|r| r.into_iter().map(f64::from).collect()).collect()
}

/// `x @ m` for a row vector `x`.
fn vecmat(x: &[f64], m: &Mat) -> Vec<f64> {
    (0..m[0].len()).map(|j| x.iter().zip(m).map(|(a, row)| a * row[j]).sum()).collect()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// ENAS's `stack_lstm`: gates i, f, o, g from `[x, h] @ w`, no bias.
fn stack_lstm(x: &[f64], state: &mut [(Vec<f64>, Vec<f64>)], ws: &[Mat]) {
    let mut input = x.to_vec();
    for ((c, h), w) in state.iter_mut().zip(ws) {
        let n = h.len();
        let xh: Vec<f64> = input.iter().chain(h.iter()).copied().collect();
        let z = vecmat(&xh, w);
        for k in 0..n {
            let (i, f, o, g) = (sigmoid(z[k]), sigmoid(z[n + k]), sigmoid(z[2 * n + k]), z[3 * n + k].tanh());
            c[k] = i * g + f * c[k];
            h[k] = o * c[k].tanh();
        }
        input = h.clone();
    }
}

/// Adds `log π(choice)` and the entropy of `logits` (after shaping) to the running sums.
fn score(logits: &[f64], choice: usize, sums: &mut (f64, f64)) {
    let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let lse = max + logits.iter().map(|l| (l - max).exp()).sum::<f64>().ln();
    sums.0 += logits[choice] - lse;
    sums.1 -= logits.iter().map(|l| (l - lse).exp() * (l - lse)).sum::<f64>();
}

fn shape(logits: &mut [f64], temperature: Option<f64>, c: Option<f64>) {
    for l in logits.iter_mut() {
        if let Some(t) = temperature {
            *l /= t;
        }
        if let Some(c) = c {
            *l = c * l.tanh();
        }
    }
}

/// (log_prob, entropy) of `values` by hand.
fn by_hand(ctl: &Controller, values: &[usize]) -> (f64, f64) {
    let cfg = ctl.config();
    let enas_shared::Space::EnasMicro(micro) = ctl.space() else { panic!("an ENAS micro controller") };
    let nodes = micro.nodes;
    let ws: Vec<Mat> = (0..cfg.lstm_layers).map(|l| mat(ctl, &format!("lstm.layer_{l}.w"))).collect();
    let g_emb = mat(ctl, "g_emb").remove(0);
    let (w_emb, w_soft, b_soft) = (mat(ctl, "emb.w"), mat(ctl, "softmax.w"), mat(ctl, "softmax.b").remove(0));
    let (w1, w2, v) = (mat(ctl, "attention.w_1"), mat(ctl, "attention.w_2"), mat(ctl, "attention.v"));
    let n = cfg.lstm_size;
    let mut state = vec![(vec![0.0; n], vec![0.0; n]); cfg.lstm_layers];
    let mut sums = (0.0, 0.0);
    for cell in 0..2 {
        let mut anchors = vec![vec![0.0; n], vec![0.0; n]];
        let mut keys = Vec::new();
        for _ in 0..2 {
            stack_lstm(&g_emb, &mut state, &ws);
            keys.push(vecmat(&state.last().unwrap().1, &w1));
        }
        for node in 0..nodes {
            let start = 4 * nodes * cell + 4 * node;
            let mut inputs = g_emb.clone();
            for i in 0..2 {
                stack_lstm(&inputs, &mut state, &ws);
                let q = vecmat(&state.last().unwrap().1, &w2);
                let mut logits: Vec<f64> = keys
                    .iter()
                    .map(|k| k.iter().zip(&q).zip(&v).map(|((a, b), vr)| (a + b).tanh() * vr[0]).sum())
                    .collect();
                shape(&mut logits, cfg.temperature, cfg.tanh_constant);
                let index = values[start + 2 * i];
                score(&logits, index, &mut sums);
                inputs = anchors[index].clone();
            }
            for i in 0..2 {
                stack_lstm(&inputs, &mut state, &ws);
                let mut logits: Vec<f64> =
                    vecmat(&state.last().unwrap().1, &w_soft).iter().zip(&b_soft).map(|(a, b)| a + b).collect();
                shape(&mut logits, cfg.temperature, cfg.tanh_constant.map(|c| c / cfg.op_tanh_reduce));
                if cell == 0 {
                    for (l, b) in logits.iter_mut().zip(&cfg.normal_op_bias) {
                        *l += b;
                    }
                }
                let op = values[start + 2 * i + 1];
                score(&logits, op, &mut sums);
                inputs = w_emb[op].clone();
            }
            stack_lstm(&inputs, &mut state, &ws);
            let h = state.last().unwrap().1.clone();
            keys.push(vecmat(&h, &w1));
            anchors.push(h);
        }
    }
    sums
}

fn random_values(ctl: &Controller, rng: &mut ChaCha8Rng) -> Vec<usize> {
    ctl.space().decisions().iter().map(|d| rng.random_range(0..d.choices)).collect()
}

fn check(cfg: ControllerConfig, nodes: usize) {
    let ctl = controller(&cfg, nodes, 5);
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    for _ in 0..6 {
        let values = random_values(&ctl, &mut rng);
        let s = ctl.evaluate(&values).unwrap();
        let (lp, ent) = by_hand(&ctl, &values);
        let (got_lp, got_ent) = (s.log_prob_value().unwrap(), s.entropy_value().unwrap());
        assert!((got_lp - lp).abs() < 1e-4, "{cfg:?} {values:?}: log_prob {got_lp} vs by hand {lp}");
        assert!((got_ent - ent).abs() < 1e-4, "{cfg:?} {values:?}: entropy {got_ent} vs by hand {ent}");
    }
}

#[test]
fn log_prob_and_entropy_match_a_hand_computation_with_enas_shaping() {
    // Large weights drive the LSTM out of its linear range, so every gate matters.
    let cfg = ControllerConfig { lstm_size: 6, init_range: 0.8, temperature: Some(5.0), ..Default::default() };
    check(cfg, 2);
    check(ControllerConfig { lstm_size: 8, init_range: 0.5, ..Default::default() }, 3);
}

#[test]
fn op_biases_come_from_the_config() {
    let default = controller(&ControllerConfig::default(), 2, 5);
    assert_eq!(mat(&default, "softmax.b")[0], vec![10.0, 10.0, 0.0, 0.0, 0.0], "ENAS's b_soft init");
    let cfg = ControllerConfig {
        lstm_size: 6,
        init_range: 0.8,
        op_bias_init: vec![0.3, -1.0, 0.5, 2.0, 0.0],
        normal_op_bias: vec![0.1, 0.0, -0.2, 0.3, 0.0],
        ..Default::default()
    };
    let ctl = controller(&cfg, 2, 5);
    let as_f32: Vec<f64> = cfg.op_bias_init.iter().map(|&b| f64::from(b as f32)).collect();
    assert_eq!(mat(&ctl, "softmax.b")[0], as_f32);
    check(cfg, 2);
}

#[test]
fn log_prob_and_entropy_match_a_hand_computation_without_shaping_and_two_layers() {
    let cfg =
        ControllerConfig { lstm_size: 5, lstm_layers: 2, init_range: 0.7, tanh_constant: None, ..Default::default() };
    check(cfg, 2);
}
