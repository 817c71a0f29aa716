//! The top-level document: header fields, `defaults:`, `quick:`, `gate:`, the spec's `sweep:`, the arms
//! list (one [`Arm`] per arm and sweep point) and `compare:`.

use std::path::Path;

use sha2::{Digest, Sha256};

use super::arm::{decode_arm, decode_tuning, Common, ARM_KEYS};
use super::compare::decode_compare;
use super::decode::Ctx;
use super::section::dataset::DatasetScope;
use super::section::gate::decode_gate;
use super::section::header::{decode_dataset, decode_protocol, decode_source};
use super::section::seeds::decode_seeds;
use super::sweep::{decode_sweep, sweep_points, MAX_SWEEP_POINTS};
use super::types::*;
use crate::numerics::Mode;
use crate::yaml::{Node, Pos, Value};

const TOP_KEYS: &[&str] = &[
    "id", "title", "source", "version", "dataset", "protocol", "defaults", "seeds", "arms",
    "quick", "sweep", "compare", "numerics", "gate",
];
const DEFAULTS_KEYS: &[&str] = &["data", "model", "init", "train"];
const QUICK_KEYS: &[&str] = &["train", "seeds"];

pub(super) fn decode_spec(
    ctx: &mut Ctx,
    root: &Node,
    path: &Path,
    bytes: &[u8],
    scope: DatasetScope,
) -> Option<Spec> {
    if root.value == Value::Null {
        ctx.err(root.pos, "spec file is empty");
        return None;
    }
    let top = ctx.map(root, "the spec", TOP_KEYS)?;
    let id = top
        .required(ctx, "id", "the spec")
        .and_then(|n| ctx.ident(n, "`id`"));
    let title = top
        .required(ctx, "title", "the spec")
        .and_then(|n| ctx.string(n, "`title`"));
    let source = top.get("source").and_then(|n| decode_source(ctx, n));
    let version = top.required(ctx, "version", "the spec").and_then(|n| {
        let v = ctx.int(n, "`version`")?;
        ctx.check((1..=1_000_000).contains(&v), n.pos, || {
            format!("`version` must be an integer from 1 to 1000000, found {v}")
        })
        .then_some(v as u32)
    });
    let scope = std::cell::RefCell::new(scope);
    let dataset = top
        .required(ctx, "dataset", "the spec")
        .and_then(|n| decode_dataset(ctx, n, &mut scope.borrow_mut()));
    let protocol = match top.get("protocol") {
        Some(n) => decode_protocol(ctx, n),
        None => Some(Protocol {
            selection: Selection::Last,
            split: Split::Test,
            evaluate: Evaluate::Classification,
        }),
    };
    let numerics = match top.get("numerics") {
        Some(n) => ctx.choice(
            n,
            "numerics mode",
            &[("native", Mode::Native), ("portable", Mode::Portable)],
        ),
        None => Some(Mode::Native),
    };
    let seeds = match top.get("seeds") {
        Some(n) => decode_seeds(ctx, n, None),
        None => Some(Seeds {
            count: 5,
            base: 0,
            max: None,
            derive: SeedDerive::Index,
            stack: None,
        }),
    };

    let defaults = top
        .get("defaults")
        .and_then(|n| ctx.map(n, "`defaults`", DEFAULTS_KEYS));
    let quick = top
        .get("quick")
        .and_then(|n| ctx.map(n, "`quick`", QUICK_KEYS));
    let seeds_quick = match (quick.as_ref().and_then(|q| q.get("seeds")), seeds) {
        (Some(n), Some(base)) => decode_seeds(ctx, n, Some(base)),
        (_, s) => s,
    };

    let gate = match top.get("gate") {
        Some(n) => decode_gate(ctx, n),
        None => None,
    };
    let spec_sweep = top
        .get("sweep")
        .map(|n| decode_sweep(ctx, n))
        .unwrap_or_default();
    let common = Common {
        id: id.clone().unwrap_or_default(),
        version: version.unwrap_or_default(),
        dataset: dataset.clone().unwrap_or_default(),
        protocol: protocol.unwrap_or(Protocol {
            selection: Selection::Last,
            split: Split::Test,
            evaluate: Evaluate::Classification,
        }),
        protocol_node: top.get("protocol"),
        scope: &scope,
        defaults,
        quick,
        gate,
    };
    let arms_node = top.required(ctx, "arms", "the spec");
    let mut arms = Vec::new();
    if let Some(items) = arms_node.and_then(|n| ctx.seq(n, "`arms`")) {
        if items.is_empty() {
            ctx.err(arms_node.map_or(root.pos, |n| n.pos), "`arms` is empty");
        }
        let mut seen: Vec<(String, Pos)> = Vec::new();
        for item in items {
            let Some(fields) = ctx.map(item, "an arm", ARM_KEYS) else {
                continue;
            };
            let arm_id = fields
                .required(ctx, "id", "an arm")
                .and_then(|n| ctx.ident(n, "arm `id`"));
            if let Some(arm_id) = &arm_id {
                if let Some((_, first)) = seen.iter().find(|(s, _)| s == arm_id) {
                    ctx.err(
                        fields.get("id").map_or(item.pos, |n| n.pos),
                        format!("duplicate arm id `{arm_id}` (first at line {})", first.line),
                    );
                }
                seen.push((arm_id.clone(), item.pos));
            }
            // The arm's own axes replace the spec's axes of the same key.
            let mut axes = spec_sweep.clone();
            for own in fields
                .get("sweep")
                .map(|n| decode_sweep(ctx, n))
                .unwrap_or_default()
            {
                match axes.iter_mut().find(|a| a.key == own.key) {
                    Some(a) => *a = own,
                    None => axes.push(own),
                }
            }
            let points = sweep_points(&axes);
            if points.len() > MAX_SWEEP_POINTS {
                ctx.err(
                    fields.get("sweep").map_or(item.pos, |n| n.pos),
                    format!(
                        "the sweep expands to {} points; at most {MAX_SWEEP_POINTS} are allowed",
                        points.len()
                    ),
                );
                continue;
            }
            let trials = match fields.get("tuning") {
                Some(n) => decode_tuning(ctx, n),
                None => Some(points.len() as u32),
            };
            let (Some(arm_id), Some(trials)) = (arm_id, trials) else {
                continue;
            };
            for point in &points {
                if let Some(mut arm) = decode_arm(ctx, &common, item, &fields, &arm_id, point) {
                    arm.tuning_trials = trials;
                    arms.push(arm);
                }
            }
        }
    }
    // `seeds.stack` (and a `quick.seeds.stack` of its own) only where every arm stacks exactly.
    let quick_seeds = top.get("quick").and_then(|q| map_entry(q, "seeds"));
    for (node, seeds, quick) in [
        (top.get("seeds"), seeds, false),
        (quick_seeds, seeds_quick, true),
    ] {
        let (Some(at), Some(Seeds { stack: Some(k), .. })) =
            (node.and_then(|n| map_entry(n, "stack")), seeds)
        else {
            continue;
        };
        if k < 2 {
            continue;
        }
        for arm in &arms {
            let resolved = if quick {
                &arm.resolved_quick
            } else {
                &arm.resolved
            };
            if let Some(why) = resolved.stack_refusal() {
                ctx.err(
                    at.pos,
                    format!(
                        "`seeds.stack: {k}` cannot stack arm `{}`: stacked seeds cannot train \
                         {why}; drop `stack` or move the arm to a spec of its own",
                        arm.id
                    ),
                );
            }
        }
    }
    let compare = top
        .get("compare")
        .map(|n| decode_compare(ctx, n, &arms))
        .unwrap_or_default();
    Some(Spec {
        path: path.to_path_buf(),
        file_sha256: hex::encode(Sha256::digest(bytes)),
        id: id?,
        title: title?,
        source,
        version: version?,
        dataset: dataset?,
        user_datasets: scope.into_inner().used,
        protocol: protocol?,
        numerics: numerics?,
        seeds: seeds?,
        seeds_quick: seeds_quick?,
        arms,
        compare,
    })
}

/// The value under `key` in a mapping node, if any (the node's own errors are reported where
/// it is decoded).
fn map_entry<'a>(node: &'a Node, key: &str) -> Option<&'a Node> {
    let Value::Map(entries) = &node.value else {
        return None;
    };
    entries
        .iter()
        .find(|(k, _)| matches!(&k.value, Value::Scalar { text, .. } if text == key))
        .map(|(_, v)| v)
}
