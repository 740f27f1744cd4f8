//! `plot.svg`: mean best-so-far final value against queries, one line per strategy with a ±1 std
//! band, the table's optimum dashed. The y axis spans the curves from 5% of the budget on (earlier
//! points are clipped), so the differences that matter stay visible.
use super::report::Summary;
use std::fmt::Write;

const W: f64 = 820.0;
const H: f64 = 500.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 150.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;
/// One colour per strategy as long as there are no more than twelve (every strategy at once is 11).
pub(super) const COLOURS: [&str; 12] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f",
    "#393b79", "#e7ba52",
];

pub fn svg(s: &Summary, column: &str) -> String {
    let from = (s.budget / 20).max(1) - 1;
    let lo = s
        .strategies
        .iter()
        .flat_map(|st| st.curve[from..].iter().map(|c| c.mean - c.std))
        .fold(f64::INFINITY, f64::min);
    let hi =
        s.strategies.iter().flat_map(|st| st.curve[from..].iter().map(|c| c.mean + c.std)).fold(s.optimum, f64::max);
    let (lo, hi) = if hi > lo { (lo, hi + 0.05 * (hi - lo)) } else { (lo - 1.0, hi + 1.0) };
    let x = |q: usize| LEFT + (W - LEFT - RIGHT) * (q as f64 - 1.0) / ((s.budget.max(2) - 1) as f64);
    let y = |v: f64| TOP + (H - TOP - BOTTOM) * (hi - v) / (hi - lo);
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<clipPath id="area"><rect x="{LEFT}" y="{TOP}" width="{}" height="{}"/></clipPath>"#,
        W - LEFT - RIGHT,
        H - TOP - BOTTOM
    );
    let _ = writeln!(
        out,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="14">best-so-far {column}, mean ± 1 std over {} trials</text>"#,
        (W - RIGHT + LEFT) / 2.0,
        s.trials
    );
    // Axes, ticks and grid.
    let _ = writeln!(
        out,
        r##"<rect x="{LEFT}" y="{TOP}" width="{}" height="{}" fill="none" stroke="#333"/>"##,
        W - LEFT - RIGHT,
        H - TOP - BOTTOM
    );
    for k in 0..=5 {
        let v = lo + (hi - lo) * k as f64 / 5.0;
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" x2="{0}" y1="{1:.1}" y2="{1:.1}" stroke="#ddd"/><text x="{2}" y="{3:.1}" text-anchor="end">{v:.2}</text>"##,
            W - RIGHT,
            y(v),
            LEFT - 6.0,
            y(v) + 4.0
        );
    }
    for &b in std::iter::once(&1).chain(&s.checkpoints) {
        let _ = writeln!(out, r#"<text x="{:.1}" y="{}" text-anchor="middle">{b}</text>"#, x(b), H - BOTTOM + 16.0);
    }
    let _ =
        writeln!(out, r#"<text x="{}" y="{}" text-anchor="middle">queries</text>"#, (W - RIGHT + LEFT) / 2.0, H - 10.0);
    let _ = writeln!(
        out,
        r##"<line x1="{LEFT}" x2="{0}" y1="{1:.1}" y2="{1:.1}" stroke="#555" stroke-dasharray="6 4"/><text x="{2}" y="{3:.1}">optimum {4}</text>"##,
        W - RIGHT,
        y(s.optimum),
        W - RIGHT + 6.0,
        y(s.optimum) + 4.0,
        s.optimum
    );
    // Bands and lines.
    for (i, st) in s.strategies.iter().enumerate() {
        let c = COLOURS[i % COLOURS.len()];
        let mut band = String::new();
        for (q, p) in st.curve.iter().enumerate() {
            let _ = write!(band, "{:.1},{:.1} ", x(q + 1), y(p.mean + p.std));
        }
        for (q, p) in st.curve.iter().enumerate().rev() {
            let _ = write!(band, "{:.1},{:.1} ", x(q + 1), y(p.mean - p.std));
        }
        let line: String =
            st.curve.iter().enumerate().map(|(q, p)| format!("{:.1},{:.1} ", x(q + 1), y(p.mean))).collect();
        let _ = writeln!(out, r#"<g clip-path="url(#area)"><polygon points="{band}" fill="{c}" fill-opacity="0.15"/>"#);
        let _ = writeln!(out, r#"<polyline points="{line}" fill="none" stroke="{c}" stroke-width="2"/></g>"#);
        let ly = TOP + 20.0 + 20.0 * i as f64;
        let last = st.curve.last().map_or(f64::NAN, |p| p.mean);
        let _ = writeln!(
            out,
            r#"<line x1="{0}" x2="{1}" y1="{ly}" y2="{ly}" stroke="{c}" stroke-width="3"/><text x="{2}" y="{3}">{4} {last:.2}</text>"#,
            W - RIGHT + 8.0,
            W - RIGHT + 28.0,
            W - RIGHT + 32.0,
            ly + 4.0,
            st.kind.name()
        );
    }
    out.push_str("</svg>\n");
    out
}
