use super::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const INF: f64 = f64::INFINITY;

fn pts(raw: &[(f64, &[f64])]) -> Vec<Point> {
    raw.iter().map(|&(r, c)| (r, c.to_vec())).collect()
}

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-9 * b.abs().max(f64::MIN_POSITIVE)
}

fn assert_dist(got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!(close(*g, *w), "{got:?} vs {want:?}");
    }
}

/// Dominance written out independently for finite points: no worse everywhere, better somewhere.
fn dom_ref(a: &Point, b: &Point) -> bool {
    let no_worse = a.0 >= b.0 && a.1.iter().zip(&b.1).all(|(x, y)| x <= y);
    let better = a.0 > b.0 || a.1.iter().zip(&b.1).any(|(x, y)| x < y);
    no_worse && better
}

#[test]
fn dominance_basics() {
    let (a, b): (&[f64], &[f64]) = (&[1.0, 2.0], &[1.0, 3.0]);
    assert!(!dominates((5.0, a), (5.0, a)), "identical points");
    assert!(dominates((5.0, a), (5.0, b)), "better in one cost only");
    assert!(!dominates((5.0, b), (5.0, a)));
    assert!(dominates((6.0, a), (5.0, a)), "better in reward only");
    assert!(!dominates((6.0, b), (5.0, a)), "trade-off");
    assert!(!dominates((5.0, a), (6.0, b)), "trade-off");
    // A missing cost counts as +inf.
    assert!(dominates((5.0, &[1.0, 2.0]), (5.0, &[1.0])));
    assert!(!dominates((5.0, &[1.0]), (5.0, &[1.0, 2.0])));
}

/// 7 points (reward, cost):
///   p0 (5,1)  p1 (7,3)  p2 (4,2)  p3 (9,5)  p4 (6,4)  p5 (3,6)  p6 (6,4) = p4
/// p0, p1, p3 trade off (more reward for more cost) and nobody beats them: front 0.
/// p2 is dominated only by p0 (5>4, 1<2); p4 and p6 only by p1 (7>6, 3<4); p2 vs p4 trade off;
/// p6 ties p4: front 1 = {2, 4, 6}. p5 (3,6) is dominated by p2 (4>3, 2<6): front 2.
fn seven() -> Vec<Point> {
    pts(&[(5.0, &[1.0]), (7.0, &[3.0]), (4.0, &[2.0]), (9.0, &[5.0]), (6.0, &[4.0]), (3.0, &[6.0]), (6.0, &[4.0])])
}

#[test]
fn sort_seven_points_two_objectives() {
    assert_eq!(non_dominated_sort(&seven()), vec![vec![0, 1, 3], vec![2, 4, 6], vec![5]]);
    assert!(non_dominated_sort(&[]).is_empty());
    assert_eq!(pareto_front(&seven()), vec![0, 1, 3]);
}

/// Reward + 2 costs:
///   q0 (10,[5,5])  q1 (8,[3,6])  q2 (8,[4,4])  q3 (6,[2,2])
///   q4 (7,[4,5])   q5 (5,[3,3])  q6 (4,[6,6])
/// q0..q3 pairwise trade off (e.g. q1 vs q2: same reward, q1 cheaper in cost 1, q2 in cost 2) and
/// none of q4..q6 beats any of them: front 0. q4 is dominated by q2 (8>7, 4≤4, 4<5), q5 by q3
/// (6>5, 2<3, 2<3); q4 vs q5 trade off: front 1. q6 is dominated by q5 (5>4, 3<6, 3<6): front 2.
fn three_objectives() -> Vec<Point> {
    pts(&[
        (10.0, &[5.0, 5.0]),
        (8.0, &[3.0, 6.0]),
        (8.0, &[4.0, 4.0]),
        (6.0, &[2.0, 2.0]),
        (7.0, &[4.0, 5.0]),
        (5.0, &[3.0, 3.0]),
        (4.0, &[6.0, 6.0]),
    ])
}

#[test]
fn sort_three_objectives() {
    let p = three_objectives();
    assert_eq!(non_dominated_sort(&p), vec![vec![0, 1, 2, 3], vec![4, 5], vec![6]]);
    // Sorted by the first cost: q3 (2), q1 (3), q2 (4), q0 (5).
    assert_eq!(pareto_front(&p), vec![3, 1, 2, 0]);
}

/// Front of 4 (reward, cost): a (1,1)  b (4,2)  c (6,5)  d (10,9); index 2 is an extra dominated
/// point outside the front, and the front is given out of order as [4, 0, 3, 1] = [d, a, c, b].
/// Reward: sorted 1,4,6,10, range 9: a, d → inf; b (6-1)/9 = 5/9; c (10-4)/9 = 6/9.
/// Cost:   sorted 1,2,5,9,  range 8: b (5-1)/8 = 1/2; c (9-2)/8 = 7/8.
/// b = 5/9 + 1/2 = 19/18, c = 2/3 + 7/8 = 37/24, a = d = inf.
#[test]
fn crowding_four_point_front_two_objectives() {
    let p = pts(&[(1.0, &[1.0]), (4.0, &[2.0]), (0.0, &[9.0]), (6.0, &[5.0]), (10.0, &[9.0])]);
    let front = [4, 0, 3, 1];
    assert_dist(&crowding_distance(&p, &front), &[INF, INF, 37.0 / 24.0, 19.0 / 18.0]);
}

/// Front 0 of [`three_objectives`]: q0 (10,5,5), q1 (8,3,6), q2 (8,4,4), q3 (6,2,2).
/// Reward (as -reward: -10,-8,-8,-6), range 4: q0, q3 → inf; q1 (-8+10)/4 = 1/2; q2 (-6+8)/4 = 1/2.
/// Cost 1: sorted q3 2, q1 3, q2 4, q0 5, range 3: q1 (4-2)/3 = 2/3; q2 (5-3)/3 = 2/3.
/// Cost 2: sorted q3 2, q2 4, q0 5, q1 6, range 4: q1 is an extreme → inf; q2 (5-2)/4 = 3/4.
/// q2 = 1/2 + 2/3 + 3/4 = 23/12; the others inf.
#[test]
fn crowding_three_objective_front() {
    assert_dist(&crowding_distance(&three_objectives(), &[0, 1, 2, 3]), &[INF, INF, 23.0 / 12.0, INF]);
}

/// Reward ties at 5 (range 0: adds nothing, not even inf at the ends). Cost 1: 1,2,3 → middle
/// (3-1)/2 = 1; cost 2: 3,2,1 → middle (3-1)/2 = 1. Middle = 2, ends inf.
#[test]
fn crowding_zero_range_objective_adds_nothing() {
    let p = pts(&[(5.0, &[1.0, 3.0]), (5.0, &[2.0, 2.0]), (5.0, &[3.0, 1.0])]);
    assert_dist(&crowding_distance(&p, &[0, 1, 2]), &[INF, 2.0, INF]);
    // All identical: every range is 0.
    let same = pts(&[(1.0, &[1.0]), (1.0, &[1.0]), (1.0, &[1.0])]);
    assert_dist(&crowding_distance(&same, &[0, 1, 2]), &[0.0, 0.0, 0.0]);
    // One or two members: all inf.
    assert!(crowding_distance(&p, &[]).is_empty());
    assert_dist(&crowding_distance(&p, &[1]), &[INF]);
    assert_dist(&crowding_distance(&p, &[2, 0]), &[INF, INF]);
}

/// [`seven`]: front 0 {p0 (5,1), p1 (7,3), p3 (9,5)}: p1 gets (9-5)/4 + (5-1)/4 = 2, ends inf.
/// Front 1 {p2 (4,2), p4 (6,4), p6 (6,4)}: by -reward p4, p6 (tie, by index), p2 → p4, p2 inf;
/// by cost p2, p4, p6 → p6 inf: all inf. Front 2 {p5}: inf.
#[test]
fn nsga2_rank_order_and_comparator() {
    let ranks = nsga2_rank(&seven());
    let want = [(0, INF), (0, 2.0), (1, INF), (0, INF), (1, INF), (2, INF), (1, INF)];
    assert_eq!(ranks.len(), want.len());
    for (g, w) in ranks.iter().zip(&want) {
        assert!(g.0 == w.0 && close(g.1, w.1), "{ranks:?}");
    }
    assert_eq!(nsga2_order(&seven()), vec![0, 3, 1, 2, 4, 6, 5]);
    assert_eq!(crowded_cmp((0, 2.0), (1, INF)), Ordering::Less);
    assert_eq!(crowded_cmp((0, INF), (0, 2.0)), Ordering::Less);
    assert_eq!(crowded_cmp((1, 0.5), (1, 0.25)), Ordering::Less);
    assert_eq!(crowded_cmp((2, 9.0), (1, 0.0)), Ordering::Greater);
    assert_eq!(crowded_cmp((1, 1.0), (1, 1.0)), Ordering::Equal);
    assert!(nsga2_order(&[]).is_empty());
}

/// Exact area by the coordinate grid: every cell between consecutive distinct coordinates that
/// lies inside the reference box and is dominated by some point (cost ≤ its left edge, reward ≥
/// its top edge).
fn hv_brute(points: &[(f64, f64)], (r0, c0): (f64, f64)) -> f64 {
    let grid = |v: Vec<f64>| {
        let mut v = v;
        v.sort_by(f64::total_cmp);
        v.dedup();
        v
    };
    let xs = grid(points.iter().map(|p| p.1).chain([c0]).collect());
    let ys = grid(points.iter().map(|p| p.0).chain([r0]).collect());
    let mut area = 0.0;
    for x in xs.windows(2) {
        for y in ys.windows(2) {
            let inside = x[1] <= c0 && y[0] >= r0;
            if inside && points.iter().any(|&(r, c)| c <= x[0] && r >= y[1]) {
                area += (x[1] - x[0]) * (y[1] - y[0]);
            }
        }
    }
    area
}

/// A (3,1) covers [0,3]×[1,4] = 9; B (5,3) adds [3,5]×[3,4] = 2: 11 with reference (0,4).
#[test]
fn hypervolume_hand_examples_and_edges() {
    let r = (0.0, 4.0);
    assert_eq!(hypervolume_2d(&[], r), 0.0);
    assert_eq!(hypervolume_2d(&[(3.0, 1.0)], r), 9.0);
    assert_eq!(hypervolume_2d(&[(3.0, 1.0), (5.0, 3.0)], r), 11.0);
    assert_eq!(hypervolume_2d(&[(5.0, 3.0), (3.0, 1.0), (3.0, 1.0)], r), 11.0);
    // C (1,2) is dominated by A; D costs more than the reference; E earns less; F on the edge.
    let more = [(3.0, 1.0), (5.0, 3.0), (1.0, 2.0), (6.0, 5.0), (-1.0, 0.0), (0.0, 0.0)];
    assert_eq!(hypervolume_2d(&more, r), 11.0);
    assert_eq!(hypervolume_2d(&[(6.0, 5.0), (0.0, 0.0)], r), 0.0);
    // Same cost, different rewards: the best counts.
    assert_eq!(hypervolume_2d(&[(2.0, 1.0), (3.0, 1.0)], r), 9.0);
    assert_eq!(hypervolume_2d(&[(INF, 1.0)], r), INF);
}

#[test]
fn hypervolume_matches_grid_brute_force() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for set in 0..60 {
        let n = rng.random_range(1..=30);
        let integer = set % 2 == 0; // integer grids give ties and duplicates
        let reference = if integer { (2.0, 8.0) } else { (0.0, 1.0) };
        let mut points: Vec<(f64, f64)> = Vec::new();
        for _ in 0..n {
            if !points.is_empty() && rng.random_bool(0.1) {
                let copy = points[rng.random_range(0..points.len())];
                points.push(copy);
            } else if integer {
                points.push((rng.random_range(0..=10) as f64, rng.random_range(0..=10) as f64));
            } else {
                // Some fall outside the reference box.
                points.push((rng.random::<f64>() * 1.4 - 0.2, rng.random::<f64>() * 1.4 - 0.2));
            }
        }
        let (got, want) = (hypervolume_2d(&points, reference), hv_brute(&points, reference));
        assert!(close(got, want), "set {set}: {got} vs {want} for {points:?}");
    }
}

#[test]
fn fronts_match_brute_force_dominance() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for set in 0..80 {
        let (n, m) = (rng.random_range(0..=40), rng.random_range(1..=2));
        let coord = |rng: &mut ChaCha8Rng| {
            if set % 2 == 0 {
                rng.random_range(0..6) as f64
            } else {
                rng.random::<f64>()
            }
        };
        let p: Vec<Point> = (0..n).map(|_| (coord(&mut rng), (0..m).map(|_| coord(&mut rng)).collect())).collect();
        let fronts = non_dominated_sort(&p);
        let mut seen = vec![0; n];
        fronts.iter().flatten().for_each(|&i| seen[i] += 1);
        assert!(seen.iter().all(|&s| s == 1), "set {set}: not a partition");
        let undominated: Vec<usize> = (0..n).filter(|&i| !(0..n).any(|j| dom_ref(&p[j], &p[i]))).collect();
        assert_eq!(fronts.first().cloned().unwrap_or_default(), undominated);
        let mut front0 = pareto_front(&p);
        assert!(front0.windows(2).all(|w| p[w[0]].1[0] <= p[w[1]].1[0]));
        front0.sort_unstable();
        assert_eq!(front0, undominated, "set {set}");
        // Front k: beaten by no member of fronts ≥ k, each beaten by some member of front k-1.
        for (k, front) in fronts.iter().enumerate() {
            for &i in front {
                let later = fronts[k..].iter().flatten();
                assert!(later.clone().all(|&j| !dom_ref(&p[j], &p[i])), "set {set}");
                if k > 0 {
                    assert!(fronts[k - 1].iter().any(|&j| dom_ref(&p[j], &p[i])));
                }
            }
        }
        let ranks = nsga2_rank(&p);
        for (k, front) in fronts.iter().enumerate() {
            assert!(front.iter().all(|&i| ranks[i].0 == k && !ranks[i].1.is_nan()));
        }
    }
}

/// Sanitised (minimised) objectives: p0 (-1, 1), p1 NaN reward → (inf, 0.5), p2 NaN cost → (-2,
/// inf), p3 (inf, inf), p4 (0, 2). p1 has the lowest cost, p2 the highest reward, p0 trades off
/// with both: front 0. p0 beats p4 (1>0, 1<2) and p4 beats p3: fronts [[0,1,2],[4],[3]].
/// Crowding of front 0: both ranges are infinite → ends inf, the middle p0 gets 0.
#[test]
fn nan_counts_as_worst_and_never_panics() {
    let p = pts(&[(1.0, &[1.0]), (f64::NAN, &[0.5]), (2.0, &[f64::NAN]), (f64::NAN, &[f64::NAN]), (0.0, &[2.0])]);
    assert!(dominates((1.0, &[1.0]), (f64::NAN, &[1.0])));
    assert!(!dominates((f64::NAN, &[1.0]), (f64::NAN, &[1.0])));
    assert_eq!(non_dominated_sort(&p), vec![vec![0, 1, 2], vec![4], vec![3]]);
    assert_dist(&crowding_distance(&p, &[0, 1, 2]), &[0.0, INF, INF]);
    assert_eq!(pareto_front(&p), vec![1, 0, 2]);
    assert!(nsga2_rank(&p).iter().all(|r| !r.1.is_nan()));
    assert_eq!(nsga2_order(&p), vec![1, 2, 0, 4, 3]);
    let hv = [(f64::NAN, 1.0), (2.0, f64::NAN), (1.0, 1.0)];
    assert_eq!(hypervolume_2d(&hv, (0.0, 2.0)), 1.0);
    assert_eq!(hypervolume_2d(&hv, (f64::NAN, 2.0)), 0.0);
    assert_eq!(hypervolume_2d(&hv, (0.0, f64::NAN)), 0.0);
    // Infinite costs: never NaN.
    let inf = [(1.0, -INF), (2.0, -INF), (3.0, 0.0)];
    assert_eq!(hypervolume_2d(&inf, (0.0, 1.0)), INF);
}
