//! Verdicts: one arm's summary against its claim's band, and the per-arm results the reports
//! and the adaptive-seeds loop read. A decisive verdict needs at least three seeds and an
//! interval no narrower than the metric's resolution; adaptive arms use a Bonferroni-corrected
//! level for their repeated looks; quick (smoke-test) results get no verdict.

use serde::{Deserialize, Serialize};

use super::curves::{self, CurveSummary};
use super::protocol::{protocol_flags, ProtocolFlag};
use super::stats::{summarize_at, Summary, LEVEL};
use crate::record::Record;
use crate::spec::{Arm, Claim, Metric, Seeds, Spec};
use crate::train::Status;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    /// The interval lies inside the band.
    Reproduced,
    /// The interval lies entirely beyond the band's bad edge.
    NotReproduced,
    /// The interval straddles the band's bad edge (or both edges): the result may fall short.
    Inconclusive,
    /// The interval lies entirely beyond the band's good edge.
    Exceeded,
    /// The interval starts inside the band and straddles its good edge: the claim holds, and
    /// the result may be better than claimed.
    ReproducedOrBetter,
    /// Fewer than [`MIN_DECISIVE_SEEDS`] seeds with a value: however narrow the interval,
    /// two seeds are not proof.
    TooFewSeeds,
}

/// The fewest seeds with a value that a decisive verdict needs.
pub const MIN_DECISIVE_SEEDS: usize = 3;

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Reproduced => "REPRODUCED",
            Verdict::NotReproduced => "NOT REPRODUCED",
            Verdict::Inconclusive => "INCONCLUSIVE",
            Verdict::Exceeded => "EXCEEDED",
            Verdict::ReproducedOrBetter => "REPRODUCED OR BETTER",
            Verdict::TooFewSeeds => "TOO FEW SEEDS",
        }
    }

    /// One CSS class per verdict for the HTML page.
    pub fn css_class(self) -> &'static str {
        match self {
            Verdict::Reproduced | Verdict::ReproducedOrBetter => "reproduced",
            Verdict::NotReproduced => "not-reproduced",
            Verdict::Inconclusive | Verdict::TooFewSeeds => "inconclusive",
            Verdict::Exceeded => "exceeded",
        }
    }

    /// Whether more seeds could still change what the verdict says about the claim: adaptive
    /// seeding stops only at a decisive verdict.
    pub fn is_decisive(self) -> bool {
        matches!(
            self,
            Verdict::Reproduced | Verdict::NotReproduced | Verdict::Exceeded
        )
    }
}

/// How every report explains the verdicts (one sentence per rule).
pub const VERDICT_RULES: &str = "inside the band → REPRODUCED; entirely beyond it on the bad \
side → NOT REPRODUCED; on the good side → EXCEEDED; from inside the band across its good edge → \
REPRODUCED OR BETTER (the claim holds, the result may be better); across the bad edge → \
INCONCLUSIVE (the result may fall short: more seeds would decide); fewer than 3 seeds with a \
value → TOO FEW SEEDS, whatever the interval";

/// `summary`'s interval against `claim`'s band, in the metric's direction.
pub fn verdict(summary: &Summary, claim: &Claim) -> Verdict {
    let Some((lo, hi)) = summary.ci.filter(|_| summary.n >= MIN_DECISIVE_SEEDS) else {
        return Verdict::TooFewSeeds;
    };
    let band = claim.band();
    // Distances in the good direction: `worst`/`best` are the interval's ends, `bad`/`good`
    // the band's edges, so one rule serves both directions.
    let (worst, best, bad, good) = if claim.metric.higher_is_better() {
        (lo, hi, band.lo, band.hi)
    } else {
        (-hi, -lo, -band.hi, -band.lo)
    };
    if worst > good {
        Verdict::Exceeded
    } else if best < bad {
        Verdict::NotReproduced
    } else if worst < bad {
        Verdict::Inconclusive
    } else if best <= good {
        Verdict::Reproduced
    } else {
        Verdict::ReproducedOrBetter
    }
}

/// The confidence level of an arm's interval under `seeds`. Adaptive seeding looks at the
/// verdict after every round and stops at the first decisive one, so a 95% interval at each
/// look would be wrong more than 5% of the time overall. Bonferroni over the most looks the
/// spec allows (one per seed from `min` to `max`, whatever the round size) keeps the overall
/// error at most 5%: each look uses a 1 − 0.05/K interval. Fixed seeds: one look, 95%.
pub fn seeds_level(seeds: &Seeds) -> (f64, u32) {
    let looks = seeds
        .max
        .map_or(1, |max| max.saturating_sub(seeds.count) + 1);
    (1.0 - (1.0 - LEVEL) / f64::from(looks), looks)
}

/// The smallest step `metric` can take on a test split of `test_size` examples: one example
/// (1/N) for accuracy and error; `None` where the metric has no such grid or N is unknown.
pub fn resolution(metric: Metric, test_size: Option<i64>) -> Option<f64> {
    match metric {
        // P@1 is a mean of 0/1 over the queries (at most N_test of them).
        Metric::Accuracy | Metric::Error | Metric::PrecisionAt1 => {
            test_size.filter(|n| *n > 0).map(|n| 1.0 / n as f64)
        }
        Metric::MacroF1
        | Metric::Nll
        | Metric::Perplexity
        | Metric::RPrecision
        | Metric::MapAtR => None,
    }
}

/// The range a metric's values (and so its intervals) live in.
fn range(metric: Metric) -> (f64, f64) {
    if metric.is_fraction() {
        (0.0, 1.0)
    } else if metric == Metric::Perplexity {
        (1.0, f64::INFINITY)
    } else {
        (0.0, f64::INFINITY)
    }
}

/// One arm's results under its claim, from the records of its planned seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmResult {
    pub arm_id: String,
    /// The dataset the arm trains on (its own `dataset:` or the spec's; older reports: empty).
    #[serde(default)]
    pub dataset: String,
    /// Why the arm has no runs here (`requires:` a device this session does not use):
    /// "needs cuda: <why>", shown instead of numbers and verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub needs: Option<String>,
    pub params: Option<i64>,
    pub planned: usize,
    /// Runs that finished but diverged (no metrics).
    #[serde(alias = "failed")]
    pub diverged: usize,
    /// Runs whose test embeddings collapsed: no value in the statistics.
    #[serde(default)]
    pub collapsed: usize,
    /// The metric `values` are in ([`Metric::of_arm`]).
    #[serde(default = "accuracy")]
    pub metric: Metric,
    /// The claim's metric per finished seed, in seed order.
    pub values: Vec<f64>,
    /// The seed of each value.
    #[serde(default)]
    pub seeds: Vec<i64>,
    /// Examples in the test split the values were measured on (records before this field:
    /// unknown).
    #[serde(default)]
    pub test_size: Option<i64>,
    pub summary: Option<Summary>,
    pub claim: Option<Claim>,
    /// `None` without a claim, and for `--quick` results.
    pub verdict: Option<Verdict>,
    /// What qualifies the verdict ([`super::protocol_flags`]), shown beside it everywhere.
    #[serde(default)]
    pub protocol_flags: Vec<ProtocolFlag>,
    /// Looks adaptive seeding may take at this arm (1 for fixed seeds); the interval's level
    /// is 1 − 0.05/looks.
    #[serde(default = "one")]
    pub looks: u32,
    /// Trained with the spec's `quick:` overrides: a smoke test, never a verdict on the claim.
    #[serde(default)]
    pub quick: bool,
    /// The seeds' curve diagnoses ([`super::curves`]), shown beside the arm everywhere;
    /// `None` before any run is done.
    #[serde(default)]
    pub curves: Option<CurveSummary>,
}

fn one() -> u32 {
    1
}

fn accuracy() -> Metric {
    Metric::Accuracy
}

/// What one arm's planned runs gave, before statistics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ArmRuns {
    /// Planned runs (done or not).
    pub planned: usize,
    /// Finished runs without metrics.
    pub diverged: usize,
    /// Finished runs whose test embeddings collapsed.
    pub collapsed: usize,
    /// `(seed, value)` of each finished run with metrics, in seed order.
    pub values: Vec<(i64, f64)>,
    pub params: Option<i64>,
    pub test_size: Option<i64>,
    pub quick: bool,
    /// Planned runs that are not done (held by another worker, queued, interrupted).
    pub missing: usize,
    pub protocol_flags: Vec<ProtocolFlag>,
    /// The finished runs' curve diagnoses ([`super::curves::summarize`]).
    pub curves: Option<CurveSummary>,
}

/// The statistics and verdict of `arm` of `spec` from its runs: the interval at the level its
/// seeding calls for ([`seeds_level`]), cut to the metric's range and widened to its
/// [`resolution`]; no verdict for quick runs.
pub fn arm_result(spec: &Spec, arm: &Arm, runs: ArmRuns) -> ArmResult {
    let metric = Metric::of_arm(arm);
    let (level, looks) = seeds_level(&spec.seeds(runs.quick));
    let (lo, hi) = range(metric);
    let (seeds, values): (Vec<i64>, Vec<f64>) = runs.values.into_iter().unzip();
    let summary = summarize_at(&values, level).map(|s| {
        let s = s.within(lo, hi);
        match resolution(metric, runs.test_size) {
            Some(r) => s.at_resolution(r, lo, hi),
            None => s,
        }
    });
    ArmResult {
        arm_id: arm.id.clone(),
        dataset: arm.resolved.dataset.clone(),
        // Planned with no runs because the arm needs a device this session does not use.
        needs: arm
            .requires
            .as_ref()
            .filter(|_| runs.planned == 0)
            .map(|r| r.text()),
        params: runs.params,
        planned: runs.planned,
        diverged: runs.diverged,
        collapsed: runs.collapsed,
        metric,
        // No verdict while planned runs are missing: the seeds that happen to be done are not
        // the planned sample.
        verdict: match (&summary, &arm.claim) {
            // Collapsed seeds are dropped for their (bad) embeddings: the rest is not the
            // planned sample either.
            (Some(s), Some(c)) if !runs.quick && runs.missing == 0 && runs.collapsed == 0 => {
                Some(verdict(s, c))
            }
            _ => None,
        },
        protocol_flags: runs.protocol_flags,
        values,
        seeds,
        test_size: runs.test_size,
        summary,
        claim: arm.claim,
        looks,
        quick: runs.quick,
        curves: runs.curves,
    }
}

/// Groups `records` (one slot per planned run of `spec`, `None` where not done) by arm.
/// `quick`: the runs were planned with the spec's `quick:` overrides (a record that says so
/// marks its arm quick too).
pub fn arm_results(
    spec: &Spec,
    records: &[(String, Option<&Record>)],
    quick: bool,
) -> Vec<ArmResult> {
    spec.arms
        .iter()
        .map(|arm| {
            let metric = Metric::of_arm(arm);
            let mine: Vec<Option<&Record>> = records
                .iter()
                .filter(|(id, _)| *id == arm.id)
                .map(|(_, r)| *r)
                .collect();
            let done: Vec<&Record> = mine.iter().flatten().copied().collect();
            let runs = ArmRuns {
                planned: mine.len(),
                diverged: done
                    .iter()
                    .filter(|r| matches!(r.status, Status::Diverged { .. }))
                    .count(),
                collapsed: done
                    .iter()
                    .filter(|r| matches!(r.status, Status::Collapsed { .. }))
                    .count(),
                values: done
                    .iter()
                    .filter_map(|r| r.value(metric).map(|v| (r.seed, v)))
                    .collect(),
                params: done.first().map(|r| r.params),
                test_size: done.iter().find_map(|r| r.test_size),
                quick: quick || done.iter().any(|r| r.quick),
                missing: mine.len() - done.len(),
                // `quick:` changes only `train:` and seeds, never the protocol or `data:`.
                protocol_flags: protocol_flags(&arm.resolved, &done),
                curves: curves::summarize(&done.iter().map(|r| r.diagnosis()).collect::<Vec<_>>()),
            };
            arm_result(spec, arm, runs)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::summarize;

    fn claim(metric: Metric, reported: f64, tolerance: f64) -> Claim {
        Claim {
            metric,
            reported,
            tolerance,
        }
    }

    #[test]
    fn verdicts_for_accuracy() {
        let c = claim(Metric::Accuracy, 0.94, 0.03);
        let at = |values: &[f64]| verdict(&summarize(values).unwrap(), &c);
        assert_eq!(at(&[0.93, 0.94, 0.935, 0.945]), Verdict::Reproduced);
        assert_eq!(at(&[0.80, 0.81, 0.805]), Verdict::NotReproduced);
        assert_eq!(at(&[0.99, 0.995, 0.992]), Verdict::Exceeded);
        assert_eq!(at(&[0.90, 0.92, 0.91]), Verdict::Inconclusive, "bad edge");
        assert_eq!(
            at(&[0.962, 0.968, 0.975]),
            Verdict::ReproducedOrBetter,
            "good edge: the interval crosses 0.97 from inside the band"
        );
        assert_eq!(at(&[0.80, 0.99, 0.90]), Verdict::Inconclusive, "both edges");
        assert_eq!(at(&[0.94]), Verdict::TooFewSeeds, "n = 1 decides nothing");
        assert_eq!(
            at(&[0.95, 0.95]),
            Verdict::TooFewSeeds,
            "identical values at n = 2 are not proof"
        );
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
        assert_eq!(at(&[0.075, 0.082, 0.088]), Verdict::ReproducedOrBetter);
        assert_eq!(at(&[0.11, 0.118, 0.125]), Verdict::Inconclusive);
    }

    #[test]
    fn adaptive_levels_are_bonferroni_over_the_looks() {
        let fixed = Seeds {
            count: 5,
            base: 0,
            max: None,
            derive: Default::default(),
            stack: None,
        };
        assert_eq!(seeds_level(&fixed), (0.95, 1));
        let adaptive = Seeds {
            count: 3,
            max: Some(20),
            ..fixed
        };
        let (level, looks) = seeds_level(&adaptive);
        assert_eq!(looks, 18);
        assert!((level - (1.0 - 0.05 / 18.0)).abs() < 1e-15);
    }

    #[test]
    fn resolution_is_one_test_example_for_accuracy_and_error() {
        assert_eq!(resolution(Metric::Accuracy, Some(1000)), Some(0.001));
        assert_eq!(resolution(Metric::Error, Some(50)), Some(0.02));
        assert_eq!(resolution(Metric::Nll, Some(1000)), None);
        assert_eq!(resolution(Metric::Accuracy, None), None);
    }
}
