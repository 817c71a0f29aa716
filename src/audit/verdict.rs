//! Verdicts: one arm's summary against its claim's band, and the per-arm results the reports
//! and the adaptive-seeds loop read.

use serde::{Deserialize, Serialize};

use super::protocol::{protocol_flags, ProtocolFlag};
use super::stats::{summarize, Summary};
use crate::spec::{Claim, Metric, Spec};

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
    let band = claim.band();
    let (above, below) = (lo > band.hi, hi < band.lo);
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
    } else if band.lo <= lo && hi <= band.hi {
        Verdict::Reproduced
    } else {
        Verdict::Inconclusive
    }
}

/// One arm's results under its claim, from the records of its planned seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmResult {
    pub arm_id: String,
    pub params: Option<i64>,
    pub planned: usize,
    /// Runs that finished but diverged (no metrics).
    #[serde(alias = "failed")]
    pub diverged: usize,
    /// The claim's metric per finished seed, in seed order.
    pub values: Vec<f64>,
    /// The seed of each value.
    #[serde(default)]
    pub seeds: Vec<i64>,
    pub summary: Option<Summary>,
    pub claim: Option<Claim>,
    pub verdict: Option<Verdict>,
    /// What qualifies the verdict ([`super::protocol_flags`]), shown beside it everywhere.
    #[serde(default)]
    pub protocol_flags: Vec<ProtocolFlag>,
}

/// Groups `records` (one slot per planned run of `spec`, `None` where not done) by arm.
pub fn arm_results(
    spec: &Spec,
    records: &[(String, Option<&crate::record::Record>)],
) -> Vec<ArmResult> {
    spec.arms
        .iter()
        .map(|arm| {
            let metric = Metric::of(arm.claim);
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
                diverged: done.iter().filter(|r| r.metrics.is_none()).count(),
                // No verdict while planned runs are missing (held by another worker, queued,
                // interrupted): the seeds that happen to be done are not the planned sample.
                verdict: match (&summary, &arm.claim) {
                    (Some(s), Some(c)) if done.len() == mine.len() => Some(verdict(s, c)),
                    _ => None,
                },
                // `quick:` changes only `train:` and seeds, never the protocol or `data:`.
                protocol_flags: protocol_flags(&arm.resolved, &done),
                values,
                seeds,
                summary,
                claim: arm.claim,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
