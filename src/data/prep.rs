//! Preprocessing declared in a spec's `data:` block, applied in a fixed order:
//! class-disjoint split (train classes kept in train, relabelled 0..k; test classes kept in
//! test) → subset (a small sample to tune on first) → validation split carved from train →
//! pad/truncate to a length chosen from the training data → normalisation.
//!
//! Nothing here looks at the test split to decide anything: pad lengths come from the
//! dataset's training split (longer test series are truncated to it, as any series longer than
//! the pad is), normalisation statistics from the training split, and `subset` shrinks the test
//! split only when the spec gives `subset.test` (a choice the audit flags on every verdict).
//!
//! Sampling uses its own seeded generator (SplitMix64), never libtorch's, so declaring a subset
//! or a validation split does not change the model's initial weights under a seed.

use tch::{Kind, Tensor};

use super::profile::percentile;
use super::{DataError, Dataset};
use crate::rng::SplitMix64;
use crate::spec::{ClassSplit, DataSpec, Normalize, Pad, Subset};

/// A dataset ready for training: padded inputs `[N, C, L]`, labels, true lengths.
#[derive(Debug)]
pub struct Split {
    pub x: Tensor,
    pub y: Tensor,
    pub lengths: Tensor,
}

impl Split {
    pub fn len(&self) -> i64 {
        self.x.size()[0]
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn select(&self, idx: &[i64]) -> Split {
        let i = Tensor::from_slice(idx);
        Split {
            x: self.x.index_select(0, &i),
            y: self.y.index_select(0, &i),
            lengths: self.lengths.index_select(0, &i),
        }
    }
}

#[derive(Debug)]
pub struct Prepared {
    pub train: Split,
    /// Carved from the training split when the spec asks for one.
    pub val: Option<Split>,
    pub test: Split,
    pub length: i64,
    pub channels: i64,
    /// Classes the head is trained on (the train classes of a class-disjoint split).
    pub classes: i64,
    /// The test split holds other classes than training (`data.classes`): it is measured by
    /// retrieval only, its labels the dataset's own class indices.
    pub class_disjoint: bool,
}

impl Prepared {
    /// The model's view of the data. `full_length` is decided here, once, on the host: when
    /// no series of any split is shorter than the pad length, no batch can be padded.
    pub fn input(&self) -> crate::model::InputShape {
        let fills =
            |s: &Split| s.lengths.numel() == 0 || s.lengths.min().int64_value(&[]) >= self.length;
        crate::model::InputShape {
            channels: self.channels,
            length: self.length,
            classes: self.classes,
            full_length: fills(&self.train)
                && self.val.as_ref().is_none_or(fills)
                && fills(&self.test),
        }
    }
}

/// The dataset's class indices on each side of `data.classes`: `(train, test)`, train in the
/// order written (the head's label order), test ascending.
pub fn class_sides(ds: &Dataset, split: &ClassSplit) -> Result<(Vec<i64>, Vec<i64>), DataError> {
    let fail = |message: String| DataError::Classes {
        dataset: ds.name.clone(),
        message,
    };
    match split {
        ClassSplit::Lists { train, test } => {
            let index = |side: &str, name: &String| {
                ds.class_names
                    .iter()
                    .position(|c| c == name)
                    .map(|i| i as i64)
                    .ok_or_else(|| {
                        fail(format!(
                            "`data.classes.{side}` names class `{name}`, which the dataset does \
                             not have; its classes: {}",
                            ds.class_names.join(", ")
                        ))
                    })
            };
            let tr = train
                .iter()
                .map(|n| index("train", n))
                .collect::<Result<Vec<_>, _>>()?;
            let mut te = test
                .iter()
                .map(|n| index("test", n))
                .collect::<Result<Vec<_>, _>>()?;
            te.sort_unstable();
            Ok((tr, te))
        }
        ClassSplit::Half { seed } => {
            if ds.classes < 2 {
                return Err(fail(format!(
                    "`data.classes: {{ split: half }}` needs at least 2 classes, found {}",
                    ds.classes
                )));
            }
            let mut all: Vec<i64> = (0..ds.classes).collect();
            SplitMix64::new(*seed ^ 0x0C1A_55E5).shuffle(&mut all);
            let (tr, te) = all.split_at((ds.classes / 2) as usize);
            let (mut tr, mut te) = (tr.to_vec(), te.to_vec());
            tr.sort_unstable();
            te.sort_unstable();
            Ok((tr, te))
        }
    }
}

/// Keeps the examples of `split` whose label is in `classes`; `relabel` maps them to their
/// position in `classes` (the head's labels).
fn keep_classes(split: &Split, classes: &[i64], relabel: bool) -> Split {
    let labels = Vec::<i64>::try_from(&split.y).unwrap_or_default();
    let idx: Vec<i64> = (0..labels.len() as i64)
        .filter(|&i| classes.contains(&labels[i as usize]))
        .collect();
    let mut kept = split.select(&idx);
    if relabel {
        let mapped: Vec<i64> = idx
            .iter()
            .map(|&i| {
                let l = labels[i as usize];
                classes.iter().position(|&c| c == l).unwrap_or(0) as i64
            })
            .collect();
        kept.y = Tensor::from_slice(&mapped).to_kind(split.y.kind());
    }
    kept
}

/// Indices of a stratified sample of `take` out of `labels`: per class, a seeded shuffle,
/// counts proportional to class size by largest remainder, every class keeping at least one
/// where `take` allows. Returns (sample, rest), each in ascending order.
pub fn stratified(labels: &[i64], take: usize, seed: u64) -> (Vec<i64>, Vec<i64>) {
    let n = labels.len();
    let take = take.min(n);
    let mut rng = SplitMix64::new(seed);
    let mut classes: Vec<i64> = labels.to_vec();
    classes.sort_unstable();
    classes.dedup();
    let mut groups: Vec<Vec<i64>> = classes
        .iter()
        .map(|c| {
            let mut g: Vec<i64> = (0..n as i64)
                .filter(|&i| labels[i as usize] == *c)
                .collect();
            rng.shuffle(&mut g);
            g
        })
        .collect();
    let exact: Vec<f64> = groups
        .iter()
        .map(|g| g.len() as f64 * take as f64 / n.max(1) as f64)
        .collect();
    let mut counts: Vec<usize> = exact.iter().map(|e| e.floor() as usize).collect();
    let mut order: Vec<usize> = (0..groups.len()).collect();
    order.sort_by(|&a, &b| (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())));
    let mut left = take - counts.iter().sum::<usize>();
    for &k in order.iter().cycle().take(order.len() * 2) {
        if left == 0 {
            break;
        }
        if counts[k] < groups[k].len() {
            counts[k] += 1;
            left -= 1;
        }
    }
    let (mut sample, mut rest) = (Vec::new(), Vec::new());
    for (g, k) in groups.iter_mut().zip(counts) {
        sample.extend_from_slice(&g[..k]);
        rest.extend_from_slice(&g[k..]);
    }
    sample.sort_unstable();
    rest.sort_unstable();
    (sample, rest)
}

/// How many of a split's `n` series `subset` keeps: a fraction applies to the training split
/// only; a count to the split it names.
fn count_for(n: i64, subset: &Subset, test: bool) -> i64 {
    match subset {
        Subset::Fraction(_) if test => n,
        Subset::Fraction(f) => ((n as f64 * f).round() as i64).clamp(1, n),
        Subset::Count { train, test: t } => {
            let want = if test { *t } else { *train };
            want.map_or(n, |w| w.min(n))
        }
    }
}

/// The pad length the spec asks for, chosen from the training split's lengths only: the test
/// split's lengths are never looked at (JapaneseVowels: train's longest is 26, test's 29).
pub fn pad_length(pad: Pad, train_lengths: &[i64]) -> i64 {
    match pad {
        Pad::Max => train_lengths.iter().copied().max().unwrap_or(1).max(1),
        Pad::Length(n) => n,
        Pad::Percentile(p) => {
            let mut sorted = train_lengths.to_vec();
            sorted.sort_unstable();
            percentile(&sorted, p).max(1)
        }
    }
}

/// Applies `spec` to `ds` with `seed` (the run's seed); fails only on `data.classes` naming a
/// class the dataset lacks.
pub fn prepare(ds: &Dataset, spec: &DataSpec, seed: i64) -> Result<Prepared, DataError> {
    let base = seed as u64 ^ 0x5EED_DA7A;
    let mut train = Split {
        x: ds.x_train.shallow_clone(),
        y: ds.y_train.shallow_clone(),
        lengths: Tensor::from_slice(&ds.lengths_train),
    };
    let mut test = Split {
        x: ds.x_test.shallow_clone(),
        y: ds.y_test.shallow_clone(),
        lengths: Tensor::from_slice(&ds.lengths_test),
    };
    let mut classes = ds.classes;
    if let Some(split) = &spec.classes {
        let (tr, te) = class_sides(ds, split)?;
        train = keep_classes(&train, &tr, true);
        test = keep_classes(&test, &te, false);
        classes = tr.len() as i64;
    }
    if let Some(subset) = &spec.subset {
        for (split, is_test, salt) in [(&mut train, false, 1u64), (&mut test, true, 2u64)] {
            let labels = Vec::<i64>::try_from(&split.y).unwrap_or_default();
            let take = count_for(labels.len() as i64, subset, is_test) as usize;
            if take < labels.len() {
                let (idx, _) = stratified(&labels, take, base.wrapping_add(salt));
                *split = split.select(&idx);
            }
        }
    }
    let val = spec.val_fraction.map(|f| {
        let labels = Vec::<i64>::try_from(&train.y).unwrap_or_default();
        let take = ((labels.len() as f64 * f).round() as usize)
            .clamp(1, labels.len().saturating_sub(1).max(1));
        let (val_idx, train_idx) = stratified(&labels, take, base.wrapping_add(3));
        let val = train.select(&val_idx);
        train = train.select(&train_idx);
        val
    });

    // The dataset's whole training split, before subset and validation carve: the same length
    // for every seed and for a subset run as for the full one, so the model has one shape.
    let length = pad_length(spec.pad, &ds.lengths_train);
    let mut splits: Vec<&mut Split> = vec![&mut train, &mut test];
    let mut val = val;
    if let Some(v) = val.as_mut() {
        splits.push(v);
    }
    for s in splits.iter_mut() {
        s.x = fit_length(&s.x, length);
        s.lengths = s.lengths.clamp_max(length);
    }
    // Missing values (NaN) count for nothing in the statistics and become 0 afterwards: the
    // mean under `series`/`dataset` normalisation.
    let valid: Vec<Tensor> = splits
        .iter()
        .map(|s| valid_mask(&s.x, &s.lengths))
        .collect();
    let stats = match spec.normalize {
        Normalize::Dataset => Some(channel_stats(&splits[0].x, &valid[0])),
        _ => None,
    };
    for (s, v) in splits.iter_mut().zip(&valid) {
        let x = s.x.nan_to_num(0.0, None, None);
        s.x = match (spec.normalize, &stats) {
            (Normalize::Series, _) => znorm_series(&x, v),
            (Normalize::Dataset, Some((mean, sd))) => ((x - mean) / sd) * v,
            _ => x * v,
        };
    }
    Ok(Prepared {
        train,
        val,
        test,
        length,
        channels: ds.channels,
        classes,
        class_disjoint: spec.classes.is_some(),
    })
}

/// Zero-pads or truncates the time axis of `[N, C, L]` to `length`.
fn fit_length(x: &Tensor, length: i64) -> Tensor {
    let l = x.size()[2];
    if l >= length {
        x.narrow(2, 0, length)
    } else {
        x.constant_pad_nd([0, length - l])
    }
}

/// `[N, L]` float mask: 1 where `t < length`.
pub fn mask(lengths: &Tensor, length: i64) -> Tensor {
    Tensor::arange(length, (Kind::Int64, lengths.device()))
        .unsqueeze(0)
        .lt_tensor(&lengths.unsqueeze(1))
        .to_kind(Kind::Float)
}

/// `[N, C, L]` float mask: 1 at real (within length, not missing) values.
fn valid_mask(x: &Tensor, lengths: &Tensor) -> Tensor {
    mask(lengths, x.size()[2]).unsqueeze(1) * x.isnan().logical_not().to_kind(Kind::Float)
}

/// Each series and channel to zero mean and unit variance over its valid values.
fn znorm_series(x: &Tensor, valid: &Tensor) -> Tensor {
    let n = valid.sum_dim_intlist(-1, true, Kind::Float).clamp_min(1.0);
    let mean = (x * valid).sum_dim_intlist(-1, true, Kind::Float) / &n;
    let centred = (x - &mean) * valid;
    let var = centred.square().sum_dim_intlist(-1, true, Kind::Float) / &n;
    // A constant series has no scale: it stays centred at zero instead of dividing by ~0.
    let sd = var.sqrt();
    let sd = sd.where_self(&sd.gt(1e-8), &sd.ones_like());
    centred / sd
}

/// Per-channel mean and sd over the valid values of `x`, shaped `[1, C, 1]`.
fn channel_stats(x: &Tensor, valid: &Tensor) -> (Tensor, Tensor) {
    let x = x.nan_to_num(0.0, None, None);
    let count = valid
        .sum_dim_intlist([0, 2].as_slice(), true, Kind::Float)
        .clamp_min(1.0);
    let mean = (&x * valid).sum_dim_intlist([0, 2].as_slice(), true, Kind::Float) / &count;
    let var = ((&x - &mean) * valid)
        .square()
        .sum_dim_intlist([0, 2].as_slice(), true, Kind::Float)
        / &count;
    let sd = var.sqrt();
    let sd = sd.where_self(&sd.gt(1e-8), &sd.ones_like());
    (mean, sd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stratified_keeps_class_proportions_and_is_seeded() {
        let labels: Vec<i64> = (0..100).map(|i| if i < 80 { 0 } else { 1 }).collect();
        let (s, rest) = stratified(&labels, 10, 7);
        assert_eq!(s.len(), 10);
        assert_eq!(rest.len(), 90);
        assert_eq!(s.iter().filter(|&&i| labels[i as usize] == 1).count(), 2);
        assert_eq!(stratified(&labels, 10, 7).0, s);
        assert_ne!(stratified(&labels, 10, 8).0, s);
    }

    #[test]
    fn missing_values_are_ignored_then_zero() {
        let x = Tensor::from_slice(&[1f32, f32::NAN, 3., 5.]).view([1, 1, 4]);
        let lengths = Tensor::from_slice(&[4i64]);
        let z = znorm_series(&x.nan_to_num(0.0, None, None), &valid_mask(&x, &lengths));
        let v = Vec::<f32>::try_from(z.flatten(0, -1)).unwrap();
        // mean 3, sd sqrt(8/3) over the three real values; the missing one is the mean, 0.
        let s = (8.0f32 / 3.0).sqrt();
        for (a, b) in v.iter().zip([-2.0 / s, 0.0, 0.0, 2.0 / s]) {
            assert!((a - b).abs() < 1e-5, "{v:?}");
        }
    }

    #[test]
    fn series_znorm_ignores_padding() {
        let x = Tensor::from_slice(&[1f32, 2., 3., 0., 5., 5., 5., 5.]).view([2, 1, 4]);
        let lengths = Tensor::from_slice(&[3i64, 4]);
        let z = znorm_series(&x, &valid_mask(&x, &lengths));
        let v = Vec::<f32>::try_from(z.flatten(0, -1)).unwrap();
        let s = (2.0f32 / 3.0).sqrt();
        let want = [-1.0 / s, 0.0, 1.0 / s, 0.0, 0.0, 0.0, 0.0, 0.0];
        for (a, b) in v.iter().zip(want) {
            assert!((a - b).abs() < 1e-5, "{v:?}");
        }
    }
}
