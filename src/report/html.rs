//! The self-contained HTML report: claims table with verdicts, the metric per seed against
//! each claim's band, train/eval loss curves per arm (mean with min–max band over seeds), and
//! provenance. Inline CSS and SVG only: no scripts, no external assets.

use std::fmt::Write;

use super::svg::{self, escape, Band, DotRow};
use super::{
    comparison_cells, describe_model, method_text, reported_cell, summary_cells, verdict_text,
};
use crate::audit::{ArmResult, ComparisonResult};
use crate::record::Record;
use crate::spec::{Metric, Spec};

const STYLE: &str = "body{font-family:sans-serif;max-width:980px;margin:2em auto;color:#222}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}\
th{background:#f4f4f4}.reproduced{color:#1a7f37;font-weight:bold}.not-reproduced{color:#c62828;font-weight:bold}\
.exceeded{color:#1f5fbf;font-weight:bold}.inconclusive{color:#b26a00;font-weight:bold}.quick{color:#666;font-style:italic}\
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

/// For each swept arm and each of its sweep keys: the arm's metric (mean, interval band)
/// against the key's values, one line per setting of the arm's other keys. Returns the SVGs.
pub fn sweep_plots(spec: &Spec, results: &[ArmResult]) -> Vec<String> {
    let mut out = Vec::new();
    let mut bases: Vec<&str> = Vec::new();
    for arm in spec.arms.iter().filter(|a| !a.point.is_empty()) {
        if !bases.contains(&arm.base.as_str()) {
            bases.push(&arm.base);
        }
    }
    for base in bases {
        let points: Vec<(usize, &crate::spec::Arm)> = spec
            .arms
            .iter()
            .enumerate()
            .filter(|(_, a)| a.base == base)
            .collect();
        let keys: Vec<String> = points[0].1.point.iter().map(|p| p.key.clone()).collect();
        let metric = Metric::of_arm(points[0].1).name();
        for key in &keys {
            let value_of = |a: &crate::spec::Arm| a.point.iter().find(|p| &p.key == key).cloned();
            let mut values: Vec<crate::spec::SweepValue> = Vec::new();
            for (_, a) in &points {
                if let Some(v) = value_of(a) {
                    if !values.iter().any(|w| w.value == v.value) {
                        values.push(v);
                    }
                }
            }
            if values.len() < 2 {
                continue;
            }
            let numbers: Option<Vec<f64>> = values.iter().map(|v| v.number).collect();
            // Numbers on a linear axis unless they span two decades or more (learning
            // rates, weight decays): then evenly spaced positions, which reads as log scale.
            let linear = numbers.as_ref().filter(|n| {
                let (lo, hi) = n
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                        (a.min(*v), b.max(*v))
                    });
                !(lo > 0.0 && hi / lo >= 100.0)
            });
            let x_of = |v: &crate::spec::SweepValue| -> f64 {
                match linear {
                    Some(_) => v.number.unwrap_or(0.0),
                    None => values.iter().position(|w| w.value == v.value).unwrap_or(0) as f64,
                }
            };
            // Lines: one per setting of the other keys.
            let mut groups: Vec<(String, Vec<(f64, &ArmResult)>)> = Vec::new();
            for (i, a) in &points {
                let Some(v) = value_of(a) else { continue };
                let others: Vec<String> = a
                    .point
                    .iter()
                    .filter(|p| &p.key != key)
                    .map(|p| format!("{}={}", p.key.rsplit('.').next().unwrap_or(&p.key), p.value))
                    .collect();
                let label = if others.is_empty() {
                    base.to_string()
                } else {
                    format!("{base} {}", others.join(" "))
                };
                match groups.iter_mut().find(|(l, _)| *l == label) {
                    Some((_, g)) => g.push((x_of(&v), &results[*i])),
                    None => groups.push((label, vec![(x_of(&v), &results[*i])])),
                }
            }
            let bands: Vec<Band> = groups
                .into_iter()
                .map(|(label, mut g)| {
                    g.retain(|(_, r)| r.summary.is_some());
                    g.sort_by(|a, b| a.0.total_cmp(&b.0));
                    let stat = |r: &ArmResult| {
                        let s = r
                            .summary
                            .as_ref()
                            .map_or((f64::NAN, f64::NAN, f64::NAN), |s| {
                                let (lo, hi) = s.ci.unwrap_or((s.min, s.max));
                                (s.mean, lo, hi)
                            });
                        s
                    };
                    Band {
                        label,
                        x: g.iter().map(|(x, _)| *x).collect(),
                        mean: g.iter().map(|(_, r)| stat(r).0).collect(),
                        lo: g.iter().map(|(_, r)| stat(r).1).collect(),
                        hi: g.iter().map(|(_, r)| stat(r).2).collect(),
                        dashed: false,
                    }
                })
                .filter(|b| !b.x.is_empty())
                .collect();
            let labels: Vec<String> = values.iter().map(|v| v.value.clone()).collect();
            out.push(svg::band_chart_labeled(
                &format!("{base}: {metric} vs {key} (mean, t interval)"),
                key,
                metric,
                &bands,
                linear.is_none().then_some(labels.as_slice()),
            ));
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
pub fn page(
    spec: &Spec,
    results: &[ArmResult],
    findings: &[crate::audit::Finding],
    sweeps: &[crate::audit::SweepBest],
    comparisons: &[ComparisonResult],
    tuning: &[crate::audit::TuningCurve],
    tuning_sentences: &[String],
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
        h.push_str("<p><b>--quick</b>: a smoke test with fewer steps and seeds than the paper; no verdicts against its claims.</p>");
    }
    h.push_str("<table><tr><th>arm</th><th>model</th><th>params</th><th>n</th><th>mean ± sd</th><th>interval (95% t)</th><th>reported</th><th>verdict</th></tr>");
    for (arm, r) in spec.arms.iter().zip(results) {
        let (mean, ci) = summary_cells(r);
        let verdict = verdict_text(r);
        let class = match r.verdict {
            _ if r.quick => "quick",
            Some(v) => v.css_class(),
            None => "",
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}/{}{}</td><td>{mean}</td><td>{}</td><td>{}</td><td class=\"{class}\">{}</td></tr>",
            escape(&r.arm_id),
            escape(&describe_model(&arm.resolved(quick).model)),
            r.params.map_or("—".into(), |p| p.to_string()),
            r.values.len(),
            r.planned,
            escape(&super::lost_note(r)),
            escape(&ci),
            reported_cell(r),
            escape(&verdict)
        );
    }
    h.push_str("</table>");
    let notes = super::curve_notes(results);
    if !notes.is_empty() {
        h.push_str("<p>Training curves:</p><ul class=\"curves\">");
        for (arm, text) in notes {
            let _ = write!(h, "<li><b>{}</b>: {}</li>", escape(&arm), escape(&text));
        }
        h.push_str("</ul>");
    }
    for f in findings {
        let _ = write!(h, "<p class=\"finding\"><b>{}</b></p>", escape(&f.sentence));
    }
    for w in sweeps {
        let _ = write!(h, "<p class=\"sweep\">{}</p>", escape(&w.sentence));
    }
    let _ = write!(
        h,
        "<p class=\"method\"><small>{}</small></p>",
        escape(&method_text(results, comparisons, quick))
    );

    // Each arm's values are in its own metric: one axis name when they agree, else each row
    // says its metric.
    let metrics: Vec<Metric> = results.iter().map(|r| r.metric).collect();
    let mixed = metrics.windows(2).any(|w| w[0] != w[1]);
    let metric = if mixed {
        "value"
    } else {
        metrics.first().map_or("accuracy", |m| m.name())
    };
    let rows: Vec<DotRow> = results
        .iter()
        .zip(&metrics)
        .map(|(r, m)| DotRow {
            label: if mixed {
                format!("{} ({})", r.arm_id, m.name())
            } else {
                r.arm_id.clone()
            },
            values: r.values.clone(),
            band: r.claim.map(|c| c.band()),
        })
        .collect();
    h.push_str("<h2>Per seed, against the reported band</h2><figure>");
    h.push_str(&svg::dot_plot(
        &format!("{metric} per seed (grey: reported ± tolerance)"),
        metric,
        &rows,
    ));
    h.push_str("</figure>");
    if !comparisons.is_empty() {
        h.push_str("<h2>Paired comparisons</h2><table><tr><th>b − a</th><th>n</th><th>mean difference</th><th>95% CI</th><th>P(b &gt; a) [95%]</th><th>paired t p</th><th>Holm p</th><th>Wilcoxon p</th><th>d<sub>z</sub></th><th>not like for like</th></tr>");
        for c in comparisons {
            let cells = comparison_cells(c);
            let _ = write!(h, "<tr><td>{} − {}</td>", escape(&c.b), escape(&c.a));
            for cell in cells {
                let _ = write!(h, "<td>{}</td>", escape(&cell));
            }
            h.push_str("</tr>");
        }
        h.push_str("</table>");
        for c in comparisons {
            let _ = write!(h, "<p>{}</p>", escape(&c.sentence));
        }
        h.push_str("<div class=\"plots\">");
        for c in comparisons {
            let pairs: Vec<(f64, f64)> = c.pairs.iter().map(|p| (p.2, p.3)).collect();
            let _ = write!(
                h,
                "<figure>{}</figure>",
                svg::paired_plot(
                    &format!("{} vs {}: {} per seed", c.a, c.b, c.metric),
                    &c.metric,
                    &c.a,
                    &c.b,
                    &pairs
                )
            );
        }
        h.push_str("</div>");
    }
    let sweeps = sweep_plots(spec, results);
    if !sweeps.is_empty() {
        h.push_str("<h2>Sweeps</h2><div class=\"plots\">");
        for plot in sweeps {
            let _ = write!(h, "<figure>{plot}</figure>");
        }
        h.push_str("</div>");
    }
    h.push_str(&super::budget::tuning_html(tuning, tuning_sentences));
    h.push_str("<h2>Training curves</h2><div class=\"plots\">");
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
