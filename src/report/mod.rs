//! Rendering audit results: the terminal table, Markdown, JSON, and one self-contained HTML page
//! with SVG plots ([`html`], drawn by [`svg`]). Rendering only: statistics come from `audit`.

pub mod budget;
pub mod bundle;
pub mod html;
pub mod index;
pub mod junit;
pub mod svg;

use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};

use crate::audit::{
    level_text, ArmResult, ComparisonResult, Interval, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, LEVEL,
    MIN_DECISIVE_SEEDS, VERDICT_RULES,
};
use crate::spec::{ModelSpec, Spec};

/// A few words describing an arm's model, e.g. `gru 1×6 bi, flatten` (`→ 64-d embedding`
/// after it for an embedding model).
pub fn describe_model(model: &ModelSpec) -> String {
    let backbone = describe_backbone(model);
    match model.embedding_dim() {
        Some(d) => format!("{backbone} → {d}-d embedding"),
        None => backbone,
    }
}

fn describe_backbone(model: &ModelSpec) -> String {
    match model {
        ModelSpec::Linear { .. } => "linear".into(),
        ModelSpec::Mlp {
            hidden, residual, ..
        } => format!(
            "mlp {}{}",
            hidden
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join("-"),
            if *residual { " residual" } else { "" }
        ),
        ModelSpec::Cnn1d { channels, head, .. } => format!(
            "cnn1d {} {:?}",
            channels
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join("-"),
            head
        )
        .to_lowercase(),
        ModelSpec::Resnet1d { channels, .. } => format!(
            "resnet1d {}",
            channels
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join("-")
        ),
        ModelSpec::Rnn {
            cell,
            hidden,
            layers,
            bidirectional,
            readout,
            ..
        } => format!(
            "{:?} {layers}×{hidden}{}, {:?}",
            cell,
            if *bidirectional { " bi" } else { "" },
            readout
        )
        .to_lowercase(),
        ModelSpec::LstmFcn {
            cells, channels, ..
        } => format!(
            "lstm-fcn {cells} cells + fcn {}",
            channels
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join("-")
        ),
        // The file name where the spec is at hand (a record keeps only the digest).
        ModelSpec::Torchscript { path, sha256, .. } => match path.file_name() {
            Some(name) => format!("torchscript {} ({sha256:.12})", name.to_string_lossy()),
            None => format!("torchscript {sha256:.12}"),
        },
    }
}

/// The verdict with the audit's protocol flags beside it (a checkpoint chosen on the test set,
/// a subset test split): numbers not comparable with honestly held-out ones. A quick result
/// has no verdict.
pub(crate) fn verdict_text(r: &ArmResult) -> String {
    if let Some(needs) = &r.needs {
        return needs.clone();
    }
    if r.quick && r.claim.is_some() {
        return QUICK_VERDICT.to_string();
    }
    let v = r.verdict.map_or("—", |v| v.label());
    if r.protocol_flags.is_empty() {
        return v.to_string();
    }
    let flags: Vec<&str> = r.protocol_flags.iter().map(|f| f.text.as_str()).collect();
    format!("{v} ({})", flags.join("; "))
}

/// What a quick (smoke-test) result shows where a verdict would be.
pub const QUICK_VERDICT: &str = "QUICK (smoke test, no verdict)";

/// "mean ± sd" and "[lo, hi]" cells, or dashes without results. The interval cell names a
/// level other than 95% (adaptive arms) and a widening to the metric's resolution.
pub(crate) fn summary_cells(r: &ArmResult) -> (String, String) {
    match &r.summary {
        Some(s) => (
            format!("{:.4} ± {:.4}", s.mean, s.sd),
            s.ci.map_or("—".into(), |(lo, hi)| {
                let mut cell = format!("[{lo:.4}, {hi:.4}]");
                if (s.level - LEVEL).abs() > 1e-12 {
                    cell.push_str(&format!(" at {}", level_text(s.level)));
                }
                if let (Some(_), Some(n)) = (s.widened_to, r.test_size) {
                    cell.push_str(&format!(" (widened to 1/{n})"));
                }
                cell
            }),
        ),
        None => ("—".into(), "—".into()),
    }
}

/// How the intervals, verdicts and comparisons of one audit were computed: the method line of
/// every report form (terminal, Markdown, HTML, JSON).
pub fn method_text(results: &[ArmResult], comparisons: &[ComparisonResult], quick: bool) -> String {
    let mut s = format!(
        "Intervals: {} {} (one method for every n), cut to the metric's range and, where \
         narrower than the metric's resolution (one test example, 1/N_test, for accuracy and \
         error), widened to it around the mean.",
        level_text(LEVEL),
        Interval::StudentT.name()
    );
    if let Some(r) = results.iter().find(|r| r.looks > 1) {
        s.push_str(&format!(
            " Adaptive seeds look after every round: Bonferroni over the {} looks the spec \
             allows, each look a 1 − 0.05/{} = {} interval.",
            r.looks,
            r.looks,
            r.summary
                .map_or_else(|| "corrected".into(), |s| level_text(s.level))
        ));
    }
    if quick {
        s.push_str(
            " --quick: a smoke test with fewer steps and seeds than the paper; it gets no \
             verdict against the paper's claims.",
        );
    } else {
        s.push_str(&format!(
            " Verdicts compare the interval with reported ± tolerance: {VERDICT_RULES}."
        ));
    }
    if let Some(c) = comparisons.iter().find(|c| c.holm_over > 0) {
        s.push_str(&format!(
            " Comparisons: paired t p Holm-adjusted over {} comparisons; \"is better\" needs \
             adjusted p < 0.05 and at least {MIN_DECISIVE_SEEDS} paired seeds.",
            c.holm_over
        ));
    }
    if comparisons.iter().any(|c| c.prob_improvement.is_some()) {
        s.push_str(&format!(
            " P(b > a): the probability of improvement (rliable), Mann-Whitney U of b's paired \
             seeds' values against a's over n·m, ties ½, \">\" meaning better in the metric's \
             direction; its 95% interval a percentile bootstrap ({BOOTSTRAP_RESAMPLES} \
             resamples of each arm's values, SplitMix64 seed {BOOTSTRAP_SEED})."
        ));
    }
    s
}

/// "metric reported ± tolerance", or a dash for an arm without a claim.
pub(crate) fn reported_cell(r: &ArmResult) -> String {
    r.claim.map_or("—".into(), |c| {
        format!("{} {:.3} ± {:.3}", c.metric.name(), c.reported, c.tolerance)
    })
}

/// For adaptive seeds: how many an arm used and why it stopped.
/// The finished runs that give no value: ` (1 diverged, 2 collapsed)`, or nothing.
pub(crate) fn lost_note(r: &ArmResult) -> String {
    let parts: Vec<String> = [(r.diverged, "diverged"), (r.collapsed, "collapsed")]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

fn adaptive_note(spec: &Spec, r: &ArmResult, quick: bool) -> String {
    let seeds = spec.seeds(quick);
    if seeds.max.is_none() || r.claim.is_none() || r.quick {
        return String::new();
    }
    match r.verdict {
        Some(v) if v.is_decisive() => " (adaptive: decisive)".to_string(),
        _ => format!(" (adaptive: max {} reached)", seeds.limit()),
    }
}

/// Each arm's curve diagnosis over its seeds with its advice ([`crate::audit::curves`]), as
/// `(arm, text)`; arms without a finished run are left out.
pub fn curve_notes(results: &[ArmResult]) -> Vec<(String, String)> {
    results
        .iter()
        .filter_map(|r| Some((r.arm_id.clone(), r.curves.as_ref()?.text_with_advice())))
        .collect()
}

/// The claims table: arm, model, params, n, mean ± sd, 95% CI, reported ± tolerance, verdict.
pub fn claims_table(spec: &Spec, results: &[ArmResult], quick: bool) -> String {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(vec![
        "arm",
        "model",
        "params",
        "n",
        "mean ± sd",
        "interval (95% t)",
        "reported",
        "verdict",
    ]);
    for (arm, r) in spec.arms.iter().zip(results) {
        let n = format!("{}/{}", r.values.len(), r.planned)
            + &lost_note(r)
            + &adaptive_note(spec, r, quick);
        let (mean, ci) = summary_cells(r);
        let reported = reported_cell(r);
        let verdict = verdict_text(r);
        table.add_row(vec![
            Cell::new(&r.arm_id),
            Cell::new(describe_model(&arm.resolved(quick).model)),
            Cell::new(r.params.map_or("—".into(), |p| p.to_string()))
                .set_alignment(CellAlignment::Right),
            Cell::new(n),
            Cell::new(mean),
            Cell::new(ci),
            Cell::new(reported),
            Cell::new(verdict),
        ]);
    }
    let mut out = format!("{} — {}", spec.id, spec.title);
    if let Some(src) = &spec.source {
        out.push_str(&format!("\nsource: {}", src.url));
        if let Some(w) = &src.location {
            out.push_str(&format!(" ({w})"));
        }
    }
    if quick {
        out.push_str(
            "\n--quick: a smoke test with fewer steps and seeds than the paper; no verdicts against its claims",
        );
    }
    out.push('\n');
    out.push_str(&table.to_string());
    let notes = curve_notes(results);
    if !notes.is_empty() {
        out.push_str("\ncurves:");
        for (arm, text) in notes {
            out.push_str(&format!("\n  {arm}: {text}"));
        }
    }
    out
}

/// The cells after "b − a" of a comparisons table row: n, mean difference, 95% CI,
/// `P(b > a)` with its interval, paired t p, its Holm-adjusted p, Wilcoxon p, d_z, flags.
pub(crate) fn comparison_cells(c: &ComparisonResult) -> Vec<String> {
    let dash = || "—".to_string();
    match &c.paired {
        Some(p) => vec![
            p.n.to_string(),
            format!("{:+.4}", p.mean_diff),
            p.ci95
                .map_or_else(dash, |(lo, hi)| format!("[{lo:+.4}, {hi:+.4}]")),
            c.prob_improvement.map_or_else(dash, |pi| {
                format!("{:.2} [{:.2}, {:.2}]", pi.p, pi.ci95.0, pi.ci95.1)
            }),
            format!("{:.3}", p.t_p),
            c.holm_p.map_or_else(dash, |h| format!("{h:.3}")),
            format!("{:.3}", p.wilcoxon_p),
            p.cohens_dz.map_or_else(dash, |d| format!("{d:+.2}")),
            if c.flags.is_empty() {
                dash()
            } else {
                c.flags.join("; ")
            },
        ],
        None => {
            let mut v = vec!["0".to_string()];
            v.extend((0..8).map(|_| dash()));
            v
        }
    }
}

/// The comparisons as a terminal table.
pub fn comparisons_table(comparisons: &[ComparisonResult]) -> String {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(vec![
        "b − a",
        "n",
        "mean diff",
        "95% CI",
        "P(b > a) [95%]",
        "t p",
        "Holm p",
        "Wilcoxon p",
        "d_z",
        "not like for like",
    ]);
    for c in comparisons {
        let mut row = vec![format!("{} − {}", c.b, c.a)];
        row.extend(comparison_cells(c));
        table.add_row(row);
    }
    table.to_string()
}

/// The same audit as Markdown: claims table, per-seed values, and what the numbers came from.
#[allow(clippy::too_many_arguments)]
pub fn claims_markdown(
    spec: &Spec,
    results: &[ArmResult],
    findings: &[crate::audit::Finding],
    sweeps: &[crate::audit::SweepBest],
    comparisons: &[ComparisonResult],
    tuning: &[crate::audit::TuningCurve],
    tuning_sentences: &[String],
    quick: bool,
    provenance: &[(String, String)],
) -> String {
    let mut md = format!("# {}: {}\n\n", spec.id, spec.title);
    if let Some(src) = &spec.source {
        md.push_str(&format!(
            "Source: <{}>{}\n\n",
            src.url,
            src.location
                .as_ref()
                .map_or(String::new(), |w| format!(" ({w})"))
        ));
    }
    if quick {
        md.push_str(
            "> `--quick`: a smoke test with fewer steps and seeds than the paper; no verdicts against its claims.\n\n",
        );
    }
    md.push_str(
        "| arm | model | params | n | mean ± sd | interval (95% t) | reported | verdict |\n",
    );
    md.push_str("|---|---|---:|---|---|---|---|---|\n");
    for (arm, r) in spec.arms.iter().zip(results) {
        let (mean, ci) = summary_cells(r);
        md.push_str(&format!(
            "| {} | {} | {} | {}/{}{} | {} | {} | {} | **{}** |\n",
            r.arm_id,
            describe_model(&arm.resolved(quick).model),
            r.params.map_or("—".into(), |p| p.to_string()),
            r.values.len(),
            r.planned,
            lost_note(r) + &adaptive_note(spec, r, quick),
            mean,
            ci,
            reported_cell(r),
            verdict_text(r),
        ));
    }
    let notes = curve_notes(results);
    if !notes.is_empty() {
        md.push_str("\nTraining curves:\n\n");
        for (arm, text) in notes {
            md.push_str(&format!("- `{arm}`: {text}\n"));
        }
    }
    for f in findings {
        md.push_str(&format!("\n**{}**\n", f.sentence));
    }
    for w in sweeps {
        md.push_str(&format!("\n{}\n", w.sentence));
    }
    if !comparisons.is_empty() {
        md.push_str("\n## Paired comparisons\n\n| b − a | n | mean diff | 95% CI | P(b > a) [95%] | paired t p | Holm p | Wilcoxon p | d_z | not like for like |\n|---|---:|---:|---|---|---:|---:|---:|---:|---|\n");
        for c in comparisons {
            md.push_str(&format!(
                "| {} − {} | {} |\n",
                c.b,
                c.a,
                comparison_cells(c).join(" | ")
            ));
        }
        md.push('\n');
        for c in comparisons {
            md.push_str(&format!("- {}\n", c.sentence));
        }
    }
    md.push_str(&budget::tuning_markdown(tuning, tuning_sentences));
    md.push_str("\nPer-seed values (in seed order):\n\n");
    for r in results {
        let values: Vec<String> = r.values.iter().map(|v| format!("{v:.4}")).collect();
        md.push_str(&format!("- `{}`: {}\n", r.arm_id, values.join(", ")));
    }
    md.push_str(&format!("\n{}\n", method_text(results, comparisons, quick)));
    if !provenance.is_empty() {
        md.push_str("\n| provenance | |\n|---|---|\n");
        for (k, v) in provenance {
            md.push_str(&format!("| {k} | {v} |\n"));
        }
    }
    md
}
