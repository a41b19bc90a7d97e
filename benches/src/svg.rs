//! Inline SVG charts: a small line per figure over the history, and an x–y
//! chart for the testnet's throughput against latency. Colours come from
//! the page's CSS (classes `s0`…`s3`, `target`, `axis`), so the charts
//! follow its light and dark themes.

use std::fmt::Write;

use crate::format::{html, number};

/// A point with what its tooltip says.
#[derive(Debug, Clone)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    pub label: String,
}

/// One line of an x–y chart.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<Point>,
    /// Drawn dashed (a second statistic of the same run).
    pub dashed: bool,
    /// Colour class index, 0 to 3.
    pub colour: usize,
}

/// A 160×40 line of `values` in order (oldest first), with the target as a
/// dashed line when there is one. Each dot's tooltip is its label.
pub fn sparkline(values: &[(String, f64)], target: Option<f64>) -> String {
    const W: f64 = 160.0;
    const H: f64 = 40.0;
    const PAD: f64 = 4.0;
    let mut lo = values.iter().map(|v| v.1).fold(f64::INFINITY, f64::min);
    let mut hi = values.iter().map(|v| v.1).fold(f64::NEG_INFINITY, f64::max);
    if let Some(t) = target {
        lo = lo.min(t);
        hi = hi.max(t);
    }
    if !(lo.is_finite() && hi.is_finite()) {
        return String::new();
    }
    if hi - lo < f64::EPSILON * hi.abs().max(1.0) {
        lo -= 1.0_f64.max(lo.abs() * 0.1);
        hi += 1.0_f64.max(hi.abs() * 0.1);
    }
    let n = values.len();
    let x = |i: usize| {
        if n <= 1 {
            W / 2.0
        } else {
            PAD + (W - 2.0 * PAD) * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: f64| H - PAD - (H - 2.0 * PAD) * (v - lo) / (hi - lo);
    let mut svg = format!(
        r#"<svg class="spark" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-label="history">"#
    );
    if let Some(t) = target {
        let ty = y(t);
        let _ = write!(
            svg,
            r#"<line class="target" x1="0" x2="{W}" y1="{ty:.1}" y2="{ty:.1}"><title>target {}</title></line>"#,
            number(t)
        );
    }
    if n > 1 {
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, (_, v))| format!("{:.1},{:.1}", x(i), y(*v)))
            .collect();
        let _ = write!(
            svg,
            r#"<polyline class="s0" fill="none" points="{}"/>"#,
            points.join(" ")
        );
    }
    for (i, (label, v)) in values.iter().enumerate() {
        let _ = write!(
            svg,
            r#"<circle class="s0" cx="{:.1}" cy="{:.1}" r="2.5"><title>{}</title></circle>"#,
            x(i),
            y(*v),
            html(label)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// An x–y chart of `series` with axes from zero, ticks and a legend.
pub fn xy_chart(series: &[Series], x_label: &str, y_label: &str) -> String {
    const W: f64 = 640.0;
    const H: f64 = 340.0;
    const LEFT: f64 = 64.0;
    const RIGHT: f64 = 16.0;
    const TOP: f64 = 16.0;
    // The legend goes under the x axis, two entries a line.
    let legend_lines = series.len().div_ceil(2) as f64;
    let h = H + 8.0 + 20.0 * legend_lines;
    const BOTTOM: f64 = 48.0;
    let all = series.iter().flat_map(|s| &s.points);
    let x_max = all.clone().map(|p| p.x).fold(0.0, f64::max);
    let y_max = all.map(|p| p.y).fold(0.0, f64::max);
    let (x_step, x_top) = nice_axis(x_max);
    let (y_step, y_top) = nice_axis(y_max);
    let px = |x: f64| LEFT + (W - LEFT - RIGHT) * x / x_top;
    let py = |y: f64| H - BOTTOM - (H - TOP - BOTTOM) * y / y_top;

    let mut svg = format!(
        r#"<svg class="xy" viewBox="0 0 {W} {h}" role="img" aria-label="{} against {}">"#,
        html(y_label),
        html(x_label)
    );
    // Grid and ticks.
    let mut tick = 0.0;
    while tick <= x_top + x_step / 2.0 {
        let x = px(tick);
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{:.1}"/><text class="tick" x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            H - BOTTOM,
            H - BOTTOM + 16.0,
            number(tick)
        );
        tick += x_step;
    }
    let mut tick = 0.0;
    while tick <= y_top + y_step / 2.0 {
        let y = py(tick);
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            number(tick)
        );
        tick += y_step;
    }
    let _ = write!(
        svg,
        r#"<line class="axis" x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{b:.1}"/><line class="axis" x1="{LEFT}" x2="{r:.1}" y1="{b:.1}" y2="{b:.1}"/>"#,
        b = H - BOTTOM,
        r = W - RIGHT
    );
    let _ = write!(
        svg,
        r#"<text class="label" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text><text class="label" transform="translate(14 {:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
        (LEFT + W - RIGHT) / 2.0,
        H - 8.0,
        html(x_label),
        (TOP + H - BOTTOM) / 2.0,
        html(y_label)
    );
    // Lines and points.
    for s in series {
        let class = format!("s{}", s.colour.min(3));
        let dash = if s.dashed {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let points: Vec<String> = s
            .points
            .iter()
            .map(|p| format!("{:.1},{:.1}", px(p.x), py(p.y)))
            .collect();
        let _ = write!(
            svg,
            r#"<polyline class="{class}" fill="none"{dash} points="{}"/>"#,
            points.join(" ")
        );
        for p in &s.points {
            let _ = write!(
                svg,
                r#"<circle class="{class}" cx="{:.1}" cy="{:.1}" r="3.5"><title>{}</title></circle>"#,
                px(p.x),
                py(p.y),
                html(&p.label)
            );
        }
    }
    // Legend, under the axis label.
    for (i, s) in series.iter().enumerate() {
        let y = H + 12.0 + 20.0 * (i / 2) as f64;
        let x0 = if i % 2 == 0 { 0.0 } else { (W - LEFT) / 2.0 };
        let class = format!("s{}", s.colour.min(3));
        let dash = if s.dashed {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let _ = write!(
            svg,
            r#"<line class="{class}"{dash} x1="{:.1}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}"/><text class="legend" x="{:.1}" y="{:.1}">{}</text>"#,
            LEFT + x0,
            LEFT + x0 + 24.0,
            LEFT + x0 + 30.0,
            y + 4.0,
            html(&s.name)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A tick step of 1, 2 or 5 × 10^k giving about five ticks, and the axis
/// end (a multiple of the step at or above `max`).
fn nice_axis(max: f64) -> (f64, f64) {
    if !(max.is_finite() && max > 0.0) {
        return (1.0, 1.0);
    }
    let rough = max / 5.0;
    let power = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|s| *s >= rough)
        .unwrap_or(10.0 * power);
    (step, (max / step).ceil().max(1.0) * step)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_end_on_a_round_step() {
        assert_eq!(nice_axis(5403.0), (2000.0, 6000.0));
        assert_eq!(nice_axis(778.0), (200.0, 800.0));
        assert_eq!(nice_axis(0.0), (1.0, 1.0));
    }

    #[test]
    fn a_sparkline_has_a_dot_per_value_and_the_target() {
        let svg = sparkline(
            &[("a".into(), 1.0), ("b".into(), 2.0), ("c<".into(), 1.5)],
            Some(3.0),
        );
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.contains("class=\"target\""));
        assert!(svg.contains("c&lt;"));
        // One value, flat: still drawn, no division by zero.
        let one = sparkline(&[("a".into(), 5.0)], None);
        assert!(one.contains("<circle") && !one.contains("NaN"));
    }

    #[test]
    fn a_chart_draws_every_series_and_point() {
        let s = Series {
            name: "p50".into(),
            points: vec![
                Point {
                    x: 99.0,
                    y: 92.0,
                    label: "100".into(),
                },
                Point {
                    x: 5403.0,
                    y: 391.0,
                    label: "5500".into(),
                },
            ],
            dashed: false,
            colour: 0,
        };
        let svg = xy_chart(&[s], "finalized/s", "ms");
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg.contains("finalized/s") && !svg.contains("NaN"));
    }
}
