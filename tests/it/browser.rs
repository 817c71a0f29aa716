//! The HTML report in a real browser: headless Chromium (Debian `chromium`, installed by
//! `scripts/system-deps.sh`) loads the page from a real run with a sweep and a comparison; it
//! must log nothing to the console, and every plot must lay out with its marks drawn.

use std::path::Path;
use std::process::Command;

use super::util::{repro, text};

const SPEC: &str = "\
id: page
title: Report in a browser
version: 1
dataset: mnist1d
defaults:
  train: { lr: 1.0e-2, batch_size: 100, steps: 60, eval_every: 20 }
seeds: { count: 3, base: 5 }
arms:
  - id: logistic
    model: { kind: linear }
    claim: { metric: accuracy, reported: 0.2, tolerance: 0.1 }
  - id: mlp
    model: { kind: mlp, hidden: [16] }
    sweep: { train.lr: [1.0e-3, 3.0e-3, 1.0e-2] }
compare:
  - [logistic, \"mlp@lr=1.0e-2\"]
  - train.lr
";

/// Records what the page did once loaded: console errors it raised and, per `<svg>`, its
/// laid-out size and how many marks it holds. Injected before the page's own markup.
const PROBE: &str = "<script>window.__errors=[];\
window.addEventListener('error',function(e){__errors.push(String(e.message||('failed to load '+(e.target&&(e.target.src||e.target.href)))))},true);\
window.addEventListener('load',function(){var r=[].map.call(document.querySelectorAll('svg'),function(s){var b=s.getBoundingClientRect();\
return [Math.round(b.width),Math.round(b.height),s.querySelectorAll('polyline,polygon,circle,line,rect').length]});\
var p=document.createElement('pre');p.id='render-check';p.textContent=JSON.stringify({errors:__errors,svgs:r});document.body.appendChild(p)});</script>";

struct Loaded {
    errors: Vec<String>,
    /// Console messages Chromium logged (the report has no scripts: there should be none).
    console: Vec<String>,
    /// (width, height, marks) per `<svg>`.
    svgs: Vec<(f64, f64, usize)>,
}

fn load_in_chromium(html: &str, work: &Path) -> Loaded {
    let page = work.join("probe.html");
    std::fs::write(&page, html.replacen("<head>", &format!("<head>{PROBE}"), 1)).unwrap();
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
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=5000",
            "--dump-dom",
        ])
        .arg(format!(
            "--user-data-dir={}",
            work.join("profile").display()
        ))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium is not installed: run scripts/system-deps.sh");
    let (dom, log) = text(&out);
    assert!(out.status.success(), "chromium failed: {log}");
    let json = dom
        .split("<pre id=\"render-check\">")
        .nth(1)
        .and_then(|rest| rest.split("</pre>").next())
        .unwrap_or_else(|| panic!("the probe did not run; chromium said:\n{log}"))
        .replace("&quot;", "\"");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    Loaded {
        errors: v["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap_or_default().to_string())
            .collect(),
        console: log
            .lines()
            .filter(|l| l.contains(":CONSOLE"))
            .map(str::to_string)
            .collect(),
        svgs: v["svgs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s[0].as_f64().unwrap(),
                    s[1].as_f64().unwrap(),
                    s[2].as_u64().unwrap() as usize,
                )
            })
            .collect(),
    }
}

#[test]
fn the_html_report_loads_in_chromium_with_no_errors_and_every_plot_drawn() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("page.yaml"), SPEC).unwrap();
    let out = repro(
        dir.path(),
        &[
            "run",
            "page.yaml",
            "--store",
            "store",
            "--out",
            "reports",
            "--jobs",
            "2",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    let html = std::fs::read_to_string(dir.path().join("reports/page.html")).unwrap();
    assert!(
        !html.contains("<script")
            && !html.contains(" src=")
            && !html.contains(" href=")
            && !html.contains("<link")
            && !html.contains("url("),
        "self-contained: no scripts, no external assets"
    );

    let loaded = load_in_chromium(&html, dir.path());
    assert!(loaded.errors.is_empty(), "page errors: {:?}", loaded.errors);
    assert!(loaded.console.is_empty(), "console: {:?}", loaded.console);
    // Per-seed dot plot, 2 paired plots (the pair and mlp's lr=1e-3 vs the two other lrs),
    // 1 sweep plot (mlp over train.lr), 1 tuning-budget plot (mlp's expected best over the
    // configurations tried), loss curves for the 4 arms.
    let expected = 1 + 3 + 1 + 1 + 4;
    assert_eq!(loaded.svgs.len(), expected, "{:?}", loaded.svgs);
    for (i, (w, h, marks)) in loaded.svgs.iter().enumerate() {
        assert!(*w >= 400.0 && *h >= 150.0, "plot {i} laid out at {w}×{h}");
        assert!(*marks >= 5, "plot {i} has {marks} marks");
    }

    // The probe is not blind: a broken page is caught.
    let broken = html.replacen(
        "</body>",
        "<img src=\"missing.png\"><script>undefinedFunction()</script></body>",
        1,
    );
    let caught = load_in_chromium(&broken, dir.path());
    assert!(
        caught
            .errors
            .iter()
            .any(|e| e.contains("undefinedFunction")),
        "{:?}",
        caught.errors
    );
    assert!(
        caught.errors.iter().any(|e| e.contains("missing.png")),
        "{:?}",
        caught.errors
    );
}
