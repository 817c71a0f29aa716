//! The one baseline table: every arm of every spec in one view (`repro table`), printed, and
//! kept as `index.md` and a self-contained `index.html` (one table per dataset, no script)
//! whose spec cells link each spec's own page (`<id>.html`, `<id>.md`) by relative links.
//! Rows are built from the same [`SpecAudit`] the per-spec reports render; rendering only.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};
use serde::Serialize;

use super::svg::escape;
use super::{describe_model, reported_cell, summary_cells, verdict_text};
use crate::audit::SpecAudit;
use crate::record::Record;
use crate::spec::{Role, Spec};
use crate::store::{self, StoreError};

/// One arm of one spec, as the baseline table shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableRow {
    pub spec: String,
    pub arm: String,
    /// The arm's own dataset (`ArmResult::dataset`: its `dataset:` or the spec's): the table
    /// it is listed in.
    pub dataset: String,
    pub model: String,
    pub params: Option<i64>,
    pub metric: String,
    /// `mean ± sd` and the interval as every report writes them (dashes without results).
    pub mean_sd: String,
    pub interval: String,
    pub mean: Option<f64>,
    /// Seeds with a value, and planned seeds.
    pub n: usize,
    pub planned: usize,
    /// `metric reported ± tolerance`, or a dash without a claim.
    pub claim: String,
    /// The verdict (with its protocol flags), `baseline` for a baseline arm, or why there is
    /// none ("needs cuda: why" for an arm that `requires:` a device this session does not use,
    /// "no runs in the store").
    pub verdict: String,
    /// The CSS class of the verdict cell.
    pub class: String,
    /// The code versions its runs were trained by ([`super::bundle::code_version`]).
    pub code: Vec<String>,
    /// First and last day its runs finished (`YYYY-MM-DD`, UTC).
    pub dates: Option<(String, String)>,
}

/// The day (`YYYY-MM-DD`, UTC) of `secs` since the Unix epoch (Hinnant's civil-from-days).
pub fn day(secs: u64) -> String {
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The rows of one spec: one per arm (sweep points each their own), from its audit and its
/// planned runs' `(arm id, record, finished at)`.
pub fn spec_rows(
    spec: &Spec,
    audit: &SpecAudit,
    runs: &[(String, Option<&Record>, Option<u64>)],
) -> Vec<TableRow> {
    spec.arms
        .iter()
        .zip(&audit.results)
        .map(|(arm, r)| {
            let mine: Vec<(&Record, Option<u64>)> = runs
                .iter()
                .filter(|(id, _, _)| *id == arm.id)
                .filter_map(|(_, rec, at)| rec.map(|rec| (rec, *at)))
                .collect();
            let mut code: Vec<String> = Vec::new();
            for (rec, _) in &mine {
                let v = super::bundle::code_version(rec);
                if !code.contains(&v) {
                    code.push(v);
                }
            }
            let times: Vec<u64> = mine.iter().filter_map(|(_, at)| *at).collect();
            let dates = times
                .iter()
                .min()
                .zip(times.iter().max())
                .map(|(a, b)| (day(*a), day(*b)));
            let (mean_sd, interval) = summary_cells(r);
            let (verdict, class) = if let Some(needs) = &r.needs {
                (needs.clone(), "quick".to_string())
            } else if mine.is_empty() {
                ("no runs in the store".to_string(), "quick".to_string())
            } else if arm.role == Role::Baseline && arm.claim.is_none() {
                ("baseline".to_string(), String::new())
            } else {
                let class = match r.verdict {
                    _ if r.quick => "quick",
                    Some(v) => v.css_class(),
                    None => "",
                };
                (verdict_text(r), class.to_string())
            };
            TableRow {
                spec: spec.id.clone(),
                arm: arm.id.clone(),
                dataset: if r.dataset.is_empty() {
                    spec.dataset.clone()
                } else {
                    r.dataset.clone()
                },
                model: describe_model(&arm.resolved(r.quick).model),
                params: r.params,
                metric: r.metric.name().to_string(),
                mean_sd,
                interval,
                mean: r.summary.as_ref().map(|s| s.mean),
                n: r.values.len(),
                planned: r.planned,
                claim: reported_cell(r),
                verdict,
                class,
                code,
                dates,
            }
        })
        .collect()
}

const HEADER: [&str; 12] = [
    "spec",
    "arm",
    "model",
    "params",
    "metric",
    "mean ± sd",
    "interval",
    "n",
    "claim",
    "verdict",
    "code",
    "runs",
];

/// The cells of a row after `spec` (the spec cell is plain or a link, by format).
fn cells(r: &TableRow) -> Vec<String> {
    vec![
        r.arm.clone(),
        r.model.clone(),
        r.params.map_or("—".into(), |p| p.to_string()),
        r.metric.clone(),
        r.mean_sd.clone(),
        r.interval.clone(),
        format!("{}/{}", r.n, r.planned),
        r.claim.clone(),
        r.verdict.clone(),
        if r.code.is_empty() {
            "—".into()
        } else {
            r.code.join("; ")
        },
        match &r.dates {
            Some((a, b)) if a == b => a.clone(),
            Some((a, b)) => format!("{a} – {b}"),
            None => "—".into(),
        },
    ]
}

/// The datasets of `rows` in first-seen order.
fn datasets(rows: &[TableRow]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for r in rows {
        if !out.contains(&r.dataset.as_str()) {
            out.push(&r.dataset);
        }
    }
    out
}

/// The terminal table: one row per arm, spec by spec, with each arm's dataset.
pub fn terminal(rows: &[TableRow]) -> String {
    let mut table = Table::new();
    let mut header = vec!["dataset"];
    header.extend(HEADER);
    table.load_preset(UTF8_FULL_CONDENSED).set_header(header);
    for r in rows {
        let mut row = vec![Cell::new(&r.dataset), Cell::new(&r.spec)];
        for (i, c) in cells(r).into_iter().enumerate() {
            let cell = Cell::new(c);
            row.push(if i == 2 {
                cell.set_alignment(CellAlignment::Right)
            } else {
                cell
            });
        }
        table.add_row(row);
    }
    table.to_string()
}

const INTRO: &str = "Every arm of every spec, from the run store (no training): one table per \
dataset. Intervals, verdicts and their flags are those of each spec's own page; `baseline` marks \
a strong baseline run beside a paper's method; `code` is the code digest of the binary that \
trained the runs (and the git commit it ran in); `runs` the days they finished (UTC).";

/// `index.md`: one table per dataset, each spec linking its own `<id>.md`.
pub fn markdown(rows: &[TableRow]) -> String {
    let mut md = format!("# Baseline table\n\n{INTRO}\n");
    for ds in datasets(rows) {
        let _ = write!(
            md,
            "\n## {ds}\n\n| {} |\n|{}\n",
            HEADER.join(" | "),
            "---|".repeat(HEADER.len())
        );
        for r in rows.iter().filter(|r| r.dataset == ds) {
            let mut row = vec![format!("[{}]({}.md)", r.spec, r.spec)];
            row.extend(cells(r).into_iter().map(|c| c.replace('|', "\\|")));
            let _ = writeln!(md, "| {} |", row.join(" | "));
        }
    }
    md
}

const STYLE: &str = "body{font-family:sans-serif;max-width:1400px;margin:2em auto;color:#222}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;font-size:13px}\
th{background:#f4f4f4}.reproduced{color:#1a7f37;font-weight:bold}.not-reproduced{color:#c62828;font-weight:bold}\
.exceeded{color:#1f5fbf;font-weight:bold}.inconclusive{color:#b26a00;font-weight:bold}.quick{color:#666;font-style:italic}\
nav a{margin-right:1em}";

/// The anchor of a dataset's section.
fn anchor(ds: &str) -> String {
    let slug: String = ds
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("dataset-{slug}")
}

/// `index.html`: self-contained (inline CSS, no script), one table per dataset, each spec
/// cell a relative link to the spec's own page `<id>.html`.
pub fn html(rows: &[TableRow]) -> String {
    let mut h = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Baseline table</title><style>{STYLE}</style></head><body><h1>Baseline table</h1><p>{}</p><nav>",
        escape(&INTRO.replace('`', ""))
    );
    let sets = datasets(rows);
    for ds in &sets {
        let _ = write!(h, "<a href=\"#{}\">{}</a>", anchor(ds), escape(ds));
    }
    h.push_str("</nav>");
    for ds in sets {
        let _ = write!(
            h,
            "<h2 id=\"{}\">{}</h2><table class=\"baseline-table\"><tr>",
            anchor(ds),
            escape(ds)
        );
        for c in HEADER {
            let _ = write!(h, "<th>{}</th>", escape(c));
        }
        h.push_str("</tr>");
        for r in rows.iter().filter(|r| r.dataset == ds) {
            let _ = write!(
                h,
                "<tr><td><a href=\"{}.html\">{}</a></td>",
                escape(&r.spec),
                escape(&r.spec)
            );
            let cs = cells(r);
            for (i, c) in cs.iter().enumerate() {
                let class = if i == 8 && !r.class.is_empty() {
                    format!(" class=\"{}\"", r.class)
                } else {
                    String::new()
                };
                let _ = write!(h, "<td{class}>{}</td>", escape(c));
            }
            h.push_str("</tr>");
        }
        h.push_str("</table>");
    }
    h.push_str("</body></html>\n");
    h
}

/// Writes `index.md` and `index.html` into `dir` (atomically); returns the paths written.
pub fn write(dir: &Path, rows: &[TableRow]) -> Result<Vec<PathBuf>, StoreError> {
    std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();
    for (name, text) in [("index.md", markdown(rows)), ("index.html", html(rows))] {
        let path = dir.join(name);
        store::write_atomic(&path, text.as_bytes())?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::day;

    #[test]
    fn days_are_utc_calendar_dates() {
        assert_eq!(day(0), "1970-01-01");
        assert_eq!(day(951_782_400), "2000-02-29");
        assert_eq!(day(1_718_236_800 + 86_399), "2024-06-13");
        assert_eq!(day(4_107_542_400), "2100-03-01");
    }
}
