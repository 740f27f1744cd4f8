//! `pareto.svg` of `enas bench --objective pareto`: left, the table's true front (final value
//! against cost, black) and the front each strategy's first trial found; right, each strategy's
//! mean regret under the cost budgets against queries.
use super::pareto::ParetoSummary;
use super::plot::COLOURS;
use std::fmt::Write;

const PANEL: f64 = 420.0;
const H: f64 = 460.0;
const PAD: f64 = 60.0;
const TOP: f64 = 40.0;
const LEGEND: f64 = 170.0;

/// A linear map of `lo..hi` onto `a..b`.
fn scale(lo: f64, hi: f64, a: f64, b: f64) -> impl Fn(f64) -> f64 {
    let span = if hi > lo { hi - lo } else { 1.0 };
    move |v| a + (b - a) * (v - lo) / span
}

/// A panel's frame, ticks and axis titles.
fn axes(out: &mut String, x0: f64, (xlo, xhi): (f64, f64), (ylo, yhi): (f64, f64), titles: (&str, &str)) {
    let (x1, y0, y1) = (x0 + PANEL - PAD, TOP, H - PAD);
    let _ = writeln!(
        out,
        r##"<rect x="{x0}" y="{y0}" width="{}" height="{}" fill="none" stroke="#333"/>"##,
        x1 - x0,
        y1 - y0
    );
    let (sx, sy) = (scale(xlo, xhi, x0, x1), scale(ylo, yhi, y1, y0));
    for k in 0..=4 {
        let (vx, vy) = (xlo + (xhi - xlo) * k as f64 / 4.0, ylo + (yhi - ylo) * k as f64 / 4.0);
        let _ = writeln!(out, r#"<text x="{:.1}" y="{}" text-anchor="middle">{vx:.3}</text>"#, sx(vx), y1 + 16.0);
        let _ = writeln!(out, r#"<text x="{}" y="{:.1}" text-anchor="end">{vy:.2}</text>"#, x0 - 4.0, sy(vy) + 4.0);
    }
    let _ =
        writeln!(out, r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#, (x0 + x1) / 2.0, H - 20.0, titles.0);
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
        (x0 + x1) / 2.0,
        TOP - 10.0,
        titles.1
    );
}

fn polyline(points: impl Iterator<Item = (f64, f64)>) -> String {
    points.map(|(x, y)| format!("{x:.1},{y:.1} ")).collect()
}

pub fn svg(p: &ParetoSummary, final_column: &str, cost_column: &str) -> String {
    let w = 2.0 * PANEL + PAD + LEGEND;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{H}" viewBox="0 0 {w} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    // Left: fronts.
    // The costs from the smallest budget (10th percentile) on, where the measure looks; the
    // nearly empty cells below it (accuracy near chance) are clipped.
    let from = p.budgets.first().copied().unwrap_or(f64::NEG_INFINITY);
    let all = p.true_front.iter().chain(p.found.iter().flatten()).filter(|q| q.0 >= from);
    let (clo, chi) = all.clone().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), q| (a.min(q.0), b.max(q.0)));
    let (alo, ahi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), q| (a.min(q.1), b.max(q.1)));
    let x0 = PAD;
    axes(&mut out, x0, (clo, chi), (alo, ahi), (cost_column, &format!("{final_column} against {cost_column}: fronts")));
    let _ = writeln!(
        out,
        r#"<clipPath id="fronts"><rect x="{x0}" y="{TOP}" width="{}" height="{}"/></clipPath><g clip-path="url(#fronts)">"#,
        PANEL - PAD,
        H - PAD - TOP
    );
    let (sx, sy) = (scale(clo, chi, x0, x0 + PANEL - PAD), scale(alo, ahi, H - PAD, TOP));
    let front = |pts: &[(f64, f64)]| polyline(pts.iter().map(|&(c, a)| (sx(c), sy(a))));
    let _ =
        writeln!(out, r##"<polyline points="{}" fill="none" stroke="#000" stroke-width="2"/>"##, front(&p.true_front));
    for (i, f) in p.found.iter().enumerate() {
        let c = COLOURS[i % COLOURS.len()];
        let _ = writeln!(out, r#"<polyline points="{}" fill="none" stroke="{c}" stroke-width="1.5"/>"#, front(f));
        for &(cost, acc) in f {
            let _ = writeln!(out, r#"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="{c}"/>"#, sx(cost), sy(acc));
        }
    }
    out.push_str("</g>\n");
    // Right: regret against queries.
    let x0 = PANEL + PAD;
    let qmax = p.regret_curves.iter().flatten().map(|q| q.0).max().unwrap_or(1) as f64;
    // From 5% of the budget on, where the curves separate.
    let shown = |q: usize| q as f64 >= 0.05 * qmax;
    let rhi = p.regret_curves.iter().flatten().filter(|q| shown(q.0)).map(|q| q.1).fold(0.0, f64::max);
    axes(&mut out, x0, (1.0, qmax), (0.0, rhi), ("queries", "mean regret under 9 cost budgets"));
    let (sx, sy) = (scale(1.0, qmax, x0, x0 + PANEL - PAD), scale(0.0, rhi, H - PAD, TOP));
    for (i, curve) in p.regret_curves.iter().enumerate() {
        let c = COLOURS[i % COLOURS.len()];
        let pts = polyline(curve.iter().filter(|q| shown(q.0)).map(|&(q, r)| (sx(q as f64), sy(r))));
        let _ = writeln!(out, r#"<polyline points="{pts}" fill="none" stroke="{c}" stroke-width="2"/>"#);
    }
    // Legend.
    let lx = 2.0 * PANEL + 10.0;
    let _ = writeln!(
        out,
        r##"<line x1="{lx}" x2="{}" y1="{TOP}" y2="{TOP}" stroke="#000" stroke-width="2"/><text x="{}" y="{}">true front</text>"##,
        lx + 20.0,
        lx + 24.0,
        TOP + 4.0
    );
    for (i, (kind, _)) in p.strategies.iter().enumerate() {
        let (c, y) = (COLOURS[i % COLOURS.len()], TOP + 20.0 * (i + 1) as f64);
        let _ = writeln!(
            out,
            r#"<line x1="{lx}" x2="{}" y1="{y}" y2="{y}" stroke="{c}" stroke-width="3"/><text x="{}" y="{}">{}</text>"#,
            lx + 20.0,
            lx + 24.0,
            y + 4.0,
            kind.name()
        );
    }
    out.push_str("</svg>\n");
    out
}
