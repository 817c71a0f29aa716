//! Baseline findings: strong baselines that match or beat a paper's claim, and the protocol
//! differences (parameters, training and tuning budgets) that make two arms not like for like.

use serde::{Deserialize, Serialize};

use super::verdict::{ArmResult, MIN_DECISIVE_SEEDS};
use crate::spec::{Arm, Metric, Role, Spec};

/// A strong baseline that matches or beats a paper's claimed method: the finding this tool
/// exists for, with the protocol differences that qualify it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub baseline: String,
    pub method: String,
    /// `true`: the baseline's interval lies entirely beyond the claim's band; `false`: it
    /// lies within the band or at and beyond it on the good side (matches).
    pub beats: bool,
    pub sentence: String,
}

/// Baseline arms whose results match or beat a method arm's claim, in the claim's metric: the
/// baseline's WHOLE interval must reach the band (no end of it on the bad side of the band's
/// bad edge), from at least [`MIN_DECISIVE_SEEDS`] seeds, and not from a quick run; an upper
/// end that merely touches the band says the baseline might match, not that it does.
/// One finding per baseline: the best claim it reaches, said against the paper's best claimed
/// model in that metric (the method arm whose reported value is best), so that the sentence
/// answers "does a tuned plain baseline match the paper's best model?" in its own words
/// rather than listing every weaker claim it also clears.
/// `budgets` and `params` give each arm's training steps (or epochs) and parameter count, to
/// flag comparisons that are not like for like.
pub fn baseline_findings(spec: &Spec, results: &[ArmResult], budgets: &[String]) -> Vec<Finding> {
    let mut out = Vec::new();
    for (bi, b_arm) in spec.arms.iter().enumerate() {
        if b_arm.role != Role::Baseline {
            continue;
        }
        let b = &results[bi];
        let Some(bs) = b.summary.filter(|s| s.n >= MIN_DECISIVE_SEEDS && !b.quick) else {
            continue;
        };
        let Some((lo, hi)) = bs.ci else { continue };
        // The baseline's values are in its own metric (its claim's, else by kind).
        let b_metric = Metric::of_arm(b_arm);
        let dataset = &b_arm.resolved.dataset;
        let best = best_claimed(spec, b_metric, dataset);
        let mut reached: Option<(usize, bool)> = None;
        for (mi, m_arm) in spec.arms.iter().enumerate() {
            let Some(claim) = (m_arm.role == Role::Method)
                .then_some(m_arm.claim)
                .flatten()
            else {
                continue;
            };
            // A claim on another dataset (an arm's own `dataset:`) is not this baseline's to meet.
            if b_metric != claim.metric || m_arm.resolved.dataset != *dataset {
                continue;
            }
            let band = claim.band();
            let (beats, matches) = if claim.metric.higher_is_better() {
                (lo > band.hi, lo >= band.lo)
            } else {
                (hi < band.lo, hi <= band.hi)
            };
            let better = |r: &(usize, bool)| {
                let prev = spec.arms[r.0].claim.map_or(f64::NAN, |c| c.reported);
                if claim.metric.higher_is_better() {
                    claim.reported > prev
                } else {
                    claim.reported < prev
                }
            };
            if matches && reached.as_ref().is_none_or(better) {
                reached = Some((mi, beats));
            }
        }
        if let Some((mi, beats)) = reached {
            let m_arm = &spec.arms[mi];
            let Some(claim) = m_arm.claim else { continue };
            let versus_best = match best {
                Some(best) if best == mi => ", the paper's best claimed model".to_string(),
                Some(best) => match spec.arms[best].claim {
                    Some(c) => format!(
                        ", but not the paper's best claimed model, `{}` ({:.3} ± {:.3})",
                        spec.arms[best].id, c.reported, c.tolerance
                    ),
                    None => String::new(),
                },
                None => String::new(),
            };
            let flags = unequal_protocol(spec, results, budgets, bi, mi);
            let sentence = format!(
                "Strong baseline `{}` ({} {:.4} ± {:.4}, {} CI [{lo:.4}, {hi:.4}], n={}) {} the paper's claim for `{}` ({:.3} ± {:.3}){versus_best}{}.",
                b.arm_id,
                claim.metric.name(),
                bs.mean,
                bs.sd,
                level_text(bs.level),
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

/// The method arm whose claim in `metric` on `dataset` is best (highest, or lowest for
/// error-like metrics): the paper's best claimed model there, the one a strong baseline on that
/// dataset is measured against.
fn best_claimed(spec: &Spec, metric: Metric, dataset: &str) -> Option<usize> {
    let sign = if metric.higher_is_better() { 1.0 } else { -1.0 };
    spec.arms
        .iter()
        .enumerate()
        .filter(|(_, a)| a.role == Role::Method && a.resolved.dataset == dataset)
        .filter_map(|(i, a)| {
            a.claim
                .filter(|c| c.metric == metric)
                .map(|c| (i, c.reported))
        })
        .max_by(|x, y| (sign * x.1).total_cmp(&(sign * y.1)))
        .map(|(i, _)| i)
}

/// What makes arms `i` and `j` of `spec` not like for like: parameter counts, training
/// budgets, tuning budgets (each "i's vs j's"), and protocol flags only one of them carries.
pub(super) fn unequal_protocol(
    spec: &Spec,
    results: &[ArmResult],
    budgets: &[String],
    i: usize,
    j: usize,
) -> Vec<String> {
    let mut flags = Vec::new();
    if let (Some(pi), Some(pj)) = (results[i].params, results[j].params) {
        if !params_matched(pi, pj) {
            flags.push(format!("{pi} vs {pj} parameters"));
        }
    }
    if budgets[i] != budgets[j] {
        flags.push(format!("training budget {} vs {}", budgets[i], budgets[j]));
    }
    flags.extend(tuning_flag(&spec.arms[i], &spec.arms[j]));
    for (a, b) in [(i, j), (j, i)] {
        for f in &results[a].protocol_flags {
            if !results[b].protocol_flags.contains(f) {
                flags.push(format!("`{}` {}", results[a].arm_id, f.text));
            }
        }
    }
    flags
}

/// Parameter counts within this fraction of the larger one are matched: arms sized to a common
/// budget (a GRU and an LSTM of about 200,000 parameters, 200,846 vs 200,458) can rarely hit it
/// exactly, and a 0.2% difference does not make the comparison unfair.
pub(crate) const PARAMS_MATCHED: f64 = 0.01;

/// Whether two parameter counts are within [`PARAMS_MATCHED`] of each other.
pub(crate) fn params_matched(a: i64, b: i64) -> bool {
    let (a, b) = (a as f64, b as f64);
    (a - b).abs() <= PARAMS_MATCHED * a.max(b)
}

/// "tuning budget 12 vs 1 configurations" when two arms were tuned with unequal effort: the
/// better-tuned arm's edge may be the search, not the method.
pub fn tuning_flag(a: &Arm, b: &Arm) -> Option<String> {
    (a.tuning_trials != b.tuning_trials).then(|| {
        format!(
            "tuning budget {} vs {} configurations",
            a.tuning_trials, b.tuning_trials
        )
    })
}

/// A confidence level as the reports write it: `95%`, `99.72%`.
pub fn level_text(level: f64) -> String {
    let pct = format!("{:.2}", level * 100.0);
    let pct = pct.trim_end_matches('0').trim_end_matches('.');
    format!("{pct}%")
}
