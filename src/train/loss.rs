//! The training losses: cross-entropy on class logits, and the metric-learning losses on
//! embeddings, computed as pytorch-metric-learning 2.9.0 computes them (golden numbers from
//! `scripts/gen_golden_metric.py`, checked to 1e-6).
//!
//! - Distances ([`distance_matrix`]): pml normalises embeddings inside its distances, and so do
//!   we. `euclidean` is `LpDistance()`: ‖a − b‖ of the normalised rows, from their differences
//!   (as `torch.cdist` computes it for ≤ 25 rows, exact at zero) and with a square root that is
//!   safe at zero (gradient 0 there, never NaN). `cosine` is `CosineSimilarity()`: the dot
//!   product of the normalised rows, larger is closer (an inverted distance).
//! - Triplets ([`mine`]): `all` is every valid (a, p, n) with `y[a] = y[p]`, `a ≠ p`,
//!   `y[n] ≠ y[a]` (pml's `TripletMarginLoss` without a miner); `hard` is `BatchHardMiner`
//!   (one triplet per anchor that has a positive and a negative: its farthest positive, its
//!   nearest negative; first index on ties); `semihard` is `TripletMarginMiner(margin,
//!   type_of_triplets="semihard")`: valid triplets with `0 < d(a,n) − d(a,p) ≤ margin`
//!   (`s(a,p) − s(a,n)` under cosine).
//! - [`triplet_loss`]: `TripletMarginLoss(margin)` with its `AvgNonZeroReducer`: per triplet
//!   `relu(d(a,p) − d(a,n) + margin)` (`relu(s(a,n) − s(a,p) + margin)` under cosine), the mean
//!   over the triplets whose loss is positive, and 0 when there is none (or no triplet at all).
//! - [`normalized_softmax_loss`]: `NormalizedSoftmaxLoss(temperature)`: logits =
//!   normalise(e) · normalise(W, per class column) / temperature, mean cross-entropy; `W` is
//!   `[d, classes]`, drawn N(0, 1) like pml's `torch.nn.init.normal_`.

use tch::nn;
use tch::{Device, Kind, Tensor};

use crate::model::l2_normalize;
use crate::spec::{Distance, LossSpec, Mining};

/// The pairwise `[N, N]` distance (euclidean) or similarity (cosine) of `emb`'s rows after
/// L2 normalisation.
pub fn distance_matrix(emb: &Tensor, distance: Distance) -> Tensor {
    let e = l2_normalize(emb);
    match distance {
        Distance::Euclidean => {
            let sq =
                (e.unsqueeze(1) - e.unsqueeze(0))
                    .square()
                    .sum_dim_intlist(-1, false, Kind::Float);
            // sqrt'(0) is infinite: the square root only sees positive entries (1 elsewhere),
            // and zero distances get 0 with a zero gradient.
            let positive = sq.gt(0.0);
            let safe = sq.where_self(&positive, &sq.ones_like());
            safe.sqrt().where_self(&positive, &sq.zeros_like())
        }
        Distance::Cosine => e.matmul(&e.transpose(0, 1)),
    }
}

/// Mined triplets: anchor, positive and negative indices into the batch.
#[derive(Debug)]
pub struct Triplets {
    pub anchor: Tensor,
    pub positive: Tensor,
    pub negative: Tensor,
}

impl Triplets {
    pub fn len(&self) -> i64 {
        self.anchor.size()[0]
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The triplets as `(a, p, n)` rows, in mining order.
    pub fn rows(&self) -> Vec<(i64, i64, i64)> {
        let v = |t: &Tensor| Vec::<i64>::try_from(t.to_device(Device::Cpu)).unwrap_or_default();
        let (a, p, n) = (v(&self.anchor), v(&self.positive), v(&self.negative));
        a.into_iter()
            .zip(p)
            .zip(n)
            .map(|((a, p), n)| (a, p, n))
            .collect()
    }
}

/// How much triplet `(a, p, n)` misses the margin by, as pml's miner measures it:
/// `d(a,n) − d(a,p)` for a distance, `s(a,p) − s(a,n)` for a similarity; `[N, N, N]`.
fn triplet_margins(mat: &Tensor, distance: Distance) -> Tensor {
    let ap = mat.unsqueeze(2);
    let an = mat.unsqueeze(1);
    match distance {
        Distance::Euclidean => an - ap,
        Distance::Cosine => ap - an,
    }
}

/// `[N, N]` masks of positive pairs (same label, not the same item) and negative pairs.
fn pair_masks(labels: &Tensor) -> (Tensor, Tensor) {
    let n = labels.size()[0];
    let same = labels.unsqueeze(1).eq_tensor(&labels.unsqueeze(0));
    let eye = Tensor::eye(n, (Kind::Bool, labels.device()));
    (same.logical_and(&eye.logical_not()), same.logical_not())
}

/// The triplets `mining` picks from a batch whose pairwise distances are `mat`
/// ([`distance_matrix`]) and labels `labels`; `margin` is the semi-hard miner's.
pub fn mine(
    mat: &Tensor,
    labels: &Tensor,
    mining: Mining,
    distance: Distance,
    margin: f64,
) -> Triplets {
    let (pos, neg) = pair_masks(labels);
    let valid = || pos.unsqueeze(2).logical_and(&neg.unsqueeze(1));
    let from_mask = |mask: &Tensor| {
        let idx = mask.nonzero(); // [T, 3], row-major order as torch.where
        Triplets {
            anchor: idx.select(1, 0),
            positive: idx.select(1, 1),
            negative: idx.select(1, 2),
        }
    };
    match mining {
        Mining::All => from_mask(&valid()),
        Mining::Semihard => {
            let m = triplet_margins(mat, distance);
            from_mask(&valid().logical_and(&m.gt(0.0)).logical_and(&m.le(margin)))
        }
        Mining::Hard => {
            let mat = mat.detach();
            let (inf, neg_inf) = (
                mat.full_like(f64::INFINITY),
                mat.full_like(f64::NEG_INFINITY),
            );
            // The hardest positive is the farthest (least similar), the hardest negative the
            // nearest (most similar).
            let (positive, negative) = match distance {
                Distance::Euclidean => (
                    mat.where_self(&pos, &neg_inf).max_dim(1, false).1,
                    mat.where_self(&neg, &inf).min_dim(1, false).1,
                ),
                Distance::Cosine => (
                    mat.where_self(&pos, &inf).min_dim(1, false).1,
                    mat.where_self(&neg, &neg_inf).max_dim(1, false).1,
                ),
            };
            let keep = pos.any_dim(1, false).logical_and(&neg.any_dim(1, false));
            let anchor = Tensor::arange(labels.size()[0], (Kind::Int64, labels.device()));
            Triplets {
                anchor: anchor.masked_select(&keep),
                positive: positive.masked_select(&keep),
                negative: negative.masked_select(&keep),
            }
        }
    }
}

/// pml's `TripletMarginLoss(margin, distance)` over the triplets `mining` picks from `emb`
/// (`[N, d]`, normalised here) with labels `labels`: the loss and the mined triplets.
pub fn triplet_loss(
    emb: &Tensor,
    labels: &Tensor,
    margin: f64,
    mining: Mining,
    distance: Distance,
) -> (Tensor, Triplets) {
    let mat = distance_matrix(emb, distance);
    let triplets = mine(&mat, labels, mining, distance, margin);
    if triplets.is_empty() {
        return ((emb * 0.0).sum(Kind::Float), triplets);
    }
    let ap = mat.index(&[Some(&triplets.anchor), Some(&triplets.positive)]);
    let an = mat.index(&[Some(&triplets.anchor), Some(&triplets.negative)]);
    let current = match distance {
        Distance::Euclidean => ap - an,
        Distance::Cosine => an - ap,
    };
    let losses = (current + margin).relu();
    let positive = losses.masked_select(&losses.gt(0.0));
    let loss = if positive.size()[0] > 0 {
        positive.mean(Kind::Float)
    } else {
        (emb * 0.0).sum(Kind::Float)
    };
    (loss, triplets)
}

/// pml's `NormalizedSoftmaxLoss(temperature)` with class weights `weight` (`[d, classes]`).
pub fn normalized_softmax_loss(
    emb: &Tensor,
    labels: &Tensor,
    weight: &Tensor,
    temperature: f64,
) -> Tensor {
    normalized_softmax_logits(emb, weight, temperature).cross_entropy_for_logits(labels)
}

fn normalized_softmax_logits(emb: &Tensor, weight: &Tensor, temperature: f64) -> Tensor {
    let w = l2_normalize(&weight.transpose(0, 1)); // per class, as normalize(W, dim=0)
    l2_normalize(emb).matmul(&w.transpose(0, 1)) / temperature
}

/// The loss a run trains with, with the variables it owns (the cosine classifier's weights).
pub(crate) enum Loss {
    CrossEntropy {
        label_smoothing: f64,
    },
    Triplet {
        margin: f64,
        mining: Mining,
        distance: Distance,
    },
    NormalizedSoftmax {
        weight: Tensor,
        temperature: f64,
    },
}

impl Loss {
    /// `spec`'s loss for a model of `embedding_dim` over `classes` classes. A normalised
    /// softmax draws its `[d, classes]` weights N(0, 1) on the CPU (after the model's, from
    /// the same generator) and adds them to `root`'s var store, so the optimizer trains them
    /// and checkpoints and the weight digest include them.
    pub(crate) fn new(
        spec: LossSpec,
        label_smoothing: f64,
        root: &nn::Path,
        embedding_dim: Option<i64>,
        classes: i64,
    ) -> Loss {
        match spec {
            LossSpec::CrossEntropy => Loss::CrossEntropy { label_smoothing },
            LossSpec::Triplet {
                margin,
                mining,
                distance,
            } => Loss::Triplet {
                margin,
                mining,
                distance,
            },
            LossSpec::NormalizedSoftmax { temperature } => {
                let d = embedding_dim.unwrap_or(1);
                let drawn = Tensor::randn([d, classes], (Kind::Float, Device::Cpu));
                let weight = (root / "loss").var_copy("weight", &drawn.to_device(root.device()));
                Loss::NormalizedSoftmax {
                    weight,
                    temperature,
                }
            }
        }
    }

    /// The loss of a batch: `out` is the model's output (logits, or an embedding).
    pub(crate) fn compute(&self, out: &Tensor, labels: &Tensor) -> Tensor {
        match self {
            Loss::CrossEntropy { label_smoothing } => out.cross_entropy_loss::<Tensor>(
                labels,
                None,
                tch::Reduction::Mean,
                -100,
                *label_smoothing,
            ),
            Loss::Triplet {
                margin,
                mining,
                distance,
            } => triplet_loss(out, labels, *margin, *mining, *distance).0,
            Loss::NormalizedSoftmax {
                weight,
                temperature,
            } => normalized_softmax_loss(out, labels, weight, *temperature),
        }
    }
}

impl Loss {
    /// An embedding model's metrics on `split` (no gradients, dropout off), for the curve and
    /// the final record until retrieval metrics replace them: `loss` is this loss, over the
    /// split in consecutive chunks of `batch` (the training batch size) weighted by their size;
    /// `accuracy` (and `error`, `macro_f1`) come from each item's nearest other item by cosine
    /// similarity (leave-one-out 1-NN, which is precision at 1); `perplexity` is `exp(loss)`.
    pub(crate) fn evaluate_embedding(
        &self,
        net: &dyn crate::model::Net,
        split: &crate::data::prep::Split,
        classes: i64,
        batch: i64,
    ) -> super::Classification {
        let (xs, ys, lengths) = (&split.x, &split.y, &split.lengths);
        let n = xs.size()[0];
        tch::no_grad(|| {
            let chunks = |size: i64| {
                (0..n)
                    .step_by(size.max(1) as usize)
                    .map(move |s| (s, size.min(n - s)))
            };
            let mut emb = Vec::new();
            for (start, len) in chunks(1024) {
                let x = xs.narrow(0, start, len);
                emb.push(net.forward(&x, &lengths.narrow(0, start, len), false));
            }
            let emb = Tensor::cat(&emb, 0);
            let mut loss_sum = 0.0;
            for (start, len) in chunks(batch) {
                let l = self.compute(&emb.narrow(0, start, len), &ys.narrow(0, start, len));
                loss_sum += l.double_value(&[]) * len as f64;
            }
            let loss = loss_sum / n.max(1) as f64;
            let preds = nearest_neighbour_labels(&emb, ys);
            let truth = Vec::<i64>::try_from(ys.to_device(Device::Cpu)).unwrap_or_default();
            let correct = preds.iter().zip(&truth).filter(|(p, t)| p == t).count();
            let accuracy = correct as f64 / n.max(1) as f64;
            super::Classification {
                accuracy,
                error: 1.0 - accuracy,
                loss,
                perplexity: loss.exp(),
                macro_f1: super::macro_f1(&preds, &truth, classes),
            }
        })
    }
}

/// The label of each row's most similar other row (cosine similarity, exact; the first on
/// ties), in chunks of 1024 queries.
fn nearest_neighbour_labels(emb: &Tensor, labels: &Tensor) -> Vec<i64> {
    let e = l2_normalize(emb);
    let n = e.size()[0];
    let mut out = Vec::with_capacity(n as usize);
    let mut start = 0;
    while start < n {
        let len = 1024.min(n - start);
        let own = Tensor::arange_start(start, start + len, (Kind::Int64, e.device()));
        let sim = e
            .narrow(0, start, len)
            .matmul(&e.transpose(0, 1))
            .scatter_value(1, &own.unsqueeze(1), f64::NEG_INFINITY); // never itself
        let nearest = labels.index_select(0, &sim.argmax(1, false));
        out.extend(Vec::<i64>::try_from(nearest.to_device(Device::Cpu)).unwrap_or_default());
        start += len;
    }
    out
}
