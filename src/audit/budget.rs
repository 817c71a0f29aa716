//! Fair comparison under tuning budgets.
//!
//! - Expected best metric against the number of configurations tried (Dodge et al. 2019,
//!   "Show your work"), with the unbiased estimator of Tang et al. 2020 ("Showing your work
//!   doesn't always work"): the expectation of the best of `n` configurations drawn without
//!   replacement from the `N` observed ones, for `n = 1..N` ([`expected_best`]). One value per
//!   configuration: the sweep point's mean over its seeds, on the test split, so the best is
//!   chosen on the numbers it is judged by (flagged as optimistic everywhere it is shown).
//! - The probability of improvement `P(b > a)` over seeds (as in rliable, Agarwal et al.
//!   2021): the Mann-Whitney U statistic of `b` against `a` over `n·m`, ties counted ½, `>`
//!   meaning better in the metric's direction ([`prob_improvement`]), with a 95% percentile
//!   bootstrap interval: [`BOOTSTRAP_RESAMPLES`] resamples, each drawing `a`'s and then `b`'s
//!   values with replacement by SplitMix64 from seed [`BOOTSTRAP_SEED`] (`index = u64 % len`),
//!   percentiles interpolated linearly between order statistics (NumPy's default), so
//!   `scripts/gen_golden_budget.py` reproduces it exactly.

use serde::{Deserialize, Serialize};

use super::ArmResult;
use crate::rng::SplitMix64;
use crate::spec::{Metric, Spec};

/// Bootstrap resamples behind the interval of `P(b > a)`.
pub const BOOTSTRAP_RESAMPLES: usize = 2000;
/// The SplitMix64 seed of every bootstrap (the same for every comparison: reproducible).
pub const BOOTSTRAP_SEED: u64 = 20_240_613;

/// The values sorted worst to best (non-finite ones dropped).
fn worst_to_best(values: &[f64], higher_is_better: bool) -> Vec<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(|a, b| {
        if higher_is_better {
            a.total_cmp(b)
        } else {
            b.total_cmp(a)
        }
    });
    v
}

/// `w[i − 1]`: the probability that the i-th of `big_n` values (sorted worst to best) is the
/// best of `n` drawn without replacement, `C(i−1, n−1) / C(N, n)` (0 below `i = n`), built as
/// a running product so it stays finite for large `N`.
fn best_weights(big_n: usize, n: usize) -> Vec<f64> {
    let mut w = vec![0.0; big_n];
    let mut c_big = 1.0;
    for k in 0..n {
        c_big *= (big_n - k) as f64 / (k + 1) as f64;
    }
    // C(n−1, n−1) / C(N, n), then C(i−1, n−1) = C(i−2, n−1) · (i−1) / (i−n).
    w[n - 1] = 1.0 / c_big;
    for i in n + 1..=big_n {
        w[i - 1] = w[i - 2] * (i - 1) as f64 / (i - n) as f64;
    }
    w
}

/// `E[best of n]` for `n = 1..=values.len()`, drawn without replacement from `values`: with
/// the values sorted worst to best, `Σ_{i=n}^{N} v_(i) · C(i−1, n−1) / C(N, n)`. At `n = 1`
/// the mean, at `n = N` the best value.
pub fn expected_best(values: &[f64], higher_is_better: bool) -> Vec<f64> {
    let v = worst_to_best(values, higher_is_better);
    (1..=v.len())
        .map(|n| {
            best_weights(v.len(), n)
                .iter()
                .zip(&v)
                .map(|(w, x)| w * x)
                .sum()
        })
        .collect()
}

/// The standard deviation of the best of `n` for `n = 1..=values.len()` (same draws as
/// [`expected_best`]): `sqrt(E[best²] − E[best]²)`, 0 at `n = N`.
pub fn expected_best_sd(values: &[f64], higher_is_better: bool) -> Vec<f64> {
    let v = worst_to_best(values, higher_is_better);
    (1..=v.len())
        .map(|n| {
            let w = best_weights(v.len(), n);
            let m: f64 = w.iter().zip(&v).map(|(w, x)| w * x).sum();
            let m2: f64 = w.iter().zip(&v).map(|(w, x)| w * x * x).sum();
            (m2 - m * m).max(0.0).sqrt()
        })
        .collect()
}

/// `P(b > a)`: over every pair of a value of `a` and one of `b`, the share where `b` is better
/// in the metric's direction, ties counting ½ (the Mann-Whitney U of `b` over `n·m`). `None`
/// when either side is empty.
pub fn prob_improvement(a: &[f64], b: &[f64], higher_is_better: bool) -> Option<f64> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let mut u = 0.0;
    for y in b {
        for x in a {
            let better = if higher_is_better { y > x } else { y < x };
            if better {
                u += 1.0;
            } else if y == x {
                u += 0.5;
            }
        }
    }
    Some(u / (a.len() * b.len()) as f64)
}

/// The `q` quantile (0..=1) of sorted `v`, interpolated linearly (NumPy's default method).
fn quantile(v: &[f64], q: f64) -> f64 {
    let h = (v.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(v.len() - 1);
    v[lo] + (h - lo as f64) * (v[hi] - v[lo])
}

/// The probability of improvement with its 95% percentile bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ProbImprovement {
    /// `P(b > a)`, `>` meaning better in the metric's direction.
    pub p: f64,
    pub ci95: (f64, f64),
    pub n_a: usize,
    pub n_b: usize,
}

/// [`prob_improvement`] and its percentile bootstrap interval (module docs: the resampling).
pub fn prob_improvement_ci(
    a: &[f64],
    b: &[f64],
    higher_is_better: bool,
) -> Option<ProbImprovement> {
    let p = prob_improvement(a, b, higher_is_better)?;
    let mut rng = SplitMix64::new(BOOTSTRAP_SEED);
    let mut stars = Vec::with_capacity(BOOTSTRAP_RESAMPLES);
    let (mut ra, mut rb) = (vec![0.0; a.len()], vec![0.0; b.len()]);
    for _ in 0..BOOTSTRAP_RESAMPLES {
        for x in ra.iter_mut() {
            *x = a[rng.below(a.len())];
        }
        for y in rb.iter_mut() {
            *y = b[rng.below(b.len())];
        }
        stars.push(prob_improvement(&ra, &rb, higher_is_better).unwrap_or(p));
    }
    stars.sort_by(f64::total_cmp);
    Some(ProbImprovement {
        p,
        ci95: (quantile(&stars, 0.025), quantile(&stars, 0.975)),
        n_a: a.len(),
        n_b: b.len(),
    })
}

/// One swept arm's expected best metric against the configurations tried.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TuningCurve {
    /// The swept arm as written in the spec.
    pub arm: String,
    pub metric: String,
    /// Each configuration (`key=value, ...`) and its value: the mean over its seeds.
    pub configurations: Vec<(String, f64)>,
    /// `expected_best[n − 1]`: E[best of n configurations], n = 1..N.
    pub expected_best: Vec<f64>,
    /// The standard deviation of the best of n configurations.
    pub sd_best: Vec<f64>,
}

/// Every swept arm's [`TuningCurve`] over its sweep points that have results, and sentences
/// comparing swept arms in the same metric at equal budgets (1 configuration, and the most
/// both tried).
pub fn tuning_curves(spec: &Spec, results: &[ArmResult]) -> (Vec<TuningCurve>, Vec<String>) {
    let mut bases: Vec<&str> = Vec::new();
    for arm in spec.arms.iter().filter(|a| !a.point.is_empty()) {
        if !bases.contains(&arm.base.as_str()) {
            bases.push(&arm.base);
        }
    }
    let mut curves = Vec::new();
    for base in bases {
        let points: Vec<(String, &ArmResult)> = spec
            .arms
            .iter()
            .zip(results)
            .filter(|(a, r)| a.base == base && r.summary.is_some())
            .map(|(a, r)| {
                let point: Vec<String> = a
                    .point
                    .iter()
                    .map(|p| format!("{}={}", p.key.rsplit('.').next().unwrap_or(&p.key), p.value))
                    .collect();
                (point.join(", "), r)
            })
            .collect();
        // Points in different metrics have no common scale: no best of them.
        if points.is_empty() || points.iter().any(|(_, r)| r.metric != points[0].1.metric) {
            continue;
        }
        let metric: Metric = points[0].1.metric;
        let configurations: Vec<(String, f64)> = points
            .iter()
            .filter_map(|(p, r)| r.summary.as_ref().map(|s| (p.clone(), s.mean)))
            .collect();
        let values: Vec<f64> = configurations.iter().map(|c| c.1).collect();
        curves.push(TuningCurve {
            arm: base.to_string(),
            metric: metric.name().to_string(),
            expected_best: expected_best(&values, metric.higher_is_better()),
            sd_best: expected_best_sd(&values, metric.higher_is_better()),
            configurations,
        });
    }
    let mut sentences = Vec::new();
    for (i, a) in curves.iter().enumerate() {
        for b in curves.iter().skip(i + 1).filter(|b| b.metric == a.metric) {
            let most = a.expected_best.len().min(b.expected_best.len());
            let mut at = vec![1];
            if most > 1 {
                at.push(most);
            }
            let parts: Vec<String> = at
                .iter()
                .map(|n| {
                    format!(
                        "at {n} configuration{} tried, E[best {}] `{}` {:.4} vs `{}` {:.4}",
                        if *n == 1 { "" } else { "s" },
                        a.metric,
                        a.arm,
                        a.expected_best[n - 1],
                        b.arm,
                        b.expected_best[n - 1]
                    )
                })
                .collect();
            sentences.push(format!(
                "Equal tuning budget: {} (Tang et al.'s unbiased estimator over sweep points' \
                 means on the test split: optimistic).",
                parts.join("; ")
            ));
        }
    }
    (curves, sentences)
}
