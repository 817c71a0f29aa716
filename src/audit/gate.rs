//! The regression gate: an arm's values now against its blessed values, seed by seed.

use serde::{Deserialize, Serialize};

use super::stats::{paired, Paired};
use crate::spec::Metric;

/// One arm's blessed results: the reference a later `repro check` compares against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlessedArm {
    pub arm_id: String,
    pub metric: Metric,
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
