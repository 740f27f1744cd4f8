//! Rank correlations between a predictor and a target: Spearman's ρ (Pearson correlation of the
//! ranks, ties given their average rank, as scipy's `spearmanr`) and Kendall's τ-b (ties in either
//! variable corrected, as scipy's `kendalltau` default). Pairs where either value is NaN are left
//! out by the caller ([`finite_pairs`]).

/// The pairs where both values are numbers (±inf kept: they rank at the ends); returns the kept
/// pairs and how many were dropped.
pub fn finite_pairs(x: &[f64], y: &[f64]) -> (Vec<f64>, Vec<f64>, usize) {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for (&u, &v) in x.iter().zip(y) {
        if !u.is_nan() && !v.is_nan() {
            a.push(u);
            b.push(v);
        }
    }
    let dropped = x.len().min(y.len()) - a.len();
    (a, b, dropped)
}

/// Ranks 1..=n, ties sharing their average rank.
pub fn average_ranks(x: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut ranks = vec![0.0; x.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && x[order[j + 1]] == x[order[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            ranks[k] = avg;
        }
        i = j + 1;
    }
    ranks
}

fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    sxy / (sxx * syy).sqrt()
}

/// -1, 0 or 1 (0 for equal values, -0.0 and 0.0 included, as the ranks' ties).
fn sign(d: f64) -> i64 {
    if d > 0.0 {
        1
    } else if d < 0.0 {
        -1
    } else {
        0
    }
}

/// Spearman's ρ; NaN with fewer than 2 pairs or a constant variable.
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    if x.len() < 2 || x.len() != y.len() {
        return f64::NAN;
    }
    pearson(&average_ranks(x), &average_ranks(y))
}

/// Kendall's τ-b, `(C - D) / sqrt((n0 - n1)(n0 - n2))` over all pairs, O(n²); NaN with fewer than
/// 2 pairs or a constant variable.
pub fn kendall_tau_b(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len();
    if n < 2 || n != y.len() {
        return f64::NAN;
    }
    let (mut concordant, mut discordant, mut tie_x, mut tie_y) = (0i64, 0i64, 0i64, 0i64);
    for i in 0..n {
        for j in i + 1..n {
            let dx = sign(x[i] - x[j]);
            let dy = sign(y[i] - y[j]);
            match (dx, dy) {
                (0, 0) => {
                    tie_x += 1;
                    tie_y += 1;
                }
                (0, _) => tie_x += 1,
                (_, 0) => tie_y += 1,
                _ if dx == dy => concordant += 1,
                _ => discordant += 1,
            }
        }
    }
    let n0 = (n * (n - 1) / 2) as f64;
    (concordant - discordant) as f64 / ((n0 - tie_x as f64) * (n0 - tie_y as f64)).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_scipy() {
        // scipy 1.17.1: spearmanr([1,2,3,4,5],[5,6,7,8,7]) = 0.8207826816681233,
        // kendalltau(...) = 0.7378647873726218 (tau-b).
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y = [5.0, 6.0, 7.0, 8.0, 7.0];
        assert!((spearman(&x, &y) - 0.8207826816681233).abs() < 1e-12);
        assert!((kendall_tau_b(&x, &y) - 0.7378647873726218).abs() < 1e-12);
        let rev: Vec<f64> = x.iter().rev().copied().collect();
        assert!((spearman(&x, &rev) + 1.0).abs() < 1e-12);
        assert!((kendall_tau_b(&x, &rev) + 1.0).abs() < 1e-12);
        assert_eq!(average_ranks(&[3.0, 1.0, 3.0, 2.0]), vec![3.5, 1.0, 3.5, 2.0]);
        assert!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]).is_nan());
    }

    #[test]
    fn nan_pairs_are_dropped() {
        let (a, b, dropped) = finite_pairs(&[1.0, f64::NAN, 3.0], &[1.0, 2.0, f64::NAN]);
        assert_eq!((a, b, dropped), (vec![1.0], vec![1.0], 2));
    }
}
