//! Statistics across seeds and claim verdicts. Pure: numbers in, verdicts out.
//!
//! Per arm: n, mean, sd, median, min, max and one interval method for every n: the Student t
//! interval of the mean over seeds, at 95% (at 1 − 0.05/K for an adaptive arm that may look K
//! times), cut to the metric's range and widened to its resolution (1/N_test for accuracy and
//! error). Between arms on the same seeds: the paired difference with its t-interval, paired
//! t-test, Wilcoxon signed-rank test and Cohen's d_z, with the paired t p Holm-adjusted over
//! the spec's comparisons.
//!
//! A claim `reported ± tolerance` defines a band. With fewer than 3 seeds → TOO FEW SEEDS;
//! otherwise the interval inside the band → REPRODUCED; entirely on the bad side → NOT
//! REPRODUCED; entirely on the good side → EXCEEDED; from inside across the good edge →
//! REPRODUCED OR BETTER; across the bad edge → INCONCLUSIVE. Quick runs get no verdict.
//!
//! - `stats`: [`Summary`] and [`summarize`] (the t interval), [`Paired`] and [`paired`]
//!   (paired t, Wilcoxon signed-rank, d_z), [`holm`].
//! - `verdict`: [`Verdict`] of one summary against a claim's band; [`ArmResult`] per arm from
//!   the run records ([`arm_results`], [`arm_result`]).
//! - `findings`: strong baselines that match or beat a method's claim ([`baseline_findings`]),
//!   and the protocol differences that make two arms not like for like ([`tuning_flag`]).
//! - `protocol`: the protocol flags each arm's verdict carries (test-selected checkpoints, a
//!   subset test split: [`protocol_flags`]).
//! - `compare`: the spec's `compare:` entries measured seed by seed ([`comparisons`]).
//! - `gate`: the regression gate's per-arm decision against a blessed baseline ([`gate`]): its
//!   own tolerance, non-inferiority against the blessed seeds' noise ([`shift`], [`Margin`]).
//! - `budget`: fair comparison under tuning budgets: the expected best metric against the
//!   configurations tried ([`expected_best`], [`tuning_curves`]) and the probability of
//!   improvement `P(b > a)` of a comparison with its bootstrap interval ([`prob_improvement_ci`]).
//! - [`curves`]: the curve diagnosis of a run (healthy, not decreasing, diverging,
//!   overfitting from step S, too noisy) and its summary over an arm's seeds.
//! - `spec`: one spec's whole audit, as a report renders it ([`audit_spec`], [`SpecAudit`]).

mod budget;
mod compare;
pub mod curves;
mod findings;
mod gate;
mod protocol;
mod spec;
mod stats;
mod sweep;
mod verdict;

pub use budget::{
    expected_best, expected_best_sd, prob_improvement, prob_improvement_ci, tuning_curves,
    ProbImprovement, TuningCurve, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED,
};
pub use compare::{comparisons, ComparisonResult};
pub use findings::{baseline_findings, level_text, tuning_flag, Finding};
pub use gate::{
    default_tolerance, fmt as fmt_gate_number, gate, noninferiority_p, shift, t_quantile, welch_df,
    ArmGate, BlessedArm, Margin, Outcome, Pairing, SeedOutcome, Shift, CONFIDENCE,
    DEFAULT_TOLERANCE, MIN_SEEDS, NOISE_SDS,
};
pub use protocol::{protocol_flags, FlagKind, ProtocolFlag};
pub use spec::{audit_spec, budgets, SpecAudit};
pub use stats::{
    holm, paired, summarize, summarize_at, t_quantile_95, Interval, Paired, Summary, LEVEL,
};
pub use sweep::{sweep_bests, SweepBest};
pub use verdict::{
    arm_result, arm_results, resolution, seeds_level, verdict, ArmResult, ArmRuns, Verdict,
    MIN_DECISIVE_SEEDS, VERDICT_RULES,
};
