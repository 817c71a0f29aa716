//! Statistics across seeds and claim verdicts. Pure: numbers in, verdicts out.
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
    /// 95% t-interval of the mean; `None` for n < 2.
    pub ci95: Option<(f64, f64)>,
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
    let mean = values.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return Some(Summary {
            n,
            mean,
            sd: 0.0,
            ci95: None,
        });
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let sd = var.sqrt();
    let half = t_quantile_95(n - 1) * sd / (n as f64).sqrt();
    Some(Summary {
        n,
        mean,
        sd,
        ci95: Some((mean - half, mean + half)),
    })
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
    pub summary: Option<Summary>,
    pub claim: Option<Claim>,
    pub verdict: Option<Verdict>,
}

/// Groups `records` (one slot per planned run of `spec`, `None` where not done) by arm.
pub fn arm_results(
    spec: &crate::spec::Spec,
    records: &[(String, Option<&crate::runner::Record>)],
) -> Vec<ArmResult> {
    use crate::spec::Metric;
    spec.arms
        .iter()
        .map(|arm| {
            let metric = arm.claim.map_or(Metric::Accuracy, |c| c.metric);
            let mine: Vec<Option<&crate::runner::Record>> = records
                .iter()
                .filter(|(id, _)| *id == arm.id)
                .map(|(_, r)| *r)
                .collect();
            let done: Vec<&crate::runner::Record> = mine.iter().flatten().copied().collect();
            let values: Vec<f64> = done
                .iter()
                .filter_map(|r| r.metrics)
                .map(|m| m.get(metric))
                .collect();
            let summary = summarize(&values);
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
                summary,
                claim: arm.claim,
            }
        })
        .collect()
}
