//! Quantiles of sorted samples by linear interpolation between order statistics (numpy's default
//! `percentile` / `quantile` method): the cost budgets of `enas bench --objective pareto` and the
//! cost levels and proxy gate of the `sweep` strategies.

/// numpy's `quantile(x, q)` of `sorted` (ascending, not empty), q in [0, 1].
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    interpolate(sorted, pos.floor() as usize, pos - pos.floor())
}

/// The value `frac` of the way from order statistic `lo` of `sorted` to the next; a caller that
/// knows the position as a fraction of integers passes it exactly (a float product can land just
/// under a whole position).
pub fn interpolate(sorted: &[f64], lo: usize, frac: f64) -> f64 {
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (sorted[hi] - sorted[lo]) * frac
}

#[cfg(test)]
mod tests {
    use super::*;

    /// numpy: `np.percentile([1, 2, 3, 4], [10, 50, 90])` = [1.3, 2.5, 3.7].
    #[test]
    fn percentiles_are_numpys_linear_ones() {
        let x = [1.0, 2.0, 3.0, 4.0];
        for (p, want) in [(10.0, 1.3), (50.0, 2.5), (90.0, 3.7)] {
            assert!((quantile(&x, p / 100.0) - want).abs() < 1e-12, "{p}: {}", quantile(&x, p / 100.0));
        }
    }
}
