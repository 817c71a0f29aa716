//! `train.loss:` and `train.sampler:`, the metric-learning keys of the train section; the
//! checks between them, the batch size and `model.embedding_dim` are in [`check`].

use super::{number, positive_int};
use crate::spec::decode::{Ctx, Fields};
use crate::spec::types::*;
use crate::yaml::{Node, Value};

/// pytorch-metric-learning's defaults: `TripletMarginLoss(margin=0.05)`,
/// `NormalizedSoftmaxLoss(temperature=0.05)`.
const DEFAULT_MARGIN: f64 = 0.05;
const DEFAULT_TEMPERATURE: f64 = 0.05;

/// `loss: cross_entropy` or `loss: { kind: cross_entropy | triplet | normalized_softmax, ... }`.
pub(in crate::spec) fn decode_loss(ctx: &mut Ctx, node: &Node) -> Option<LossSpec> {
    const KINDS: &[(&str, usize)] = &[
        ("cross_entropy", 0),
        ("triplet", 1),
        ("normalized_softmax", 2),
    ];
    let kind = match &node.value {
        Value::Scalar { .. } => ctx.choice(node, "loss", KINDS)?,
        Value::Map(entries) => {
            let Some((_, kind_node)) = entries
                .iter()
                .find(|(k, _)| matches!(&k.value, Value::Scalar { text, .. } if text == "kind"))
            else {
                ctx.err(node.pos, "`loss` is missing required key `kind`");
                return None;
            };
            ctx.choice(kind_node, "loss", KINDS)?
        }
        _ => {
            ctx.err(
                node.pos,
                "`loss` must be `cross_entropy` or a mapping with `kind: cross_entropy|triplet|normalized_softmax`",
            );
            return None;
        }
    };
    let keys: &[&str] = match kind {
        0 => &["kind"],
        1 => &["kind", "margin", "mining", "distance"],
        _ => &["kind", "temperature"],
    };
    let f = match &node.value {
        Value::Map(_) => ctx.map(node, "`loss`", keys)?,
        _ => Fields::empty(node.pos),
    };
    match kind {
        0 => Some(LossSpec::CrossEntropy),
        1 => {
            let margin = number(
                ctx,
                &f,
                "margin",
                DEFAULT_MARGIN,
                |v| (0.0..=2.0).contains(&v),
                "in [0, 2] (distances between unit vectors are at most 2)",
            );
            let mining = match f.get("mining") {
                Some(n) => ctx.choice(
                    n,
                    "triplet mining",
                    &[
                        ("all", Mining::All),
                        ("hard", Mining::Hard),
                        ("semihard", Mining::Semihard),
                    ],
                ),
                None => Some(Mining::All),
            };
            let distance = match f.get("distance") {
                Some(n) => ctx.choice(
                    n,
                    "distance",
                    &[
                        ("euclidean", Distance::Euclidean),
                        ("cosine", Distance::Cosine),
                    ],
                ),
                None => Some(Distance::Euclidean),
            };
            Some(LossSpec::Triplet {
                margin: margin?,
                mining: mining?,
                distance: distance?,
            })
        }
        _ => {
            let temperature = number(
                ctx,
                &f,
                "temperature",
                DEFAULT_TEMPERATURE,
                |v| v > 0.0 && v <= 10.0,
                "in (0, 10]",
            )?;
            Some(LossSpec::NormalizedSoftmax { temperature })
        }
    }
}

/// `sampler: { classes_per_batch: P, per_class: K }`.
pub(in crate::spec) fn decode_sampler(ctx: &mut Ctx, node: &Node) -> Option<Option<Sampler>> {
    if node.value == Value::Null {
        return Some(None);
    }
    let f = ctx.map(node, "`sampler`", &["classes_per_batch", "per_class"])?;
    let p = f
        .required(ctx, "classes_per_batch", "`sampler`")
        .and_then(|_| positive_int(ctx, &f, "classes_per_batch", 1, 1 << 16));
    let k = f
        .required(ctx, "per_class", "`sampler`")
        .and_then(|_| positive_int(ctx, &f, "per_class", 1, 1 << 16));
    Some(Some(Sampler {
        classes_per_batch: p?,
        per_class: k?,
    }))
}

/// The checks that span `train.loss`, `train.sampler`, `train.batch_size`,
/// `train.label_smoothing` and `model.embedding_dim` (`None` when the model did not decode),
/// reported at `train` (`f`) keys.
pub(in crate::spec) fn check(
    ctx: &mut Ctx,
    f: &Fields,
    loss: LossSpec,
    sampler: Option<Sampler>,
    batch_size: i64,
    label_smoothing: f64,
    embedding_dim: Option<Option<i64>>,
) {
    let at = |key: &str| f.get(key).map_or(f.pos, |n| n.pos);
    match (loss, embedding_dim) {
        (LossSpec::CrossEntropy, Some(Some(d))) => ctx.err(
            at("loss"),
            format!(
                "`model.embedding_dim: {d}` replaces the class head, so cross-entropy has no \
                 logits: use `loss: {{ kind: triplet }}` or `loss: {{ kind: normalized_softmax }}`"
            ),
        ),
        (loss, Some(None)) if loss.is_metric() => ctx.err(
            at("loss"),
            format!(
                "a `{}` loss trains an embedding: give the model `embedding_dim` (e.g. 64)",
                loss.name()
            ),
        ),
        _ => {}
    }
    if loss.is_metric() && label_smoothing > 0.0 {
        ctx.err(
            at("label_smoothing"),
            format!(
                "`label_smoothing` applies to `cross_entropy`, not to a `{}` loss",
                loss.name()
            ),
        );
    }
    match (loss, sampler) {
        (LossSpec::Triplet { .. }, None) => ctx.err(
            at("loss"),
            "a triplet loss needs class-balanced batches: add \
             `sampler: { classes_per_batch: P, per_class: K }` (batch size P × K)",
        ),
        (LossSpec::Triplet { .. }, Some(s)) => {
            ctx.check(s.classes_per_batch >= 2, at("sampler"), || {
                format!(
                    "a triplet loss needs negatives: `classes_per_batch` must be at least 2, found {}",
                    s.classes_per_batch
                )
            });
            ctx.check(s.per_class >= 2, at("sampler"), || {
                format!(
                    "a triplet loss needs positives: `per_class` must be at least 2, found {}",
                    s.per_class
                )
            });
        }
        _ => {}
    }
    if let (Some(s), Some(n)) = (sampler, f.get("batch_size")) {
        ctx.check(batch_size == s.batch_size(), n.pos, || {
            format!(
                "`batch_size: {batch_size}` disagrees with the sampler's {} × {} = {}; \
                 drop it or make it equal",
                s.classes_per_batch,
                s.per_class,
                s.batch_size()
            )
        });
    }
}
