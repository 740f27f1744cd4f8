//! The warm start of the proxy-guided strategies: the pool, the ranking (one proxy or a vote),
//! and strategies that take their first architectures from the ranking.
use enas_controller::strategy::{self, warm, History};
use enas_shared::strategy_config::{BenchConfig, StrategyConfig, StrategyKind};
use enas_shared::table::{Evaluation, Evaluator};
use enas_shared::{Nb201, Result, Space};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;

#[test]
fn the_pool_is_distinct_and_capped_by_the_space() {
    let space = Space::Nb201(Nb201);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let pool = warm::draw_pool(&space.decisions(), 500, &mut rng).unwrap();
    assert_eq!(pool.len(), 500);
    assert_eq!(pool.iter().collect::<HashSet<_>>().len(), 500);
    let tiny = Space::by_name("nb201", 5).unwrap().decisions()[..2].to_vec(); // 25 architectures
    assert_eq!(warm::draw_pool(&tiny, 100, &mut rng).unwrap().len(), 25);
}

#[test]
fn one_proxy_ranks_by_score_and_nan_last() {
    let pool: Vec<Vec<usize>> = (0..4).map(|i| vec![i]).collect();
    let scores = vec![vec![2.0], vec![f64::NAN], vec![5.0], vec![2.0]];
    // 5 first, the tied 2s in pool order, NaN last.
    assert_eq!(warm::rank(&pool, &scores), vec![vec![2], vec![0], vec![3], vec![1]]);
}

#[test]
fn several_proxies_vote_by_rank_sum() {
    let pool: Vec<Vec<usize>> = (0..3).map(|i| vec![i]).collect();
    // Ranks (0 = worst): a: 2, 0, 1 -> 3; b: 1, 2, 2 -> 5; c: 0, 1, 0 -> 1. The scales differ by
    // orders of magnitude, which a vote on ranks ignores.
    let scores = vec![vec![1e30, -5.0, 0.2], vec![1e20, 7.0, 0.9], vec![1.0, 1.0, 0.1]];
    assert_eq!(warm::rank(&pool, &scores), vec![vec![1], vec![0], vec![2]]);
}

struct Constant;

impl Evaluator for Constant {
    fn evaluate(&mut self, _: &[usize]) -> Result<Evaluation> {
        Ok(Evaluation { reward: 1.0, report: None, cost: None })
    }
}

/// The first `n` proposals of `kind` built with `starts`.
fn first_proposals(kind: StrategyKind, starts: Vec<Vec<usize>>, n: usize) -> Vec<Vec<usize>> {
    let space = Space::Nb201(Nb201);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let controller = BenchConfig::default().controller;
    let mut s =
        strategy::build_with_starts(kind, &space, &StrategyConfig::default(), &controller, starts, &mut rng).unwrap();
    assert_eq!(s.kind(), kind);
    let mut history = History::new(false);
    let mut out = Vec::new();
    strategy::run(s.as_mut(), &space, &mut Constant, n, &mut history, &mut rng, &mut |q| out.push(q.values.clone()))
        .unwrap();
    out
}

#[test]
fn proxy_strategies_start_from_the_ranking() {
    let space = Space::Nb201(Nb201);
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let ranked = warm::draw_pool(&space.decisions(), 30, &mut rng).unwrap();
    // Local search queries `init_samples` (10) starts before it climbs; evolution fills its
    // population (10) from them.
    for kind in [StrategyKind::ProxyLocal, StrategyKind::VoteLocal, StrategyKind::ProxyEvolution] {
        let got = first_proposals(kind, ranked.clone(), 10);
        assert_eq!(got, ranked[..10].to_vec(), "{kind}");
    }
    // Without starts the same strategies draw at random, as their plain versions do.
    let plain = first_proposals(StrategyKind::ProxyLocal, Vec::new(), 10);
    assert_eq!(plain, first_proposals(StrategyKind::Local, Vec::new(), 10));
}
