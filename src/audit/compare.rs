//! Paired comparisons: the spec's `compare:` entries measured seed by seed, with a sentence
//! saying which arm is better and whether seed noise explains it.

use serde::{Deserialize, Serialize};

use super::findings::unequal_protocol;
use super::stats::{paired, Paired};
use super::verdict::ArmResult;
use crate::spec::{Metric, SeedDerive, Spec};

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
    spec: &Spec,
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
        let metric = Metric::of(spec.arms[ia].claim.or(spec.arms[ib].claim));
        let by_position = spec.seeds.derive == SeedDerive::Arm;
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
    metric: Metric,
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
