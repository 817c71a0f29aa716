//! `repro check`'s results the way CI systems read them: JUnit XML ([`junit`]: a test suite per
//! spec, a test case per blessed arm and metric) and a Markdown summary for a pull-request
//! comment ([`summary`]). Rendering only: the gate's numbers come from `audit::gate`.

use std::fmt::Write;

use crate::audit::{fmt_gate_number, ArmGate, Outcome, Pairing, CONFIDENCE, NOISE_SDS};
use crate::session::gate::GateResult;

/// Text safe in XML character data and attribute values: the five special characters escaped,
/// characters XML 1.0 forbids (most C0 controls) replaced by U+FFFD.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// The shift, its one-sided interval, the margin and p, one per line (a failure's body).
fn details(r: &GateResult) -> String {
    let g = &r.gate;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {}/{}: {}",
        g.outcome.label(),
        r.spec_id,
        g.arm_id,
        g.reason
    );
    if let Some(s) = &g.shift {
        let interval = if r.metric.higher_is_better() {
            format!("[{:+.4}, +inf)", s.worst)
        } else {
            format!("(-inf, {:+.4}]", s.worst)
        };
        let pairing = match s.pairing {
            Pairing::Paired => "paired by seed",
            Pairing::Welch => "Welch",
        };
        let _ = writeln!(
            out,
            "shift: {} {:+.4} (blessed mean {:.4}, {} seeds now, {} blessed, {pairing})",
            r.metric.name(),
            s.change,
            r.blessed_mean,
            s.n_now,
            s.n_blessed
        );
        let _ = writeln!(
            out,
            "interval: one-sided {:.0}% {interval}",
            CONFIDENCE * 100.0
        );
    }
    if let Some(m) = &g.margin {
        let _ = writeln!(out, "margin: {} = {}", fmt_gate_number(m.value), m.rule());
    }
    if let Some(p) = g.p {
        let _ = writeln!(out, "p: {} (H0: worse by the margin or more)", fmt_p(p));
    }
    for (seed, why) in &g.diverged {
        let _ = writeln!(out, "diverged: seed {seed}: {why}");
    }
    out
}

/// A p-value in three significant digits (`<1e-12` below that).
pub fn fmt_p(p: f64) -> String {
    if p.is_nan() {
        "n/a".into()
    } else if p < 1e-12 {
        "<1e-12".into()
    } else if p < 1e-3 {
        format!("{p:.2e}")
    } else {
        format!("{p:.3}")
    }
}

/// The `message` attribute: one line, what happened and by how much.
fn message(r: &GateResult) -> String {
    let g = &r.gate;
    match (&g.shift, g.p) {
        (Some(s), Some(p)) => format!(
            "{} {}/{}: {} {:+.4}, one-sided {:.0}% worst case {:+.4}, margin {}, p {}",
            g.outcome.label(),
            r.spec_id,
            g.arm_id,
            r.metric.name(),
            s.change,
            CONFIDENCE * 100.0,
            s.worst,
            g.margin.map_or("n/a".into(), |m| fmt_gate_number(m.value)),
            fmt_p(p)
        ),
        _ => format!(
            "{} {}/{}: {}",
            g.outcome.label(),
            r.spec_id,
            g.arm_id,
            g.reason
        ),
    }
}

/// How JUnit counts one arm: a regression is a failure, an arm the gate cannot decide an
/// error (it fails closed), anything else passes.
fn kind(g: &ArmGate) -> Option<&'static str> {
    match g.outcome {
        Outcome::Regression => Some("failure"),
        Outcome::Undecided => Some("error"),
        Outcome::Identical | Outcome::Pass | Outcome::Improved => None,
    }
}

/// JUnit XML for `results`: `<testsuites>` with a `<testsuite>` per spec (in order of first
/// appearance) and a `<testcase name="ARM METRIC" classname="SPEC">` per blessed arm; a
/// regression carries a `<failure>` (shift, interval, margin, p), an undecidable arm an
/// `<error>`. Counts (`tests`, `failures`, `errors`, `skipped`) and `time` on every level.
pub fn junit(results: &[GateResult]) -> String {
    let mut specs: Vec<&str> = Vec::new();
    for r in results {
        if !specs.contains(&r.spec_id.as_str()) {
            specs.push(&r.spec_id);
        }
    }
    let count =
        |rs: &[&GateResult], k: &str| rs.iter().filter(|r| kind(&r.gate) == Some(k)).count();
    let all: Vec<&GateResult> = results.iter().collect();
    let time = |rs: &[&GateResult]| rs.iter().map(|r| r.wall_time_s).sum::<f64>();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"repro check\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"0\" time=\"{:.3}\">",
        all.len(),
        count(&all, "failure"),
        count(&all, "error"),
        time(&all)
    );
    for spec in specs {
        let mine: Vec<&GateResult> = results.iter().filter(|r| r.spec_id == spec).collect();
        let file = mine
            .first()
            .map(|r| r.spec_path.display().to_string())
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"0\" time=\"{:.3}\" file=\"{}\">",
            xml_escape(spec),
            mine.len(),
            count(&mine, "failure"),
            count(&mine, "error"),
            time(&mine),
            xml_escape(&file)
        );
        for r in mine {
            let g = &r.gate;
            let _ = write!(
                out,
                "    <testcase name=\"{} {}\" classname=\"{}\" time=\"{:.3}\"",
                xml_escape(&g.arm_id),
                r.metric.name(),
                xml_escape(spec),
                r.wall_time_s
            );
            match kind(g) {
                Some(k) => {
                    let _ = writeln!(
                        out,
                        ">\n      <{k} message=\"{}\" type=\"{}\">{}</{k}>\n    </testcase>",
                        xml_escape(&message(r)),
                        g.outcome.label().to_lowercase(),
                        xml_escape(&details(r))
                    );
                }
                None => {
                    let _ = writeln!(
                        out,
                        ">\n      <system-out>{}</system-out>\n    </testcase>",
                        xml_escape(&details(r))
                    );
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// `|` and line breaks would break a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// A Markdown summary for a pull-request comment: the overall result, one table row per arm
/// (outcome, metric, blessed mean, change, worst case, margin, p), and the failing arms'
/// reasons below it.
pub fn summary(results: &[GateResult]) -> String {
    let failed: Vec<&GateResult> = results.iter().filter(|r| r.gate.outcome.fails()).collect();
    let mut out = String::new();
    let head = if failed.is_empty() {
        format!("## repro check: passed ({} arms)", results.len())
    } else {
        format!(
            "## repro check: FAILED ({} of {} arms: {})",
            failed.len(),
            results.len(),
            failed
                .iter()
                .map(|r| format!("`{}/{}`", r.spec_id, r.gate.arm_id))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let _ = writeln!(out, "{head}\n");
    out.push_str(
        "| outcome | spec | arm | metric | blessed | change | one-sided 95% worst case | margin | p |\n\
         |---|---|---|---|---:|---:|---:|---:|---:|\n",
    );
    for r in results {
        let g = &r.gate;
        let mark = if g.outcome.fails() { "❌" } else { "✅" };
        let (change, worst) = g.shift.as_ref().map_or(("n/a".into(), "n/a".into()), |s| {
            (format!("{:+.4}", s.change), format!("{:+.4}", s.worst))
        });
        let _ = writeln!(
            out,
            "| {mark} {} | {} | {} | {} | {:.4} (n={}) | {change} | {worst} | {} | {} |",
            g.outcome.label(),
            cell(&r.spec_id),
            cell(&g.arm_id),
            r.metric.name(),
            r.blessed_mean,
            r.blessed_n,
            g.margin.map_or("n/a".into(), |m| fmt_gate_number(m.value)),
            g.p.map_or("n/a".into(), fmt_p)
        );
    }
    if !failed.is_empty() {
        out.push('\n');
        for r in &failed {
            let _ = writeln!(
                out,
                "- **{}/{}** {}: {}",
                cell(&r.spec_id),
                cell(&r.gate.arm_id),
                r.gate.outcome.label(),
                cell(&r.gate.reason)
            );
        }
    }
    let _ = writeln!(
        out,
        "\nThe gate fails an arm when the one-sided {:.0}% worst case of its change is worse \
         than the blessed mean by more than the margin, max(gate tolerance, {NOISE_SDS} × \
         blessed sd, resolution); p is that non-inferiority test's p-value.",
        CONFIDENCE * 100.0
    );
    out
}
