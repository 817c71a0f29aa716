//! Statistics over seeds: per-arm summaries (t or bootstrap interval of the mean) and paired
//! comparisons (paired t-test, Wilcoxon signed-rank, Cohen's d_z).

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::rng::SplitMix64;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub n: usize,
    pub mean: f64,
    /// Sample standard deviation (n − 1); 0 for n = 1.
    pub sd: f64,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// 95% interval of the mean; `None` for n < 2.
    pub ci95: Option<(f64, f64)>,
    /// How `ci95` was computed.
    pub interval: Interval,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    None,
    StudentT,
    /// Percentile bootstrap of the mean, 10,000 resamples, fixed seed.
    Bootstrap,
}

impl Summary {
    /// The interval cut to the metric's range: a mean accuracy cannot pass 1, nor an NLL
    /// fall below 0, whatever a symmetric t-interval near the edge says.
    pub fn within(mut self, lo: f64, hi: f64) -> Summary {
        self.ci95 = self.ci95.map(|(a, b)| (a.clamp(lo, hi), b.clamp(lo, hi)));
        self
    }
}

/// Seeds from this many on get a bootstrap interval instead of a t-interval.
pub const BOOTSTRAP_FROM: usize = 10;
const BOOTSTRAP_RESAMPLES: usize = 10_000;

/// Percentile bootstrap 95% interval of the mean (deterministic: a fixed SplitMix64 seed).
pub fn bootstrap_ci95(values: &[f64]) -> (f64, f64) {
    let n = values.len();
    let mut rng = SplitMix64::new(0x0B00_7575);
    let mut means: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| (0..n).map(|_| values[rng.below(n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    let at = |q: f64| means[((q * (means.len() - 1) as f64).round() as usize).min(means.len() - 1)];
    (at(0.025), at(0.975))
}

/// Two-sided t quantile for a 95% interval with `df` degrees of freedom.
pub fn t_quantile_95(df: usize) -> f64 {
    StudentsT::new(0.0, 1.0, df as f64)
        .map(|t| t.inverse_cdf(0.975))
        .unwrap_or(f64::NAN)
}

/// `None` when `values` is empty.
pub fn summarize(values: &[f64]) -> Option<Summary> {
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
    let (ci95, interval) = if n < 2 {
        (None, Interval::None)
    } else if n >= BOOTSTRAP_FROM {
        (Some(bootstrap_ci95(values)), Interval::Bootstrap)
    } else {
        let half = t_quantile_95(n - 1) * sd / (n as f64).sqrt();
        (Some((mean - half, mean + half)), Interval::StudentT)
    };
    Some(Summary {
        n,
        mean,
        sd,
        median,
        min: sorted[0],
        max: sorted[n - 1],
        ci95,
        interval,
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
        let (lo, hi) = s.ci95.unwrap();
        assert!((hi - lo - 2.0 * 4.302_652_729_749_464 * 0.02 / 3f64.sqrt()).abs() < 1e-9);
    }

    #[test]
    fn intervals_stay_inside_the_metric_range() {
        // GunPoint-like: mean 0.9893, t-interval [0.9768, 1.0019] → upper end cut to 1.
        let values = [1.0, 0.9867, 1.0, 0.98, 0.98];
        let raw = summarize(&values).unwrap();
        assert!(raw.ci95.unwrap().1 > 1.0);
        let cut = raw.within(0.0, 1.0);
        assert_eq!(cut.ci95.unwrap().1, 1.0);
        assert_eq!(cut.ci95.unwrap().0, raw.ci95.unwrap().0);
        assert_eq!(cut.mean, raw.mean);
    }

    #[test]
    fn t_quantiles() {
        assert!((t_quantile_95(4) - 2.776_445_105).abs() < 1e-6);
        assert!((t_quantile_95(1000) - 1.962_339).abs() < 1e-5);
    }

    #[test]
    fn bootstrap_interval_is_pinned() {
        // From the inline SplitMix64 the bootstrap used before `crate::rng`: same draws, same ends.
        let values = [
            0.9, 0.91, 0.92, 0.93, 0.9, 0.95, 0.97, 0.88, 0.9, 0.91, 0.92,
        ];
        assert_eq!(
            bootstrap_ci95(&values),
            (0.903_636_363_636_363_8, 0.931_818_181_818_181_8)
        );
    }

    #[test]
    fn empty_has_no_summary() {
        assert!(summarize(&[]).is_none());
    }
}
