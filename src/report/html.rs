//! The self-contained HTML report: claims table with verdicts, the metric per seed against
//! each claim's band, train/eval loss curves per arm (mean with min–max band over seeds), and
//! provenance. Inline CSS and SVG only: no scripts, no external assets.

use std::fmt::Write;

use super::svg::{self, escape, Band, DotRow};
use super::{describe_model, reported_cell, summary_cells, verdict_text};
use crate::audit::ArmResult;
use crate::runner::Record;
use crate::spec::Spec;

const STYLE: &str = "body{font-family:sans-serif;max-width:980px;margin:2em auto;color:#222}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}\
th{background:#f4f4f4}.REPRODUCED{color:#1a7f37;font-weight:bold}.NOT{color:#c62828;font-weight:bold}\
.EXCEEDED{color:#1f5fbf;font-weight:bold}.INCONCLUSIVE{color:#b26a00;font-weight:bold}\
.plots{display:flex;flex-wrap:wrap;gap:8px}figure{margin:0}small{color:#666}";

/// Curves of one arm, aligned on the steps every finished seed reported.
fn curve_bands(arm_id: &str, records: &[&Record]) -> Vec<Band> {
    let Some(first) = records.first() else {
        return Vec::new();
    };
    let steps: Vec<i64> = first
        .curve
        .iter()
        .map(|p| p.step)
        .filter(|s| records.iter().all(|r| r.curve.iter().any(|p| p.step == *s)))
        .collect();
    let series = |label: &str, pick: fn(&crate::train::CurvePoint) -> f64, dashed: bool| {
        let per_step: Vec<Vec<f64>> = steps
            .iter()
            .map(|s| {
                records
                    .iter()
                    .filter_map(|r| r.curve.iter().find(|p| p.step == *s).map(pick))
                    .collect()
            })
            .collect();
        Band {
            label: format!("{arm_id} {label}"),
            x: steps.iter().map(|s| *s as f64).collect(),
            mean: per_step
                .iter()
                .map(|v| v.iter().sum::<f64>() / v.len().max(1) as f64)
                .collect(),
            lo: per_step
                .iter()
                .map(|v| v.iter().copied().fold(f64::INFINITY, f64::min))
                .collect(),
            hi: per_step
                .iter()
                .map(|v| v.iter().copied().fold(f64::NEG_INFINITY, f64::max))
                .collect(),
            dashed,
        }
    };
    vec![
        series("train loss", |p| p.train_loss, false),
        series(&format!("{} loss", first.eval_split), |p| p.eval_loss, true),
    ]
}

pub fn page(
    spec: &Spec,
    results: &[ArmResult],
    findings: &[crate::audit::Finding],
    records: &[(String, Option<&Record>)],
    quick: bool,
    provenance: &[(String, String)],
) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>",
        escape(&format!("{}: audit", spec.id))
    );
    let _ = write!(h, "<h1>{}: {}</h1>", escape(&spec.id), escape(&spec.title));
    if let Some(src) = &spec.source {
        let _ = write!(
            h,
            "<p>Source: {}{}</p>",
            escape(&src.url),
            src.location
                .as_ref()
                .map_or(String::new(), |w| format!(" ({})", escape(w)))
        );
    }
    if quick {
        h.push_str("<p><b>--quick</b>: fewer steps and seeds than the paper; verdicts are indicative only.</p>");
    }
    h.push_str("<table><tr><th>arm</th><th>model</th><th>params</th><th>n</th><th>mean ± sd</th><th>95% CI</th><th>reported</th><th>verdict</th></tr>");
    for (arm, r) in spec.arms.iter().zip(results) {
        let (mean, ci) = summary_cells(r);
        let verdict = verdict_text(r, arm.resolved(quick).protocol.selection);
        let class = verdict.split_whitespace().next().unwrap_or("");
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}/{}</td><td>{mean}</td><td>{ci}</td><td>{}</td><td class=\"{class}\">{}</td></tr>",
            escape(&r.arm_id),
            escape(&describe_model(&arm.resolved(quick).model)),
            r.params.map_or("—".into(), |p| p.to_string()),
            r.values.len(),
            r.planned,
            reported_cell(r),
            escape(&verdict)
        );
    }
    h.push_str("</table>");
    for f in findings {
        let _ = write!(h, "<p class=\"finding\"><b>{}</b></p>", escape(&f.sentence));
    }
    h.push_str("<p><small>Verdicts compare the 95% interval of the mean over seeds with reported ± tolerance: inside → REPRODUCED, outside on the bad side → NOT REPRODUCED, on the good side → EXCEEDED, straddling an edge → INCONCLUSIVE.</small></p>");

    let metric = results
        .iter()
        .find_map(|r| r.claim.map(|c| c.metric.name()))
        .unwrap_or("accuracy");
    let rows: Vec<DotRow> = results
        .iter()
        .map(|r| DotRow {
            label: r.arm_id.clone(),
            values: r.values.clone(),
            band: r.claim.map(|c| {
                (
                    c.reported - c.tolerance,
                    c.reported + c.tolerance,
                    c.reported,
                )
            }),
        })
        .collect();
    h.push_str("<h2>Per seed, against the reported band</h2><figure>");
    h.push_str(&svg::dot_plot(
        &format!("{metric} per seed (grey: reported ± tolerance)"),
        metric,
        &rows,
    ));
    h.push_str("</figure><h2>Training curves</h2><div class=\"plots\">");
    for arm in &spec.arms {
        let mine: Vec<&Record> = records
            .iter()
            .filter(|(id, _)| *id == arm.id)
            .filter_map(|(_, r)| *r)
            .filter(|r| !r.curve.is_empty())
            .collect();
        let bands = curve_bands(&arm.id, &mine);
        if !bands.is_empty() {
            let _ = write!(
                h,
                "<figure>{}</figure>",
                svg::band_chart(
                    &format!("{}: loss (mean, min–max over {} seeds)", arm.id, mine.len()),
                    "step",
                    "loss",
                    &bands
                )
            );
        }
    }
    h.push_str("</div>");
    if !provenance.is_empty() {
        h.push_str("<h2>Provenance</h2><table>");
        for (k, v) in provenance {
            let _ = write!(h, "<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(v));
        }
        h.push_str("</table>");
    }
    h.push_str("</body></html>\n");
    h
}
