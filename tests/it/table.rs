//! `repro table`: one baseline table of every arm of every spec from a small real store, the
//! same numbers as each spec's own report, arms without runs saying so, and `index.html`
//! opened in headless Chromium with one relative link followed to a spec's page.

use std::path::Path;
use std::process::Command;

use super::util::{repro, text};

const TRAINED: &str = "\
id: tiny
title: A tiny trained spec
version: 1
dataset: mnist1d
defaults:
  train: { lr: 1.0e-2, batch_size: 100, steps: 20, eval_every: 10 }
seeds: { count: 2, base: 5 }
arms:
  - id: logistic
    model: { kind: linear }
    claim: { metric: accuracy, reported: 0.2, tolerance: 0.1 }
  - id: mlp
    model: { kind: mlp, hidden: [8] }
    sweep: { train.lr: [1.0e-3, 1.0e-2] }
compare:
  - [logistic, \"mlp@lr=1.0e-2\"]
";

const UNTRAINED: &str = "\
id: later
title: Not trained yet
version: 1
dataset: mnist1d
defaults:
  train: { lr: 1.0e-2, batch_size: 100, steps: 20 }
seeds: { count: 2, base: 5 }
arms:
  - id: wide
    model: { kind: mlp, hidden: [32] }
";

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = repro(dir, args, &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    stdout
}

/// Loads `page` (a file in a report directory) in headless Chromium and returns the DOM
/// after load and any navigation the page made.
fn dump_dom(page: &Path, profile: &Path) -> String {
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=5000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium is not installed: run scripts/system-deps.sh");
    let (dom, log) = text(&out);
    assert!(out.status.success(), "chromium failed: {log}");
    dom
}

#[test]
fn the_baseline_table_lists_every_arm_of_every_spec_and_its_page_links_work_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("tiny.yaml"), TRAINED).unwrap();
    std::fs::write(d.join("later.yaml"), UNTRAINED).unwrap();
    let store = ["--store", "store"];
    let mut args = vec!["run", "tiny.yaml", "--jobs", "2", "--out", "reports"];
    args.extend(store);
    ok(d, &args);
    let mut args = vec!["table", "tiny.yaml", "later.yaml", "--out", "reports"];
    args.extend(store);
    let printed = ok(d, &args);

    // Every arm, sweep points each their own row, in the terminal and in index.md.
    let md = std::fs::read_to_string(d.join("reports/index.md")).unwrap();
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("reports/tiny.json")).unwrap())
            .unwrap();
    let row = |arm: &str| -> Vec<String> {
        let line = md
            .lines()
            .find(|l| l.contains(&format!("| {arm} |")))
            .unwrap_or_else(|| panic!("no row for {arm} in\n{md}"));
        line.split(" | ").map(|c| c.trim().to_string()).collect()
    };
    for arm in ["logistic", "mlp@lr=1.0e-3", "mlp@lr=1.0e-2", "wide"] {
        assert!(printed.contains(arm), "{arm} missing from\n{printed}");
        row(arm);
    }
    // The numbers are those of the spec's own report (the same audit).
    for (i, arm) in ["logistic", "mlp@lr=1.0e-3", "mlp@lr=1.0e-2"]
        .iter()
        .enumerate()
    {
        let a = &report["arms"][i];
        assert_eq!(a["arm_id"], *arm);
        let s = &a["summary"];
        let cells = row(arm);
        assert_eq!(cells[0], "| [tiny](tiny.md)");
        assert_eq!(cells[4], "accuracy");
        assert_eq!(
            cells[5],
            format!(
                "{:.4} ± {:.4}",
                s["mean"].as_f64().unwrap(),
                s["sd"].as_f64().unwrap()
            )
        );
        assert_eq!(cells[3], a["params"].as_i64().unwrap().to_string());
        assert_eq!(cells[7], "2/2");
        // The code digest of the binary that trained with the commit it was built from (this
        // repository's, not the temporary directory's), and the day the runs finished.
        let from = match repro::provenance::built_from() {
            Some(f) => match f.strip_suffix("+dirty") {
                Some(c) => format!(" (built from {}, dirty)", &c[..12]),
                None => format!(" (built from {})", &f[..12]),
            },
            None => " (not in git)".to_string(),
        };
        assert!(cells[10].ends_with(&from), "{cells:?}");
        assert_eq!(cells[10].len(), 12 + from.len(), "{cells:?}");
        assert!(cells[11].starts_with("20"), "{cells:?}");
    }
    // The spec's own report: P(b > a) beside the mean difference, and the sweep's expected
    // best over configurations tried (at n = N the best point's mean, at n = 1 their mean).
    let c = &report["comparisons"][0];
    let pi = &c["prob_improvement"];
    let p = pi["p"].as_f64().unwrap();
    let (lo, hi) = (
        pi["ci95"][0].as_f64().unwrap(),
        pi["ci95"][1].as_f64().unwrap(),
    );
    assert!(lo <= p && p <= hi, "{pi}");
    let spec_md = std::fs::read_to_string(d.join("reports/tiny.md")).unwrap();
    assert!(spec_md.contains("| P(b > a) [95%] |"), "{spec_md}");
    assert!(
        spec_md.contains(&format!("| {p:.2} [{lo:.2}, {hi:.2}] |")),
        "{spec_md}"
    );
    let means: Vec<f64> = (1..3)
        .map(|i| report["arms"][i]["summary"]["mean"].as_f64().unwrap())
        .collect();
    let best = &report["tuning"][0]["expected_best"];
    assert_eq!(report["tuning"][0]["arm"], "mlp");
    assert!((best[0].as_f64().unwrap() - (means[0] + means[1]) / 2.0).abs() < 1e-12);
    assert!((best[1].as_f64().unwrap() - means[0].max(means[1])).abs() < 1e-12);
    let logistic = row("logistic");
    assert_eq!(logistic[8], "accuracy 0.200 ± 0.100");
    assert_eq!(logistic[9], "TOO FEW SEEDS");
    assert_eq!(row("mlp@lr=1.0e-2")[9], "baseline");
    let wide = row("wide");
    assert_eq!(wide[0], "| [later](later.md)");
    assert_eq!((wide[5].as_str(), wide[7].as_str()), ("—", "0/2"));
    assert_eq!(wide[9], "no runs in the store");

    // index.html: self-contained, one table per dataset, rows for every arm, relative links.
    let html = std::fs::read_to_string(d.join("reports/index.html")).unwrap();
    assert!(!html.contains("<script") && !html.contains("<link") && !html.contains(" src="));
    let dom = dump_dom(&d.join("reports/index.html"), &d.join("profile"));
    assert_eq!(dom.matches("<table class=\"baseline-table\">").count(), 1);
    assert_eq!(
        dom.matches("<tr><td><a href=\"tiny.html\">").count(),
        3,
        "{dom}"
    );
    assert_eq!(dom.matches("<tr><td><a href=\"later.html\">").count(), 1);
    assert!(dom.contains("<h2 id=\"dataset-mnist1d\">mnist1d</h2>"));

    // Follow a spec link the way a reader would: the browser resolves the relative
    // href against index.html's location and the spec's own page loads.
    let follow = html.replacen(
        "</body>",
        "<script>window.addEventListener('load',function(){location.href=document.querySelector('table a[href=\"tiny.html\"]').href})</script></body>",
        1,
    );
    std::fs::write(d.join("reports/follow.html"), follow).unwrap();
    let dom = dump_dom(&d.join("reports/follow.html"), &d.join("profile2"));
    assert!(
        dom.contains("<h1>tiny: A tiny trained spec</h1>"),
        "the link did not lead to the spec's page: {:?}",
        dom.split(['"', '<', '>', ' '])
            .filter(|w| w.starts_with("ERR_") || w.starts_with("file:"))
            .collect::<Vec<_>>()
    );
    assert!(dom.contains("<h2>Tuning budget</h2>"));
}
