//! The small header sections: `source:`, `dataset:` (a catalogued name or a dataset declared by
//! files, see `dataset.rs`) and `protocol:`.

use super::dataset::{decode_dataset_entry, DatasetScope};
use crate::spec::decode::Ctx;
use crate::spec::types::*;
use crate::yaml::Node;

pub(in crate::spec) fn decode_source(ctx: &mut Ctx, node: &Node) -> Option<Source> {
    let f = ctx.map(node, "`source`", &["url", "where"])?;
    let url = f
        .required(ctx, "url", "`source`")
        .and_then(|n| ctx.string(n, "`source.url`"))?;
    let location = f.get("where").and_then(|n| ctx.string(n, "`source.where`"));
    Some(Source { url, location })
}

/// `dataset:`: a catalogued name, a project catalog's name, or a declaration by files (see
/// [`super::dataset`]); the user datasets it names are recorded in `scope`.
pub(in crate::spec) fn decode_dataset(
    ctx: &mut Ctx,
    node: &Node,
    scope: &mut DatasetScope,
) -> Option<String> {
    decode_dataset_entry(ctx, node, scope)
}

pub(in crate::spec) fn decode_protocol(ctx: &mut Ctx, node: &Node) -> Option<Protocol> {
    let f = ctx.map(node, "`protocol`", &["selection", "split", "evaluate"])?;
    let selection = match f.get("selection") {
        Some(n) => ctx.choice(
            n,
            "checkpoint selection",
            &[
                ("last", Selection::Last),
                ("best-val", Selection::BestVal),
                ("min-train-loss", Selection::MinTrainLoss),
                ("best-test", Selection::BestTest),
            ],
        ),
        None => Some(Selection::Last),
    };
    let split = match f.get("split") {
        Some(n) => ctx.choice(n, "evaluation split", &[("test", Split::Test)]),
        None => Some(Split::Test),
    };
    let evaluate = match f.get("evaluate") {
        Some(n) => ctx.choice(
            n,
            "evaluation",
            &[
                ("classification", Evaluate::Classification),
                ("embedding", Evaluate::Embedding),
            ],
        ),
        None => Some(Evaluate::Classification),
    };
    Some(Protocol {
        selection: selection?,
        split: split?,
        evaluate: evaluate?,
    })
}
