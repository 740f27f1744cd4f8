//! Multi-objective utilities for hardware-aware search: Pareto dominance, NSGA-II fast
//! non-dominated sorting and crowding distance, and the 2-D hypervolume indicator.
//!
//! A [`Point`] is `(reward, costs)`: the reward (accuracy, negative loss, …) is maximised and every
//! cost (latency, parameters, FLOPs, …) is minimised.
//!
//! # NaN, infinities and ragged input
//! Nothing here panics on NaN. A NaN reward counts as `-inf` and a NaN cost as `+inf` — the worst
//! value possible — so a NaN never helps a point, and two points that are both NaN in an objective
//! tie in it. A point with fewer costs than another counts its missing costs as `+inf`. In
//! [`crowding_distance`] an objective whose range within the front is infinite gives its two
//! extremes `+inf` and its interior members 0. [`hypervolume_2d`] leaves out any point with a NaN
//! coordinate (it is not strictly better than the reference).

use std::cmp::Ordering;

/// One candidate: a reward to maximise and costs to minimise.
pub type Point = (f64, Vec<f64>);

/// A [`Point`] borrowed as `(reward, costs)`, the form [`dominates`] takes.
pub fn view(p: &Point) -> (f64, &[f64]) {
    (p.0, &p.1)
}

/// Objective `k` as a value to minimise: `k = 0` is `-reward`, `k ≥ 1` is `costs[k - 1]`; NaN and
/// missing values are `+inf` (the worst).
fn objective(reward: f64, costs: &[f64], k: usize) -> f64 {
    let v = if k == 0 { -reward } else { costs.get(k - 1).copied().unwrap_or(f64::INFINITY) };
    if v.is_nan() {
        f64::INFINITY
    } else {
        v
    }
}

fn obj(points: &[Point], i: usize, k: usize) -> f64 {
    objective(points[i].0, &points[i].1, k)
}

/// Whether `a` Pareto-dominates `b`: at least as good in every objective (reward no lower, each
/// cost no higher) and strictly better in at least one. Identical points dominate neither way.
pub fn dominates(a: (f64, &[f64]), b: (f64, &[f64])) -> bool {
    let mut strictly = false;
    for k in 0..=a.1.len().max(b.1.len()) {
        let (x, y) = (objective(a.0, a.1, k), objective(b.0, b.1, k));
        if x > y {
            return false;
        }
        strictly |= x < y;
    }
    strictly
}

/// NSGA-II fast non-dominated sort (Deb et al. 2002), O(M·N²): the fronts as lists of indices into
/// `points`, front 0 being the Pareto front and front `k + 1` the Pareto front of what is left
/// once fronts `0..=k` are removed. Every index appears in exactly one front; identical points land
/// in the same front; each front's indices are ascending. Empty input gives no fronts.
pub fn non_dominated_sort(points: &[Point]) -> Vec<Vec<usize>> {
    let n = points.len();
    let mut beaten_by = vec![0usize; n]; // how many points dominate i
    let mut beats: Vec<Vec<usize>> = vec![Vec::new(); n]; // the points i dominates
    for i in 0..n {
        for j in i + 1..n {
            if dominates(view(&points[i]), view(&points[j])) {
                beats[i].push(j);
                beaten_by[j] += 1;
            } else if dominates(view(&points[j]), view(&points[i])) {
                beats[j].push(i);
                beaten_by[i] += 1;
            }
        }
    }
    let mut fronts = Vec::new();
    let mut current: Vec<usize> = (0..n).filter(|&i| beaten_by[i] == 0).collect();
    while !current.is_empty() {
        let mut next = Vec::new();
        for &i in &current {
            for &j in &beats[i] {
                beaten_by[j] -= 1;
                if beaten_by[j] == 0 {
                    next.push(j);
                }
            }
        }
        next.sort_unstable();
        fronts.push(std::mem::replace(&mut current, next));
    }
    fronts
}

/// NSGA-II crowding distance of each member of `front` (indices into `points`), in `front`'s
/// order. For each objective (reward, then each cost) the members are sorted by it (ties by their
/// position in `front`); the first and last get `+inf` and every other member adds the gap between
/// its two neighbours divided by the objective's range within the front. An objective whose range
/// is 0 adds nothing to anyone. Fronts of one or two members are all `+inf`. Never NaN.
///
/// # Panics
/// If an index in `front` is out of bounds for `points`.
pub fn crowding_distance(points: &[Point], front: &[usize]) -> Vec<f64> {
    let len = front.len();
    if len <= 2 {
        return vec![f64::INFINITY; len];
    }
    let objectives = 1 + front.iter().map(|&i| points[i].1.len()).max().unwrap_or(0);
    let mut dist = vec![0.0; len];
    for k in 0..objectives {
        let val: Vec<f64> = front.iter().map(|&i| obj(points, i, k)).collect();
        let mut order: Vec<usize> = (0..len).collect();
        order.sort_by(|&a, &b| val[a].total_cmp(&val[b]).then(a.cmp(&b)));
        let range = val[order[len - 1]] - val[order[0]];
        // Skips a zero range, and NaN (both extremes the same infinity: also a zero range).
        if range.is_nan() || range <= 0.0 {
            continue;
        }
        dist[order[0]] = f64::INFINITY;
        dist[order[len - 1]] = f64::INFINITY;
        for w in order.windows(3) {
            let gap = (val[w[2]] - val[w[0]]) / range;
            if gap.is_finite() {
                dist[w[1]] += gap;
            }
        }
    }
    dist
}

/// Indices of the Pareto front (the points no other point dominates), sorted by the first cost
/// ascending, then reward descending, then index (NaN ordered as worst). Points without costs are
/// sorted by reward descending.
pub fn pareto_front(points: &[Point]) -> Vec<usize> {
    let n = points.len();
    let mut front: Vec<usize> =
        (0..n).filter(|&i| !(0..n).any(|j| dominates(view(&points[j]), view(&points[i])))).collect();
    front.sort_by(|&a, &b| {
        let key = |i| (obj(points, i, 1), obj(points, i, 0));
        let ((ca, ra), (cb, rb)) = (key(a), key(b));
        ca.total_cmp(&cb).then(ra.total_cmp(&rb)).then(a.cmp(&b))
    });
    front
}

/// Per point, its NSGA-II rank: `(front, crowding distance within that front)`, front 0 being the
/// Pareto front. Compare two ranks with [`crowded_cmp`].
pub fn nsga2_rank(points: &[Point]) -> Vec<(usize, f64)> {
    let mut ranks = vec![(0, 0.0); points.len()];
    for (f, front) in non_dominated_sort(points).iter().enumerate() {
        for (&i, d) in front.iter().zip(crowding_distance(points, front)) {
            ranks[i] = (f, d);
        }
    }
    ranks
}

/// NSGA-II crowded-comparison operator on [`nsga2_rank`] values: `Less` when `a` is better — a
/// lower front, or the same front and a larger crowding distance. A binary tournament between
/// `i` and `j` keeps `i` when `crowded_cmp(rank[i], rank[j]) != Ordering::Greater`.
pub fn crowded_cmp(a: (usize, f64), b: (usize, f64)) -> Ordering {
    a.0.cmp(&b.0).then(b.1.total_cmp(&a.1))
}

/// All indices, best first by [`crowded_cmp`] (ties by index). Its first `k` entries are NSGA-II's
/// environmental selection of `k` survivors.
pub fn nsga2_order(points: &[Point]) -> Vec<usize> {
    let ranks = nsga2_rank(points);
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by(|&a, &b| crowded_cmp(ranks[a], ranks[b]).then(a.cmp(&b)));
    order
}

/// Hypervolume of `(reward, cost)` points (reward maximised, cost minimised): the area dominated
/// by the points and bounded by `reference = (lowest reward, highest cost)`. Only points strictly
/// better than the reference in both coordinates count; so the empty set, NaN points and NaN
/// references give 0. Infinite coordinates may give `+inf`, never NaN. O(n log n).
pub fn hypervolume_2d(points: &[(f64, f64)], reference: (f64, f64)) -> f64 {
    let (r0, c0) = reference;
    let mut pts: Vec<(f64, f64)> = points.iter().copied().filter(|&(r, c)| r > r0 && c < c0).collect();
    pts.sort_by(|a, b| a.1.total_cmp(&b.1));
    // Sweep by cost: the strip from this point's cost to the next one's is covered up to the best
    // reward seen so far.
    let (mut area, mut best) = (0.0, r0);
    for (i, &(r, c)) in pts.iter().enumerate() {
        best = best.max(r);
        let width = pts.get(i + 1).map_or(c0, |p| p.1) - c;
        if width > 0.0 {
            area += width * (best - r0);
        }
    }
    area
}

#[cfg(test)]
mod tests;
