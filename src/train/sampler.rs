//! Class-balanced P × K batches (`train.sampler`), for losses that need positives and negatives
//! in every batch (Hermans, Beyer & Leibe 2017, "In Defense of the Triplet Loss for Person
//! Re-Identification", arXiv:1703.07737).
//!
//! Each batch takes P distinct classes, drawn uniformly from the classes of the training split
//! that have at least K examples, and K distinct examples of each (classes grouped, in drawing
//! order). Within a class the examples come from a seeded permutation consumed K at a time and
//! redrawn when fewer than K are left, so every example is seen before one is seen twice.
//! Nothing is drawn with replacement: a class with fewer than K examples is never drawn (its
//! examples are not trained on), and fewer than P classes with K examples is an error.
//!
//! The draws come from the run's own [`SplitMix64`] stream (never libtorch's generator), so
//! the batches depend on (seed, training labels, P, K) alone, as [`super::order`]'s do.

use std::collections::BTreeMap;

use crate::rng::SplitMix64;
use crate::spec::Sampler;

/// Separates this stream from the batch order's and data preparation's.
const STREAM: u64 = 0xBA7C_0D3E_5EED_0002;

/// The P × K batches of one run, batch after batch.
pub struct PkSampler {
    rng: SplitMix64,
    p: usize,
    k: usize,
    /// Each drawable class's examples (indices into the training split).
    pools: Vec<Vec<i64>>,
    /// What is left of each class's current permutation.
    queues: Vec<Vec<i64>>,
}

impl PkSampler {
    /// A sampler over training labels `labels`; the error says why the batches cannot be
    /// filled, with the examples per class.
    pub fn new(sampler: Sampler, seed: i64, labels: &[i64]) -> Result<PkSampler, String> {
        let (p, k) = (
            sampler.classes_per_batch as usize,
            sampler.per_class as usize,
        );
        let mut by_class: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
        for (i, &y) in labels.iter().enumerate() {
            by_class.entry(y).or_default().push(i as i64);
        }
        let pools: Vec<Vec<i64>> = by_class
            .values()
            .filter(|v| v.len() >= k)
            .cloned()
            .collect();
        if pools.len() < p {
            let counts = by_class
                .iter()
                .map(|(c, v)| format!("{c}: {}", v.len()))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(format!(
                "`train.sampler` wants {p} classes × {k} examples per batch, but only {} of the \
                 training split's {} classes have at least {k} examples (examples per class: \
                 {counts}); lower `classes_per_batch` or `per_class`",
                pools.len(),
                by_class.len()
            ));
        }
        let queues = vec![Vec::new(); pools.len()];
        Ok(PkSampler {
            rng: SplitMix64::new(seed as u64 ^ STREAM),
            p,
            k,
            pools,
            queues,
        })
    }

    /// The next batch: P × K indices into the training split.
    pub fn next_batch(&mut self) -> Vec<i64> {
        let mut classes: Vec<usize> = (0..self.pools.len()).collect();
        let mut batch = Vec::with_capacity(self.p * self.k);
        for i in 0..self.p {
            // A partial Fisher-Yates shuffle: P distinct classes.
            let j = i + self.rng.below(classes.len() - i);
            classes.swap(i, j);
            let c = classes[i];
            if self.queues[c].len() < self.k {
                let mut perm = self.pools[c].clone();
                self.rng.shuffle(&mut perm);
                self.queues[c] = perm;
            }
            let rest = self.queues[c].len() - self.k;
            batch.extend(self.queues[c].drain(rest..));
        }
        batch
    }
}

/// The first `steps` P × K batches a run with `seed` trains on, for training labels `labels`.
pub fn pk_batches(
    sampler: Sampler,
    seed: i64,
    labels: &[i64],
    steps: i64,
) -> Result<Vec<Vec<i64>>, String> {
    let mut s = PkSampler::new(sampler, seed, labels)?;
    Ok((0..steps).map(|_| s.next_batch()).collect())
}
