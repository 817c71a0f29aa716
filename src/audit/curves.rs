//! Curve diagnosis: what a run's train/eval loss curve says about it, from practice ("read the
//! train/eval curves: abnormal curves usually mean a data bug; early-stop on eval loss").
//!
//! The rule ([`diagnose`]), on the curve's points in step order:
//!
//! 1. **Smoothing.** Each loss column is smoothed by a running median over
//!    [`SMOOTH_RADIUS`] points either side (5 points in the middle of the curve, fewer at its
//!    ends), which removes single-point spikes without moving a trend.
//! 2. **Too short** below [`MIN_POINTS`] points: nothing is said.
//! 3. **Reference loss.** The smoothed first training loss, or the chance loss ln C of a
//!    C-class classifier if that is higher (the first point already averages a whole window
//!    of steps, so a model that learns in the first window would otherwise look flat).
//! 4. **Diverging** when the smoothed training loss ends materially above where it started
//!    (by more than (1 − [`NOT_DECREASING`]) × the reference), or, after dropping by more than
//!    that, ends more than [`DIVERGE_RETURN`] of the way back from its minimum to the
//!    reference (or when the run's status is diverged). A curve that never left the reference
//!    is not diverging but not decreasing (rule 5), however it wobbles. Advice: lower the
//!    learning rate.
//! 5. **Not decreasing** when the smoothed training loss ends above [`NOT_DECREASING`] × the
//!    reference. Advice: check the data (labels), then the model and the learning rate.
//! 6. **Overfitting from step S** when the smoothed eval loss has its minimum at step S before
//!    the last point, ends more than max([`OVERFIT_RISE`] × its minimum, [`OVERFIT_RISE_ABS`])
//!    above it, and the smoothed training loss ends below its value at S (train falls while
//!    eval rises). Advice: early-stop near S (`early_stopping`, `selection: best-val`).
//! 7. **Too noisy** when the median distance of the raw training loss from its smoothed
//!    curve exceeds [`NOISE`] × the smoothed curve's total drop. Advice: lower the learning
//!    rate or enlarge the batch.
//! 8. Otherwise **healthy**.
//!
//! A run whose test embeddings collapsed (`Status::Collapsed`, metric learning) is diagnosed
//! **collapsed** whatever its curve, because its loss curve (often flat at the margin) would
//! otherwise read as "not decreasing" and send the user to check the labels. Advice: lower the
//! learning rate or mine semi-hard triplets.
//!
//! Per arm, [`summarize`] counts the seeds by outcome and reports the most common one, with
//! the median S over the seeds that overfit ("overfitting from step ~1000 in 5/5 seeds").

use serde::{Deserialize, Serialize};

use crate::train::CurvePoint;

/// Points either side in the running median: 2 (a 5-point window) removes a one- or
/// two-point spike, which is what eval losses measured every few hundred steps show.
pub const SMOOTH_RADIUS: usize = 2;
/// Fewer points than this say nothing about a trend.
pub const MIN_POINTS: usize = 4;
/// Diverging: the smoothed training loss climbs back more than this fraction of its drop.
pub const DIVERGE_RETURN: f64 = 0.5;
/// Not decreasing: the smoothed training loss ends above this fraction of the reference.
pub const NOT_DECREASING: f64 = 0.9;
/// Overfitting: the smoothed eval loss ends more than this fraction above its minimum …
pub const OVERFIT_RISE: f64 = 0.1;
/// … and more than this much (in loss units), so a flat curve near zero does not qualify.
pub const OVERFIT_RISE_ABS: f64 = 0.05;
/// Too noisy: the median |raw − smoothed| training loss exceeds this fraction of the drop.
pub const NOISE: f64 = 0.25;

/// One run's curve, as [`diagnose`] reads it.
#[derive(Debug, Clone, Copy)]
pub struct Curve<'a> {
    pub points: &'a [CurvePoint],
    /// ln C for a C-class classifier trained with cross-entropy; `None` otherwise.
    pub chance_loss: Option<f64>,
    /// The run stopped on a non-finite loss (its curve ends before it).
    pub diverged: bool,
}

/// What a curve says ([`diagnose`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "shape", rename_all = "snake_case")]
pub enum Diagnosis {
    Healthy,
    NotDecreasing,
    Diverging,
    Overfitting {
        from_step: i64,
    },
    TooNoisy,
    TooShort,
    /// The run's test embeddings collapsed (all alike): its metrics are not used.
    Collapsed,
}

impl Diagnosis {
    /// A short name, as tables show it.
    pub fn name(&self) -> &'static str {
        match self {
            Diagnosis::Healthy => "healthy",
            Diagnosis::NotDecreasing => "not decreasing",
            Diagnosis::Diverging => "diverging",
            Diagnosis::Overfitting { .. } => "overfitting",
            Diagnosis::TooNoisy => "too noisy",
            Diagnosis::TooShort => "too short to tell",
            Diagnosis::Collapsed => "collapsed",
        }
    }

    /// What to do about it (empty when nothing).
    pub fn advice(&self) -> &'static str {
        match self {
            Diagnosis::Healthy | Diagnosis::TooShort => "",
            Diagnosis::NotDecreasing => {
                "check the labels against the features (a misalignment looks like this), \
                 then the model and the learning rate"
            }
            Diagnosis::Diverging => "lower the learning rate",
            Diagnosis::Overfitting { .. } => {
                "early-stop near the eval-loss minimum (`train.early_stopping` with \
                 `selection: best-val`)"
            }
            Diagnosis::TooNoisy => "lower the learning rate or enlarge the batch",
            Diagnosis::Collapsed => {
                "the embeddings collapsed to one point: lower the learning rate, or mine \
                 semi-hard triplets (`mining: semihard`) instead of the hardest"
            }
        }
    }
}

/// Running median with `radius` points either side (fewer at the ends).
pub fn smooth(values: &[f64], radius: usize) -> Vec<f64> {
    (0..values.len())
        .map(|i| {
            let lo = i.saturating_sub(radius);
            let hi = (i + radius + 1).min(values.len());
            median(&values[lo..hi])
        })
        .collect()
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => v[n / 2],
        _ => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The diagnosis of one curve, by the rule in the module documentation.
pub fn diagnose(curve: &Curve) -> Diagnosis {
    if curve.diverged
        || curve
            .points
            .iter()
            .any(|p| !p.train_loss.is_finite() || !p.eval_loss.is_finite())
    {
        return Diagnosis::Diverging;
    }
    let n = curve.points.len();
    if n < MIN_POINTS {
        return Diagnosis::TooShort;
    }
    let train: Vec<f64> = curve.points.iter().map(|p| p.train_loss).collect();
    let eval: Vec<f64> = curve.points.iter().map(|p| p.eval_loss).collect();
    let st = smooth(&train, SMOOTH_RADIUS);
    let se = smooth(&eval, SMOOTH_RADIUS);
    let reference = curve.chance_loss.map_or(st[0], |c| c.max(st[0]));
    let train_min = st.iter().copied().fold(f64::INFINITY, f64::min);
    let (first, last) = (st[0], st[n - 1]);
    // "Material": a tenth of the reference, the margin of the not-decreasing rule.
    let material = (1.0 - NOT_DECREASING) * reference;
    let drop = reference - train_min;
    if last > first + material || (drop > material && last - train_min > DIVERGE_RETURN * drop) {
        return Diagnosis::Diverging;
    }
    if last > NOT_DECREASING * reference {
        return Diagnosis::NotDecreasing;
    }
    let at = (0..n).fold(0, |best, i| if se[i] < se[best] { i } else { best });
    let rise = se[n - 1] - se[at];
    if at < n - 1 && rise > (OVERFIT_RISE * se[at]).max(OVERFIT_RISE_ABS) && last < st[at] {
        return Diagnosis::Overfitting {
            from_step: curve.points[at].step,
        };
    }
    let off: Vec<f64> = train.iter().zip(&st).map(|(r, s)| (r - s).abs()).collect();
    if median(&off) > NOISE * (reference - train_min) {
        return Diagnosis::TooNoisy;
    }
    Diagnosis::Healthy
}

/// An arm's curve diagnoses over its seeds ([`summarize`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurveSummary {
    /// The most common diagnosis (ties: the more serious one, in the order diverging, not
    /// decreasing, overfitting, too noisy, healthy, too short); for overfitting, `from_step`
    /// is the median over the seeds that overfit.
    pub diagnosis: Diagnosis,
    /// Seeds with that diagnosis, and seeds diagnosed.
    pub seeds: usize,
    pub of: usize,
    /// Seeds per diagnosis name, in the order above, those with none left out.
    pub counts: Vec<(String, usize)>,
}

impl CurveSummary {
    /// "overfitting from step ~1000 in 5/5 seeds".
    pub fn text(&self) -> String {
        let what = match self.diagnosis {
            Diagnosis::Overfitting { from_step } => format!("overfitting from step ~{from_step}"),
            d => d.name().to_string(),
        };
        format!("{what} in {}/{} seeds", self.seeds, self.of)
    }

    /// [`Self::text`] with the advice, when there is one.
    pub fn text_with_advice(&self) -> String {
        match self.diagnosis.advice() {
            "" => self.text(),
            a => format!("{}: {a}", self.text()),
        }
    }
}

/// Outcomes in the order a summary names them (and breaks ties): the worst first.
const NAMES: [&str; 7] = [
    "collapsed",
    "diverging",
    "not decreasing",
    "overfitting",
    "too noisy",
    "healthy",
    "too short to tell",
];

fn rank(d: &Diagnosis) -> usize {
    match d {
        Diagnosis::Collapsed => 0,
        Diagnosis::Diverging => 1,
        Diagnosis::NotDecreasing => 2,
        Diagnosis::Overfitting { .. } => 3,
        Diagnosis::TooNoisy => 4,
        Diagnosis::Healthy => 5,
        Diagnosis::TooShort => 6,
    }
}

/// The arm-level summary of its seeds' diagnoses; `None` for none.
pub fn summarize(diagnoses: &[Diagnosis]) -> Option<CurveSummary> {
    if diagnoses.is_empty() {
        return None;
    }
    let mut counts = [0usize; NAMES.len()];
    for d in diagnoses {
        counts[rank(d)] += 1;
    }
    let top = (0..NAMES.len()).fold(0, |best, r| if counts[r] > counts[best] { r } else { best });
    let mut diagnosis = *diagnoses
        .iter()
        .find(|d| rank(d) == top)
        .unwrap_or(&Diagnosis::TooShort);
    if let Diagnosis::Overfitting { .. } = diagnosis {
        let steps: Vec<f64> = diagnoses
            .iter()
            .filter_map(|d| match d {
                Diagnosis::Overfitting { from_step } => Some(*from_step as f64),
                _ => None,
            })
            .collect();
        diagnosis = Diagnosis::Overfitting {
            from_step: median(&steps).round() as i64,
        };
    }
    Some(CurveSummary {
        diagnosis,
        seeds: counts[top],
        of: diagnoses.len(),
        counts: NAMES
            .iter()
            .zip(counts)
            .filter(|(_, c)| *c > 0)
            .map(|(n, c)| (n.to_string(), c))
            .collect(),
    })
}
