//! The tuning-budget section of every report form: each swept arm's expected best metric
//! against the configurations tried (values in the terminal and Markdown, an SVG plot in the
//! HTML page), and the swept arms compared at equal budgets. Rendering only: the numbers come
//! from `audit::tuning_curves`.

use std::fmt::Write;

use super::svg::{self, escape, Band};
use crate::audit::TuningCurve;

/// How the curves were computed, said once under them in every form.
pub const TUNING_METHOD: &str = "Expected best metric after n configurations tried (Dodge et \
al. 2019), by Tang et al. 2020's unbiased estimator: the best of n configurations drawn \
without replacement from the N swept ones, each configuration's value its mean over seeds on \
the test split. The best is chosen on the numbers it is judged by: optimistic, and meant for \
comparing arms at the same budget, not as a result.";

/// `E[best] at n = 1..N: 0.9100, 0.9300, …` for one curve.
fn values_line(c: &TuningCurve) -> String {
    let values: Vec<String> = c
        .expected_best
        .iter()
        .zip(&c.sd_best)
        .map(|(m, s)| format!("{m:.4} ± {s:.4}"))
        .collect();
    format!(
        "`{}` ({} configurations, {}): E[best] ± sd at n = 1..{}: {}",
        c.arm,
        c.configurations.len(),
        c.metric,
        c.expected_best.len(),
        values.join(", ")
    )
}

/// The terminal lines: one per curve, the equal-budget sentences, the method.
pub fn tuning_lines(curves: &[TuningCurve], sentences: &[String]) -> Vec<String> {
    if curves.is_empty() {
        return Vec::new();
    }
    let mut out = vec!["Tuning budget (expected best over configurations tried)".to_string()];
    out.extend(curves.iter().map(|c| values_line(c).replace('`', "")));
    out.extend(sentences.iter().cloned());
    out.push(TUNING_METHOD.to_string());
    out
}

/// The Markdown section (empty without a swept arm).
pub fn tuning_markdown(curves: &[TuningCurve], sentences: &[String]) -> String {
    if curves.is_empty() {
        return String::new();
    }
    let mut md = String::from("\n## Tuning budget\n\n");
    for c in curves {
        let _ = writeln!(md, "- {}", values_line(c));
    }
    for s in sentences {
        let _ = writeln!(md, "\n{s}");
    }
    let _ = writeln!(md, "\n{TUNING_METHOD}");
    md
}

/// The HTML section: one plot with a line per swept arm (shaded ± one sd of the best), the
/// values and the equal-budget sentences (empty without a swept arm).
pub fn tuning_html(curves: &[TuningCurve], sentences: &[String]) -> String {
    if curves.is_empty() {
        return String::new();
    }
    let mut h = String::from("<h2>Tuning budget</h2><div class=\"plots\">");
    // One plot per metric: arms in different metrics share no axis.
    let mut metrics: Vec<&str> = Vec::new();
    for c in curves {
        if !metrics.contains(&c.metric.as_str()) {
            metrics.push(&c.metric);
        }
    }
    for metric in metrics {
        let bands: Vec<Band> = curves
            .iter()
            .filter(|c| c.metric == metric)
            .map(|c| Band {
                label: c.arm.clone(),
                x: (1..=c.expected_best.len()).map(|n| n as f64).collect(),
                mean: c.expected_best.clone(),
                lo: c
                    .expected_best
                    .iter()
                    .zip(&c.sd_best)
                    .map(|(m, s)| m - s)
                    .collect(),
                hi: c
                    .expected_best
                    .iter()
                    .zip(&c.sd_best)
                    .map(|(m, s)| m + s)
                    .collect(),
                dashed: false,
            })
            .collect();
        let _ = write!(
            h,
            "<figure>{}</figure>",
            svg::band_chart(
                &format!("expected best {metric} vs configurations tried (± sd)"),
                "configurations tried",
                &format!("E[best {metric}]"),
                &bands
            )
        );
    }
    h.push_str("</div><ul class=\"tuning\">");
    for c in curves {
        let _ = write!(h, "<li>{}</li>", escape(&values_line(c).replace('`', "")));
    }
    h.push_str("</ul>");
    for s in sentences {
        let _ = write!(h, "<p class=\"tuning\">{}</p>", escape(&s.replace('`', "")));
    }
    let _ = write!(h, "<p><small>{}</small></p>", escape(TUNING_METHOD));
    h
}
