//! Statistics over seeds: per-arm summaries (the Student t interval of the mean, the one
//! interval method), paired comparisons (paired t-test, Wilcoxon signed-rank, Cohen's d_z) and
//! Holm's step-down adjustment of several comparisons' p values.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub n: usize,
    pub mean: f64,
    /// Sample standard deviation (n − 1); 0 for n = 1.
    pub sd: f64,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// The interval of the mean at confidence `level`; `None` for n < 2.
    #[serde(alias = "ci95")]
    pub ci: Option<(f64, f64)>,
    /// Its confidence level: 0.95, or higher where repeated looks are accounted for.
    #[serde(default = "default_level")]
    pub level: f64,
    /// How `ci` was computed.
    pub interval: Interval,
    /// The width the interval was widened to because it was narrower than the metric's
    /// resolution (one test example for accuracy and error), if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub widened_to: Option<f64>,
}

fn default_level() -> f64 {
    LEVEL
}

/// The confidence level of every interval unless repeated looks call for more.
pub const LEVEL: f64 = 0.95;

/// The one interval method. There is no second method for large n: a percentile bootstrap
/// (used here from n = 10 before) is narrower than the t interval at the seed counts a run
/// affords, so switching methods made verdicts more confident exactly when they looked final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    None,
    StudentT,
}

impl Interval {
    /// How the reports name it.
    pub fn name(self) -> &'static str {
        match self {
            Interval::None => "no interval (fewer than 2 values)",
            Interval::StudentT => "Student t interval of the mean over seeds",
        }
    }
}

impl Summary {
    /// The interval cut to the metric's range: a mean accuracy cannot pass 1, nor an NLL
    /// fall below 0, whatever a symmetric t-interval near the edge says.
    pub fn within(mut self, lo: f64, hi: f64) -> Summary {
        self.ci = self.ci.map(|(a, b)| (a.clamp(lo, hi), b.clamp(lo, hi)));
        self
    }

    /// The interval widened to at least `resolution` (the smallest step the metric can take,
    /// 1/N_test for accuracy): centred on the mean, moved inside `[lo, hi]` where it would
    /// cross an edge. Identical values at a few seeds say the mean is known to within one
    /// test example, not exactly.
    pub fn at_resolution(mut self, resolution: f64, lo: f64, hi: f64) -> Summary {
        let Some((a, b)) = self.ci else { return self };
        if resolution.is_nan() || resolution <= 0.0 || b - a >= resolution {
            return self;
        }
        let (mut a, mut b) = (self.mean - resolution / 2.0, self.mean + resolution / 2.0);
        if a < lo {
            (a, b) = (lo, (lo + resolution).min(hi));
        } else if b > hi {
            (a, b) = ((hi - resolution).max(lo), hi);
        }
        self.ci = Some((a, b));
        self.widened_to = Some(resolution);
        self
    }
}

/// Two-sided t quantile for an interval at confidence `level` with `df` degrees of freedom.
pub fn t_quantile(level: f64, df: usize) -> f64 {
    StudentsT::new(0.0, 1.0, df as f64)
        .map(|t| t.inverse_cdf(0.5 + level / 2.0))
        .unwrap_or(f64::NAN)
}

/// Two-sided t quantile for a 95% interval with `df` degrees of freedom.
pub fn t_quantile_95(df: usize) -> f64 {
    t_quantile(LEVEL, df)
}

/// n, mean, sd and the 95% Student t interval of the mean; `None` when `values` is empty.
pub fn summarize(values: &[f64]) -> Option<Summary> {
    summarize_at(values, LEVEL)
}

/// [`summarize`] with the t interval at confidence `level`.
pub fn summarize_at(values: &[f64], level: f64) -> Option<Summary> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    let mean = values.iter().sum::<f64>() / n as f64;
    let sd = if n > 1 {
        (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
    } else {
        0.0
    };
    let (ci, interval) = if n < 2 {
        (None, Interval::None)
    } else {
        let half = t_quantile(level, n - 1) * sd / (n as f64).sqrt();
        (Some((mean - half, mean + half)), Interval::StudentT)
    };
    Some(Summary {
        n,
        mean,
        sd,
        median,
        min: sorted[0],
        max: sorted[n - 1],
        ci,
        level,
        interval,
        widened_to: None,
    })
}

/// Two arms compared seed by seed: statistics of `a − b`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Paired {
    pub n: usize,
    pub mean_diff: f64,
    pub sd_diff: f64,
    /// 95% t-interval of the mean difference (n ≥ 2, non-zero spread).
    pub ci95: Option<(f64, f64)>,
    pub t: Option<f64>,
    /// Two-sided p of the paired t-test.
    pub t_p: f64,
    /// Wilcoxon signed-rank: the smaller of the positive and negative rank sums (zero
    /// differences dropped, ties given average ranks) and its two-sided p (exact up to 25
    /// non-zero pairs, normal approximation with tie correction above).
    pub wilcoxon_w: f64,
    pub wilcoxon_p: f64,
    /// Cohen's d_z: mean difference over the sd of differences.
    pub cohens_dz: Option<f64>,
}

/// `None` unless `a` and `b` are non-empty and of equal length (one value per shared seed).
pub fn paired(a: &[f64], b: &[f64]) -> Option<Paired> {
    if a.len() != b.len() || a.is_empty() {
        return None;
    }
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let n = d.len();
    let mean = d.iter().sum::<f64>() / n as f64;
    let sd = if n > 1 {
        (d.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
    } else {
        0.0
    };
    let (t, t_p, ci95) = if n > 1 && sd > 0.0 {
        let se = sd / (n as f64).sqrt();
        let t = mean / se;
        let dist = StudentsT::new(0.0, 1.0, (n - 1) as f64).ok();
        let p = dist.map_or(f64::NAN, |s| 2.0 * (1.0 - s.cdf(t.abs())));
        let half = t_quantile_95(n - 1) * se;
        (Some(t), p, Some((mean - half, mean + half)))
    } else {
        // No spread: identical pairs say nothing against "no difference"; a constant
        // non-zero difference is as decisive as data can be.
        (None, if mean == 0.0 { 1.0 } else { 0.0 }, None)
    };
    let (wilcoxon_w, wilcoxon_p) = wilcoxon(&d);
    Some(Paired {
        n,
        mean_diff: mean,
        sd_diff: sd,
        ci95,
        t,
        t_p,
        wilcoxon_w,
        wilcoxon_p,
        cohens_dz: (sd > 0.0).then(|| mean / sd),
    })
}

/// Holm's step-down adjustment of `p` (Holm 1979): with the p values sorted ascending, the
/// i-th (from 0) becomes max over j ≤ i of min(1, (K − j)·p(j)), K = `p.len()`. Controls the
/// family-wise error rate over the K tests with no assumption about their dependence, and is
/// never less powerful than Bonferroni. Returned in the input's order.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let k = p.len();
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut adjusted = vec![0.0; k];
    let mut running = 0.0f64;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((k - rank) as f64 * p[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

/// Wilcoxon signed-rank test of differences `d` (zeros dropped): (W, two-sided p).
fn wilcoxon(d: &[f64]) -> (f64, f64) {
    let mut nz: Vec<f64> = d.iter().copied().filter(|v| *v != 0.0).collect();
    let n = nz.len();
    if n == 0 {
        return (0.0, 1.0);
    }
    nz.sort_by(|a, b| a.abs().total_cmp(&b.abs()));
    // Average ranks over ties in |d|.
    let mut ranks = vec![0.0; n];
    let mut i = 0;
    let mut tie_term = 0.0;
    while i < n {
        let mut j = i;
        while j + 1 < n && nz[j + 1].abs() == nz[i].abs() {
            j += 1;
        }
        let avg = (i + j + 2) as f64 / 2.0;
        for r in ranks.iter_mut().take(j + 1).skip(i) {
            *r = avg;
        }
        let t = (j - i + 1) as f64;
        tie_term += t * t * t - t;
        i = j + 1;
    }
    let plus: f64 = nz
        .iter()
        .zip(&ranks)
        .filter(|(v, _)| **v > 0.0)
        .map(|(_, r)| r)
        .sum();
    let total = (n * (n + 1)) as f64 / 2.0;
    let w = plus.min(total - plus);
    let p = if n <= 25 {
        // Exact null distribution of the rank sum with ranks 1..n: counts[s] = subsets summing to s.
        let max = n * (n + 1) / 2;
        let mut counts = vec![0f64; max + 1];
        counts[0] = 1.0;
        for r in 1..=n {
            for s in (r..=max).rev() {
                counts[s] += counts[s - r];
            }
        }
        let below: f64 = counts
            .iter()
            .enumerate()
            .filter(|(s, _)| (*s as f64) <= w + 1e-9)
            .map(|(_, c)| c)
            .sum();
        (2.0 * below / 2f64.powi(n as i32)).min(1.0)
    } else {
        let mean = total / 2.0;
        let var = (n * (n + 1) * (2 * n + 1)) as f64 / 24.0 - tie_term / 48.0;
        let z = (w - mean) / var.sqrt();
        let normal = statrs::distribution::Normal::new(0.0, 1.0).ok();
        normal.map_or(f64::NAN, |nd| (2.0 * nd.cdf(z)).min(1.0))
    };
    (w, p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_matches_hand_computation() {
        // mean 0.92, sd = sqrt(((.02)^2*2 + 0)/2) = 0.02, t(2) = 4.302653, half = 0.049683
        let s = summarize(&[0.90, 0.92, 0.94]).unwrap();
        assert!((s.mean - 0.92).abs() < 1e-12);
        assert!((s.sd - 0.02).abs() < 1e-12);
        let (lo, hi) = s.ci.unwrap();
        assert!((hi - lo - 2.0 * 4.302_652_729_749_464 * 0.02 / 3f64.sqrt()).abs() < 1e-9);
    }

    #[test]
    fn intervals_stay_inside_the_metric_range() {
        // GunPoint-like: mean 0.9893, t-interval [0.9768, 1.0019] → upper end cut to 1.
        let values = [1.0, 0.9867, 1.0, 0.98, 0.98];
        let raw = summarize(&values).unwrap();
        assert!(raw.ci.unwrap().1 > 1.0);
        let cut = raw.within(0.0, 1.0);
        assert_eq!(cut.ci.unwrap().1, 1.0);
        assert_eq!(cut.ci.unwrap().0, raw.ci.unwrap().0);
        assert_eq!(cut.mean, raw.mean);
    }

    #[test]
    fn t_quantiles() {
        assert!((t_quantile_95(4) - 2.776_445_105).abs() < 1e-6);
        assert!((t_quantile_95(1000) - 1.962_339).abs() < 1e-5);
    }

    #[test]
    fn one_method_for_every_n() {
        // Twelve seeds get the same t interval as three: no switch to a narrower bootstrap.
        let values: Vec<f64> = (0..12).map(|i| 0.90 + 0.004 * f64::from(i % 5)).collect();
        let s = summarize(&values).unwrap();
        assert_eq!(s.interval, Interval::StudentT);
        let (lo, hi) = s.ci.unwrap();
        let half = t_quantile_95(11) * s.sd / 12f64.sqrt();
        assert!((hi - s.mean - half).abs() < 1e-12 && (s.mean - lo - half).abs() < 1e-12);
    }

    #[test]
    fn intervals_are_widened_to_the_resolution_inside_the_range() {
        // Identical accuracies on a 1000-example test set: known to one example, not exactly.
        let s = summarize(&[0.95, 0.95, 0.95]).unwrap();
        let (a, b) = s.ci.unwrap();
        assert!(b - a < 1e-9, "no spread: [{a}, {b}]");
        let w = s.at_resolution(1e-3, 0.0, 1.0);
        let (lo, hi) = w.ci.unwrap();
        assert!((lo - 0.9495).abs() < 1e-12 && (hi - 0.9505).abs() < 1e-12);
        assert_eq!(w.widened_to, Some(1e-3));
        // At the edge of the range the interval keeps its width, inside [0, 1].
        let top = summarize(&[1.0, 1.0, 1.0])
            .unwrap()
            .at_resolution(0.02, 0.0, 1.0);
        assert_eq!(top.ci, Some((0.98, 1.0)));
        // Wide enough already: unchanged.
        let wide = summarize(&[0.90, 0.92, 0.94]).unwrap();
        assert_eq!(wide.at_resolution(1e-3, 0.0, 1.0), wide);
    }

    #[test]
    fn holm_by_hand() {
        // Sorted 0.125, 0.25, 0.375 → 3·0.125, max(0.375, 2·0.25), max(0.5, 1·0.375).
        assert_eq!(holm(&[0.375, 0.125, 0.25]), [0.5, 0.375, 0.5]);
        // Capped at 1, and never below an earlier step.
        assert_eq!(holm(&[0.6, 0.5]), [1.0, 1.0]);
        assert!(holm(&[]).is_empty());
    }

    #[test]
    fn empty_has_no_summary() {
        assert!(summarize(&[]).is_none());
    }
}
