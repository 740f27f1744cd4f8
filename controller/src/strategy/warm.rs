//! The warm start of the proxy-guided strategies (Abdelfattah et al., ICLR 2021, "zero-cost
//! warm-up"): draw a pool of distinct architectures uniformly, score each with zero-cost proxies
//! (no query), and rank the pool best first; the strategy then starts from that ranking.
use super::uniform_unknown;
use enas_shared::pareto::{nsga2_order, Point};
use enas_shared::rank::average_ranks;
use enas_shared::space::Decision;
use enas_shared::Result;
use rand_chacha::ChaCha8Rng;

/// `size` distinct architectures drawn uniformly (fewer if the space is smaller).
pub fn draw_pool(decisions: &[Decision], size: usize, rng: &mut ChaCha8Rng) -> Result<Vec<Vec<usize>>> {
    let mut seen = super::History::new(false);
    let total: f64 = decisions.iter().map(|d| d.choices as f64).product();
    let mut pool = Vec::with_capacity(size);
    while pool.len() < size && (pool.len() as f64) < total {
        let v = uniform_unknown(decisions, &seen, rng)?;
        seen.record(&v, 0.0);
        pool.push(v);
    }
    Ok(pool)
}

/// The pool's order, best first, from `scores[i][p]` (architecture `i`, proxy `p`; higher is
/// better). One proxy: by its score. Several: by the sum of each proxy's ranks (a Borda count),
/// tied scores sharing their average rank, as in Spearman's ρ. Ties in the total keep pool order;
/// a NaN score ranks below every number.
pub fn rank(pool: &[Vec<usize>], scores: &[Vec<f64>]) -> Vec<Vec<usize>> {
    let total = borda(scores);
    let mut idx: Vec<usize> = (0..pool.len()).collect();
    idx.sort_by(|&a, &b| total[b].total_cmp(&total[a]).then(a.cmp(&b)));
    idx.into_iter().map(|i| pool[i].clone()).collect()
}

/// The pool's order for a search of accuracy against a cost (`proxy-pareto`): NSGA-II's
/// (non-dominated rank, then crowding distance) on (the proxies' score as in [`rank`], `cost[i]`),
/// so the head of the order covers the whole cost range with the proxy's best at each cost.
pub fn rank_with_cost(pool: &[Vec<usize>], scores: &[Vec<f64>], cost: &[f64]) -> Vec<Vec<usize>> {
    let points: Vec<Point> = borda(scores).into_iter().zip(cost).map(|(s, &c)| (s, vec![c])).collect();
    nsga2_order(&points).into_iter().map(|i| pool[i].clone()).collect()
}

/// The sum over proxies of each architecture's rank by that proxy (one proxy: its ranks).
fn borda(scores: &[Vec<f64>]) -> Vec<f64> {
    let proxies = scores.first().map_or(0, |s| s.len());
    let mut total = vec![0.0; scores.len()];
    for p in 0..proxies {
        let col: Vec<f64> = scores.iter().map(|s| if s[p].is_nan() { f64::NEG_INFINITY } else { s[p] }).collect();
        for (t, r) in total.iter_mut().zip(average_ranks(&col)) {
            *t += r;
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    /// By hand: proxy scores a..e = 5, 4, 3, 2, 1 and costs 10, 2, 3, 1, 9. Non-dominated on
    /// (score up, cost down): a (best score), b (beats c, e), d (cheapest): the front {a, b, d};
    /// then c (beaten only by b), then e. Within the front crowding puts the extremes a and d
    /// (infinite distance) before b. By score alone the order is a, b, c, d, e.
    #[test]
    fn the_pool_is_ordered_by_front_then_crowding_with_the_cost() {
        let pool: Vec<Vec<usize>> = (0..5).map(|i| vec![i]).collect();
        let scores: Vec<Vec<f64>> = [5.0, 4.0, 3.0, 2.0, 1.0].iter().map(|&s| vec![s]).collect();
        let order = |r: Vec<Vec<usize>>| r.into_iter().map(|v| v[0]).collect::<Vec<_>>();
        assert_eq!(order(rank(&pool, &scores)), vec![0, 1, 2, 3, 4]);
        assert_eq!(order(rank_with_cost(&pool, &scores, &[10.0, 2.0, 3.0, 1.0, 9.0])), vec![0, 3, 1, 2, 4]);
    }
}
