//! Statistics against SciPy (`scripts/gen_golden_stats.py`): paired t-test, Wilcoxon
//! signed-rank (exact, and the normal approximation above 25 pairs with ties and zeros),
//! t-interval of the mean difference, Cohen's d_z, the t interval of the mean at 95% and at
//! adaptive seeding's Bonferroni levels, Holm's adjustment. Then the audit's rules: verdicts
//! need 3 seeds and the metric's resolution, adaptive arms use the corrected level, quick runs
//! get no verdict, comparisons are Holm-adjusted and paired by seed, findings need the whole
//! interval in the band.
//!
//! ```python
//! stats.ttest_rel(a, b); stats.wilcoxon(a, b, method="exact", zero_method="wilcox")
//! stats.wilcoxon(a, b, method="approx", zero_method="wilcox", correction=False)
//! stats.t.interval(1 - 0.05 / looks, n - 1, loc=mean, scale=stats.sem(values))
//! ```

use serde::Deserialize;

use repro::audit::{self, Interval};

use super::util;

#[derive(Deserialize)]
struct Golden {
    cases: Vec<Case>,
    wilcoxon_approx: Case,
    intervals: Vec<IntervalCase>,
    holm: Vec<HolmCase>,
}

#[derive(Deserialize)]
struct IntervalCase {
    values: Vec<f64>,
    level: f64,
    looks: u32,
    mean: f64,
    sd: f64,
    ci: (f64, f64),
}

#[derive(Deserialize)]
struct HolmCase {
    p: Vec<f64>,
    adjusted: Vec<f64>,
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
    nonzero: usize,
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

fn golden() -> Golden {
    serde_json::from_str(
        &std::fs::read_to_string(util::root().join("tests/golden/stats_scipy.json")).unwrap(),
    )
    .unwrap()
}

fn check_paired(c: &Case, i: usize) {
    let p = audit::paired(&c.a, &c.b).unwrap();
    assert_eq!(p.n, c.a.len());
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

#[test]
fn paired_statistics_match_scipy() {
    let golden = golden();
    assert_eq!(golden.cases.len(), 4);
    for (i, c) in golden.cases.iter().enumerate() {
        assert!(c.nonzero <= 25, "case {i} is in the exact branch");
        check_paired(c, i);
    }
}

/// Above 25 non-zero pairs the Wilcoxon p is the normal approximation with the tie
/// correction; the golden case has 40 pairs on a 1/1000 grid, zeros and many ties.
#[test]
fn wilcoxon_normal_approximation_matches_scipy() {
    let c = golden().wilcoxon_approx;
    assert!(c.nonzero > 25 && c.nonzero < c.a.len(), "{}", c.nonzero);
    check_paired(&c, 99);
}

/// The t interval of the mean, at 95% and at the Bonferroni levels of adaptive seeding, and
/// the level `seeds_level` derives from a spec's `min`/`max`.
#[test]
fn intervals_match_scipy_at_every_level() {
    let golden = golden();
    assert_eq!(golden.intervals.len(), 12);
    for (i, c) in golden.intervals.iter().enumerate() {
        let s = audit::summarize_at(&c.values, c.level).unwrap();
        assert_eq!(s.interval, Interval::StudentT);
        close(s.mean, c.mean, &format!("interval {i} mean"));
        close(s.sd, c.sd, &format!("interval {i} sd"));
        let (lo, hi) = s.ci.unwrap();
        close(lo, c.ci.0, &format!("interval {i} lo at {}", c.level));
        close(hi, c.ci.1, &format!("interval {i} hi at {}", c.level));
        let seeds = repro::spec::Seeds {
            count: 3,
            base: 0,
            max: (c.looks > 1).then_some(2 + c.looks),
            derive: Default::default(),
            stack: None,
        };
        let (level, looks) = audit::seeds_level(&seeds);
        assert_eq!(looks, c.looks);
        close(level, c.level, &format!("interval {i} level"));
        if c.looks == 1 {
            assert_eq!(audit::summarize(&c.values).unwrap(), s, "95% by default");
        }
    }
}

#[test]
fn holm_matches_the_generator() {
    let golden = golden();
    assert_eq!(golden.holm.len(), 4);
    for c in &golden.holm {
        let got = audit::holm(&c.p);
        assert_eq!(got.len(), c.adjusted.len());
        for (g, w) in got.iter().zip(&c.adjusted) {
            close(*g, *w, &format!("Holm of {:?}", c.p));
        }
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

/// One interval method for every n: twelve seeds get the t interval (the 12-seed golden
/// case above), not a narrower bootstrap.
#[test]
fn ten_or_more_seeds_keep_the_t_interval() {
    let values: Vec<f64> = (0..12).map(|i| 0.90 + 0.004 * f64::from(i % 5)).collect();
    let s = audit::summarize(&values).unwrap();
    assert_eq!(s.interval, Interval::StudentT);
    let (lo, hi) = s.ci.unwrap();
    let half = audit::t_quantile_95(11) * s.sd / 12f64.sqrt();
    assert!((s.mean - lo - half).abs() < 1e-12 && (hi - s.mean - half).abs() < 1e-12);
    assert_eq!((s.min, s.max), (0.90, 0.916));
    assert_eq!(audit::summarize(&[0.5]).unwrap().interval, Interval::None);
    assert_eq!(
        audit::summarize(&[0.1, 0.4, 0.2, 0.3]).unwrap().median,
        0.25
    );
    assert_eq!(
        Interval::StudentT.name(),
        "Student t interval of the mean over seeds"
    );
}

fn result(id: &str, params: i64, seeds: &[i64], values: &[f64]) -> audit::ArmResult {
    audit::ArmResult {
        arm_id: id.into(),
        dataset: "mnist1d".into(),
        needs: None,
        params: Some(params),
        planned: seeds.len(),
        diverged: 0,
        collapsed: 0,
        metric: repro::spec::Metric::Accuracy,
        values: values.to_vec(),
        seeds: seeds.to_vec(),
        summary: audit::summarize(values),
        claim: None,
        verdict: None,
        protocol_flags: Vec::new(),
        test_size: None,
        looks: 1,
        quick: false,
        curves: None,
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
    // mlp − gru pairs on 2 seeds only: no decision either way, and the sentence says why.
    assert_eq!(c[1].paired.unwrap().n, 2);
    assert!(
        c[1].sentence
            .starts_with("Too few paired seeds to decide between `mlp` and `gru`")
            && c[1].sentence.contains("a decision needs 3"),
        "{}",
        c[1].sentence
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

    // Arms sized to one parameter budget are like for like within 1%: gru-vs-lstm's 200,846
    // vs 200,458 (0.19%) is not flagged, 1.5% is.
    for (lstm, flagged) in [(200_458, false), (200_846, false), (197_800, true)] {
        let results = vec![
            result("gru", 200_846, &[1, 2, 3], &[0.90, 0.91, 0.92]),
            result("lstm", lstm, &[1, 2, 3], &[0.95, 0.97, 0.96]),
            result("mlp", 200_846, &[], &[]),
        ];
        let c = audit::comparisons(&spec, &results, &budgets);
        assert_eq!(
            c[0].flags.iter().any(|f| f.ends_with("parameters")),
            flagged,
            "{lstm}: {:?}",
            c[0].flags
        );
    }
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

fn parse(text: &str) -> repro::spec::Spec {
    repro::spec::parse_bytes(std::path::Path::new("s.yaml"), text.as_bytes()).unwrap()
}

const CLAIMED: &str = "\
id: claims
title: Claims
version: 1
dataset: mnist1d
defaults:
  train: { lr: 0.01, steps: 100 }
seeds: { count: 3, base: 1 }
arms:
  - id: cnn
    model: { kind: mlp, hidden: [8] }
    claim: { metric: accuracy, reported: 0.94, tolerance: 0.03 }
  - id: tight
    model: { kind: linear }
    claim: { metric: accuracy, reported: 0.9497, tolerance: 0 }
";

fn runs(seeds: &[i64], values: &[f64], test_size: Option<i64>, quick: bool) -> audit::ArmRuns {
    audit::ArmRuns {
        planned: seeds.len(),
        diverged: 0,
        collapsed: 0,
        values: seeds.iter().copied().zip(values.iter().copied()).collect(),
        params: Some(100),
        test_size,
        quick,
        missing: 0,
        protocol_flags: Vec::new(),
        curves: None,
    }
}

/// Identical values at n = 2 are not proof; at n = 3 the interval is still at least one test
/// example wide (1/N_test), so 0.95 on 1000 examples cannot rule out a claim of 0.9497.
#[test]
fn a_decisive_verdict_needs_three_seeds_and_the_metrics_resolution() {
    let spec = parse(CLAIMED);
    let (cnn, tight) = (&spec.arms[0], &spec.arms[1]);
    let two = audit::arm_result(&spec, cnn, runs(&[1, 2], &[0.95, 0.95], Some(1000), false));
    assert_eq!(two.verdict, Some(audit::Verdict::TooFewSeeds));
    let three = runs(&[1, 2, 3], &[0.95, 0.95, 0.95], Some(1000), false);
    assert_eq!(
        audit::arm_result(&spec, cnn, three.clone()).verdict,
        Some(audit::Verdict::Reproduced)
    );
    // Unwidened, [0.95, 0.95] lies above the point band 0.9497: EXCEEDED.
    let raw = audit::summarize(&[0.95, 0.95, 0.95]).unwrap();
    assert_eq!(
        audit::verdict(&raw, &tight.claim.unwrap()),
        audit::Verdict::Exceeded
    );
    let r = audit::arm_result(&spec, tight, three);
    let s = r.summary.unwrap();
    assert_eq!(s.widened_to, Some(0.001));
    let (lo, hi) = s.ci.unwrap();
    assert!(
        (lo - 0.9495).abs() < 1e-12 && (hi - 0.9505).abs() < 1e-12,
        "{lo} {hi}"
    );
    assert_eq!(r.verdict, Some(audit::Verdict::Inconclusive));
    let table = repro::report::claims_table(&spec, &[two, r], false);
    assert!(table.contains("TOO FEW SEEDS"), "{table}");
    assert!(
        table.contains("[0.9495, 0.9505] (widened to 1/1000)"),
        "{table}"
    );
}

/// Adaptive seeding looks after every round: at the first look (3 seeds) the naive 95%
/// interval is inside the band, but over up to 18 looks (min 3, max 20) each look is a
/// 1 − 0.05/18 interval, which still crosses both edges.
#[test]
fn adaptive_arms_use_the_bonferroni_level_of_their_looks() {
    let spec = parse(&CLAIMED.replace(
        "seeds: { count: 3, base: 1 }",
        "seeds: { min: 3, max: 20, until: decisive, base: 1 }",
    ));
    let values = [0.93, 0.935, 0.94];
    let claim = spec.arms[0].claim.unwrap();
    assert_eq!(
        audit::verdict(&audit::summarize(&values).unwrap(), &claim),
        audit::Verdict::Reproduced,
        "decisive at a naive 95%"
    );
    let r = audit::arm_result(
        &spec,
        &spec.arms[0],
        runs(&[1, 2, 3], &values, Some(1000), false),
    );
    assert_eq!(r.looks, 18);
    let s = r.summary.unwrap();
    assert!((s.level - (1.0 - 0.05 / 18.0)).abs() < 1e-15);
    assert_eq!(r.verdict, Some(audit::Verdict::Inconclusive));
    let md =
        repro::report::claims_markdown(&spec, &[r.clone(), r], &[], &[], &[], &[], &[], false, &[]);
    assert!(md.contains(" at 99.72%"), "{md}");
    assert!(
        md.contains("Bonferroni over the 18 looks the spec allows, each look a 1 − 0.05/18 = 99.72% interval"),
        "{md}"
    );
}

/// A quick run is a smoke test: no verdict against the paper's claim, in any form.
#[test]
fn quick_results_get_no_verdict() {
    let spec = parse(CLAIMED);
    let r = audit::arm_result(
        &spec,
        &spec.arms[0],
        runs(&[1, 2, 3], &[0.80, 0.81, 0.805], Some(1000), true),
    );
    assert_eq!((r.verdict, r.quick), (None, true));
    let results = [r.clone(), r];
    let table = repro::report::claims_table(&spec, &results, true);
    assert!(table.contains("QUICK (smoke test, no verdict)"), "{table}");
    assert!(!table.contains("REPRODUCED"), "{table}");
    let md = repro::report::claims_markdown(&spec, &results, &[], &[], &[], &[], &[], true, &[]);
    assert!(md.contains("**QUICK (smoke test, no verdict)**"), "{md}");
    assert!(
        md.contains("it gets no verdict against the paper's claims"),
        "{md}"
    );
    let json = serde_json::to_value(&results[0]).unwrap();
    assert_eq!(
        (json["verdict"].clone(), json["quick"].clone()),
        (serde_json::Value::Null, true.into())
    );
}

/// A baseline matches a claim only if its whole interval reaches the band: an upper end
/// inside the band and a lower end below it is "might match", not a finding.
#[test]
fn a_baseline_matches_only_with_its_whole_interval_in_reach() {
    let spec = parse(&CLAIMED.replace(
        "  - id: tight\n    model: { kind: linear }\n    claim: { metric: accuracy, reported: 0.9497, tolerance: 0 }\n",
        "  - id: base\n    model: { kind: linear }\n",
    ));
    let budgets = vec!["100 steps".to_string(); 2];
    let method = result("cnn", 100, &[1, 2, 3], &[0.94, 0.94, 0.94]);
    let mut with_claim = method.clone();
    with_claim.claim = spec.arms[0].claim;
    // [0.890, 0.940]: reaches into [0.91, 0.97] at the top only.
    let straddling = result("base", 100, &[1, 2, 3], &[0.905, 0.915, 0.925]);
    let f = audit::baseline_findings(&spec, &[with_claim.clone(), straddling], &budgets);
    assert!(f.is_empty(), "{f:?}");
    // [0.9226, 0.9474]: inside the band.
    let inside = result("base", 100, &[1, 2, 3], &[0.93, 0.935, 0.94]);
    let f = audit::baseline_findings(&spec, &[with_claim.clone(), inside], &budgets);
    assert_eq!(f.len(), 1);
    assert!(!f[0].beats);
    assert!(
        f[0].sentence
            .contains("95% CI [0.9226, 0.9474], n=3) matches"),
        "{}",
        f[0].sentence
    );
    // Two seeds are not enough for a finding, however good.
    let two = result("base", 100, &[1, 2], &[0.99, 0.991]);
    assert!(audit::baseline_findings(&spec, &[with_claim, two], &budgets).is_empty());
}

/// Issue 13: a tuned baseline that clears several claims gets one sentence, said against the
/// paper's best claimed model (the highest reported accuracy), not one per weaker claim.
#[test]
fn a_baseline_is_measured_against_the_papers_best_model() {
    let spec = parse(
        "\
id: best
title: Best
version: 1
dataset: mnist1d
defaults:
  train: { lr: 0.01, steps: 100 }
seeds: { count: 3, base: 1 }
arms:
  - id: logistic
    model: { kind: linear }
    claim: { metric: accuracy, reported: 0.32, tolerance: 0.03 }
  - id: cnn
    model: { kind: mlp, hidden: [8] }
    claim: { metric: accuracy, reported: 0.94, tolerance: 0.03 }
  - id: gru
    model: { kind: mlp, hidden: [4] }
    claim: { metric: accuracy, reported: 0.91, tolerance: 0.03 }
  - id: lstm
    role: baseline
    model: { kind: mlp, hidden: [16] }
",
    );
    let budgets = vec!["100 steps".to_string(); 4];
    let claimed = |i: usize, id: &str| {
        let mut r = result(id, 100, &[1, 2, 3], &[0.5, 0.5, 0.5]);
        r.claim = spec.arms[i].claim;
        r
    };
    let arms = |lstm: &[f64]| {
        vec![
            claimed(0, "logistic"),
            claimed(1, "cnn"),
            claimed(2, "gru"),
            result("lstm", 100, &[1, 2, 3], lstm),
        ]
    };
    // [0.9226, 0.9474]: beats logistic, matches gru and cnn: one finding, against cnn.
    let f = audit::baseline_findings(&spec, &arms(&[0.93, 0.935, 0.94]), &budgets);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!((f[0].method.as_str(), f[0].beats), ("cnn", false));
    assert!(
        f[0].sentence.ends_with(
            "matches the paper's claim for `cnn` (0.940 ± 0.030), the paper's best claimed model."
        ),
        "{}",
        f[0].sentence
    );
    // [0.8926, 0.9174]: reaches gru's band [0.88, 0.94] but not cnn's [0.91, 0.97] whole.
    let f = audit::baseline_findings(&spec, &arms(&[0.90, 0.905, 0.91]), &budgets);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].method, "gru");
    assert!(
        f[0].sentence.ends_with(
            "matches the paper's claim for `gru` (0.910 ± 0.030), but not the paper's best claimed model, `cnn` (0.940 ± 0.030)."
        ),
        "{}",
        f[0].sentence
    );
}

const FOUR: &str = "\
id: holm
title: Holm
version: 1
dataset: mnist1d
defaults:
  train: { lr: 0.01, steps: 100 }
seeds: { count: 4, base: 1 }
arms:
  - id: base
    model: { kind: linear }
  - id: x
    model: { kind: mlp, hidden: [8] }
  - id: y
    model: { kind: mlp, hidden: [9] }
  - id: z
    model: { kind: mlp, hidden: [10] }
compare:
  - [base, x]
  - [base, y]
  - [base, z]
";

/// Three comparisons each at raw paired t p = 0.022: alone each says "is better", but over
/// the spec's three comparisons Holm's adjusted p is 0.066, so none does.
#[test]
fn comparisons_are_holm_adjusted_over_the_spec() {
    let spec = parse(FOUR);
    let a = [0.90, 0.91, 0.92, 0.90];
    let d = [0.01, 0.03, 0.02, 0.015];
    let b: Vec<f64> = a.iter().zip(&d).map(|(x, y)| x + y).collect();
    let seeds = [1, 2, 3, 4];
    let results = vec![
        result("base", 100, &seeds, &a),
        result("x", 100, &seeds, &b),
        result("y", 100, &seeds, &b),
        result("z", 100, &seeds, &b),
    ];
    let c = audit::comparisons(&spec, &results, &vec!["100 steps".to_string(); 4]);
    assert_eq!(c.len(), 3);
    for c in &c {
        let raw = c.paired.unwrap().t_p;
        assert!((raw - 0.021_875).abs() < 1e-4, "{raw}");
        let holm = c.holm_p.unwrap();
        assert!((holm - 3.0 * raw).abs() < 1e-12, "{holm}");
        assert_eq!(c.holm_over, 3);
        assert!(
            c.sentence.starts_with("No difference beyond seed noise"),
            "{}",
            c.sentence
        );
        assert!(
            c.sentence.contains(&format!(
                "(paired t p = {raw:.3}, Holm-adjusted over 3 comparisons p = {holm:.3})"
            )),
            "{}",
            c.sentence
        );
    }
    let md = repro::report::claims_markdown(&spec, &results, &[], &[], &c, &[], &[], false, &[]);
    assert!(md.contains("| paired t p | Holm p |"), "{md}");
    assert!(md.contains("| 0.022 | 0.066 |"), "{md}");
    assert!(md.contains("Holm-adjusted over 3 comparisons"), "{md}");
}

/// `derive: arm` draws each arm its own seeds: pairs are the seeds drawn at the same index,
/// and a seed that diverged in one arm drops its pair only (not shifting the rest).
#[test]
fn derived_seeds_pair_by_index_after_a_diverged_seed() {
    let spec = parse(
        &FOUR
            .replace(
                "seeds: { count: 4, base: 1 }",
                "seeds: { count: 3, base: 1, derive: arm }",
            )
            .replace("  - [base, y]\n  - [base, z]\n", ""),
    );
    let seeds = spec.seeds(false);
    let of = |arm: &str| -> Vec<i64> { (0..3).map(|i| seeds.seed(arm, i)).collect() };
    let (sa, sx) = (of("base"), of("x"));
    assert_ne!(sa, sx);
    // `base` seed 1 diverged: values for its seeds 0 and 2 only.
    let results = vec![
        result("base", 100, &[sa[0], sa[2]], &[0.90, 0.92]),
        result("x", 100, &sx, &[0.95, 0.96, 0.97]),
        result("y", 100, &[], &[]),
        result("z", 100, &[], &[]),
    ];
    let c = audit::comparisons(&spec, &results, &vec!["100 steps".to_string(); 4]);
    assert_eq!(
        c[0].pairs,
        [(sa[0], sx[0], 0.90, 0.95), (sa[2], sx[2], 0.92, 0.97)]
    );
    assert!(c[0].by_position);
    assert!((c[0].paired.unwrap().mean_diff - 0.05).abs() < 1e-12);
}

/// A comparison of arms measured in different metrics is refused at validation, with the
/// comparison's line.
#[test]
fn comparisons_across_metrics_are_refused() {
    let text = FOUR.replace(
        "  - id: x\n    model: { kind: mlp, hidden: [8] }\n",
        "  - id: x\n    model: { kind: mlp, hidden: [8] }\n    claim: { metric: nll, reported: 1.0, tolerance: 0.1 }\n",
    );
    let err = repro::spec::parse_bytes(std::path::Path::new("m.yaml"), text.as_bytes())
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "m.yaml:19:5: `base` is measured in accuracy and `x` in nll: a comparison needs one \
         metric (give both arms claims in the same metric)"
    );
}

/// The per-seed plot of arms measured in different metrics names each row's metric, not the
/// first claim's metric for all.
#[test]
fn the_per_seed_plot_names_each_arms_metric() {
    let spec = parse(&CLAIMED.replace(
        "claim: { metric: accuracy, reported: 0.9497, tolerance: 0 }",
        "claim: { metric: nll, reported: 1.2, tolerance: 0.1 }",
    ));
    let results: Vec<audit::ArmResult> = spec
        .arms
        .iter()
        .map(|arm| {
            audit::arm_result(
                &spec,
                arm,
                runs(&[1, 2, 3], &[0.9, 0.91, 0.92], None, false),
            )
        })
        .collect();
    let html = repro::report::html::page(&spec, &results, &[], &[], &[], &[], &[], &[], false, &[]);
    assert!(
        html.contains("value per seed"),
        "one axis name for mixed metrics"
    );
    assert!(!html.contains("accuracy per seed"));
    for label in ["cnn (accuracy)", "tight (nll)"] {
        assert!(html.contains(label), "missing {label}");
    }
}

/// A sweep's best point in words: the highest mean (lowest for a lower-is-better metric), and
/// the points whose intervals overlap it, flagged as chosen on the test split.
#[test]
fn a_sweeps_best_point_and_the_points_it_does_not_separate_from() {
    let spec = parse(
        "\
id: sweep
title: Sweep
version: 1
dataset: mnist1d
defaults:
  train: { lr: 0.01, steps: 100 }
seeds: { count: 3, base: 1 }
arms:
  - id: base
    model: { kind: linear }
  - id: mlp
    model: { kind: mlp, hidden: [8] }
    sweep: { train.lr: [0.001, 0.01, 0.1] }
",
    );
    let values: [&[f64]; 4] = [
        &[0.5, 0.5, 0.5],
        &[0.60, 0.62, 0.61],
        &[0.70, 0.72, 0.74],
        &[0.71, 0.69, 0.70],
    ];
    let mut results: Vec<audit::ArmResult> = spec
        .arms
        .iter()
        .zip(values)
        .map(|(a, v)| result(&a.id, 100, &[1, 2, 3], v))
        .collect();
    let bests = audit::sweep_bests(&spec, &results);
    assert_eq!(bests.len(), 1, "only the swept arm");
    let b = &bests[0];
    assert_eq!((b.arm.as_str(), b.point.as_str()), ("mlp", "lr=0.01"));
    assert!((b.mean - 0.72).abs() < 1e-12);
    assert_eq!(
        b.overlapping,
        ["lr=0.1"],
        "[0.6703, 0.7697] overlaps [0.6752, 0.7248]"
    );
    assert!(
        b.sentence
            .starts_with("Best point of the `mlp` sweep by accuracy: lr=0.01, 0.7200")
            && b.sentence.contains("not separated from lr=0.1")
            && b.sentence.contains("Chosen on the test split: optimistic"),
        "{}",
        b.sentence
    );
    // Lower is better for error: the lowest mean wins.
    for r in &mut results {
        r.metric = repro::spec::Metric::Error;
    }
    assert_eq!(audit::sweep_bests(&spec, &results)[0].point, "lr=0.001");
    // Points measured in different metrics have no common scale: no best point.
    results[2].metric = repro::spec::Metric::MapAtR;
    assert!(audit::sweep_bests(&spec, &results).is_empty());
}

/// Collapsed seeds are dropped for their embeddings, so the seeds left are not the planned
/// sample: no verdict, however good they look.
#[test]
fn collapsed_seeds_leave_an_arm_without_verdict() {
    let spec = parse(CLAIMED);
    let good = runs(&[1, 2, 3], &[0.94, 0.945, 0.94], Some(1000), false);
    assert_eq!(
        audit::arm_result(&spec, &spec.arms[0], good.clone()).verdict,
        Some(audit::Verdict::Reproduced)
    );
    let mut with_collapsed = good;
    with_collapsed.planned = 4;
    with_collapsed.collapsed = 1;
    let r = audit::arm_result(&spec, &spec.arms[0], with_collapsed);
    assert_eq!((r.verdict, r.collapsed), (None, 1));
}
