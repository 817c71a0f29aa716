//! `repro data profile`: look at the data before modelling it. Per split: counts, class
//! balance, the length distribution and the pad lengths that cover 90% / 95% of series, value
//! statistics, missing values, duplicate series, and train/test leakage by content hash.

use std::collections::HashSet;

use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tch::Tensor;

use super::Dataset;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LengthStats {
    pub min: i64,
    pub p50: i64,
    pub p90: i64,
    pub p95: i64,
    pub p99: i64,
    pub max: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValueStats {
    pub mean: f64,
    pub sd: f64,
    pub min: f64,
    pub max: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SplitProfile {
    pub split: String,
    pub count: usize,
    /// (class name, count), in class-index order.
    pub classes: Vec<(String, usize)>,
    pub lengths: LengthStats,
    /// Shortest pad length that leaves 90% (95%) of series untruncated.
    pub pad_covering_90: i64,
    pub pad_covering_95: i64,
    pub values: ValueStats,
    pub missing: usize,
    /// Series identical to an earlier one in the same split.
    pub duplicates: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Profile {
    pub dataset: String,
    pub channels: i64,
    pub splits: Vec<SplitProfile>,
    /// Test series whose content also occurs in the training split.
    pub test_in_train: usize,
}

/// Nearest-rank percentile of sorted `v`: the smallest value with at least `p`% at or below it.
pub fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Content hashes of each series (its true length, all channels).
fn hashes(x: &Tensor, lengths: &[i64]) -> (Vec<[u8; 32]>, Vec<f32>) {
    let size = x.size();
    let (n, c, l) = (size[0] as usize, size[1] as usize, size[2] as usize);
    let values = Vec::<f32>::try_from(x.flatten(0, -1)).unwrap_or_default();
    let mut out = Vec::with_capacity(n);
    let mut real = Vec::new();
    for (i, &len) in lengths.iter().enumerate().take(n) {
        let mut h = Sha256::new();
        for ch in 0..c {
            let start = (i * c + ch) * l;
            for v in &values[start..start + len as usize] {
                h.update(v.to_bits().to_le_bytes());
                real.push(*v);
            }
        }
        out.push(h.finalize().into());
    }
    (out, real)
}

fn split_profile(
    ds: &Dataset,
    name: &str,
    x: &Tensor,
    y: &Tensor,
    lengths: &[i64],
) -> (SplitProfile, Vec<[u8; 32]>) {
    let labels = Vec::<i64>::try_from(y).unwrap_or_default();
    let classes = ds
        .class_names
        .iter()
        .enumerate()
        .map(|(k, c)| (c.clone(), labels.iter().filter(|&&l| l == k as i64).count()))
        .collect();
    let mut sorted = lengths.to_vec();
    sorted.sort_unstable();
    let (hashes, real) = hashes(x, lengths);
    let finite: Vec<f64> = real
        .iter()
        .filter(|v| !v.is_nan())
        .map(|&v| f64::from(v))
        .collect();
    let n = finite.len().max(1) as f64;
    let mean = finite.iter().sum::<f64>() / n;
    let sd = (finite.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt();
    let mut seen = HashSet::new();
    let duplicates = hashes.iter().filter(|h| !seen.insert(**h)).count();
    (
        SplitProfile {
            split: name.to_string(),
            count: lengths.len(),
            classes,
            lengths: LengthStats {
                min: sorted.first().copied().unwrap_or(0),
                p50: percentile(&sorted, 50.0),
                p90: percentile(&sorted, 90.0),
                p95: percentile(&sorted, 95.0),
                p99: percentile(&sorted, 99.0),
                max: sorted.last().copied().unwrap_or(0),
            },
            pad_covering_90: percentile(&sorted, 90.0),
            pad_covering_95: percentile(&sorted, 95.0),
            values: ValueStats {
                mean,
                sd,
                min: finite.iter().copied().fold(f64::INFINITY, f64::min),
                max: finite.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            },
            missing: real.len() - finite.len(),
            duplicates,
        },
        hashes,
    )
}

pub fn profile(ds: &Dataset) -> Profile {
    let (train, train_hashes) =
        split_profile(ds, "train", &ds.x_train, &ds.y_train, &ds.lengths_train);
    let (test, test_hashes) = split_profile(ds, "test", &ds.x_test, &ds.y_test, &ds.lengths_test);
    let in_train: HashSet<[u8; 32]> = train_hashes.into_iter().collect();
    Profile {
        dataset: ds.name.clone(),
        channels: ds.channels,
        test_in_train: test_hashes.iter().filter(|h| in_train.contains(*h)).count(),
        splits: vec![train, test],
    }
}

pub fn render(p: &Profile) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    let mut header = vec!["".to_string()];
    header.extend(p.splits.iter().map(|s| s.split.clone()));
    t.set_header(header);
    let row = |label: &str, f: &dyn Fn(&SplitProfile) -> String| {
        let mut r = vec![label.to_string()];
        r.extend(p.splits.iter().map(f));
        r
    };
    t.add_row(row("series", &|s| s.count.to_string()));
    t.add_row(row("classes", &|s| {
        s.classes
            .iter()
            .map(|(c, n)| format!("{c}:{n}"))
            .collect::<Vec<_>>()
            .join(" ")
    }));
    t.add_row(row("length min/p50/p90/p95/p99/max", &|s| {
        let l = &s.lengths;
        format!(
            "{}/{}/{}/{}/{}/{}",
            l.min, l.p50, l.p90, l.p95, l.p99, l.max
        )
    }));
    t.add_row(row("pad covering 90% / 95%", &|s| {
        format!("{} / {}", s.pad_covering_90, s.pad_covering_95)
    }));
    t.add_row(row("values mean ± sd", &|s| {
        format!("{:.4} ± {:.4}", s.values.mean, s.values.sd)
    }));
    t.add_row(row("values min / max", &|s| {
        format!("{:.4} / {:.4}", s.values.min, s.values.max)
    }));
    t.add_row(row("missing values", &|s| s.missing.to_string()));
    t.add_row(row("duplicate series", &|s| s.duplicates.to_string()));
    format!(
        "{} ({} channel{})\n{t}\ntest series also in train (leakage): {}\n\
         `data.pad` (max, percentile) is chosen from the train column only; longer series, test \
         ones included, are truncated",
        p.dataset,
        p.channels,
        if p.channels == 1 { "" } else { "s" },
        p.test_in_train
    )
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile(&v, 50.0), 5);
        assert_eq!(percentile(&v, 90.0), 9);
        assert_eq!(percentile(&v, 95.0), 10);
        assert_eq!(percentile(&v, 0.0), 1);
        assert_eq!(percentile(&[], 50.0), 0);
    }
}
