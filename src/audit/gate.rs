//! The regression gate: an arm's values now against its blessed values, decided by
//! non-inferiority against the blessed seeds' own noise (not by a paper claim's tolerance).
//!
//! The rule, for one arm with blessed values `b` (seeds `S`) and values now `c`:
//!
//! - change `Δ = mean(c) − mean(b)`, in the metric's units. Paired by seed when the values
//!   now share seeds with the blessed ones (then every blessed seed must have a value now):
//!   `se = sd(c_i − b_i)/√n`, `df = n − 1`. Otherwise (the spec's seed list no longer meets the
//!   blessed one) Welch: `se = √(s_c²/n_c + s_b²/n_b)`, Welch–Satterthwaite `df`.
//! - the worst case at 95%, one-sided: `Δ − t(0.95, df)·se` when higher is better,
//!   `Δ + t(0.95, df)·se` when lower is better.
//! - `margin = max(gate tolerance, 4 × sd(b), resolution)`: what a change may cost, never
//!   below what the blessed seeds can resolve, never 0 (the tolerance is > 0).
//! - REGRESSION when the worst case is worse than the blessed mean by more than `margin`;
//!   IMPROVED (passes, suggests blessing again) when even the worst case is better by more
//!   than `margin`; otherwise ok.
//!
//! Fails closed (UNDECIDED) when it cannot decide: fewer than 3 seeds on either side, or a
//! blessed seed without a value now. A diverged seed is a regression. Values identical bit for
//! bit on every blessed seed pass whatever the count: nothing changed.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

use super::stats::summarize;
use crate::spec::Metric;

/// The margin is at least this many blessed seed standard deviations. A change that only
/// redraws the seed noise then fails, when this term sets the margin, about 3% of the time
/// with 5 seeds (23% with 3, under 0.1% with 10), and a shift of 6 sd fails 99% of the time
/// with 5 seeds (`scripts/gate_error_rates.py`).
pub const NOISE_SDS: f64 = 4.0;
/// The gate's tolerance for fraction metrics (accuracy, error, macro-F1) when the spec sets
/// none: half a percentage point, below the 0.01–0.03 papers usually allow.
pub const DEFAULT_TOLERANCE: f64 = 0.005;
/// For unbounded metrics (NLL, perplexity) when the spec sets none: this fraction of the
/// blessed mean.
pub const DEFAULT_RELATIVE_TOLERANCE: f64 = 0.005;
/// The fewest seeds on either side for a decision on changed values.
pub const MIN_SEEDS: usize = 3;
/// One-sided confidence of the bound the gate decides on.
pub const CONFIDENCE: f64 = 0.95;

/// One arm's blessed results: the reference a later `repro check` compares against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlessedArm {
    pub arm_id: String,
    pub metric: Metric,
    /// The gate's own tolerance (`gate.tolerance`, else [`default_tolerance`]): what a change
    /// may cost before the gate fails. Never a paper claim's tolerance.
    pub gate_tolerance: f64,
    /// The smallest step of the metric (1/N_test for fractions of the test set, 0 otherwise).
    pub resolution: f64,
    /// (seed, value, run key), in seed order.
    pub seeds: Vec<(i64, f64, String)>,
    pub mean: f64,
    pub sd: f64,
    pub n: usize,
    /// What the numbers depend on besides the code: resolved arm, data, libtorch, device.
    pub fingerprint: String,
}

/// The gate tolerance for an arm whose spec sets none.
pub fn default_tolerance(metric: Metric, blessed_mean: f64) -> f64 {
    if metric.is_fraction() {
        DEFAULT_TOLERANCE
    } else {
        (DEFAULT_RELATIVE_TOLERANCE * blessed_mean.abs()).max(f64::MIN_POSITIVE)
    }
}

/// What one planned seed gives now.
#[derive(Debug, Clone, PartialEq)]
pub enum SeedOutcome {
    Value(f64),
    /// Training diverged (or the value is not finite): why.
    Diverged(String),
    /// Planned, but not done or its run failed.
    NoResult,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pairing {
    /// Seed by seed on the blessed seeds.
    Paired,
    /// Welch's unequal-variance interval: the seeds now are not the blessed ones.
    Welch,
}

/// The change of the mean and its one-sided 95% worst case.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Shift {
    pub pairing: Pairing,
    pub n_blessed: usize,
    pub n_now: usize,
    /// mean(now) − mean(blessed), in the metric's units.
    pub change: f64,
    pub se: f64,
    pub df: f64,
    /// t quantile at [`CONFIDENCE`] with `df`.
    pub t: f64,
    /// The worst case of `change` at 95%: its lower bound when higher is better, else its
    /// upper bound.
    pub worst: f64,
    /// The best case, on the other side.
    pub best: f64,
}

/// `margin = max(gate tolerance, NOISE_SDS × blessed sd, resolution)`, with its parts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Margin {
    pub value: f64,
    pub tolerance: f64,
    pub blessed_sd: f64,
    pub resolution: f64,
}

impl Margin {
    pub fn new(tolerance: f64, blessed_sd: f64, resolution: f64) -> Margin {
        Margin {
            value: tolerance.max(NOISE_SDS * blessed_sd).max(resolution),
            tolerance,
            blessed_sd,
            resolution,
        }
    }

    /// `max(gate tolerance 0.005, 4 × blessed sd 0.0011, resolution 0.001)`.
    pub fn rule(&self) -> String {
        format!(
            "max(gate tolerance {}, {NOISE_SDS} × blessed sd {}, resolution {})",
            fmt(self.tolerance),
            fmt(self.blessed_sd),
            fmt(self.resolution)
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Bit-identical on every blessed seed.
    Identical,
    /// Changed, but not worse by more than the margin.
    Pass,
    /// Better by more than the margin even in the worst case: passes; bless again.
    Improved,
    Regression,
    /// Cannot decide (too few seeds, a blessed seed without a value): fails closed.
    Undecided,
}

impl Outcome {
    pub fn fails(self) -> bool {
        matches!(self, Outcome::Regression | Outcome::Undecided)
    }

    pub fn label(self) -> &'static str {
        match self {
            Outcome::Identical | Outcome::Pass => "ok",
            Outcome::Improved => "IMPROVED",
            Outcome::Regression => "REGRESSION",
            Outcome::Undecided => "UNDECIDED",
        }
    }
}

/// The verdict of the regression gate for one arm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmGate {
    pub arm_id: String,
    /// Same fingerprint as blessed: values are expected to be bit-identical.
    pub same_fingerprint: bool,
    /// Seeds whose value differs from the blessed one: (seed, blessed, now).
    pub changed: Vec<(i64, f64, f64)>,
    /// Blessed seeds with no value now (not planned, not done, or failed).
    pub missing: Vec<i64>,
    /// Seeds now that diverged: (seed, why).
    pub diverged: Vec<(i64, String)>,
    pub shift: Option<Shift>,
    pub margin: Option<Margin>,
    pub outcome: Outcome,
    pub reason: String,
    /// The one-sided p-value of "worse by more than the margin" ([`noninferiority_p`]):
    /// small when the arm is clearly not worse. `None` without an interval.
    #[serde(default)]
    pub p: Option<f64>,
}

/// Student's t quantile at `p` with `df` degrees of freedom (NaN when undefined).
pub fn t_quantile(p: f64, df: f64) -> f64 {
    StudentsT::new(0.0, 1.0, df).map_or(f64::NAN, |t| t.inverse_cdf(p))
}

/// Welch–Satterthwaite degrees of freedom of `mean(a) − mean(b)`; `None` when both samples
/// have no spread (or fewer than 2 values).
pub fn welch_df(sd_a: f64, n_a: usize, sd_b: f64, n_b: usize) -> Option<f64> {
    if n_a < 2 || n_b < 2 {
        return None;
    }
    let (va, vb) = (sd_a * sd_a / n_a as f64, sd_b * sd_b / n_b as f64);
    let denom = va * va / (n_a - 1) as f64 + vb * vb / (n_b - 1) as f64;
    (denom > 0.0).then(|| (va + vb).powi(2) / denom)
}

/// The change of the mean from `blessed` to `now` and its one-sided worst case, paired
/// (`now[i]` and `blessed[i]` from the same seed) or Welch. `None` with fewer than 2 values
/// on a side, or unequal lengths when paired.
pub fn shift(
    now: &[f64],
    blessed: &[f64],
    pairing: Pairing,
    higher_is_better: bool,
) -> Option<Shift> {
    let (sn, sb) = (summarize(now)?, summarize(blessed)?);
    if sn.n < 2 || sb.n < 2 {
        return None;
    }
    let change = sn.mean - sb.mean;
    let (se, df) = match pairing {
        Pairing::Paired => {
            if now.len() != blessed.len() {
                return None;
            }
            let d: Vec<f64> = now.iter().zip(blessed).map(|(c, b)| c - b).collect();
            let sd = summarize(&d)?.sd;
            (sd / (d.len() as f64).sqrt(), (d.len() - 1) as f64)
        }
        Pairing::Welch => {
            let se = (sn.sd.powi(2) / sn.n as f64 + sb.sd.powi(2) / sb.n as f64).sqrt();
            // No spread on either side: the bound is the change itself, whatever df says.
            let df = welch_df(sn.sd, sn.n, sb.sd, sb.n).unwrap_or((sn.n + sb.n - 2) as f64);
            (se, df)
        }
    };
    let t = t_quantile(CONFIDENCE, df);
    let half = if se > 0.0 { t * se } else { 0.0 };
    let sign = if higher_is_better { 1.0 } else { -1.0 };
    Some(Shift {
        pairing,
        n_blessed: sb.n,
        n_now: sn.n,
        change,
        se,
        df,
        t,
        worst: change - sign * half,
        best: change + sign * half,
    })
}

/// Compares the seeds `now` (every seed the spec plans for the arm, with what it gave) with
/// `blessed`, as the module documentation says.
pub fn gate(blessed: &BlessedArm, now: &[(i64, SeedOutcome)], fingerprint: &str) -> ArmGate {
    let metric = blessed.metric;
    let value_now = |seed: i64| {
        now.iter().find_map(|(s, o)| match o {
            SeedOutcome::Value(v) if *s == seed && v.is_finite() => Some(*v),
            _ => None,
        })
    };
    let diverged: Vec<(i64, String)> = now
        .iter()
        .filter_map(|(s, o)| match o {
            SeedOutcome::Diverged(why) => Some((*s, why.clone())),
            SeedOutcome::Value(v) if !v.is_finite() => {
                Some((*s, format!("{} is {v}", metric.name())))
            }
            _ => None,
        })
        .collect();
    let shares_seeds = blessed
        .seeds
        .iter()
        .any(|(seed, _, _)| now.iter().any(|(s, _)| s == seed));
    let pairing = if shares_seeds {
        Pairing::Paired
    } else {
        Pairing::Welch
    };
    let mut changed = Vec::new();
    let mut missing = Vec::new();
    let (mut old, mut new) = (Vec::new(), Vec::new());
    match pairing {
        Pairing::Paired => {
            for (seed, value, _) in &blessed.seeds {
                match value_now(*seed) {
                    Some(v) => {
                        if v.to_bits() != value.to_bits() {
                            changed.push((*seed, *value, v));
                        }
                        old.push(*value);
                        new.push(v);
                    }
                    None => missing.push(*seed),
                }
            }
        }
        Pairing::Welch => {
            // The seed lists differ by design (another `seeds.base`, say): nothing to pair.
            old = blessed.seeds.iter().map(|s| s.1).collect();
            new = now.iter().filter_map(|(s, _)| value_now(*s)).collect();
        }
    }
    let blessed_values: Vec<f64> = blessed.seeds.iter().map(|s| s.1).collect();
    let blessed_sd = summarize(&blessed_values).map_or(0.0, |s| s.sd);
    let margin = Margin::new(blessed.gate_tolerance, blessed_sd, blessed.resolution);
    let shift = shift(&new, &old, pairing, metric.higher_is_better());

    let seeds_list = |seeds: &[i64]| {
        seeds
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (outcome, reason) = if !diverged.is_empty() {
        let list = diverged
            .iter()
            .map(|(s, why)| format!("seed {s} ({why})"))
            .collect::<Vec<_>>()
            .join(", ");
        (Outcome::Regression, format!("diverged: {list}"))
    } else if pairing == Pairing::Paired && !missing.is_empty() {
        (
            Outcome::Undecided,
            format!(
                "blessed seed(s) {} have no value now (not planned, not done, or failed); \
                 the gate pairs by seed and cannot decide without them",
                seeds_list(&missing)
            ),
        )
    } else if new.is_empty() {
        (
            Outcome::Undecided,
            "no seed has a value now (the arm is not planned, not done, or failed)".to_string(),
        )
    } else if pairing == Pairing::Paired && changed.is_empty() {
        (Outcome::Identical, "identical to blessed".to_string())
    } else if blessed.seeds.len() < MIN_SEEDS || new.len() < MIN_SEEDS {
        (
            Outcome::Undecided,
            format!(
                "values changed, and {} blessed and {} current seeds cannot tell a change from \
                 seed noise: the gate needs at least {MIN_SEEDS} on each side (more `seeds`, \
                 then `repro bless`)",
                blessed.seeds.len(),
                new.len()
            ),
        )
    } else if let Some(s) = &shift {
        decide(metric, s, &margin, changed.len())
    } else {
        (Outcome::Undecided, "no interval of the change".to_string())
    };
    let p = shift
        .as_ref()
        .map(|s| noninferiority_p(s, margin.value, metric.higher_is_better()));
    ArmGate {
        p,
        arm_id: blessed.arm_id.clone(),
        same_fingerprint: blessed.fingerprint == fingerprint,
        changed,
        missing,
        diverged,
        shift,
        margin: Some(margin),
        outcome,
        reason,
    }
}

/// The one-sided p-value of the non-inferiority test behind the gate: under H0 the true change
/// is worse than the blessed mean by `margin` or more; `t = (±Δ + margin)/se` with `df`,
/// `p = P(T_df ≥ t)` (`+Δ` when higher is better). A regression has p ≥ 0.05 (its worst case
/// crosses the margin) unless it diverged. With `se = 0`: 0 when the change is within the
/// margin, else 1.
pub fn noninferiority_p(s: &Shift, margin: f64, higher_is_better: bool) -> f64 {
    let sign = if higher_is_better { 1.0 } else { -1.0 };
    let excess = sign * s.change + margin;
    if s.se <= 0.0 || !s.se.is_finite() {
        return if excess > 0.0 { 0.0 } else { 1.0 };
    }
    StudentsT::new(0.0, 1.0, s.df).map_or(f64::NAN, |t| t.sf(excess / s.se))
}

/// Non-inferiority of `s` against `margin`, with the sentence that says why.
fn decide(metric: Metric, s: &Shift, margin: &Margin, changed: usize) -> (Outcome, String) {
    let sign = if metric.higher_is_better() { 1.0 } else { -1.0 };
    let limit = -sign * margin.value;
    let how = match s.pairing {
        Pairing::Paired => format!("{changed} of {} paired seeds changed", s.n_blessed),
        Pairing::Welch => format!(
            "Welch: {} seeds now vs {} blessed, none shared, df {:.1}",
            s.n_now, s.n_blessed, s.df
        ),
    };
    let side = |bound: f64| if bound < limit { "below" } else { "above" };
    let head = format!(
        "{} {:+.4} ({how}); one-sided 95% worst case {:+.4}",
        metric.name(),
        s.change,
        s.worst
    );
    let rule = format!("margin {} = {}", fmt(margin.value), margin.rule());
    if sign * s.worst < -margin.value {
        (
            Outcome::Regression,
            format!("{head} is {} {:+.4}: {rule}", side(s.worst), limit),
        )
    } else if sign * s.worst > margin.value {
        (
            Outcome::Improved,
            format!(
                "{head} is better than the blessed mean by more than the {rule}; \
                 `repro bless` to keep the gate tight"
            ),
        )
    } else {
        (
            Outcome::Pass,
            format!("{head} is not worse than {:+.4}: {rule}", limit),
        )
    }
}

/// Four decimals without trailing zeros; two significant digits below 0.001 (how the gate
/// prints tolerances, margins and sds).
pub fn fmt(v: f64) -> String {
    if v != 0.0 && v.abs() < 1e-3 {
        return format!("{v:.1e}");
    }
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests;
