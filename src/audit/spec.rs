//! One spec's audit, assembled from the store: per-arm results and verdicts, the baseline
//! findings and the paired comparisons, each under the arms' own training budgets. Pure: the
//! records come in, the audit a report renders comes out.

use serde::Serialize;

use super::{
    arm_results, baseline_findings, comparisons, sweep_bests, tuning_curves, ArmResult,
    ComparisonResult, Finding, SweepBest, TuningCurve,
};
use crate::record::Record;
use crate::spec::Spec;

#[derive(Debug, Clone, Serialize)]
pub struct SpecAudit {
    pub results: Vec<ArmResult>,
    pub findings: Vec<Finding>,
    pub comparisons: Vec<ComparisonResult>,
    /// Each sweep's best point and the points it does not separate from.
    pub sweeps: Vec<SweepBest>,
    /// Each swept arm's expected best metric against the configurations tried.
    pub tuning: Vec<TuningCurve>,
    /// Swept arms compared at equal tuning budgets.
    pub tuning_sentences: Vec<String>,
    /// Trained with the spec's `quick:` overrides: a smoke test, no verdicts on the claims.
    pub quick: bool,
}

/// Each arm's training budget as the findings name it: `6000 steps` or `150 epochs`.
pub fn budgets(spec: &Spec, quick: bool) -> Vec<String> {
    spec.arms
        .iter()
        .map(|a| {
            let t = &a.resolved(quick).train;
            match (t.steps, t.epochs) {
                (Some(s), _) => format!("{s} steps"),
                (None, Some(e)) => format!("{e} epochs"),
                (None, None) => "?".into(),
            }
        })
        .collect()
}

/// The audit of `spec` from `records` (one slot per planned run, `None` where not done).
pub fn audit_spec(spec: &Spec, records: &[(String, Option<&Record>)], quick: bool) -> SpecAudit {
    let results = arm_results(spec, records, quick);
    let budgets = budgets(spec, quick);
    let findings = baseline_findings(spec, &results, &budgets);
    let (tuning, tuning_sentences) = tuning_curves(spec, &results);
    SpecAudit {
        tuning,
        tuning_sentences,
        comparisons: comparisons(spec, &results, &budgets),
        sweeps: sweep_bests(spec, &results),
        quick,
        results,
        findings,
    }
}
