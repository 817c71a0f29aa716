//! A small SVG writer for the report's plots: line charts with min–max bands, and per-arm dot
//! plots against a shaded claim band. Self-contained markup, no scripts, no external assets.

use std::fmt::Write;

use crate::spec::ClaimBand;

pub const PALETTE: &[&str] = &[
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
];

const W: f64 = 560.0;
const H: f64 = 300.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 40.0;

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One series: x values, and per x the mean, min and max over seeds.
pub struct Band {
    pub label: String,
    pub x: Vec<f64>,
    pub mean: Vec<f64>,
    pub lo: Vec<f64>,
    pub hi: Vec<f64>,
    pub dashed: bool,
}

fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let span = (hi - lo).abs().max(1e-12);
    let raw = span / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| span / s <= 6.0)
        .unwrap_or(10.0 * mag);
    let mut t = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while t <= hi + step * 1e-9 {
        out.push(t);
        t += step;
    }
    out
}

fn fmt_tick(v: f64) -> String {
    // Tick arithmetic leaves values like -1e-17 where 0 is meant.
    let v = if v.abs() < 1e-9 { 0.0 } else { v };
    if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

struct Frame {
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
}

impl Frame {
    fn px(&self, x: f64) -> f64 {
        LEFT + (x - self.x0) / (self.x1 - self.x0).max(1e-12) * (W - LEFT - RIGHT)
    }

    fn py(&self, y: f64) -> f64 {
        H - BOTTOM - (y - self.y0) / (self.y1 - self.y0).max(1e-12) * (H - TOP - BOTTOM)
    }

    /// Names x positions 0, 1, … under the axis (categorical x).
    fn category_labels(&self, svg: &mut String, labels: &[String]) {
        for (i, label) in labels.iter().enumerate() {
            let _ = write!(
                svg,
                r##"<text x="{:.1}" y="{}" font-size="10" text-anchor="middle">{}</text>"##,
                self.px(i as f64),
                H - BOTTOM + 14.0,
                escape(label)
            );
        }
    }

    fn axes(&self, svg: &mut String, title: &str, xlabel: &str, ylabel: &str, x_ticks: bool) {
        let _ = write!(
            svg,
            r##"<text x="{}" y="18" font-size="13" font-weight="bold">{}</text>"##,
            LEFT,
            escape(title)
        );
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" y1="{b}" x2="{r}" y2="{b}" stroke="#444"/><line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{b}" stroke="#444"/>"##,
            b = H - BOTTOM,
            r = W - RIGHT
        );
        for t in ticks(self.y0, self.y1) {
            let y = self.py(t);
            let _ = write!(
                svg,
                r##"<line x1="{LEFT}" y1="{y:.1}" x2="{r}" y2="{y:.1}" stroke="#eee"/><text x="{tx}" y="{ty:.1}" font-size="10" text-anchor="end">{}</text>"##,
                fmt_tick(t),
                r = W - RIGHT,
                tx = LEFT - 4.0,
                ty = y + 3.0
            );
        }
        if x_ticks {
            for t in ticks(self.x0, self.x1) {
                let x = self.px(t);
                let _ = write!(
                    svg,
                    r##"<text x="{x:.1}" y="{y}" font-size="10" text-anchor="middle">{}</text>"##,
                    fmt_tick(t),
                    y = H - BOTTOM + 14.0
                );
            }
        }
        let _ = write!(
            svg,
            r##"<text x="{}" y="{}" font-size="11" text-anchor="middle">{}</text><text x="12" y="{}" font-size="11" text-anchor="middle" transform="rotate(-90 12 {})">{}</text>"##,
            (LEFT + W - RIGHT) / 2.0,
            H - 6.0,
            escape(xlabel),
            (TOP + H - BOTTOM) / 2.0,
            (TOP + H - BOTTOM) / 2.0,
            escape(ylabel)
        );
    }
}

fn open(svg: &mut String, label: &str) {
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-label="{}" font-family="sans-serif">"##,
        escape(label)
    );
}

/// Mean lines with shaded min–max bands over a shared x axis.
pub fn band_chart(title: &str, xlabel: &str, ylabel: &str, series: &[Band]) -> String {
    band_chart_labeled(title, xlabel, ylabel, series, None)
}

/// [`band_chart`]; with `x_labels`, x is a position `0..k` named by the labels (categorical
/// sweep values, or numbers spread over decades such as learning rates).
pub fn band_chart_labeled(
    title: &str,
    xlabel: &str,
    ylabel: &str,
    series: &[Band],
    x_labels: Option<&[String]>,
) -> String {
    let all_x = series.iter().flat_map(|s| s.x.iter().copied());
    let all_y = series
        .iter()
        .flat_map(|s| s.lo.iter().chain(&s.hi).copied())
        .filter(|v| v.is_finite());
    let (x0, x1) = all_x.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let (y0, y1) = all_y.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let mut svg = String::new();
    open(&mut svg, title);
    if !x0.is_finite() || !y0.is_finite() {
        let _ = write!(svg, r##"<text x="20" y="40">no data</text></svg>"##);
        return svg;
    }
    let pad = (y1 - y0).abs().max(1e-6) * 0.05;
    let f = Frame {
        x0,
        x1: if x1 > x0 { x1 } else { x0 + 1.0 },
        y0: y0 - pad,
        y1: y1 + pad,
    };
    let f = match x_labels {
        Some(labels) => Frame {
            x0: -0.3,
            x1: labels.len().saturating_sub(1) as f64 + 0.3,
            ..f
        },
        None => f,
    };
    f.axes(&mut svg, title, xlabel, ylabel, x_labels.is_none());
    f.category_labels(&mut svg, x_labels.unwrap_or_default());
    for (i, s) in series.iter().enumerate() {
        if x_labels.is_some() {
            for (x, y) in s.x.iter().zip(&s.mean) {
                let _ = write!(
                    svg,
                    r##"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{}"/>"##,
                    f.px(*x),
                    f.py(*y),
                    PALETTE[i % PALETTE.len()]
                );
            }
        }
        let color = PALETTE[i % PALETTE.len()];
        let upper: Vec<String> =
            s.x.iter()
                .zip(&s.hi)
                .map(|(x, y)| format!("{:.1},{:.1}", f.px(*x), f.py(*y)))
                .collect();
        let lower: Vec<String> =
            s.x.iter()
                .zip(&s.lo)
                .rev()
                .map(|(x, y)| format!("{:.1},{:.1}", f.px(*x), f.py(*y)))
                .collect();
        let _ = write!(
            svg,
            r##"<polygon points="{} {}" fill="{color}" fill-opacity="0.15" stroke="none"/>"##,
            upper.join(" "),
            lower.join(" ")
        );
        let line: Vec<String> =
            s.x.iter()
                .zip(&s.mean)
                .map(|(x, y)| format!("{:.1},{:.1}", f.px(*x), f.py(*y)))
                .collect();
        let _ = write!(
            svg,
            r##"<polyline points="{}" fill="none" stroke="{color}" stroke-width="1.8"{}><title>{}</title></polyline>"##,
            line.join(" "),
            if s.dashed {
                r#" stroke-dasharray="5 3""#
            } else {
                ""
            },
            escape(&s.label)
        );
        let ly = TOP + 4.0 + 14.0 * i as f64;
        let _ = write!(
            svg,
            r##"<line x1="{a}" y1="{ly}" x2="{b}" y2="{ly}" stroke="{color}" stroke-width="2"{}/><text x="{c}" y="{t}" font-size="10">{}</text>"##,
            if s.dashed {
                r#" stroke-dasharray="5 3""#
            } else {
                ""
            },
            escape(&s.label),
            a = W - RIGHT - 150.0,
            b = W - RIGHT - 130.0,
            c = W - RIGHT - 126.0,
            t = ly + 3.0
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Two arms seed by seed: a line per seed from `a`'s value to `b`'s, the means in bold.
pub fn paired_plot(title: &str, ylabel: &str, a: &str, b: &str, pairs: &[(f64, f64)]) -> String {
    let (y0, y1) = pairs
        .iter()
        .flat_map(|(x, y)| [*x, *y])
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    let mut svg = String::new();
    open(&mut svg, title);
    if !y0.is_finite() {
        svg.push_str(r##"<text x="20" y="40">no data</text></svg>"##);
        return svg;
    }
    let pad = (y1 - y0).abs().max(1e-3) * 0.08;
    let f = Frame {
        x0: -0.4,
        x1: 1.4,
        y0: y0 - pad,
        y1: y1 + pad,
    };
    f.axes(&mut svg, title, "", ylabel, false);
    f.category_labels(&mut svg, &[a.to_string(), b.to_string()]);
    for (va, vb) in pairs {
        let color = if vb > va { PALETTE[2] } else { PALETTE[1] };
        let _ = write!(
            svg,
            r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{color}" stroke-opacity="0.7"><title>{va} → {vb}</title></line><circle cx="{:.1}" cy="{:.1}" r="3" fill="#444"/><circle cx="{:.1}" cy="{:.1}" r="3" fill="#444"/>"##,
            f.px(0.0),
            f.py(*va),
            f.px(1.0),
            f.py(*vb),
            f.px(0.0),
            f.py(*va),
            f.px(1.0),
            f.py(*vb)
        );
    }
    let n = pairs.len().max(1) as f64;
    let (ma, mb) = (
        pairs.iter().map(|p| p.0).sum::<f64>() / n,
        pairs.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let _ = write!(
        svg,
        r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#000" stroke-width="3"><title>means {ma:.4} → {mb:.4}</title></line>"##,
        f.px(0.0),
        f.py(ma),
        f.px(1.0),
        f.py(mb)
    );
    svg.push_str("</svg>");
    svg
}

/// One row per arm: a dot per seed, the mean as a bar, and the claim's band shaded.
pub struct DotRow {
    pub label: String,
    pub values: Vec<f64>,
    pub band: Option<ClaimBand>,
}

pub fn dot_plot(title: &str, xlabel: &str, rows: &[DotRow]) -> String {
    let height = TOP + BOTTOM + 28.0 * rows.len().max(1) as f64;
    let vals = rows.iter().flat_map(|r| {
        r.values
            .iter()
            .copied()
            .chain(r.band.into_iter().flat_map(|band| [band.lo, band.hi]))
    });
    let (x0, x1) = vals
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {height}" width="{W}" height="{height}" role="img" aria-label="{}" font-family="sans-serif">"##,
        escape(title)
    );
    if !x0.is_finite() {
        svg.push_str(r##"<text x="20" y="40">no data</text></svg>"##);
        return svg;
    }
    let pad = (x1 - x0).abs().max(1e-3) * 0.08;
    // Room for the longest arm label (about 6 px a character at font size 11).
    let longest = rows
        .iter()
        .map(|r| r.label.chars().count())
        .max()
        .unwrap_or(0);
    let left = (longest as f64 * 6.2 + 16.0).clamp(120.0, 280.0);
    let (lo, hi) = (x0 - pad, x1 + pad);
    let px = |v: f64| left + (v - lo) / (hi - lo) * (W - left - RIGHT);
    let _ = write!(
        svg,
        r##"<text x="{left}" y="18" font-size="13" font-weight="bold">{}</text>"##,
        escape(title)
    );
    let bottom = height - BOTTOM;
    for t in ticks(lo, hi) {
        let x = px(t);
        let _ = write!(
            svg,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{bottom}" stroke="#eee"/><text x="{x:.1}" y="{y}" font-size="10" text-anchor="middle">{}</text>"##,
            fmt_tick(t),
            y = bottom + 14.0
        );
    }
    let _ = write!(
        svg,
        r##"<text x="{}" y="{}" font-size="11" text-anchor="middle">{}</text>"##,
        (left + W - RIGHT) / 2.0,
        height - 6.0,
        escape(xlabel)
    );
    for (i, r) in rows.iter().enumerate() {
        let cy = TOP + 14.0 + 28.0 * i as f64;
        let color = PALETTE[i % PALETTE.len()];
        let _ = write!(
            svg,
            r##"<text x="{}" y="{:.1}" font-size="11" text-anchor="end">{}</text>"##,
            left - 8.0,
            cy + 4.0,
            escape(&r.label)
        );
        if let Some(ClaimBand {
            lo: a,
            hi: b,
            reported,
        }) = r.band
        {
            let _ = write!(
                svg,
                r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="20" fill="#999" fill-opacity="0.2"><title>reported {reported} ± {}</title></rect><line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#555" stroke-dasharray="3 2"/>"##,
                px(a),
                cy - 10.0,
                px(b) - px(a),
                (b - a) / 2.0,
                cy - 10.0,
                cy + 10.0,
                x = px(reported)
            );
        }
        for v in &r.values {
            let _ = write!(
                svg,
                r##"<circle cx="{:.1}" cy="{cy:.1}" r="3.5" fill="{color}" fill-opacity="0.8"><title>{v}</title></circle>"##,
                px(*v)
            );
        }
        if !r.values.is_empty() {
            let mean = r.values.iter().sum::<f64>() / r.values.len() as f64;
            let _ = write!(
                svg,
                r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="{color}" stroke-width="3"/>"##,
                cy - 9.0,
                cy + 9.0,
                x = px(mean)
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(
            ticks(0.0, 1.0),
            vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
        );
        let t = ticks(0.873, 0.951);
        assert!(t.first().unwrap() >= &0.873 && t.last().unwrap() <= &0.951 && t.len() >= 3);
    }

    #[test]
    fn zero_is_never_negative() {
        assert_eq!(fmt_tick(-1e-17), "0");
        assert_eq!(fmt_tick(0.25), "0.25");
        assert_eq!(fmt_tick(6000.0), "6000");
    }

    #[test]
    fn labels_are_escaped() {
        let svg = dot_plot(
            "a<b",
            "x",
            &[DotRow {
                label: "\"q\"&".into(),
                values: vec![0.5],
                band: None,
            }],
        );
        assert!(svg.contains("a&lt;b") && svg.contains("&quot;q&quot;&amp;"));
        assert!(!svg.contains("a<b"));
    }
}
