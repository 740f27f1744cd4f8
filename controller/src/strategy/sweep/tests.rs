use super::*;
use enas_shared::space::DecisionKind;
use rand::SeedableRng;

/// Cost = the choices read as a base-`choices` number (first decision most significant).
struct Positional(usize);

impl KnownCost for Positional {
    fn cost(&self, values: &[usize]) -> Result<f64> {
        Ok(values.iter().fold(0, |acc, &v| acc * self.0 + v) as f64)
    }
}

fn decisions(n: usize, choices: usize) -> Vec<Decision> {
    (0..n).map(|i| Decision { kind: DecisionKind::Op, choices, label: format!("d{i}") }).collect()
}

/// numpy.percentile([1, 2, 3, 4, 5], [25, 50, 75]) = [2, 3, 4];
/// numpy.percentile([1, 2], [100/3, 200/3]) = [1.3333, 1.6667].
#[test]
fn limits_are_the_pools_quantiles() {
    assert_eq!(quantile_limits(&[5.0, 1.0, 4.0, 2.0, 3.0], 4), vec![2.0, 3.0, 4.0]);
    let l = quantile_limits(&[2.0, 1.0], 3);
    assert!((l[0] - 4.0 / 3.0).abs() < 1e-12 && (l[1] - 5.0 / 3.0).abs() < 1e-12, "{l:?}");
    assert_eq!(quantile_limits(&[7.0], 1), Vec::<f64>::new());
    assert_eq!(level_of(&[2.0, 3.0], 2.0), 0);
    assert_eq!(level_of(&[2.0, 3.0], 2.5), 1);
    assert_eq!(level_of(&[2.0, 3.0], 9.0), 2);
}

/// By hand, 2 decisions of 3 choices (cost 3a + b: 0..8), the whole space as the pool in
/// reverse order, 3 levels: limits at the 1/3 and 2/3 quantiles of 0..8, 2.667 and 5.333;
/// bands {2, 1, 0}, {5, 4, 3}, {8, 7, 6} in pool order.
/// 1. Level 0 has told nothing: its band's first start, (0, 2) (cost 2).
/// 2. Level 1: (0, 2) is within 5.333, so it climbs from there: a neighbour of (0, 2) within the
///    limit, i.e. (0, 0), (0, 1) or (1, 2) (cost 0, 1, 5; (2, 2) costs 8).
/// 3. Level 2 (no limit): the best told so far is (0, 2) (reward 1 beats the neighbour's 0.5):
///    any unknown neighbour of it.
#[test]
fn levels_go_round_and_climb_within_their_limits() {
    let pool: Vec<Vec<usize>> = (0..9).rev().map(|i| vec![i / 3, i % 3]).collect();
    let cfg = SweepConfig { levels: 3, gate: None };
    let mut s = Sweep::new(StrategyKind::Sweep, decisions(2, 3), &cfg, pool, Arc::new(Positional(3))).unwrap();
    assert_eq!(s.st.limits.len(), 2);
    assert!((s.st.limits[0] - 8.0 / 3.0).abs() < 1e-12 && (s.st.limits[1] - 16.0 / 3.0).abs() < 1e-12);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut history = History::new(false);
    let first = s.propose(&history, &mut rng).unwrap();
    assert_eq!(first, vec![0, 2]);
    history.record(&first, 1.0);
    s.tell_cost(&first, 1.0, Some(2.0), &mut rng).unwrap();
    let second = s.propose(&history, &mut rng).unwrap();
    assert!([vec![0, 0], vec![0, 1], vec![1, 2]].contains(&second), "{second:?}");
    history.record(&second, 0.5);
    s.tell(&second, 0.5, &mut rng).unwrap(); // the cost comes from KnownCost
    let third = s.propose(&history, &mut rng).unwrap();
    let diff = third.iter().zip(&first).filter(|(a, b)| a != b).count();
    assert!(diff == 1 && third != second, "{third:?} is no unknown neighbour of {first:?}");
}

/// One decision of 4 choices (cost = choice), pool [3, 2, 1, 0], 2 levels (limit 1.5): level 0's
/// band is [1, 0]. Once its incumbent's neighbours within 1.5 are all known, level 0 restarts from
/// its band's next start not yet known; once band and neighbours are spent, it draws uniformly
/// (a fallback) among what is left.
#[test]
fn a_local_optimum_restarts_from_the_band_then_falls_back() {
    let pool: Vec<Vec<usize>> = (0..4).rev().map(|i| vec![i]).collect();
    let cfg = SweepConfig { levels: 2, gate: None };
    let mut s = Sweep::new(StrategyKind::Sweep, decisions(1, 4), &cfg, pool, Arc::new(Positional(4))).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut history = History::new(false);
    // Level 0: band start [1]. Tell it, and make [0] known too (as another level would).
    assert_eq!(s.propose(&history, &mut rng).unwrap(), vec![1]);
    for (v, r) in [(vec![1], 2.0), (vec![0], 1.0)] {
        history.record(&v, r);
        s.tell(&v, r, &mut rng).unwrap();
    }
    // Level 1 (no limit) climbs from [1]: [2] or [3].
    let up = s.propose(&history, &mut rng).unwrap();
    assert!(up == vec![2] || up == vec![3], "{up:?}");
    // Level 0: [1]'s only neighbour within 1.5 is [0], known; band [1, 0] is spent: a fallback.
    assert_eq!(s.fallbacks(), 0);
    let fb = s.propose(&history, &mut rng).unwrap();
    assert!(history.known(&fb).is_none());
    assert_eq!(s.fallbacks(), 1);
}

#[test]
fn an_empty_pool_is_an_error_and_the_state_round_trips() {
    let cfg = SweepConfig { levels: 3, gate: None };
    let e = Sweep::new(StrategyKind::ProxySweep, decisions(1, 4), &cfg, Vec::new(), Arc::new(Positional(4)));
    assert!(e.is_err_and(|e| e.to_string().contains("proxy-sweep needs a pool")));
    let pool: Vec<Vec<usize>> = (0..4).map(|i| vec![i]).collect();
    let mut s = Sweep::new(StrategyKind::Sweep, decisions(1, 4), &cfg, pool.clone(), Arc::new(Positional(4))).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let v = s.propose(&History::new(false), &mut rng).unwrap();
    s.tell(&v, 3.0, &mut rng).unwrap();
    let state = s.state().unwrap();
    let mut t = Sweep::new(StrategyKind::Sweep, decisions(1, 4), &cfg, pool, Arc::new(Positional(4))).unwrap();
    t.restore(state.clone()).unwrap();
    assert_eq!(t.state().unwrap(), state);
}

/// The 7/10 quantile of 0..=90 is at position 7 x 90 / 10 = 63 exactly, so the limit is 63 and a
/// cost of exactly 63 falls in level 6; numpy's float product gives 62.99999999999999 there
/// (`np.percentile(np.arange(91.), 70)`), which would move that cost up a level.
#[test]
fn a_whole_quantile_position_is_exact() {
    let costs: Vec<f64> = (0..91).map(f64::from).collect();
    assert_eq!(quantile_limits(&costs, 10)[6], 63.0);
}

/// 2 decisions of 4 choices (cost 4a + b: 0..15), 2 levels: limit 7.5 (the median), so level 0's
/// band is a in {0, 1}. The pool starts with `pool_head`, then the rest in order.
fn two_by_four(pool_head: &[[usize; 2]]) -> Sweep {
    let head: Vec<Vec<usize>> = pool_head.iter().map(|p| p.to_vec()).collect();
    let rest = (0..16).map(|i| vec![i / 4, i % 4]).filter(|v| !head.contains(v));
    let pool: Vec<Vec<usize>> = head.iter().cloned().chain(rest).collect();
    let cfg = SweepConfig { levels: 2, gate: None };
    Sweep::new(StrategyKind::ProxySweep, decisions(2, 4), &cfg, pool, Arc::new(Positional(4))).unwrap()
}

fn told(s: &mut Sweep, history: &mut History, v: [usize; 2], reward: f64, rng: &mut ChaCha8Rng) {
    history.record(&v, reward);
    s.tell(&v, reward, rng).unwrap();
}

/// By hand: (0, 3) and (1, 0) both score 5 within level 0's limit; the first told, (0, 3), is the
/// incumbent. With (0, 0) and (1, 3) known (neighbours of both), level 0 proposes (0, 1) or
/// (0, 2), the neighbours of (0, 3) left; (1, 0)'s would be (1, 1) or (1, 2).
#[test]
fn the_first_told_of_equal_rewards_is_the_incumbent() {
    let mut s = two_by_four(&[[0, 3], [1, 1]]);
    assert_eq!(s.st.limits, vec![7.5]);
    let (mut rng, mut history) = (ChaCha8Rng::seed_from_u64(3), History::new(false));
    for (v, r) in [([0, 3], 5.0), ([1, 0], 5.0), ([0, 0], 1.0), ([1, 3], 1.0)] {
        told(&mut s, &mut history, v, r, &mut rng);
    }
    for _ in 0..20 {
        let mut t = two_by_four(&[[0, 3], [1, 1]]);
        t.restore(s.state().unwrap()).unwrap();
        let p = t.propose(&history, &mut rng).unwrap();
        assert!(p == vec![0, 1] || p == vec![0, 2], "{p:?} is no neighbour of the first-told incumbent (0, 3)");
    }
}

/// By hand: level 0 climbs from (0, 3); once its neighbours within 7.5 ((0, 0), (0, 1), (0, 2),
/// (1, 3)) are known, it restarts from its band's next start not known, (1, 1), which is no
/// neighbour of (0, 3).
#[test]
fn a_local_optimum_restarts_from_the_next_start_of_the_band() {
    let mut s = two_by_four(&[[0, 3], [1, 1]]);
    let (mut rng, mut history) = (ChaCha8Rng::seed_from_u64(4), History::new(false));
    assert_eq!(s.propose(&history, &mut rng).unwrap(), vec![0, 3]);
    for (v, r) in [([0, 3], 5.0), ([0, 0], 1.0), ([0, 1], 1.0), ([0, 2], 1.0), ([1, 3], 1.0)] {
        told(&mut s, &mut history, v, r, &mut rng);
    }
    // Level 1 (no limit) climbs from (0, 3) above the limit: (2, 3) or (3, 3).
    let up = s.propose(&history, &mut rng).unwrap();
    assert!(up == vec![2, 3] || up == vec![3, 3], "{up:?}");
    told(&mut s, &mut history, [up[0], up[1]], 0.0, &mut rng);
    assert_eq!(s.propose(&history, &mut rng).unwrap(), vec![1, 1]);
    assert_eq!(s.fallbacks(), 0);
}

#[test]
fn a_saved_state_that_does_not_fit_is_an_error() {
    let mut s = two_by_four(&[]);
    let e = s.restore(serde_json::json!({"limits": [], "bands": [], "told": [], "next": 0, "fallbacks": 0}));
    assert!(e.unwrap_err().to_string().contains("saved state of strategy proxy-sweep is invalid"));
    let e = s.restore(
        serde_json::json!({"limits": [1.0], "bands": [[], []], "told": [[[1], 1.0, 1.0]], "next": 0, "fallbacks": 0}),
    );
    assert!(e.is_err());
}

/// A made-up proxy: the second choice (higher is better).
struct Second;

impl KnownScore for Second {
    fn score(&self, values: &[usize]) -> Result<f64> {
        Ok(values[1] as f64)
    }
}

/// By hand, on `two_by_four` (level 0's band a in {0, 1}: second choices 0..3 twice, so its
/// 0.5-quantile score is 1.5; level 1's band a in {2, 3}, the same 1.5). Level 0's incumbent
/// (0, 3) with (0, 2) known: its neighbours within 7.5 are (0, 0), (0, 1), (1, 3); the gate
/// lets through only (1, 3) (score 3 >= 1.5). Without the gate (0, 0) and (0, 1) come up too.
#[test]
fn the_gate_lets_through_only_neighbours_the_proxy_rates() {
    let mut seen = std::collections::HashSet::new();
    for seed in 0..20 {
        let mut s = two_by_four(&[[0, 3], [1, 1]]).with_gate(0.5, Arc::new(Second)).unwrap();
        assert_eq!(s.gate.as_ref().unwrap().1, vec![1.5, 1.5]);
        let (mut rng, mut history) = (ChaCha8Rng::seed_from_u64(seed), History::new(false));
        for (v, r) in [([0, 3], 5.0), ([0, 2], 1.0)] {
            told(&mut s, &mut history, v, r, &mut rng);
        }
        assert_eq!(s.propose(&history, &mut rng).unwrap(), vec![1, 3]);
        let mut plain = two_by_four(&[[0, 3], [1, 1]]);
        for (v, r) in [([0, 3], 5.0), ([0, 2], 1.0)] {
            plain.tell(&v, r, &mut rng).unwrap();
        }
        seen.insert(plain.propose(&history, &mut rng).unwrap());
    }
    assert!(seen.len() > 1, "without the gate the neighbours vary: {seen:?}");
}
