//! Statistics across seeds and claim verdicts. Pure: numbers in, verdicts out.
//!
//! Per arm: n, mean, sd, median, min, max and a 95% interval of the mean (t-based; percentile
//! bootstrap from n = 10). Between arms on the same seeds: the paired difference with its
//! t-interval, paired t-test, Wilcoxon signed-rank test and Cohen's d_z.
//!
//! A claim `reported ± tolerance` defines a band. With the 95% t-interval of the mean over seeds:
//! inside the band → REPRODUCED; entirely on the bad side → NOT REPRODUCED; entirely on the
//! good side → EXCEEDED; straddling an edge (or undefined, n < 2) → INCONCLUSIVE.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::spec::Claim;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub n: usize,
    pub mean: f64,
    /// Sample standard deviation (n − 1); 0 for n = 1.
    pub sd: f64,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// 95% interval of the mean; `None` for n < 2.
    pub ci95: Option<(f64, f64)>,
    /// How `ci95` was computed.
    pub interval: Interval,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    None,
    StudentT,
    /// Percentile bootstrap of the mean, 10,000 resamples, fixed seed.
    Bootstrap,
}

impl Summary {
    /// The interval cut to the metric's range: a mean accuracy cannot pass 1, nor an NLL
    /// fall below 0, whatever a symmetric t-interval near the edge says.
    pub fn within(mut self, lo: f64, hi: f64) -> Summary {
        self.ci95 = self.ci95.map(|(a, b)| (a.clamp(lo, hi), b.clamp(lo, hi)));
        self
    }
}

/// Seeds from this many on get a bootstrap interval instead of a t-interval.
pub const BOOTSTRAP_FROM: usize = 10;
const BOOTSTRAP_RESAMPLES: usize = 10_000;

/// Percentile bootstrap 95% interval of the mean (deterministic: a fixed SplitMix64 seed).
pub fn bootstrap_ci95(values: &[f64]) -> (f64, f64) {
    let n = values.len();
    let mut state: u64 = 0x0B00_7575;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut means: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| {
            (0..n)
                .map(|_| values[(next() % n as u64) as usize])
                .sum::<f64>()
                / n as f64
        })
        .collect();
    means.sort_by(f64::total_cmp);
    let at = |q: f64| means[((q * (means.len() - 1) as f64).round() as usize).min(means.len() - 1)];
    (at(0.025), at(0.975))
}

/// Two-sided t quantile for a 95% interval with `df` degrees of freedom.
pub fn t_quantile_95(df: usize) -> f64 {
    StudentsT::new(0.0, 1.0, df as f64)
        .map(|t| t.inverse_cdf(0.975))
        .unwrap_or(f64::NAN)
}

/// `None` when `values` is empty.
pub fn summarize(values: &[f64]) -> Option<Summary> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    let mean = values.iter().sum::<f64>() / n as f64;
    let sd = if n > 1 {
        (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
    } else {
        0.0
    };
    let (ci95, interval) = if n < 2 {
        (None, Interval::None)
    } else if n >= BOOTSTRAP_FROM {
        (Some(bootstrap_ci95(values)), Interval::Bootstrap)
    } else {
        let half = t_quantile_95(n - 1) * sd / (n as f64).sqrt();
        (Some((mean - half, mean + half)), Interval::StudentT)
    };
    Some(Summary {
        n,
        mean,
        sd,
        median,
        min: sorted[0],
        max: sorted[n - 1],
        ci95,
        interval,
    })
}

/// Two arms compared seed by seed: statistics of `a − b`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Paired {
    pub n: usize,
    pub mean_diff: f64,
    pub sd_diff: f64,
    /// 95% t-interval of the mean difference (n ≥ 2, non-zero spread).
    pub ci95: Option<(f64, f64)>,
    pub t: Option<f64>,
    /// Two-sided p of the paired t-test.
    pub t_p: f64,
    /// Wilcoxon signed-rank: the smaller of the positive and negative rank sums (zero
    /// differences dropped, ties given average ranks) and its two-sided p (exact up to 25
    /// non-zero pairs, normal approximation with tie correction above).
    pub wilcoxon_w: f64,
    pub wilcoxon_p: f64,
    /// Cohen's d_z: mean difference over the sd of differences.
    pub cohens_dz: Option<f64>,
}

/// `None` unless `a` and `b` are non-empty and of equal length (one value per shared seed).
pub fn paired(a: &[f64], b: &[f64]) -> Option<Paired> {
    if a.len() != b.len() || a.is_empty() {
        return None;
    }
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let n = d.len();
    let mean = d.iter().sum::<f64>() / n as f64;
    let sd = if n > 1 {
        (d.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
    } else {
        0.0
    };
    let (t, t_p, ci95) = if n > 1 && sd > 0.0 {
        let se = sd / (n as f64).sqrt();
        let t = mean / se;
        let dist = StudentsT::new(0.0, 1.0, (n - 1) as f64).ok();
        let p = dist.map_or(f64::NAN, |s| 2.0 * (1.0 - s.cdf(t.abs())));
        let half = t_quantile_95(n - 1) * se;
        (Some(t), p, Some((mean - half, mean + half)))
    } else {
        // No spread: identical pairs say nothing against "no difference"; a constant
        // non-zero difference is as decisive as data can be.
        (None, if mean == 0.0 { 1.0 } else { 0.0 }, None)
    };
    let (wilcoxon_w, wilcoxon_p) = wilcoxon(&d);
    Some(Paired {
        n,
        mean_diff: mean,
        sd_diff: sd,
        ci95,
        t,
        t_p,
        wilcoxon_w,
        wilcoxon_p,
        cohens_dz: (sd > 0.0).then(|| mean / sd),
    })
}

/// Wilcoxon signed-rank test of differences `d` (zeros dropped): (W, two-sided p).
fn wilcoxon(d: &[f64]) -> (f64, f64) {
    let mut nz: Vec<f64> = d.iter().copied().filter(|v| *v != 0.0).collect();
    let n = nz.len();
    if n == 0 {
        return (0.0, 1.0);
    }
    nz.sort_by(|a, b| a.abs().total_cmp(&b.abs()));
    // Average ranks over ties in |d|.
    let mut ranks = vec![0.0; n];
    let mut i = 0;
    let mut tie_term = 0.0;
    while i < n {
        let mut j = i;
        while j + 1 < n && nz[j + 1].abs() == nz[i].abs() {
            j += 1;
        }
        let avg = (i + j + 2) as f64 / 2.0;
        for r in ranks.iter_mut().take(j + 1).skip(i) {
            *r = avg;
        }
        let t = (j - i + 1) as f64;
        tie_term += t * t * t - t;
        i = j + 1;
    }
    let plus: f64 = nz
        .iter()
        .zip(&ranks)
        .filter(|(v, _)| **v > 0.0)
        .map(|(_, r)| r)
        .sum();
    let total = (n * (n + 1)) as f64 / 2.0;
    let w = plus.min(total - plus);
    let p = if n <= 25 {
        // Exact null distribution of the rank sum with ranks 1..n: counts[s] = subsets summing to s.
        let max = n * (n + 1) / 2;
        let mut counts = vec![0f64; max + 1];
        counts[0] = 1.0;
        for r in 1..=n {
            for s in (r..=max).rev() {
                counts[s] += counts[s - r];
            }
        }
        let below: f64 = counts
            .iter()
            .enumerate()
            .filter(|(s, _)| (*s as f64) <= w + 1e-9)
            .map(|(_, c)| c)
            .sum();
        (2.0 * below / 2f64.powi(n as i32)).min(1.0)
    } else {
        let mean = total / 2.0;
        let var = (n * (n + 1) * (2 * n + 1)) as f64 / 24.0 - tie_term / 48.0;
        let z = (w - mean) / var.sqrt();
        let normal = statrs::distribution::Normal::new(0.0, 1.0).ok();
        normal.map_or(f64::NAN, |nd| (2.0 * nd.cdf(z)).min(1.0))
    };
    (w, p)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    Reproduced,
    NotReproduced,
    Inconclusive,
    Exceeded,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Reproduced => "REPRODUCED",
            Verdict::NotReproduced => "NOT REPRODUCED",
            Verdict::Inconclusive => "INCONCLUSIVE",
            Verdict::Exceeded => "EXCEEDED",
        }
    }
}

pub fn verdict(summary: &Summary, claim: &Claim) -> Verdict {
    let Some((lo, hi)) = summary.ci95 else {
        return Verdict::Inconclusive;
    };
    let (band_lo, band_hi) = (
        claim.reported - claim.tolerance,
        claim.reported + claim.tolerance,
    );
    let (above, below) = (lo > band_hi, hi < band_lo);
    let better_side = if claim.metric.higher_is_better() {
        above
    } else {
        below
    };
    let worse_side = if claim.metric.higher_is_better() {
        below
    } else {
        above
    };
    if better_side {
        Verdict::Exceeded
    } else if worse_side {
        Verdict::NotReproduced
    } else if band_lo <= lo && hi <= band_hi {
        Verdict::Reproduced
    } else {
        Verdict::Inconclusive
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Metric;

    fn claim(metric: Metric, reported: f64, tolerance: f64) -> Claim {
        Claim {
            metric,
            reported,
            tolerance,
        }
    }

    #[test]
    fn summary_matches_hand_computation() {
        // mean 0.92, sd = sqrt(((.02)^2*2 + 0)/2) = 0.02, t(2) = 4.302653, half = 0.049683
        let s = summarize(&[0.90, 0.92, 0.94]).unwrap();
        assert!((s.mean - 0.92).abs() < 1e-12);
        assert!((s.sd - 0.02).abs() < 1e-12);
        let (lo, hi) = s.ci95.unwrap();
        assert!((hi - lo - 2.0 * 4.302_652_729_749_464 * 0.02 / 3f64.sqrt()).abs() < 1e-9);
    }

    #[test]
    fn intervals_stay_inside_the_metric_range() {
        // GunPoint-like: mean 0.9893, t-interval [0.9768, 1.0019] → upper end cut to 1.
        let values = [1.0, 0.9867, 1.0, 0.98, 0.98];
        let raw = summarize(&values).unwrap();
        assert!(raw.ci95.unwrap().1 > 1.0);
        let cut = raw.within(0.0, 1.0);
        assert_eq!(cut.ci95.unwrap().1, 1.0);
        assert_eq!(cut.ci95.unwrap().0, raw.ci95.unwrap().0);
        assert_eq!(cut.mean, raw.mean);
    }

    #[test]
    fn t_quantiles() {
        assert!((t_quantile_95(4) - 2.776_445_105).abs() < 1e-6);
        assert!((t_quantile_95(1000) - 1.962_339).abs() < 1e-5);
    }

    #[test]
    fn verdicts_for_accuracy() {
        let c = claim(Metric::Accuracy, 0.94, 0.03);
        let at = |values: &[f64]| verdict(&summarize(values).unwrap(), &c);
        assert_eq!(at(&[0.93, 0.94, 0.935, 0.945]), Verdict::Reproduced);
        assert_eq!(at(&[0.80, 0.81, 0.805]), Verdict::NotReproduced);
        assert_eq!(at(&[0.99, 0.995, 0.992]), Verdict::Exceeded);
        assert_eq!(at(&[0.90, 0.92, 0.91]), Verdict::Inconclusive);
        assert_eq!(at(&[0.94]), Verdict::Inconclusive, "n = 1 decides nothing");
        assert_eq!(
            at(&[0.95, 0.95, 0.95]),
            Verdict::Reproduced,
            "zero variance"
        );
    }

    #[test]
    fn verdicts_for_error_are_mirrored() {
        let c = claim(Metric::Error, 0.10, 0.02);
        let at = |values: &[f64]| verdict(&summarize(values).unwrap(), &c);
        assert_eq!(at(&[0.02, 0.021, 0.022]), Verdict::Exceeded);
        assert_eq!(at(&[0.30, 0.31, 0.305]), Verdict::NotReproduced);
    }

    #[test]
    fn empty_has_no_summary() {
        assert!(summarize(&[]).is_none());
    }
}

/// One arm's results under its claim, from the records of its planned seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmResult {
    pub arm_id: String,
    pub params: Option<i64>,
    pub planned: usize,
    pub failed: usize,
    /// The claim's metric per finished seed, in seed order.
    pub values: Vec<f64>,
    /// The seed of each value.
    #[serde(default)]
    pub seeds: Vec<i64>,
    pub summary: Option<Summary>,
    pub claim: Option<Claim>,
    pub verdict: Option<Verdict>,
}

/// Groups `records` (one slot per planned run of `spec`, `None` where not done) by arm.
pub fn arm_results(
    spec: &crate::spec::Spec,
    records: &[(String, Option<&crate::record::Record>)],
) -> Vec<ArmResult> {
    use crate::spec::Metric;
    spec.arms
        .iter()
        .map(|arm| {
            let metric = arm.claim.map_or(Metric::Accuracy, |c| c.metric);
            let mine: Vec<Option<&crate::record::Record>> = records
                .iter()
                .filter(|(id, _)| *id == arm.id)
                .map(|(_, r)| *r)
                .collect();
            let done: Vec<&crate::record::Record> = mine.iter().flatten().copied().collect();
            let (seeds, values): (Vec<i64>, Vec<f64>) = done
                .iter()
                .filter_map(|r| r.metrics.map(|m| (r.seed, m.get(metric))))
                .unzip();
            let (lo, hi) = if metric.is_fraction() {
                (0.0, 1.0)
            } else if metric == Metric::Perplexity {
                (1.0, f64::INFINITY)
            } else {
                (0.0, f64::INFINITY)
            };
            let summary = summarize(&values).map(|s| s.within(lo, hi));
            ArmResult {
                arm_id: arm.id.clone(),
                params: done.first().map(|r| r.params),
                planned: mine.len(),
                failed: done.iter().filter(|r| r.metrics.is_none()).count(),
                verdict: match (&summary, &arm.claim) {
                    (Some(s), Some(c)) => Some(verdict(s, c)),
                    _ => None,
                },
                values,
                seeds,
                summary,
                claim: arm.claim,
            }
        })
        .collect()
}

/// One arm's blessed results: the reference a later `repro check` compares against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlessedArm {
    pub arm_id: String,
    pub metric: crate::spec::Metric,
    /// How far the mean may move in the bad direction before the gate fails.
    pub tolerance: f64,
    /// (seed, value, run key), in seed order.
    pub seeds: Vec<(i64, f64, String)>,
    pub mean: f64,
    pub sd: f64,
    pub n: usize,
    /// What the numbers depend on besides the code: resolved arm, data, libtorch, device.
    pub fingerprint: String,
}

/// The verdict of the regression gate for one arm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmGate {
    pub arm_id: String,
    /// Same fingerprint as blessed: values are expected to be bit-identical.
    pub same_fingerprint: bool,
    /// Seeds whose value differs from the blessed one: (seed, blessed, now).
    pub changed: Vec<(i64, f64, f64)>,
    /// Blessed seeds with no value now (not run, or failed).
    pub missing: Vec<i64>,
    pub paired: Option<Paired>,
    pub regression: bool,
    pub reason: String,
}

/// Compares `now` (seed, value) with `blessed`: a regression is a move of the mean in the bad
/// direction by more than the tolerance that a paired t-test at 5% does not put down to seed
/// noise (with fewer than 3 shared seeds, the tolerance alone decides), or any blessed seed
/// that no longer produces a value.
pub fn gate(blessed: &BlessedArm, now: &[(i64, f64)], fingerprint: &str) -> ArmGate {
    let mut old = Vec::new();
    let mut new = Vec::new();
    let mut changed = Vec::new();
    let mut missing = Vec::new();
    for (seed, value, _) in &blessed.seeds {
        match now.iter().find(|(s, _)| s == seed) {
            Some((_, v)) => {
                if v.to_bits() != value.to_bits() {
                    changed.push((*seed, *value, *v));
                }
                old.push(*value);
                new.push(*v);
            }
            None => missing.push(*seed),
        }
    }
    let paired = paired(&new, &old);
    let sign = if blessed.metric.higher_is_better() {
        -1.0
    } else {
        1.0
    };
    let (regression, reason) = match &paired {
        _ if !missing.is_empty() => (
            true,
            format!(
                "{} of {} blessed seeds have no value now",
                missing.len(),
                blessed.seeds.len()
            ),
        ),
        None => (false, "no shared seeds".to_string()),
        Some(p) => {
            let worse_by = sign * p.mean_diff;
            let significant = p.n < 3 || p.t_p < 0.05;
            if changed.is_empty() {
                (false, "identical to blessed".to_string())
            } else if worse_by > blessed.tolerance && significant {
                (
                    true,
                    format!(
                        "{} moved {:+.4} (tolerance {}), paired t-test p = {:.2e}",
                        blessed.metric.name(),
                        p.mean_diff,
                        blessed.tolerance,
                        p.t_p
                    ),
                )
            } else {
                (
                    false,
                    format!(
                        "{} of {} seeds changed, mean {:+.4}, p = {:.2e}: within tolerance or noise",
                        changed.len(),
                        p.n,
                        p.mean_diff,
                        p.t_p
                    ),
                )
            }
        }
    };
    ArmGate {
        arm_id: blessed.arm_id.clone(),
        same_fingerprint: blessed.fingerprint == fingerprint,
        changed,
        missing,
        paired,
        regression,
        reason,
    }
}

/// A strong baseline that matches or beats a paper's claimed method: the finding this tool
/// exists for, with the protocol differences that qualify it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub baseline: String,
    pub method: String,
    /// `true`: the baseline's interval lies entirely beyond the claim's band; `false`: it
    /// reaches into the band (matches).
    pub beats: bool,
    pub sentence: String,
}

/// Baseline arms whose results match or beat a method arm's claim, in the claim's metric.
/// `budgets` and `params` give each arm's training steps (or epochs) and parameter count, to
/// flag comparisons that are not like for like.
pub fn baseline_findings(
    spec: &crate::spec::Spec,
    results: &[ArmResult],
    budgets: &[String],
) -> Vec<Finding> {
    use crate::spec::Role;
    let mut out = Vec::new();
    for (bi, b_arm) in spec.arms.iter().enumerate() {
        if b_arm.role != Role::Baseline {
            continue;
        }
        let b = &results[bi];
        let Some(bs) = &b.summary else { continue };
        let Some((lo, hi)) = bs.ci95 else { continue };
        for (mi, m_arm) in spec.arms.iter().enumerate() {
            let Some(claim) = (m_arm.role == Role::Method)
                .then_some(m_arm.claim)
                .flatten()
            else {
                continue;
            };
            // The baseline's values are in its own claim's metric, else accuracy.
            let b_metric = b.claim.map_or(crate::spec::Metric::Accuracy, |c| c.metric);
            if b_metric != claim.metric {
                continue;
            }
            let (band_lo, band_hi) = (
                claim.reported - claim.tolerance,
                claim.reported + claim.tolerance,
            );
            let (beats, matches) = if claim.metric.higher_is_better() {
                (lo > band_hi, hi >= band_lo)
            } else {
                (hi < band_lo, lo <= band_hi)
            };
            if !matches {
                continue;
            }
            let flags = unequal_protocol(spec, results, budgets, bi, mi);
            let sentence = format!(
                "Strong baseline `{}` ({} {:.4} ± {:.4}, 95% CI [{lo:.4}, {hi:.4}], n={}) {} the paper's claim for `{}` ({:.3} ± {:.3}){}.",
                b.arm_id,
                claim.metric.name(),
                bs.mean,
                bs.sd,
                bs.n,
                if beats { "beats" } else { "matches" },
                m_arm.id,
                claim.reported,
                claim.tolerance,
                if flags.is_empty() {
                    String::new()
                } else {
                    format!("; not like for like: {}", flags.join(", "))
                }
            );
            out.push(Finding {
                baseline: b.arm_id.clone(),
                method: m_arm.id.clone(),
                beats,
                sentence,
            });
        }
    }
    out
}

/// What makes arms `i` and `j` of `spec` not like for like: parameter counts, training
/// budgets, tuning budgets (each "i's vs j's").
fn unequal_protocol(
    spec: &crate::spec::Spec,
    results: &[ArmResult],
    budgets: &[String],
    i: usize,
    j: usize,
) -> Vec<String> {
    let mut flags = Vec::new();
    if let (Some(pi), Some(pj)) = (results[i].params, results[j].params) {
        if pi != pj {
            flags.push(format!("{pi} vs {pj} parameters"));
        }
    }
    if budgets[i] != budgets[j] {
        flags.push(format!("training budget {} vs {}", budgets[i], budgets[j]));
    }
    flags.extend(tuning_flag(&spec.arms[i], &spec.arms[j]));
    flags
}

/// "tuning budget 12 vs 1 configurations" when two arms were tuned with unequal effort: the
/// better-tuned arm's edge may be the search, not the method.
pub fn tuning_flag(a: &crate::spec::Arm, b: &crate::spec::Arm) -> Option<String> {
    (a.tuning_trials != b.tuning_trials).then(|| {
        format!(
            "tuning budget {} vs {} configurations",
            a.tuning_trials, b.tuning_trials
        )
    })
}

/// One `compare:` entry measured: `b − a` on the seeds both arms finished.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComparisonResult {
    pub a: String,
    pub b: String,
    pub metric: String,
    /// Pairs `(seed of a, seed of b, a, b)`, matched by seed, or by position when the spec
    /// derives seeds per arm (then `by_position` is set).
    pub pairs: Vec<(i64, i64, f64, f64)>,
    pub by_position: bool,
    /// Statistics of `b − a`.
    pub paired: Option<Paired>,
    /// Protocol differences that make the comparison not like for like.
    pub flags: Vec<String>,
    /// One sentence: which arm is better, by how much, and whether seed noise explains it.
    pub sentence: String,
}

/// Runs the spec's `compare:` entries over `results` (in `spec.arms` order).
pub fn comparisons(
    spec: &crate::spec::Spec,
    results: &[ArmResult],
    budgets: &[String],
) -> Vec<ComparisonResult> {
    let index = |id: &str| spec.arms.iter().position(|a| a.id == id);
    let mut out = Vec::new();
    for c in &spec.compare {
        let (Some(ia), Some(ib)) = (index(&c.a), index(&c.b)) else {
            continue;
        };
        let (ra, rb) = (&results[ia], &results[ib]);
        let metric = spec.arms[ia]
            .claim
            .or(spec.arms[ib].claim)
            .map_or(crate::spec::Metric::Accuracy, |m| m.metric);
        let by_position = spec.seeds.derive == crate::spec::SeedDerive::Arm;
        let pairs: Vec<(i64, i64, f64, f64)> = if by_position {
            ra.seeds
                .iter()
                .zip(&ra.values)
                .zip(rb.seeds.iter().zip(&rb.values))
                .map(|((sa, va), (sb, vb))| (*sa, *sb, *va, *vb))
                .collect()
        } else {
            ra.seeds
                .iter()
                .zip(&ra.values)
                .filter_map(|(sa, va)| {
                    rb.seeds
                        .iter()
                        .position(|sb| sb == sa)
                        .map(|j| (*sa, *sa, *va, rb.values[j]))
                })
                .collect()
        };
        let bs: Vec<f64> = pairs.iter().map(|p| p.3).collect();
        let as_: Vec<f64> = pairs.iter().map(|p| p.2).collect();
        let stats = paired(&bs, &as_);
        let mut flags = unequal_protocol(spec, results, budgets, ia, ib);
        if by_position {
            flags.push("seeds derived per arm: paired by position".into());
        }
        let sentence = comparison_sentence(&c.a, &c.b, metric, stats.as_ref(), &flags);
        out.push(ComparisonResult {
            a: c.a.clone(),
            b: c.b.clone(),
            metric: metric.name().to_string(),
            pairs,
            by_position,
            paired: stats,
            flags,
            sentence,
        });
    }
    out
}

fn comparison_sentence(
    a: &str,
    b: &str,
    metric: crate::spec::Metric,
    p: Option<&Paired>,
    flags: &[String],
) -> String {
    let Some(p) = p else {
        return format!("`{b}` vs `{a}`: no seed finished for both.");
    };
    let better = if (p.mean_diff > 0.0) == metric.higher_is_better() {
        b
    } else {
        a
    };
    let ci = p.ci95.map_or(String::new(), |(lo, hi)| {
        format!(", 95% CI [{lo:+.4}, {hi:+.4}]")
    });
    let decided = p.t_p < 0.05 && p.n >= 3;
    let mut s = if p.mean_diff == 0.0 && p.sd_diff == 0.0 {
        format!(
            "`{b}` and `{a}` give the same {} on all {} seeds.",
            metric.name(),
            p.n
        )
    } else if decided {
        format!(
            "`{better}` is better: {} of `{b}` − `{a}` = {:+.4}{ci} over {} paired seeds (paired t p = {:.3}, Wilcoxon p = {:.3}).",
            metric.name(),
            p.mean_diff,
            p.n,
            p.t_p,
            p.wilcoxon_p
        )
    } else {
        format!(
            "No difference beyond seed noise between `{b}` and `{a}`: {} difference {:+.4}{ci} over {} paired seeds (paired t p = {:.3}).",
            metric.name(),
            p.mean_diff,
            p.n,
            p.t_p
        )
    };
    if !flags.is_empty() {
        s.push_str(&format!(" Not like for like: {}.", flags.join(", ")));
    }
    s
}
