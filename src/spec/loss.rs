//! The metric-learning types: `train.loss` ([`LossSpec`]), `train.sampler` ([`Sampler`]) and
//! `model.embedding_dim` ([`ModelSpec::embedding_dim`]).
//!
//! Specs that set none of these keep their canonical arm hash: the default loss
//! (`cross_entropy`), an absent sampler and an absent embedding dimension are not serialised.

use serde::{Deserialize, Serialize};

use super::types::ModelSpec;

/// What the training step minimises (`train.loss`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LossSpec {
    /// Cross-entropy on the class head's logits (with `train.label_smoothing`).
    #[default]
    CrossEntropy,
    /// pytorch-metric-learning 2.9.0's `TripletMarginLoss(margin, distance)` with its default
    /// `AvgNonZeroReducer`: `relu(d(a,p) − d(a,n) + margin)` (similarities reversed under
    /// `cosine`) averaged over the mined triplets whose loss is positive, 0 when none is.
    Triplet {
        margin: f64,
        mining: Mining,
        distance: Distance,
    },
    /// pml's `NormalizedSoftmaxLoss(temperature)`: a cosine classifier, a learnable
    /// `[embedding_dim, classes]` matrix drawn N(0, 1) and normalised per class column,
    /// logits = cos / temperature, mean cross-entropy.
    NormalizedSoftmax { temperature: f64 },
}

impl LossSpec {
    /// Serde's "skip when default": the default loss is not written into the arm's hash.
    pub fn is_cross_entropy(&self) -> bool {
        *self == LossSpec::CrossEntropy
    }

    /// Whether this loss reads an embedding rather than class logits.
    pub fn is_metric(&self) -> bool {
        !self.is_cross_entropy()
    }

    pub fn name(&self) -> &'static str {
        match self {
            LossSpec::CrossEntropy => "cross_entropy",
            LossSpec::Triplet { .. } => "triplet",
            LossSpec::NormalizedSoftmax { .. } => "normalized_softmax",
        }
    }
}

/// Which triplets of a batch a triplet loss sums over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mining {
    /// Every valid triplet (a, p, n): `y[a] = y[p]`, `a ≠ p`, `y[n] ≠ y[a]` (pml's default
    /// without a miner).
    All,
    /// pml's `BatchHardMiner`: per anchor with a positive and a negative, one triplet of its
    /// farthest positive and nearest negative.
    Hard,
    /// pml's `TripletMarginMiner(margin, type_of_triplets="semihard")`: valid triplets with
    /// `0 < d(a,n) − d(a,p) ≤ margin` (similarities reversed under `cosine`).
    Semihard,
}

/// The distance a triplet loss compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Distance {
    /// Euclidean distance between L2-normalised embeddings (pml's `LpDistance()`).
    Euclidean,
    /// Cosine similarity of L2-normalised embeddings, larger is closer (pml's
    /// `CosineSimilarity()`, an inverted distance).
    Cosine,
}

/// A class-balanced batch (`train.sampler`): `classes_per_batch` classes (P) with `per_class`
/// examples each (K), a batch of P × K, drawn without replacement from the run's own generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sampler {
    pub classes_per_batch: i64,
    pub per_class: i64,
}

impl Sampler {
    pub fn batch_size(&self) -> i64 {
        self.classes_per_batch * self.per_class
    }
}

impl ModelSpec {
    /// `model.embedding_dim`: the model ends in a linear map to this many features and an L2
    /// normalisation in place of its class head.
    pub fn embedding_dim(&self) -> Option<i64> {
        match self {
            ModelSpec::Linear { embedding_dim }
            | ModelSpec::Mlp { embedding_dim, .. }
            | ModelSpec::Cnn1d { embedding_dim, .. }
            | ModelSpec::Resnet1d { embedding_dim, .. }
            | ModelSpec::Rnn { embedding_dim, .. }
            | ModelSpec::LstmFcn { embedding_dim, .. } => *embedding_dim,
            ModelSpec::Torchscript { embedding_dim, .. } => *embedding_dim,
        }
    }
}
