//! The warm start of the proxy-guided strategies (Abdelfattah et al., ICLR 2021, "zero-cost
//! warm-up"): draw a pool of distinct architectures uniformly, score each with zero-cost proxies
//! (no query), and rank the pool best first; the strategy then starts from that ranking.
use super::uniform_unknown;
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
    let proxies = scores.first().map_or(0, |s| s.len());
    let mut total = vec![0.0; pool.len()];
    for p in 0..proxies {
        let col: Vec<f64> = scores.iter().map(|s| if s[p].is_nan() { f64::NEG_INFINITY } else { s[p] }).collect();
        for (t, r) in total.iter_mut().zip(average_ranks(&col)) {
            *t += r;
        }
    }
    let mut idx: Vec<usize> = (0..pool.len()).collect();
    idx.sort_by(|&a, &b| total[b].total_cmp(&total[a]).then(a.cmp(&b)));
    idx.into_iter().map(|i| pool[i].clone()).collect()
}
