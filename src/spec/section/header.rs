//! The small header sections: `source:`, `dataset:` (checked against the catalogue) and
//! `protocol:`.

use crate::spec::decode::{closest, Ctx};
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

pub(in crate::spec) fn decode_dataset(ctx: &mut Ctx, node: &Node) -> Option<String> {
    let name = ctx.string(node, "`dataset`")?;
    let names = crate::data::catalog::names();
    if !names.contains(&name.as_str()) {
        let hint = closest(&name, &names)
            .map(|c| format!("did you mean `{c}`? "))
            .unwrap_or_default();
        ctx.err(
            node.pos,
            format!(
                "unknown dataset `{name}`; {hint}catalogued: {} (see `repro doctor`)",
                names.join(", ")
            ),
        );
        return None;
    }
    Some(name)
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
