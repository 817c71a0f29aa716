//! One arm at one sweep point: the layering defaults → arm → point → `quick:`, the sections
//! decoded from it, its name, and the checks that span sections.

use super::decode::{overlay, Ctx, Fields};
use super::section::claim::decode_claim;
use super::section::data::decode_data;
use super::section::gate::{arm_gate_tolerance, decode_gate};
use super::section::header::{decode_dataset, decode_protocol};
use super::section::model::decode_model;
use super::section::train::decode_train;
use super::sweep::{assign, point_arm_id, point_values, Axis};
use super::types::*;
use crate::device::DeviceKind;
use crate::yaml::{Node, Pos, Value};

pub(super) const ARM_KEYS: &[&str] = &[
    "id", "role", "dataset", "protocol", "requires", "data", "model", "init", "train", "claim",
    "sweep", "tuning", "gate",
];

/// What every arm of a spec shares.
pub(super) struct Common<'a> {
    pub(super) id: String,
    pub(super) version: u32,
    pub(super) dataset: String,
    pub(super) protocol: Protocol,
    /// The spec's `protocol:` as written, under an arm's own `protocol:` keys.
    pub(super) protocol_node: Option<&'a Node>,
    /// What `dataset:` names resolve against; collects the user datasets the arms use.
    pub(super) scope: &'a std::cell::RefCell<super::section::dataset::DatasetScope>,
    pub(super) defaults: Option<Fields<'a>>,
    pub(super) quick: Option<Fields<'a>>,
    /// The spec's `gate.tolerance` and where it was written.
    pub(super) gate: Option<(f64, Pos)>,
}

/// `overlay` for `train:` layers: `steps` and `epochs` are one budget, so a layer that sets
/// either replaces both.
fn overlay_train(base: &Node, over: &Node) -> Node {
    let has = |n: &Node, key: &str| match &n.value {
        Value::Map(entries) => entries
            .iter()
            .any(|(k, _)| matches!(&k.value, Value::Scalar { text, .. } if text == key)),
        _ => false,
    };
    let mut base = base.clone();
    if let Value::Map(entries) = &mut base.value {
        for (mine, other) in [("steps", "epochs"), ("epochs", "steps")] {
            if has(over, mine) && !has(over, other) {
                entries.retain(
                    |(k, _)| !matches!(&k.value, Value::Scalar { text, .. } if text == other),
                );
            }
        }
    }
    overlay(&base, over)
}

/// The value of `key` in mapping `node`.
fn child<'a>(node: &'a Node, key: &str) -> Option<&'a Node> {
    match &node.value {
        Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| matches!(&k.value, Value::Scalar { text, .. } if text == key))
            .map(|(_, v)| v),
        _ => None,
    }
}

pub(super) fn empty_map(pos: Pos) -> Node {
    Node {
        value: Value::Map(Vec::new()),
        pos,
    }
}

pub(super) fn decode_tuning(ctx: &mut Ctx, node: &Node) -> Option<u32> {
    let f = ctx.map(node, "`tuning`", &["trials"])?;
    let n = f.required(ctx, "trials", "`tuning`")?;
    let trials = ctx.int(n, "`tuning.trials`")?;
    ctx.check((1..=1_000_000).contains(&trials), n.pos, || {
        format!("`tuning.trials` must be between 1 and 1000000, found {trials}")
    })
    .then_some(trials as u32)
}

/// One arm at one sweep point: the spec's defaults, then the arm's own sections, then the
/// point's values; `quick:` applies on top of all three.
pub(super) fn decode_arm(
    ctx: &mut Ctx,
    common: &Common,
    item: &Node,
    fields: &Fields,
    arm_id: &str,
    point: &[(&Axis, &Node)],
) -> Option<Arm> {
    let defaults = common.defaults.as_ref();
    let layer = |key: &str| {
        let base = defaults
            .and_then(|d| d.get(key))
            .cloned()
            .unwrap_or_else(|| empty_map(item.pos));
        let mut node = match fields.get(key) {
            Some(own) if key == "train" => overlay_train(&base, own),
            Some(own) => overlay(&base, own),
            None => base,
        };
        for (axis, value) in point.iter().filter(|(a, _)| a.path[0] == key) {
            node = assign(&node, &axis.path[1..], value, axis.pos);
        }
        node
    };
    let sweeps = |key: &str| point.iter().any(|(a, _)| a.path[0] == key);
    let model = match (fields.get("model"), defaults.and_then(|d| d.get("model"))) {
        (None, None) if !sweeps("model") => {
            ctx.err(item.pos, "an arm is missing required key `model`");
            None
        }
        _ => decode_model(ctx, &layer("model")),
    };
    let init_node = point
        .iter()
        .find(|(a, _)| a.path[0] == "init")
        .map(|(_, v)| *v)
        .or_else(|| fields.get("init"))
        .or_else(|| defaults.and_then(|d| d.get("init")));
    let init = match init_node {
        Some(n) => ctx.choice(
            n,
            "init scheme",
            &[
                ("torch", InitScheme::Torch),
                ("he", InitScheme::He),
                ("xavier", InitScheme::Xavier),
                ("as_saved", InitScheme::AsSaved),
            ],
        ),
        None => Some(InitScheme::Torch),
    };
    // Only a module file has saved weights to keep; a built-in model's are always drawn.
    if let (Some(InitScheme::AsSaved), Some(m), Some(n)) = (init, &model, init_node) {
        if !matches!(m, ModelSpec::Torchscript { .. }) {
            ctx.err(
                n.pos,
                "`init: as_saved` keeps the weights saved in a TorchScript module: it needs \
                 `model.kind: torchscript` (built-in models draw theirs from the seed)",
            );
        }
    }
    let data = decode_data(ctx, &layer("data"));
    let train_node = layer("train");
    let is_rnn = matches!(model, Some(ModelSpec::Rnn { .. }));
    let embedding_dim = model.as_ref().map(ModelSpec::embedding_dim);
    let train = decode_train(ctx, &train_node, is_rnn, embedding_dim);
    let train_quick_node = common
        .quick
        .as_ref()
        .and_then(|q| q.get("train"))
        .map(|q| overlay_train(&train_node, q));
    let train_quick = match &train_quick_node {
        Some(node) => decode_train(ctx, node, is_rnn, embedding_dim),
        None => train.clone(),
    };
    let claim = fields.get("claim").and_then(|n| decode_claim(ctx, n));
    // An arm's own dataset and protocol keys replace the spec's (both are in the run key).
    let dataset = match fields.get("dataset") {
        Some(n) => decode_dataset(ctx, n, &mut common.scope.borrow_mut()),
        None => Some(common.dataset.clone()),
    };
    let protocol = match fields.get("protocol") {
        Some(own) => {
            let base = common
                .protocol_node
                .cloned()
                .unwrap_or_else(|| empty_map(own.pos));
            decode_protocol(ctx, &overlay(&base, own))
        }
        None => Some(common.protocol),
    };
    let requires = fields.get("requires").map(|n| decode_requires(ctx, n));
    let own_gate = fields.get("gate").and_then(|n| decode_gate(ctx, n));
    let fraction = claim.is_none_or(|c| c.metric.is_fraction());
    let gate_tolerance = arm_gate_tolerance(ctx, own_gate, common.gate, fraction, arm_id);
    let role = match fields.get("role") {
        Some(n) => ctx.choice(
            n,
            "arm role",
            &[("method", Role::Method), ("baseline", Role::Baseline)],
        ),
        None if fields.get("claim").is_some() => Some(Role::Method),
        None => Some(Role::Baseline),
    };
    let (data, model, init, train, train_quick) = (data?, model?, init?, train?, train_quick?);
    let (dataset, protocol) = (dataset?, protocol?);
    let requires = match requires {
        Some(r) => Some(r?),
        None => None,
    };
    let point = point_values(point);
    let id = point_arm_id(arm_id, &point);
    let resolve = |train: TrainSpec| ResolvedArm {
        spec_id: common.id.clone(),
        spec_version: common.version,
        arm_id: id.clone(),
        dataset: dataset.clone(),
        protocol,
        data: data.clone(),
        model: model.clone(),
        init,
        train,
    };
    let selection = protocol.selection;
    let needs_val = |what: &str| {
        format!("{what} needs a validation split: add `data: {{ val: {{ fraction: 0.2 }} }}`")
    };
    if data.val_fraction.is_none() && selection == Selection::BestVal {
        ctx.err(item.pos, needs_val("`selection: best-val`"));
    }
    let nodes = [
        &train_node,
        train_quick_node.as_ref().unwrap_or(&train_node),
    ];
    for (t, node) in [&train, &train_quick].into_iter().zip(nodes) {
        let monitors_val = matches!(
            t.schedule,
            Schedule::Plateau {
                monitor: Monitor::ValLoss,
                ..
            }
        );
        if monitors_val && data.val_fraction.is_none() {
            let pos = child(node, "schedule")
                .and_then(|n| child(n, "monitor"))
                .map_or(item.pos, |n| n.pos);
            ctx.err(pos, needs_val("`monitor: val_loss`"));
        }
        if t.early_stopping.is_some() {
            if data.val_fraction.is_none() {
                ctx.err(item.pos, needs_val("early stopping"));
            } else if selection != Selection::BestVal {
                ctx.err(
                    item.pos,
                    "early stopping restores the best-validation weights: use \
                     `protocol: { selection: best-val }`",
                );
            }
        }
    }
    // A claim in a metric the arm never measures would silently get no value and no verdict.
    if let Some(c) = &claim {
        let arm = resolve(train.clone());
        let (measured, what) = if c.metric.is_retrieval() {
            (
                arm.has_retrieval(),
                "retrieval needs an embedding (`model.embedding_dim`, `data.classes` or \
                 `protocol: { evaluate: embedding }`)",
            )
        } else {
            (
                arm.has_classification(),
                "an embedding model or a class-disjoint split has no class head to measure it",
            )
        };
        if !measured {
            let pos = fields
                .get("claim")
                .and_then(|n| child(n, "metric"))
                .map_or(item.pos, |n| n.pos);
            ctx.err(
                pos,
                format!(
                    "arm `{id}` claims `{}`, which it does not measure: {what}",
                    c.metric.name()
                ),
            );
        }
    }
    Some(Arm {
        id: id.clone(),
        base: arm_id.to_string(),
        point,
        tuning_trials: 1,
        claim,
        gate_tolerance,
        role: role.unwrap_or(Role::Baseline),
        resolved: resolve(train),
        resolved_quick: resolve(train_quick),
        requires,
    })
}

/// `requires: { device: cuda, why: "..." }`.
fn decode_requires(ctx: &mut Ctx, node: &Node) -> Option<Requirement> {
    let f = ctx.map(node, "`requires`", &["device", "why"])?;
    let device = f
        .required(ctx, "device", "`requires`")
        .and_then(|n| ctx.choice(n, "required device", &[("cuda", DeviceKind::Cuda)]));
    let why = f
        .required(ctx, "why", "`requires`")
        .and_then(|n| ctx.string(n, "`requires.why`"));
    let why = why?;
    if why.trim().is_empty() {
        ctx.err(
            node.pos,
            "`requires.why` is empty: say what the arm costs or needs",
        );
        return None;
    }
    Some(Requirement {
        device: device?,
        why,
    })
}
