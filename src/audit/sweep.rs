//! The best point of each sweep, and the points it does not separate from: what a user reads
//! off a sweep plot, said in words. Picked on the test split, so it is flagged as optimistic:
//! a comparison with the best point is one with a configuration chosen on the numbers it is
//! judged by (the bundled suites compare a point fixed before running instead).

use serde::Serialize;

use super::ArmResult;
use crate::spec::Spec;

#[derive(Debug, Clone, Serialize)]
pub struct SweepBest {
    /// The swept arm as written in the spec.
    pub arm: String,
    /// The best point's arm id (`arm@key=value`) and its point (`key=value, ...`).
    pub best: String,
    pub point: String,
    pub metric: String,
    pub mean: f64,
    pub ci: Option<(f64, f64)>,
    pub n: usize,
    /// Other points whose interval overlaps the best one's: not separated from it.
    pub overlapping: Vec<String>,
    pub sentence: String,
}

/// For each arm with two or more sweep points that have results: its best point by its
/// metric's direction, and the points whose intervals overlap the best one's.
pub fn sweep_bests(spec: &Spec, results: &[ArmResult]) -> Vec<SweepBest> {
    let mut bases: Vec<&str> = Vec::new();
    for arm in &spec.arms {
        if !arm.point.is_empty() && !bases.contains(&arm.base.as_str()) {
            bases.push(&arm.base);
        }
    }
    let mut out = Vec::new();
    for base in bases {
        let points: Vec<(String, &ArmResult)> = spec
            .arms
            .iter()
            .zip(results)
            .filter(|(a, r)| a.base == base && r.summary.is_some() && !r.values.is_empty())
            .map(|(a, r)| {
                let point: Vec<String> = a
                    .point
                    .iter()
                    .map(|p| format!("{}={}", p.key.rsplit('.').next().unwrap_or(&p.key), p.value))
                    .collect();
                (point.join(", "), r)
            })
            .collect();
        // Points measured in different metrics (a sweep over the loss or the evaluation)
        // have no common scale: no best point.
        if points.len() < 2 || points.iter().any(|(_, r)| r.metric != points[0].1.metric) {
            continue;
        }
        let higher = points[0].1.metric.higher_is_better();
        let mean = |r: &ArmResult| r.summary.as_ref().map_or(f64::NAN, |s| s.mean);
        let Some((point, best)) = points.iter().max_by(|a, b| {
            let (x, y) = (mean(a.1), mean(b.1));
            let ord = x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal);
            if higher {
                ord
            } else {
                ord.reverse()
            }
        }) else {
            continue;
        };
        let s = best.summary.as_ref().expect("filtered on summary");
        let overlaps = |r: &ArmResult| match (s.ci, r.summary.as_ref().and_then(|o| o.ci)) {
            (Some((lo, hi)), Some((olo, ohi))) => olo <= hi && lo <= ohi,
            _ => true,
        };
        let overlapping: Vec<String> = points
            .iter()
            .filter(|(p, r)| p != point && overlaps(r))
            .map(|(p, _)| p.clone())
            .collect();
        let metric = best.metric.name().to_string();
        let ci =
            s.ci.map_or(String::new(), |(lo, hi)| format!(", CI [{lo:.4}, {hi:.4}]"));
        let separation = if overlapping.is_empty() {
            "its interval overlaps no other point's".to_string()
        } else {
            format!(
                "not separated from {} (overlapping intervals)",
                overlapping.join("; ")
            )
        };
        let sentence = format!(
            "Best point of the `{base}` sweep by {metric}: {point}, {:.4} ± {:.4}{ci}, n={}; \
             {separation}. Chosen on the test split: optimistic as a configuration to compare.",
            s.mean,
            s.sd,
            best.values.len(),
        );
        out.push(SweepBest {
            arm: base.to_string(),
            best: best.arm_id.clone(),
            point: point.clone(),
            metric,
            mean: s.mean,
            ci: s.ci,
            n: best.values.len(),
            overlapping,
            sentence,
        });
    }
    out
}
