//! The regression gate (issue #11, item 5): its own tolerance, non-inferiority against the
//! blessed seeds' noise, the blessed seed list under adaptive seeding, fail-closed outcomes,
//! the `gate:` spec key, and the blessed table's format.
//!
//! Golden bounds from SciPy (`scripts/gen_golden_stats.py`, key `gate`):
//!
//! ```python
//! r = stats.ttest_rel(now, blessed, alternative="greater")        # or ttest_ind(equal_var=False)
//! r.confidence_interval(0.95).low; r.df; stats.t.ppf(0.95, r.df)
//! ```

use std::path::Path;

use serde::Deserialize;

use repro::audit::{self, Pairing};
use repro::spec;

use super::util::{self, repro, text};

#[derive(Deserialize)]
struct Golden {
    gate: GateGolden,
}

#[derive(Deserialize)]
struct GateGolden {
    cases: Vec<Case>,
    t_quantiles_95: Vec<(f64, f64)>,
}

#[derive(Deserialize)]
struct Case {
    now: Vec<f64>,
    blessed: Vec<f64>,
    pairing: String,
    higher_is_better: bool,
    change: f64,
    df: f64,
    t: f64,
    worst: f64,
    margin: f64,
    p: f64,
}

fn close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(1e-3),
        "{what}: {got} vs SciPy {want}"
    );
}

fn golden() -> GateGolden {
    let text = std::fs::read_to_string(util::root().join("tests/golden/stats_scipy.json")).unwrap();
    serde_json::from_str::<Golden>(&text).unwrap().gate
}

#[test]
fn gate_bounds_match_scipy() {
    let g = golden();
    assert_eq!(g.cases.len(), 5);
    for (i, c) in g.cases.iter().enumerate() {
        let pairing = match c.pairing.as_str() {
            "paired" => Pairing::Paired,
            _ => Pairing::Welch,
        };
        let s = audit::shift(&c.now, &c.blessed, pairing, c.higher_is_better).unwrap();
        assert_eq!(s.pairing, pairing);
        close(s.change, c.change, &format!("case {i} change"));
        close(s.df, c.df, &format!("case {i} df"));
        close(s.t, c.t, &format!("case {i} t"));
        close(s.worst, c.worst, &format!("case {i} worst case"));
        let p = audit::noninferiority_p(&s, c.margin, c.higher_is_better);
        close(p, c.p, &format!("case {i} non-inferiority p"));
        if pairing == Pairing::Welch {
            let (sn, sb) = (
                audit::summarize(&c.now).unwrap(),
                audit::summarize(&c.blessed).unwrap(),
            );
            let df = audit::welch_df(sn.sd, sn.n, sb.sd, sb.n).unwrap();
            close(df, c.df, &format!("case {i} Welch df"));
        }
    }
}

#[test]
fn t_quantiles_match_scipy() {
    let g = golden();
    assert_eq!(g.t_quantiles_95.len(), 7);
    for (df, want) in &g.t_quantiles_95 {
        close(
            audit::t_quantile(0.95, *df),
            *want,
            &format!("t(0.95, {df})"),
        );
    }
}

const SPEC: &str = "\
id: demo
title: Demo
version: 1
dataset: mnist1d
defaults:
  train: { lr: 0.01, steps: 100, batch_size: 10 }
gate: { tolerance: 0.02 }
arms:
  - id: a
    model: { kind: linear }
    claim: { metric: accuracy, reported: 0.5, tolerance: 0.1 }
  - id: b
    model: { kind: linear }
    gate: { tolerance: 0.001 }
";

/// Parses `text` and returns its diagnostics as (`line:col`, message).
fn errors(text: &str) -> Vec<(String, String)> {
    spec::parse_bytes(Path::new("t.yaml"), text.as_bytes())
        .expect_err("spec should be rejected")
        .diags
        .iter()
        .map(|d| (d.pos.to_string(), d.message.clone()))
        .collect()
}

#[test]
fn gate_tolerance_is_a_spec_key_with_an_arm_override() {
    let s = spec::parse_bytes(Path::new("t.yaml"), SPEC.as_bytes()).unwrap();
    assert_eq!(s.arms[0].gate_tolerance, Some(0.02), "the spec's");
    assert_eq!(s.arms[1].gate_tolerance, Some(0.001), "the arm's own");
    assert_eq!(
        s.arms[0].claim.unwrap().tolerance,
        0.1,
        "the claim's tolerance is another thing"
    );
    let none = SPEC.replace("gate: { tolerance: 0.02 }\n", "");
    let s = spec::parse_bytes(Path::new("t.yaml"), none.as_bytes()).unwrap();
    assert_eq!(
        s.arms[0].gate_tolerance, None,
        "the default, decided at bless"
    );
    // Not part of the run key.
    let other = SPEC.replace("tolerance: 0.02", "tolerance: 0.05");
    let t = spec::parse_bytes(Path::new("t.yaml"), other.as_bytes()).unwrap();
    assert_eq!(s.arms[0].resolved.sha256(), t.arms[0].resolved.sha256());
}

#[test]
fn bad_gate_tolerances_are_errors_with_their_position() {
    let got = errors(&SPEC.replace("gate: { tolerance: 0.02 }", "gate: { tolerance: 0 }"));
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "7:20");
    assert!(got[0].1.contains("must be greater than 0"), "{got:?}");
    let got = errors(&SPEC.replace("gate: { tolerance: 0.02 }", "gate: { tolerence: 0.02 }"));
    assert!(
        got.iter()
            .any(|(p, m)| p == "7:9" && m.contains("did you mean `tolerance`")),
        "{got:?}"
    );
    let got = errors(&SPEC.replace("tolerance: 0.001", "tolerance: 2"));
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "14:24");
    assert!(
        got[0]
            .1
            .contains("arm `b` must be at most 1 (its metric is a fraction)"),
        "{got:?}"
    );
    let got = errors(&SPEC.replace("gate: { tolerance: 0.02 }", "gate: 0.02"));
    assert!(got[0].1.contains("`gate` must be a mapping"), "{got:?}");
}

const TINY: &str = "\
id: tiny
title: Tiny end-to-end audit
version: 1
dataset: mnist1d
defaults:
  init: torch
  train: { optimizer: adam, lr: 1.0e-2, batch_size: 100, steps: 40, order: sequential, eval_every: 20, weight_decay: 0 }
seeds: { count: 3, base: 5 }
arms:
  - id: logistic
    model: { kind: linear }
    claim: { metric: accuracy, reported: 0.95, tolerance: 0.01 }
  - id: cnn
    model: { kind: cnn1d, channels: [8, 8], kernel: 3, stride: 2, padding: 1, head: gap }
";

/// Bless, then check: unchanged passes (and reuses the runs), a worse configuration fails
/// with its worst case and margin, the gate's own tolerance is in the table, an older table
/// is refused with a clear message.
#[test]
fn check_passes_unchanged_and_fails_a_deliberately_worse_config() {
    let dir = tempfile::tempdir().unwrap();
    let spec = TINY.replace("seeds:", "gate: { tolerance: 0.004 }\nseeds:");
    std::fs::write(dir.path().join("tiny.yaml"), &spec).unwrap();
    let store = dir.path().join("store");
    let s = store.to_str().unwrap();

    let out = repro(dir.path(), &["check", "tiny.yaml", "--store", s], &[]);
    assert_eq!(out.status.code(), Some(2), "nothing blessed yet");
    assert!(text(&out).1.contains("run `repro bless` first"));
    let out = repro(dir.path(), &["bless", "tiny.yaml", "--store", s], &[]);
    assert_eq!(out.status.code(), Some(2), "nothing run yet");
    let out = repro(
        dir.path(),
        &["bless", "tiny.yaml", "--store", s, "--tolerance", "0"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "a zero gate tolerance");
    assert!(text(&out).1.contains("greater than 0"), "{}", text(&out).1);

    assert!(repro(dir.path(), &["run", "tiny.yaml", "--store", s], &[])
        .status
        .success());
    let out = repro(dir.path(), &["bless", "tiny.yaml", "--store", s], &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("tiny/cnn: new, accuracy"), "{stdout}");
    assert!(stdout.contains("gate tolerance 0.004"), "{stdout}");
    let path = dir.path().join("baselines/blessed/tiny.json");
    let table: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(table["format"], 2);
    assert_eq!(table["arms"][1]["seeds"].as_array().unwrap().len(), 3);
    assert_eq!(
        table["arms"][0]["gate_tolerance"], 0.004,
        "the gate's own tolerance, not the claim's 0.01"
    );
    assert_eq!(
        table["arms"][0]["resolution"], 0.001,
        "1/N_test, 1000 test series"
    );

    let out = repro(dir.path(), &["check", "tiny.yaml", "--store", s], &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("ok         tiny/cnn: identical to blessed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("worse than the blessed mean by more than max(gate tolerance, 4 × blessed sd, resolution)"),
        "the rule is stated: {stdout}"
    );
    assert!(
        stderr.contains("0 to train"),
        "reuses the blessed runs: {stderr}"
    );

    std::fs::write(
        dir.path().join("tiny.yaml"),
        spec.replace("lr: 1.0e-2", "lr: 1.0"),
    )
    .unwrap();
    let out = repro(dir.path(), &["check", "tiny.yaml", "--store", s], &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("REGRESSION tiny/cnn: accuracy -"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        line.contains("3 of 3 paired seeds changed); one-sided 95% worst case -")
            && line.contains("= max(gate tolerance 0.004, 4 × blessed sd "),
        "{line}"
    );
    assert!(stderr.contains("error: gate failed: tiny/"), "{stderr}");

    // A table from before the gate had its own tolerance: refused, with what to do.
    let mut old = table.clone();
    let obj = old.as_object_mut().unwrap();
    obj.remove("format");
    for arm in obj["arms"].as_array_mut().unwrap() {
        let arm = arm.as_object_mut().unwrap();
        let t = arm.remove("gate_tolerance").unwrap();
        arm.remove("resolution");
        arm.insert("tolerance".into(), t);
    }
    std::fs::write(&path, serde_json::to_string(&old).unwrap()).unwrap();
    let out = repro(dir.path(), &["check", "tiny.yaml", "--store", s], &[]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("tiny.json: blessed table format 1, this repro reads format 2")
            && stderr.contains("paper claim's tolerance")
            && stderr.contains("run `repro bless` again"),
        "{stderr}"
    );
}

/// Under adaptive seeding, `check` plans the blessed seed list: blessed with 5 seeds (an
/// arm past `min: 3`), a check in a fresh store trains those 5, pairs them and passes;
/// planning the minimum would leave 2 blessed seeds without a value.
#[test]
fn check_plans_the_blessed_seeds_under_adaptive_seeding() {
    let dir = tempfile::tempdir().unwrap();
    let one_arm = &TINY[..TINY.find("  - id: cnn").unwrap()];
    let write = |seeds: &str| {
        let spec = one_arm.replace("seeds: { count: 3, base: 5 }", seeds);
        std::fs::write(dir.path().join("tiny.yaml"), spec).unwrap();
    };
    // Seeds are not in the run key: five fixed seeds are what an adaptive arm that grew to
    // five would have trained, and the adaptive plan picks them all up from the store.
    write("seeds: { count: 5, base: 5 }");
    let first = dir.path().join("first");
    let first = first.to_str().unwrap();
    let out = repro(dir.path(), &["run", "tiny.yaml", "--store", first], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    write("seeds: { min: 3, max: 5, until: decisive, base: 5 }");
    let out = repro(dir.path(), &["bless", "tiny.yaml", "--store", first], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    let table: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("baselines/blessed/tiny.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(table["arms"][0]["seeds"].as_array().unwrap().len(), 5);

    let fresh = dir.path().join("fresh");
    let out = repro(
        dir.path(),
        &["check", "tiny.yaml", "--store", fresh.to_str().unwrap()],
        &[],
    );
    let (stdout, stderr) = text(&out);
    assert!(
        stderr.contains("5 runs planned, 0 already done, 5 to train"),
        "{stderr}"
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("ok         tiny/logistic: identical to blessed"),
        "{stdout}"
    );
}

/// The issue's case end to end: a change smaller than the paper claim's tolerance (0.03) but
/// many blessed seed sds fails the gate. MNIST-1D logistic at 600 steps, NLL 1.6606 ± 0.0005
/// over 5 seeds; lr 0.01 → 0.02 moves it +0.0206 on every seed: the old gate (claim tolerance)
/// passed it, the gate's own default tolerance (0.5% of 1.66) and noise margin fail it.
#[test]
fn a_change_inside_the_claim_tolerance_but_beyond_seed_noise_fails() {
    let dir = tempfile::tempdir().unwrap();
    let spec = "\
id: lg
title: Logistic gate
version: 1
dataset: mnist1d
defaults:
  init: torch
  train: { optimizer: adam, lr: 1.0e-2, batch_size: 100, steps: 600, order: sequential, eval_every: 600, weight_decay: 0 }
seeds: { count: 5, base: 42 }
arms:
  - id: logistic
    model: { kind: linear }
    claim: { metric: nll, reported: 1.67, tolerance: 0.03 }
";
    std::fs::write(dir.path().join("lg.yaml"), spec).unwrap();
    let s = dir.path().join("store");
    let s = s.to_str().unwrap();
    assert!(repro(dir.path(), &["run", "lg.yaml", "--store", s], &[])
        .status
        .success());
    let out = repro(dir.path(), &["bless", "lg.yaml", "--store", s], &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stdout.contains("lg/logistic: new, nll 1.6606 ± 0.0005 (n=5), gate tolerance 0.0083"),
        "{stdout}"
    );
    std::fs::write(
        dir.path().join("lg.yaml"),
        spec.replace("lr: 1.0e-2", "lr: 2.0e-2"),
    )
    .unwrap();
    let out = repro(dir.path(), &["check", "lg.yaml", "--store", s], &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains(
            "REGRESSION lg/logistic: nll +0.0206 (5 of 5 paired seeds changed); one-sided 95% \
             worst case +0.0210 is above +0.0083: margin 0.0083 = max(gate tolerance 0.0083, \
             4 × blessed sd 5.4e-4, resolution 0)"
        ),
        "{stdout}"
    );
    assert!(
        stderr.contains("error: gate failed: lg/logistic"),
        "{stderr}"
    );
}
