//! Statistics across seeds and claim verdicts. Pure: numbers in, verdicts out.
//!
//! Per arm: n, mean, sd, median, min, max and a 95% interval of the mean (t-based; percentile
//! bootstrap from n = 10). Between arms on the same seeds: the paired difference with its
//! t-interval, paired t-test, Wilcoxon signed-rank test and Cohen's d_z.
//!
//! A claim `reported ± tolerance` defines a band. With the 95% t-interval of the mean over seeds:
//! inside the band → REPRODUCED; entirely on the bad side → NOT REPRODUCED; entirely on the
//! good side → EXCEEDED; straddling an edge (or undefined, n < 2) → INCONCLUSIVE.
//!
//! - `stats`: [`Summary`] and [`summarize`] (t or bootstrap interval), [`Paired`] and
//!   [`paired`] (paired t, Wilcoxon signed-rank, d_z).
//! - `verdict`: [`Verdict`] of one summary against a claim's band; [`ArmResult`] per arm from
//!   the run records ([`arm_results`]).
//! - `findings`: strong baselines that match or beat a method's claim ([`baseline_findings`]),
//!   and the protocol differences that make two arms not like for like ([`tuning_flag`]).
//! - `protocol`: the protocol flags each arm's verdict carries (test-selected checkpoints, a
//!   subset test split: [`protocol_flags`]).
//! - `compare`: the spec's `compare:` entries measured seed by seed ([`comparisons`]).
//! - `gate`: the regression gate's per-arm decision against a blessed baseline ([`gate`]): its
//!   own tolerance, non-inferiority against the blessed seeds' noise ([`shift`], [`Margin`]).
//! - `spec`: one spec's whole audit, as a report renders it ([`audit_spec`], [`SpecAudit`]).

mod compare;
mod findings;
mod gate;
mod protocol;
mod spec;
mod stats;
mod verdict;

pub use compare::{comparisons, ComparisonResult};
pub use findings::{baseline_findings, tuning_flag, Finding};
pub use gate::{
    default_tolerance, fmt as fmt_gate_number, gate, shift, t_quantile, welch_df, ArmGate,
    BlessedArm, Margin, Outcome, Pairing, SeedOutcome, Shift, CONFIDENCE, DEFAULT_TOLERANCE,
    MIN_SEEDS, NOISE_SDS,
};
pub use protocol::{protocol_flags, FlagKind, ProtocolFlag};
pub use spec::{audit_spec, budgets, SpecAudit};
pub use stats::{
    bootstrap_ci95, paired, summarize, t_quantile_95, Interval, Paired, Summary, BOOTSTRAP_FROM,
};
pub use verdict::{arm_results, verdict, ArmResult, Verdict};
