//! Fair comparison under tuning budgets against NumPy/SciPy (`scripts/gen_golden_budget.py`):
//! the expected best of n configurations drawn without replacement (checked against an
//! enumeration of every n-subset), its standard deviation, and the probability of improvement
//! P(b > a) (against `scipy.stats.mannwhitneyu`) with its SplitMix64 percentile bootstrap.
//!
//! ```python
//! np.mean([max(c) for c in itertools.combinations(values, n)])
//! stats.mannwhitneyu(b, a).statistic / (len(a) * len(b))
//! np.percentile(stars, [2.5, 97.5])   # stars: P on 2000 SplitMix64 resamples
//! ```

use serde::Deserialize;

use repro::audit;

use super::util;

#[derive(Deserialize)]
struct Golden {
    expected_best: Vec<BestCase>,
    prob_improvement: Vec<ProbCase>,
}

#[derive(Deserialize)]
struct BestCase {
    values: Vec<f64>,
    higher_is_better: bool,
    expected_best: Vec<f64>,
    sd_best: Vec<f64>,
}

#[derive(Deserialize)]
struct ProbCase {
    a: Vec<f64>,
    b: Vec<f64>,
    higher_is_better: bool,
    p: f64,
    ci95: (f64, f64),
}

fn golden() -> Golden {
    let path = util::root().join("tests/golden/budget_scipy.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(1e-3),
        "{what}: {got} vs NumPy {want}"
    );
}

#[test]
fn expected_best_of_n_configurations_matches_every_subset_enumerated() {
    for (i, c) in golden().expected_best.iter().enumerate() {
        let got = audit::expected_best(&c.values, c.higher_is_better);
        let sd = audit::expected_best_sd(&c.values, c.higher_is_better);
        assert_eq!(got.len(), c.expected_best.len(), "case {i}");
        for n in 0..got.len() {
            close(
                got[n],
                c.expected_best[n],
                &format!("case {i} E[best of {}]", n + 1),
            );
            close(
                sd[n],
                c.sd_best[n],
                &format!("case {i} sd of best of {}", n + 1),
            );
        }
    }
}

#[test]
fn probability_of_improvement_and_its_bootstrap_interval_match_scipy() {
    for (i, c) in golden().prob_improvement.iter().enumerate() {
        let p = audit::prob_improvement(&c.a, &c.b, c.higher_is_better).unwrap();
        close(p, c.p, &format!("case {i} P(b > a)"));
        let pi = audit::prob_improvement_ci(&c.a, &c.b, c.higher_is_better).unwrap();
        close(pi.p, c.p, &format!("case {i} P(b > a)"));
        close(pi.ci95.0, c.ci95.0, &format!("case {i} interval low"));
        close(pi.ci95.1, c.ci95.1, &format!("case {i} interval high"));
        assert!(pi.ci95.0 <= pi.p && pi.p <= pi.ci95.1, "case {i}: {pi:?}");
    }
    assert_eq!(audit::prob_improvement(&[], &[0.5], true), None);
}
