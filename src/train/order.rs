//! Batch order: which training examples make up step k's batch.
//!
//! Shuffled order comes from the run's own generator ([`crate::rng::SplitMix64`], seeded from
//! the run seed), never from libtorch's global generator. Model initialisation and dropout draw
//! from that one, so with it two compared arms of different parameter counts would see
//! different batch orders under the same seed, and the order would also differ between CPU and
//! CUDA. With its own stream the order depends on (seed, n, batch) alone.

use tch::{Device, Kind, Tensor};

use crate::rng::SplitMix64;
use crate::spec::BatchOrder;

/// Separates the batch-order stream from data preparation's (`prep::prepare` mixes the seed
/// with its own constant), so a `data:` block and the batch order never share draws.
const STREAM: u64 = 0xBA7C_0D3E_5EED_0001;

/// The shuffled order of one run: a fresh Fisher-Yates permutation of `0..n` per epoch.
pub struct Shuffler {
    rng: SplitMix64,
    n: i64,
}

impl Shuffler {
    pub fn new(seed: i64, n: i64) -> Shuffler {
        Shuffler {
            rng: SplitMix64::new(seed as u64 ^ STREAM),
            n,
        }
    }

    /// The next epoch's permutation of `0..n`.
    pub fn next_epoch(&mut self) -> Vec<i64> {
        let mut perm: Vec<i64> = (0..self.n).collect();
        self.rng.shuffle(&mut perm);
        perm
    }
}

/// The training-split indices of the first `steps` batches under `order`: what the training
/// loop of a run with `seed` feeds the model, `n` examples in batches of `batch` (the last
/// batch of an epoch may be short).
pub fn batch_indices(
    order: BatchOrder,
    seed: i64,
    n: i64,
    batch: i64,
    steps: i64,
) -> Vec<Vec<i64>> {
    let mut batches = Batches::new(order, seed, n, batch);
    (0..steps).map(|step| batches.indices(step)).collect()
}

/// The batch order of one run, step by step.
pub(crate) struct Batches {
    order: BatchOrder,
    n: i64,
    batch: i64,
    shuffler: Shuffler,
    epoch: Vec<i64>,
    /// The current epoch's permutation on the training device, uploaded once per epoch
    /// ([`Batches::slice`] cuts each batch from it instead of copying indices every step).
    on_device: Option<Tensor>,
}

impl Batches {
    pub(crate) fn new(order: BatchOrder, seed: i64, n: i64, batch: i64) -> Batches {
        Batches {
            order,
            n,
            batch: batch.clamp(1, n.max(1)),
            shuffler: Shuffler::new(seed, n),
            epoch: Vec::new(),
            on_device: None,
        }
    }

    /// Indices of batch `step`; steps must be asked for in order under `shuffle`.
    pub(crate) fn indices(&mut self, step: i64) -> Vec<i64> {
        let (start, len) = self.locate(step);
        match self.order {
            BatchOrder::Sequential => (start..start + len).collect(),
            BatchOrder::Shuffle => self.epoch[start as usize..(start + len) as usize].to_vec(),
        }
    }

    /// Where batch `step` starts and how long it is: in the training split (sequential) or
    /// in the current epoch's permutation (shuffled, drawing the next epoch's when it starts).
    fn locate(&mut self, step: i64) -> (i64, i64) {
        let (n, batch) = (self.n, self.batch);
        match self.order {
            BatchOrder::Sequential => {
                // greydanus/mnist1d train.py: x[start:start+batch], a short batch at the end.
                let start = (step * batch) % n;
                (start, batch.min(n - start))
            }
            BatchOrder::Shuffle => {
                let per_epoch = (n + batch - 1) / batch;
                let k = step % per_epoch;
                if k == 0 || self.epoch.is_empty() {
                    self.epoch = self.shuffler.next_epoch();
                    self.on_device = None;
                }
                let start = k * batch;
                (start, (start + batch).min(n) - start)
            }
        }
    }

    /// Batch `step` as a cut of the training split: a sequential batch is a contiguous range
    /// (taken without a gather), a shuffled one a slice of the epoch's permutation on `device`.
    pub(crate) fn slice(&mut self, step: i64, device: Device) -> BatchSlice {
        let (start, len) = self.locate(step);
        match self.order {
            BatchOrder::Sequential => BatchSlice::Range { start, len },
            BatchOrder::Shuffle => {
                let epoch = self.on_device.get_or_insert_with(|| {
                    Tensor::from_slice(&self.epoch)
                        .to_kind(Kind::Int64)
                        .to_device(device)
                });
                BatchSlice::Gather(epoch.narrow(0, start, len))
            }
        }
    }
}

/// How a batch is cut from the training split.
pub(crate) enum BatchSlice {
    Range { start: i64, len: i64 },
    Gather(Tensor),
}
