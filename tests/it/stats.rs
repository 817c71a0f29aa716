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
