//! One decoder per spec section (`source`, `dataset`, `protocol`, `seeds`, `data`, `train`,
//! `model`, `claim`, `gate`), and the scalar helpers they share.
//!
//! - `header.rs`: `source:`, `dataset:`, `protocol:`.
//! - `dataset.rs`: datasets declared by files (`dataset: { name, format, train, test, sha256 }`)
//!   and the project catalog (`datasets.yaml`).
//! - `seeds.rs`: `seeds:` and `quick.seeds:`.
//! - `data.rs`: `data:` (normalisation, padding, validation split, subset).
//! - `train.rs`: `train:` and its `schedule:`; [`RNN_DEFAULT_CLIP`].
//! - `loss.rs`: `train.loss:` and `train.sampler:` and their checks against the batch size and
//!   `model.embedding_dim`.
//! - `model.rs`: `model:`; a new model kind is a row of `MODEL_KINDS` (its keys) and an arm of
//!   `decode_model`, beside its `ModelSpec` variant in `types.rs`.
//! - `claim.rs`: `claim:`.
//! - `gate.rs`: `gate:` (the spec's or an arm's): the regression gate's own tolerance.

pub(super) mod claim;
pub(super) mod data;
pub mod dataset;
pub(super) mod gate;
pub(super) mod header;
pub(super) mod loss;
pub(super) mod model;
pub(super) mod seeds;
pub(super) mod train;

pub use train::RNN_DEFAULT_CLIP;

use crate::spec::decode::{Ctx, Fields};

/// The integer at `key`, checked to be in `1..=max`; `default` when absent.
pub(super) fn positive_int(
    ctx: &mut Ctx,
    f: &Fields,
    key: &str,
    default: i64,
    max: i64,
) -> Option<i64> {
    match f.get(key) {
        Some(n) => {
            let v = ctx.int(n, &format!("`{key}`"))?;
            ctx.check((1..=max).contains(&v), n.pos, || {
                format!("`{key}` must be between 1 and {max}, found {v}")
            })
            .then_some(v)
        }
        None => Some(default),
    }
}

/// The number at `key`, checked with `ok` (`rule` says what it demands); `default` when absent.
pub(super) fn number(
    ctx: &mut Ctx,
    f: &Fields,
    key: &str,
    default: f64,
    ok: fn(f64) -> bool,
    rule: &str,
) -> Option<f64> {
    match f.get(key) {
        Some(n) => {
            let v = ctx.f64(n, &format!("`{key}`"))?;
            ctx.check(ok(v), n.pos, || {
                format!("`{key}` must be {rule}, found {v}")
            })
            .then_some(v)
        }
        None => Some(default),
    }
}
