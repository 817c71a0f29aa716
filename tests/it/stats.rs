//! Paired comparisons against SciPy (`scripts/gen_golden_stats.py`): paired t-test, Wilcoxon
//! signed-rank (exact), t-interval of the mean difference, Cohen's d_z.
//!
//! ```python
//! stats.ttest_rel(a, b); stats.wilcoxon(a, b, method="exact")
//! ```

use serde::Deserialize;

use repro::audit::{self, Interval};

use super::util;

#[derive(Deserialize)]
struct Golden {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    a: Vec<f64>,
    b: Vec<f64>,
    mean_diff: f64,
    sd_diff: f64,
    ci95: (f64, f64),
    t: f64,
    t_p: f64,
    wilcoxon_w: f64,
    wilcoxon_p: f64,
    cohens_dz: f64,
}

fn close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(1e-3),
        "{what}: {got} vs SciPy {want}"
    );
}

#[test]
fn paired_statistics_match_scipy() {
    let golden: Golden = serde_json::from_str(
        &std::fs::read_to_string(util::root().join("tests/golden/stats_scipy.json")).unwrap(),
    )
    .unwrap();
    for (i, c) in golden.cases.iter().enumerate() {
        let p = audit::paired(&c.a, &c.b).unwrap();
        close(p.mean_diff, c.mean_diff, &format!("case {i} mean"));
        close(p.sd_diff, c.sd_diff, &format!("case {i} sd"));
        let (lo, hi) = p.ci95.unwrap();
        close(lo, c.ci95.0, &format!("case {i} ci lo"));
        close(hi, c.ci95.1, &format!("case {i} ci hi"));
        close(p.t.unwrap(), c.t, &format!("case {i} t"));
        close(p.t_p, c.t_p, &format!("case {i} t p"));
        close(p.wilcoxon_w, c.wilcoxon_w, &format!("case {i} W"));
        close(p.wilcoxon_p, c.wilcoxon_p, &format!("case {i} Wilcoxon p"));
        close(p.cohens_dz.unwrap(), c.cohens_dz, &format!("case {i} d_z"));
    }
}

#[test]
fn paired_edge_cases() {
    assert!(
        audit::paired(&[0.9], &[0.8, 0.7]).is_none(),
        "unequal seeds"
    );
    assert!(audit::paired(&[], &[]).is_none());
    let same = audit::paired(&[0.9, 0.8], &[0.9, 0.8]).unwrap();
    assert_eq!(
        (same.t_p, same.wilcoxon_p, same.cohens_dz),
        (1.0, 1.0, None)
    );
    let shifted = audit::paired(&[0.9, 0.8, 0.7], &[0.8, 0.7, 0.6]).unwrap();
    assert!((shifted.mean_diff - 0.1).abs() < 1e-12);
    assert_eq!(shifted.t_p, 0.0, "a constant difference");
    let one = audit::paired(&[0.9], &[0.8]).unwrap();
    assert_eq!(one.ci95, None);
}

#[test]
fn ten_or_more_seeds_get_a_bootstrap_interval() {
    let values: Vec<f64> = (0..12).map(|i| 0.90 + 0.004 * f64::from(i % 5)).collect();
    let s = audit::summarize(&values).unwrap();
    assert_eq!(s.interval, Interval::Bootstrap);
    let (lo, hi) = s.ci95.unwrap();
    assert!(lo < s.mean && s.mean < hi && hi - lo < 0.01, "{lo} {hi}");
    assert_eq!(
        audit::summarize(&values).unwrap().ci95,
        s.ci95,
        "seeded: reproducible"
    );
    assert_eq!((s.min, s.max), (0.90, 0.916));
    let t = audit::summarize(&values[..9]).unwrap();
    assert_eq!(t.interval, Interval::StudentT);
    assert_eq!(audit::summarize(&[0.5]).unwrap().interval, Interval::None);
    assert_eq!(
        audit::summarize(&[0.1, 0.4, 0.2, 0.3]).unwrap().median,
        0.25
    );
}

fn result(id: &str, params: i64, seeds: &[i64], values: &[f64]) -> audit::ArmResult {
    audit::ArmResult {
        arm_id: id.into(),
        params: Some(params),
        planned: seeds.len(),
        diverged: 0,
        values: values.to_vec(),
        seeds: seeds.to_vec(),
        summary: audit::summarize(values),
        claim: None,
        verdict: None,
        protocol_flags: Vec::new(),
    }
}

#[test]
fn comparisons_pair_by_seed_and_flag_unequal_protocols() {
    let text = "\
id: cmp
title: Comparisons
version: 1
dataset: mnist1d
defaults:
  train: { lr: 0.01, steps: 100 }
seeds: { count: 3, base: 1 }
arms:
  - id: gru
    model: { kind: rnn, cell: gru, hidden: 8 }
    tuning: { trials: 20 }
  - id: lstm
    model: { kind: rnn, cell: lstm, hidden: 8 }
  - id: mlp
    model: { kind: mlp, hidden: [8] }
compare:
  - [gru, lstm]
  - [gru, mlp]
";
    let spec = repro::spec::parse_bytes(std::path::Path::new("c.yaml"), text.as_bytes()).unwrap();
    let results = vec![
        result("gru", 100, &[1, 2, 3], &[0.90, 0.91, 0.92]),
        result("lstm", 100, &[1, 2, 3], &[0.92, 0.94, 0.93]),
        // Seed 2 failed for mlp: only seeds 1 and 3 pair.
        result("mlp", 300, &[1, 3], &[0.50, 0.60]),
    ];
    let budgets = vec!["100 steps".to_string(); 3];
    let c = audit::comparisons(&spec, &results, &budgets);
    assert_eq!(c.len(), 2);

    // lstm − gru: differences 0.02, 0.03, 0.01 → mean 0.02, sd 0.01, t = 0.02 / (0.01/√3)
    // = 3.4641 on 2 df, two-sided p = 1 − t/√(2 + t²) = 0.07418.
    let p = c[0].paired.unwrap();
    assert_eq!(p.n, 3);
    assert!((p.mean_diff - 0.02).abs() < 1e-12);
    assert!((p.sd_diff - 0.01).abs() < 1e-12);
    assert!((p.t.unwrap() - 3.4641016).abs() < 1e-6);
    assert!((p.t_p - 0.0741799).abs() < 1e-6, "{}", p.t_p);
    assert_eq!(c[0].pairs[1], (2, 2, 0.91, 0.94));
    assert_eq!(
        c[0].flags,
        ["tuning budget 20 vs 1 configurations"],
        "same parameters and budget; unequal search effort"
    );
    assert!(
        c[0].sentence.starts_with("No difference beyond seed noise"),
        "{}",
        c[0].sentence
    );

    // mlp − gru on seeds 1 and 3: −0.40 and −0.32.
    let q = c[1].paired.unwrap();
    assert_eq!(q.n, 2);
    assert_eq!(c[1].pairs.iter().map(|p| p.0).collect::<Vec<_>>(), [1, 3]);
    assert!((q.mean_diff + 0.36).abs() < 1e-12);
    assert_eq!(
        c[1].flags,
        [
            "100 vs 300 parameters",
            "tuning budget 20 vs 1 configurations"
        ]
    );

    // A decisive difference over enough seeds names the better arm.
    let results = vec![
        result("gru", 100, &[1, 2, 3, 4], &[0.90, 0.91, 0.92, 0.90]),
        result("lstm", 100, &[1, 2, 3, 4], &[0.95, 0.97, 0.96, 0.96]),
        result("mlp", 300, &[], &[]),
    ];
    let c = audit::comparisons(&spec, &results, &budgets);
    assert!(
        c[0].sentence.starts_with("`lstm` is better"),
        "{}",
        c[0].sentence
    );
    assert!(c[1].paired.is_none());
    assert!(c[1].sentence.contains("no seed finished for both"));
}

/// Protocol flags from the spec alone (no finished runs yet): what was asked for.
#[test]
fn protocol_flags_before_any_run_name_what_the_spec_asks() {
    let mut arm = super::util::mnist1d_arm("logistic", 1, 1);
    assert!(audit::protocol_flags(&arm, &[]).is_empty());
    arm.data.subset = Some(repro::spec::Subset::Fraction(0.5));
    assert!(
        audit::protocol_flags(&arm, &[]).is_empty(),
        "a fraction subsets the training split only"
    );
    arm.data.subset = Some(repro::spec::Subset::Count {
        train: None,
        test: Some(300),
    });
    arm.protocol.selection = repro::spec::Selection::BestTest;
    let flags = audit::protocol_flags(&arm, &[]);
    let kinds: Vec<audit::FlagKind> = flags.iter().map(|f| f.kind).collect();
    assert_eq!(
        kinds,
        [audit::FlagKind::TestSelected, audit::FlagKind::TestSubset]
    );
    assert_eq!(flags[1].text, "test split subset to at most 300");
}
