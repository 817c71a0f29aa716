//! Paired comparisons: the spec's `compare:` entries measured seed by seed, with a sentence
//! saying which arm is better and whether seed noise explains it. Several comparisons in one
//! spec are several chances of a false "is better": their paired t p values are adjusted by
//! Holm's method over the spec's comparisons, and the sentence decides on the adjusted p.

use serde::{Deserialize, Serialize};

use super::budget::{prob_improvement_ci, ProbImprovement};
use super::findings::unequal_protocol;
use super::stats::{holm, paired, Paired};
use super::verdict::{ArmResult, MIN_DECISIVE_SEEDS};
use crate::spec::{Metric, SeedDerive, Seeds, Spec};

/// One `compare:` entry measured: `b − a` on the seeds both arms finished.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComparisonResult {
    pub a: String,
    pub b: String,
    pub metric: String,
    /// Pairs `(seed of a, seed of b, a, b)`: the same seed, or under `derive: arm` the seeds
    /// drawn at the same index (then `by_position` is set); a seed that diverged in either arm
    /// drops its pair only.
    pub pairs: Vec<(i64, i64, f64, f64)>,
    pub by_position: bool,
    /// Statistics of `b − a`.
    pub paired: Option<Paired>,
    /// The paired t p adjusted by Holm's step-down method over the spec's `holm_over`
    /// comparisons that have a test; what "is better" is decided on.
    #[serde(default)]
    pub holm_p: Option<f64>,
    #[serde(default)]
    pub holm_over: usize,
    /// `P(b > a)` over the paired seeds' values (`>`: better in the metric's direction), with
    /// its bootstrap interval ([`super::budget`]).
    #[serde(default)]
    pub prob_improvement: Option<ProbImprovement>,
    /// Protocol differences that make the comparison not like for like.
    pub flags: Vec<String>,
    /// One sentence: which arm is better, by how much, and whether seed noise explains it.
    pub sentence: String,
}

/// The index of `seed` among the seeds `seeds` derives for arm base `base` (`None` past any
/// count the spec allows).
fn seed_index(seeds: &Seeds, base: &str, seed: i64) -> Option<u32> {
    (0..seeds.limit()).find(|i| seeds.seed(base, *i) == seed)
}

/// `(seed of a, seed of b, a, b)` for every seed both arms finished: by seed value, or under
/// `derive: arm` (each arm its own seeds) by the index each seed was drawn at.
fn pair_up(spec: &Spec, ia: usize, ib: usize, ra: &ArmResult, rb: &ArmResult) -> Vec<Pairing> {
    let seeds = spec.seeds(ra.quick || rb.quick);
    let by_index = seeds.derive == SeedDerive::Arm;
    let (base_a, base_b) = (&spec.arms[ia].base, &spec.arms[ib].base);
    ra.seeds
        .iter()
        .zip(&ra.values)
        .filter_map(|(sa, va)| {
            let sb = if by_index {
                seeds.seed(base_b, seed_index(&seeds, base_a, *sa)?)
            } else {
                *sa
            };
            let j = rb.seeds.iter().position(|s| *s == sb)?;
            Some((*sa, sb, *va, rb.values[j]))
        })
        .collect()
}

type Pairing = (i64, i64, f64, f64);

/// Runs the spec's `compare:` entries over `results` (in `spec.arms` order), with the paired t
/// p values Holm-adjusted over all of them.
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
        // Validation refuses a pair whose arms are measured in different metrics.
        let metric = Metric::of_arm(&spec.arms[ia]);
        let by_position = spec.seeds(ra.quick || rb.quick).derive == SeedDerive::Arm
            && spec.arms[ia].base != spec.arms[ib].base;
        let pairs = pair_up(spec, ia, ib, ra, rb);
        let bs: Vec<f64> = pairs.iter().map(|p| p.3).collect();
        let as_: Vec<f64> = pairs.iter().map(|p| p.2).collect();
        let stats = paired(&bs, &as_);
        let prob = prob_improvement_ci(&as_, &bs, metric.higher_is_better());
        let mut flags = unequal_protocol(spec, results, budgets, ia, ib);
        if by_position {
            flags.push("seeds derived per arm: paired by seed index".into());
        }
        out.push(ComparisonResult {
            a: c.a.clone(),
            b: c.b.clone(),
            metric: metric.name().to_string(),
            pairs,
            by_position,
            paired: stats,
            prob_improvement: prob,
            holm_p: None,
            holm_over: 0,
            flags,
            sentence: String::new(),
        });
    }
    let tested: Vec<usize> = (0..out.len())
        .filter(|i| out[*i].paired.is_some())
        .collect();
    let raw: Vec<f64> = tested
        .iter()
        .filter_map(|i| out[*i].paired.map(|p| p.t_p))
        .collect();
    for (i, p) in tested.iter().zip(holm(&raw)) {
        out[*i].holm_p = Some(p);
        out[*i].holm_over = tested.len();
    }
    for c in &mut out {
        let metric = index(&c.a).map_or(Metric::Accuracy, |i| Metric::of_arm(&spec.arms[i]));
        c.sentence = comparison_sentence(c, metric);
    }
    out
}

fn comparison_sentence(c: &ComparisonResult, metric: Metric) -> String {
    let (a, b) = (&c.a, &c.b);
    let Some(p) = &c.paired else {
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
    let holm_p = c.holm_p.unwrap_or(p.t_p);
    let holm = if c.holm_over > 1 {
        format!(
            ", Holm-adjusted over {} comparisons p = {holm_p:.3}",
            c.holm_over
        )
    } else {
        String::new()
    };
    let decided = holm_p < 0.05 && p.n >= MIN_DECISIVE_SEEDS;
    let mut s = if p.mean_diff == 0.0 && p.sd_diff == 0.0 {
        format!(
            "`{b}` and `{a}` give the same {} on all {} seeds.",
            metric.name(),
            p.n
        )
    } else if p.n < MIN_DECISIVE_SEEDS {
        format!(
            "Too few paired seeds to decide between `{b}` and `{a}`: {} difference {:+.4}{ci} over {} paired seed(s); a decision needs {MIN_DECISIVE_SEEDS}.",
            metric.name(),
            p.mean_diff,
            p.n,
        )
    } else if decided {
        format!(
            "`{better}` is better: {} of `{b}` − `{a}` = {:+.4}{ci} over {} paired seeds (paired t p = {:.3}{holm}, Wilcoxon p = {:.3}).",
            metric.name(),
            p.mean_diff,
            p.n,
            p.t_p,
            p.wilcoxon_p
        )
    } else {
        format!(
            "No difference beyond seed noise between `{b}` and `{a}`: {} difference {:+.4}{ci} over {} paired seeds (paired t p = {:.3}{holm}).",
            metric.name(),
            p.mean_diff,
            p.n,
            p.t_p
        )
    };
    if !c.flags.is_empty() {
        s.push_str(&format!(" Not like for like: {}.", c.flags.join(", ")));
    }
    s
}
