//! Reading spec files: bytes → YAML tree → [`Spec`], every problem in a file reported together.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::decode::{overlay, Ctx, Fields};
use super::types::*;
use super::SpecError;
use crate::yaml::{self, Node, Pos, Value};

/// Specs are small hand-written files; anything larger is refused before it is parsed.
pub const MAX_SPEC_BYTES: u64 = 1 << 20;

const TOP_KEYS: &[&str] = &[
    "id", "title", "source", "version", "dataset", "protocol", "defaults", "seeds", "arms",
    "quick", "sweep", "compare",
];
const DEFAULTS_KEYS: &[&str] = &["data", "model", "init", "train"];
const ARM_KEYS: &[&str] = &[
    "id", "role", "data", "model", "init", "train", "claim", "sweep", "tuning",
];
/// The sections a sweep's dotted key may start with.
const SWEEP_SECTIONS: &[&str] = &["data", "model", "init", "train"];
/// Most points one arm's sweep may expand to.
const MAX_SWEEP_POINTS: usize = 1000;
const QUICK_KEYS: &[&str] = &["train", "seeds"];
const TRAIN_KEYS: &[&str] = &[
    "optimizer",
    "lr",
    "weight_decay",
    "batch_size",
    "steps",
    "epochs",
    "order",
    "eval_every",
    "schedule",
    "clip_grad_norm",
    "clip_grad_value",
    "label_smoothing",
    "early_stopping",
    "momentum",
    "nesterov",
    "beta1",
    "beta2",
    "eps",
];
const MODEL_KINDS: &[(&str, &[&str])] = &[
    ("linear", &["kind"]),
    (
        "mlp",
        &[
            "kind",
            "hidden",
            "activation",
            "negative_slope",
            "residual",
            "input_dropout",
            "dropout",
        ],
    ),
    (
        "cnn1d",
        &[
            "kind",
            "channels",
            "kernel",
            "stride",
            "padding",
            "activation",
            "negative_slope",
            "batch_norm",
            "head",
            "dropout",
        ],
    ),
    (
        "resnet1d",
        &[
            "kind",
            "channels",
            "kernel",
            "activation",
            "negative_slope",
            "dropout",
        ],
    ),
    (
        "rnn",
        &[
            "kind",
            "cell",
            "hidden",
            "layers",
            "bidirectional",
            "readout",
            "dropout",
            "layer_norm",
            "output_dropout",
            "forget_bias",
            "embedding",
        ],
    ),
];

const ACTIVATIONS: &[(&str, Activation)] = &[
    ("relu", Activation::Relu),
    ("leaky_relu", Activation::LeakyRelu(0.01)),
    ("elu", Activation::Elu),
    ("selu", Activation::Selu),
    ("gelu", Activation::Gelu),
    ("silu", Activation::Silu),
    ("tanh", Activation::Tanh),
    ("sigmoid", Activation::Sigmoid),
];

/// The `.yaml`/`.yml` files named by `paths` (directories are searched recursively), sorted.
pub fn spec_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, SpecError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            collect_dir(path, &mut files)?;
        } else if path.is_file() {
            files.push(path.clone());
        } else {
            return Err(SpecError::whole_file(path, "no such file or directory"));
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

fn collect_dir(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), SpecError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| SpecError::whole_file(dir, format!("cannot read directory: {e}")))?;
    for entry in entries {
        let entry =
            entry.map_err(|e| SpecError::whole_file(dir, format!("cannot read directory: {e}")))?;
        let path = entry.path();
        if path.is_dir() {
            collect_dir(&path, out)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            out.push(path);
        }
    }
    Ok(())
}

/// Loads every spec named by `paths`; the errors of all invalid files are returned together.
pub fn load_all(paths: &[PathBuf]) -> Result<Vec<Spec>, Vec<SpecError>> {
    let files = spec_files(paths).map_err(|e| vec![e])?;
    let mut specs = Vec::new();
    let mut errors = Vec::new();
    for file in files {
        match load(&file) {
            Ok(spec) => specs.push(spec),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        let mut seen = std::collections::HashMap::new();
        for spec in &specs {
            if let Some(first) = seen.insert(spec.id.clone(), spec.path.clone()) {
                errors.push(SpecError::whole_file(
                    &spec.path,
                    format!("spec id `{}` is also used by {}", spec.id, first.display()),
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(specs)
    } else {
        Err(errors)
    }
}

pub fn load(path: &Path) -> Result<Spec, SpecError> {
    let meta = std::fs::metadata(path)
        .map_err(|e| SpecError::whole_file(path, format!("cannot read: {e}")))?;
    if meta.len() > MAX_SPEC_BYTES {
        return Err(SpecError::whole_file(
            path,
            format!(
                "file is {} bytes; specs are limited to {MAX_SPEC_BYTES} bytes",
                meta.len()
            ),
        ));
    }
    let bytes = std::fs::read(path)
        .map_err(|e| SpecError::whole_file(path, format!("cannot read: {e}")))?;
    parse_bytes(path, &bytes)
}

/// Parses spec text; `path` is used for messages only.
pub fn parse_bytes(path: &Path, bytes: &[u8]) -> Result<Spec, SpecError> {
    let text = std::str::from_utf8(bytes).map_err(|e| SpecError {
        path: path.to_path_buf(),
        diags: vec![super::Diagnostic {
            pos: yaml::pos_of_offset(bytes, e.valid_up_to()),
            message: "file is not valid UTF-8".into(),
        }],
    })?;
    let root = yaml::parse(text, yaml::Limits::default()).map_err(|e| SpecError {
        path: path.to_path_buf(),
        diags: vec![super::Diagnostic {
            pos: e.pos,
            message: format!("invalid YAML: {}", e.message),
        }],
    })?;
    let mut ctx = Ctx::default();
    let spec = decode_spec(&mut ctx, &root, path, bytes);
    let diags = ctx.finish();
    match spec {
        Some(spec) if diags.is_empty() => Ok(spec),
        _ => Err(SpecError {
            path: path.to_path_buf(),
            diags,
        }),
    }
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

fn empty_map(pos: Pos) -> Node {
    Node {
        value: Value::Map(Vec::new()),
        pos,
    }
}

fn decode_spec(ctx: &mut Ctx, root: &Node, path: &Path, bytes: &[u8]) -> Option<Spec> {
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
            format!("`version` must be a positive integer, found {v}")
        })
        .then_some(v as u32)
    });
    let dataset = top
        .required(ctx, "dataset", "the spec")
        .and_then(|n| decode_dataset(ctx, n));
    let protocol = match top.get("protocol") {
        Some(n) => decode_protocol(ctx, n),
        None => Some(Protocol {
            selection: Selection::Last,
            split: Split::Test,
        }),
    };
    let seeds = match top.get("seeds") {
        Some(n) => decode_seeds(ctx, n, None),
        None => Some(Seeds {
            count: 5,
            base: 0,
            max: None,
            derive: SeedDerive::Index,
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
        }),
        defaults,
        quick,
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
        protocol: protocol?,
        seeds: seeds?,
        seeds_quick: seeds_quick?,
        arms,
        compare,
    })
}

/// What every arm of a spec shares.
struct Common<'a> {
    id: String,
    version: u32,
    dataset: String,
    protocol: Protocol,
    defaults: Option<Fields<'a>>,
    quick: Option<Fields<'a>>,
}

/// One `sweep:` entry: a dotted key and the values it takes.
#[derive(Clone)]
struct Axis {
    key: String,
    path: Vec<String>,
    pos: Pos,
    values: Vec<Node>,
}

fn decode_sweep(ctx: &mut Ctx, node: &Node) -> Vec<Axis> {
    let Value::Map(entries) = &node.value else {
        ctx.err(
            node.pos,
            format!(
                "`sweep` must be a mapping of dotted keys to lists of values, found {}",
                node.kind_name()
            ),
        );
        return Vec::new();
    };
    let mut axes: Vec<Axis> = Vec::new();
    for (k, v) in entries {
        let Some(key) = ctx.string(k, "a sweep key") else {
            continue;
        };
        let path: Vec<String> = key.split('.').map(str::to_string).collect();
        if path.iter().any(String::is_empty) {
            ctx.err(k.pos, format!("sweep key `{key}` has an empty part"));
            continue;
        }
        if !SWEEP_SECTIONS.contains(&path[0].as_str()) {
            let hint = super::decode::closest(&path[0], SWEEP_SECTIONS)
                .map(|c| format!(" (did you mean `{c}`?)"))
                .unwrap_or_default();
            ctx.err(
                k.pos,
                format!(
                    "sweep key `{key}` must start with one of `data`, `model`, `init`, `train`{hint}"
                ),
            );
            continue;
        }
        if path[0] == "init" && path.len() > 1 {
            ctx.err(k.pos, "`init` is a single value: sweep it as `init`");
            continue;
        }
        if let Some(first) = axes.iter().find(|a| a.key == key) {
            ctx.err(
                k.pos,
                format!(
                    "duplicate sweep key `{key}` (first at line {})",
                    first.pos.line
                ),
            );
            continue;
        }
        let Some(values) = ctx.seq(v, &format!("sweep `{key}`")) else {
            continue;
        };
        if values.is_empty() {
            ctx.err(v.pos, format!("sweep `{key}` has no values"));
            continue;
        }
        let mut shown: Vec<String> = Vec::new();
        for value in values {
            let text = flow(value);
            if shown.contains(&text) {
                ctx.err(value.pos, format!("sweep `{key}` lists {text} twice"));
            }
            shown.push(text);
        }
        axes.push(Axis {
            key,
            path,
            pos: k.pos,
            values: values.to_vec(),
        });
    }
    axes
}

/// The grid of `axes`, first axis slowest; one empty point without axes.
fn sweep_points(axes: &[Axis]) -> Vec<Vec<(&Axis, &Node)>> {
    let mut points: Vec<Vec<(&Axis, &Node)>> = vec![Vec::new()];
    for axis in axes {
        points = points
            .into_iter()
            .flat_map(|p| {
                axis.values.iter().map(move |v| {
                    let mut q = p.clone();
                    q.push((axis, v));
                    q
                })
            })
            .collect();
    }
    points
}

/// A node written on one line: scalars as they are, lists and mappings in flow style.
fn flow(node: &Node) -> String {
    match &node.value {
        Value::Null => "null".into(),
        Value::Scalar { text, .. } => text.clone(),
        Value::Seq(items) => format!("[{}]", items.iter().map(flow).collect::<Vec<_>>().join(",")),
        Value::Map(entries) => format!(
            "{{{}}}",
            entries
                .iter()
                .map(|(k, v)| format!("{}:{}", flow(k), flow(v)))
                .collect::<Vec<_>>()
                .join(",")
        ),
    }
}

/// `node` with the value at `path` (inside nested mappings, created where missing) replaced.
fn assign(node: &Node, path: &[String], value: &Node, pos: Pos) -> Node {
    let Some((first, rest)) = path.split_first() else {
        return value.clone();
    };
    let mut entries = match &node.value {
        Value::Map(entries) => entries.clone(),
        _ => Vec::new(),
    };
    let is_key = |k: &Node| matches!(&k.value, Value::Scalar { text, .. } if text == first);
    let inner = match entries.iter().position(|(k, _)| is_key(k)) {
        Some(i) => entries.remove(i).1,
        None => empty_map(pos),
    };
    entries.push((
        Node {
            value: Value::Scalar {
                text: first.clone(),
                plain: true,
            },
            pos,
        },
        assign(&inner, rest, value, pos),
    ));
    Node {
        value: Value::Map(entries),
        pos: node.pos,
    }
}

fn decode_tuning(ctx: &mut Ctx, node: &Node) -> Option<u32> {
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
fn decode_arm(
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
            ],
        ),
        None => Some(InitScheme::Torch),
    };
    let data = decode_data(ctx, &layer("data"));
    let train_node = layer("train");
    let is_rnn = matches!(model, Some(ModelSpec::Rnn { .. }));
    let train = decode_train(ctx, &train_node, is_rnn);
    let train_quick = match common.quick.as_ref().and_then(|q| q.get("train")) {
        Some(q) => decode_train(ctx, &overlay_train(&train_node, q), is_rnn),
        None => train.clone(),
    };
    let claim = fields.get("claim").and_then(|n| decode_claim(ctx, n));
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
    let point: Vec<SweepValue> = point
        .iter()
        .map(|(axis, value)| {
            let value_text = flow(value);
            SweepValue {
                key: axis.key.clone(),
                number: match &value.value {
                    Value::Scalar { text, plain: true } => text.parse::<f64>().ok(),
                    _ => None,
                },
                value: value_text,
            }
        })
        .collect();
    let id = if point.is_empty() {
        arm_id.to_string()
    } else {
        let short = |key: &str| {
            let last = key.rsplit('.').next().unwrap_or(key);
            let clashes = point
                .iter()
                .filter(|p| p.key.rsplit('.').next() == Some(last))
                .count();
            if clashes > 1 {
                key.to_string()
            } else {
                last.to_string()
            }
        };
        let parts: Vec<String> = point
            .iter()
            .map(|p| format!("{}={}", short(&p.key), p.value))
            .collect();
        format!("{arm_id}@{}", parts.join(","))
    };
    let resolve = |train: TrainSpec| ResolvedArm {
        spec_id: common.id.clone(),
        spec_version: common.version,
        arm_id: id.clone(),
        dataset: common.dataset.clone(),
        protocol: common.protocol,
        data,
        model: model.clone(),
        init,
        train,
    };
    let selection = common.protocol.selection;
    let needs_val = |what: &str| {
        format!("{what} needs a validation split: add `data: {{ val: {{ fraction: 0.2 }} }}`")
    };
    if data.val_fraction.is_none() && selection == Selection::BestVal {
        ctx.err(item.pos, needs_val("`selection: best-val`"));
    }
    for t in [&train, &train_quick] {
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
    Some(Arm {
        id: id.clone(),
        base: arm_id.to_string(),
        point,
        tuning_trials: 1,
        claim,
        role: role.unwrap_or(Role::Baseline),
        resolved: resolve(train),
        resolved_quick: resolve(train_quick),
    })
}

/// `compare:` items: a pair `[a, b]` of arm ids, or a sweep key. A pair naming swept arms by
/// their own id pairs their points with equal values; a sweep key compares, within each arm
/// and each setting of its other keys, every value with the key's first value.
fn decode_compare(ctx: &mut Ctx, node: &Node, arms: &[Arm]) -> Vec<Comparison> {
    let Some(items) = ctx.seq(node, "`compare`") else {
        return Vec::new();
    };
    let mut out: Vec<Comparison> = Vec::new();
    let mut push = |ctx: &mut Ctx, pos: Pos, a: &Arm, b: &Arm| {
        if out.iter().any(|c| c.a == a.id && c.b == b.id) {
            ctx.err(pos, format!("`{}` and `{}` are compared twice", a.id, b.id));
        } else {
            out.push(Comparison {
                a: a.id.clone(),
                b: b.id.clone(),
            });
        }
    };
    for item in items {
        match &item.value {
            Value::Seq(pair) => {
                if pair.len() != 2 {
                    ctx.err(
                        item.pos,
                        format!("a comparison names two arms, found {}", pair.len()),
                    );
                    continue;
                }
                let mut sides: Vec<Vec<&Arm>> = Vec::new();
                for side in pair {
                    let Some(name) = ctx.string(side, "an arm id") else {
                        continue;
                    };
                    let exact: Vec<&Arm> = arms.iter().filter(|a| a.id == name).collect();
                    let by_base: Vec<&Arm> = arms.iter().filter(|a| a.base == name).collect();
                    if !exact.is_empty() {
                        sides.push(exact);
                    } else if !by_base.is_empty() {
                        sides.push(by_base);
                    } else {
                        let ids: Vec<&str> = arms
                            .iter()
                            .flat_map(|a| [a.id.as_str(), a.base.as_str()])
                            .collect();
                        let hint = super::decode::closest(&name, &ids)
                            .map(|c| format!(" (did you mean `{c}`?)"))
                            .unwrap_or_default();
                        ctx.err(
                            side.pos,
                            format!("`compare` names unknown arm `{name}`{hint}"),
                        );
                    }
                }
                let [a_side, b_side] = sides.as_slice() else {
                    continue;
                };
                if a_side.len() == 1 && b_side.len() == 1 {
                    if a_side[0].id == b_side[0].id {
                        ctx.err(item.pos, "an arm compared with itself");
                    } else {
                        push(ctx, item.pos, a_side[0], b_side[0]);
                    }
                    continue;
                }
                if a_side[0].base == b_side[0].base && a_side.len() == b_side.len() {
                    ctx.err(item.pos, "an arm compared with itself");
                    continue;
                }
                let mut matched = 0;
                for a in a_side {
                    if let Some(b) = b_side.iter().find(|b| b.point == a.point) {
                        push(ctx, item.pos, a, b);
                        matched += 1;
                    }
                }
                if matched != a_side.len() || matched != b_side.len() {
                    ctx.err(
                        item.pos,
                        format!(
                            "`{}` and `{}` are not swept over the same points, so they cannot \
                             be paired point by point: name the points (`arm@key=value`)",
                            a_side[0].base, b_side[0].base
                        ),
                    );
                }
            }
            Value::Scalar { text: key, .. } => {
                let swept: Vec<&Arm> = arms
                    .iter()
                    .filter(|a| a.point.iter().any(|p| &p.key == key))
                    .collect();
                if swept.is_empty() {
                    ctx.err(item.pos, format!("no arm is swept over `{key}`"));
                    continue;
                }
                for b in &swept {
                    let value_of = |arm: &Arm| {
                        arm.point
                            .iter()
                            .find(|p| &p.key == key)
                            .map(|p| p.value.clone())
                    };
                    // `a`: same arm, same other values, the first value of `key`.
                    let first = swept
                        .iter()
                        .filter(|a| a.base == b.base)
                        .filter_map(|a| value_of(a))
                        .next();
                    let a = swept.iter().find(|a| {
                        a.base == b.base
                            && value_of(a) == first
                            && a.point
                                .iter()
                                .zip(&b.point)
                                .all(|(x, y)| x.key == *key || x == y)
                    });
                    if let Some(a) = a {
                        if a.id != b.id {
                            push(ctx, item.pos, a, b);
                        }
                    }
                }
            }
            _ => ctx.err(
                item.pos,
                format!(
                    "a comparison is a pair `[arm, arm]` or a sweep key, found {}",
                    item.kind_name()
                ),
            ),
        }
    }
    out
}

fn decode_source(ctx: &mut Ctx, node: &Node) -> Option<Source> {
    let f = ctx.map(node, "`source`", &["url", "where"])?;
    let url = f
        .required(ctx, "url", "`source`")
        .and_then(|n| ctx.string(n, "`source.url`"))?;
    let location = f.get("where").and_then(|n| ctx.string(n, "`source.where`"));
    Some(Source { url, location })
}

fn decode_dataset(ctx: &mut Ctx, node: &Node) -> Option<String> {
    let name = ctx.string(node, "`dataset`")?;
    let names = crate::data::catalog::names();
    if !names.contains(&name.as_str()) {
        let hint = super::decode::closest(&name, &names)
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

fn decode_protocol(ctx: &mut Ctx, node: &Node) -> Option<Protocol> {
    let f = ctx.map(node, "`protocol`", &["selection", "split"])?;
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
    Some(Protocol {
        selection: selection?,
        split: split?,
    })
}

fn decode_seeds(ctx: &mut Ctx, node: &Node, base: Option<Seeds>) -> Option<Seeds> {
    let f = ctx.map(
        node,
        "`seeds`",
        &["count", "base", "min", "max", "until", "derive"],
    )?;
    let derive = match f.get("derive") {
        Some(n) => ctx.choice(
            n,
            "`seeds.derive`",
            &[("index", SeedDerive::Index), ("arm", SeedDerive::Arm)],
        ),
        None => Some(base.map_or(SeedDerive::Index, |b| b.derive)),
    };
    let int = |ctx: &mut Ctx, key: &str| -> Option<Option<u32>> {
        match f.get(key) {
            Some(n) => ctx.int(n, &format!("`seeds.{key}`")).and_then(|c| {
                ctx.check((1..=1000).contains(&c), n.pos, || {
                    format!("`seeds.{key}` must be between 1 and 1000, found {c}")
                })
                .then_some(Some(c as u32))
            }),
            None => Some(None),
        }
    };
    let adaptive = f.get("until").is_some() || f.get("min").is_some() || f.get("max").is_some();
    let (count, max) = if adaptive {
        if let Some(n) = f.get("count") {
            ctx.err(
                n.pos,
                "adaptive seeds take `min`, `max` and `until: decisive`, not `count`",
            );
        }
        let until = match f.get("until") {
            Some(n) => ctx.choice(n, "`seeds.until`", &[("decisive", ())]),
            None => {
                ctx.err(f.pos, "adaptive seeds need `until: decisive`");
                None
            }
        };
        let min = int(ctx, "min");
        let max = int(ctx, "max");
        let (min, max) = match (min, max) {
            (Some(min), Some(max)) => (min.unwrap_or(3), max),
            _ => (None?, None?),
        };
        let Some(max) = max else {
            ctx.err(f.pos, "adaptive seeds need `max`");
            return None;
        };
        if let Some(n) = f.get("max") {
            ctx.check(max >= min, n.pos, || {
                format!("`seeds.max` ({max}) is below `seeds.min` ({min})")
            });
        }
        until?;
        (Some(min), Some(max))
    } else {
        let count = int(ctx, "count")?.unwrap_or(base.map_or(5, |b| b.count));
        (Some(count), base.and_then(|b| b.max))
    };
    let seed_base = match f.get("base") {
        Some(n) => ctx.int(n, "`seeds.base`").and_then(|b| {
            ctx.check((0..=i64::from(u32::MAX)).contains(&b), n.pos, || {
                format!("`seeds.base` must be between 0 and {}, found {b}", u32::MAX)
            })
            .then_some(b)
        }),
        None => Some(base.map_or(0, |b| b.base)),
    };
    Some(Seeds {
        derive: derive?,
        count: count?,
        base: seed_base?,
        max: if adaptive {
            max
        } else {
            max.filter(|_| f.get("count").is_none())
        },
    })
}

fn positive_int(ctx: &mut Ctx, f: &Fields, key: &str, default: i64, max: i64) -> Option<i64> {
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

fn number(
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

fn decode_data(ctx: &mut Ctx, node: &Node) -> Option<DataSpec> {
    let f = ctx.map(node, "`data`", &["normalize", "pad", "val", "subset"])?;
    let normalize = match f.get("normalize") {
        Some(n) => ctx.choice(
            n,
            "normalisation",
            &[
                ("none", Normalize::None),
                ("series", Normalize::Series),
                ("dataset", Normalize::Dataset),
            ],
        ),
        None => Some(Normalize::None),
    };
    let pad = match f.get("pad") {
        None => Some(Pad::Max),
        Some(n) if n.value == Value::Null => Some(Pad::Max),
        Some(n) if matches!(n.value, Value::Map(_)) => ctx
            .map(n, "`data.pad`", &["percentile"])
            .and_then(|p| p.required(ctx, "percentile", "`data.pad`"))
            .and_then(|p| {
                let v = ctx.f64(p, "`percentile`")?;
                ctx.check(v > 0.0 && v <= 100.0, p.pos, || {
                    format!("`percentile` must be in (0, 100], found {v}")
                })
                .then_some(Pad::Percentile(v))
            }),
        Some(n) if matches!(&n.value, Value::Scalar { text, .. } if text == "max") => {
            Some(Pad::Max)
        }
        Some(n) => ctx
            .int(n, "`data.pad` (a length, `max`, or {percentile: P})")
            .and_then(|v| {
                ctx.check((1..=1 << 20).contains(&v), n.pos, || {
                    format!("`data.pad` must be between 1 and {}, found {v}", 1 << 20)
                })
                .then_some(Pad::Length(v))
            }),
    };
    let val_fraction = match f.get("val") {
        None => Some(None),
        Some(n) if n.value == Value::Null => Some(None),
        Some(n) => ctx
            .map(n, "`data.val`", &["fraction"])
            .and_then(|v| v.required(ctx, "fraction", "`data.val`"))
            .and_then(|v| {
                let x = ctx.f64(v, "`fraction`")?;
                ctx.check(x > 0.0 && x < 1.0, v.pos, || {
                    format!("`fraction` must be in (0, 1), found {x}")
                })
                .then_some(Some(x))
            }),
    };
    let subset = match f.get("subset") {
        None => Some(None),
        Some(n) if n.value == Value::Null => Some(None),
        Some(n) => decode_subset(ctx, n).map(Some),
    };
    Some(DataSpec {
        normalize: normalize?,
        pad: pad?,
        val_fraction: val_fraction?,
        subset: subset?,
    })
}

fn decode_subset(ctx: &mut Ctx, node: &Node) -> Option<Subset> {
    let f = ctx.map(node, "`data.subset`", &["fraction", "train", "test"])?;
    if let Some(n) = f.get("fraction") {
        if let Some(other) = f.get("train").or(f.get("test")) {
            ctx.err(
                other.pos,
                "`data.subset` takes either `fraction` or `train`/`test` counts, not both",
            );
            return None;
        }
        let x = ctx.f64(n, "`fraction`")?;
        return ctx
            .check(x > 0.0 && x <= 1.0, n.pos, || {
                format!("`fraction` must be in (0, 1], found {x}")
            })
            .then_some(Subset::Fraction(x));
    }
    let count = |ctx: &mut Ctx, key: &str| match f.get(key) {
        None => Some(None),
        Some(n) => ctx.int(n, &format!("`{key}`")).and_then(|v| {
            ctx.check(v >= 1, n.pos, || {
                format!("`{key}` must be at least 1, found {v}")
            })
            .then_some(Some(v))
        }),
    };
    let (train, test) = (count(ctx, "train")?, count(ctx, "test")?);
    if train.is_none() && test.is_none() {
        ctx.err(f.pos, "`data.subset` needs `fraction`, `train` or `test`");
        return None;
    }
    Some(Subset::Count { train, test })
}

/// Recurrent models clip the global gradient norm at this unless the spec says otherwise
/// (`clip_grad_norm: null` turns it off).
pub const RNN_DEFAULT_CLIP: f64 = 1.0;

fn decode_train(ctx: &mut Ctx, node: &Node, is_rnn: bool) -> Option<TrainSpec> {
    let f = ctx.map(node, "`train`", TRAIN_KEYS)?;
    let kind = match f.get("optimizer") {
        Some(n) => ctx.choice(
            n,
            "optimizer",
            &[
                ("adam", "adam"),
                ("adamw", "adamw"),
                ("radam", "radam"),
                ("sgd", "sgd"),
            ],
        ),
        None => Some("adam"),
    };
    let for_sgd = ["momentum", "nesterov"];
    let for_adam = ["beta1", "beta2", "eps"];
    if let Some(name) = kind {
        let wrong = if name == "sgd" {
            &for_adam[..]
        } else {
            &for_sgd[..]
        };
        for key in wrong {
            if let Some(n) = f.get(key) {
                ctx.err(
                    n.pos,
                    format!("`{key}` does not apply to optimizer `{name}`"),
                );
            }
        }
    }
    let unit = |v: f64| (0.0..1.0).contains(&v);
    let optimizer = match kind? {
        "sgd" => Optimizer::Sgd {
            momentum: number(ctx, &f, "momentum", 0.9, unit, "in [0, 1)")?,
            nesterov: match f.get("nesterov") {
                Some(n) => ctx.bool(n, "`nesterov`")?,
                None => false,
            },
        },
        name => {
            let beta1 = number(ctx, &f, "beta1", 0.9, unit, "in [0, 1)")?;
            let beta2 = number(ctx, &f, "beta2", 0.999, unit, "in [0, 1)")?;
            let eps = number(ctx, &f, "eps", 1e-8, |v| v > 0.0, "> 0")?;
            match name {
                "adamw" => Optimizer::Adamw { beta1, beta2, eps },
                "radam" => Optimizer::Radam { beta1, beta2, eps },
                _ => Optimizer::Adam { beta1, beta2, eps },
            }
        }
    };
    let lr = number(ctx, &f, "lr", 1e-3, |v| v > 0.0 && v <= 10.0, "in (0, 10]");
    let weight_decay = number(
        ctx,
        &f,
        "weight_decay",
        1e-4,
        |v| (0.0..1.0).contains(&v),
        "in [0, 1)",
    );
    let batch_size = positive_int(ctx, &f, "batch_size", 32, 1 << 20);
    let (steps, epochs) = match (f.get("steps"), f.get("epochs")) {
        (Some(_), Some(n)) => {
            ctx.err(n.pos, "give `steps` or `epochs`, not both");
            (None, None)
        }
        (Some(_), None) => (
            positive_int(ctx, &f, "steps", 1, 100_000_000).map(Some),
            Some(None),
        ),
        (None, Some(_)) => (
            Some(None),
            positive_int(ctx, &f, "epochs", 1, 10_000_000).map(Some),
        ),
        (None, None) => {
            ctx.err(
                f.pos,
                "`train` needs `steps` or `epochs` (in the arm or in `defaults.train`)",
            );
            (None, None)
        }
    };
    let label_smoothing = number(
        ctx,
        &f,
        "label_smoothing",
        0.0,
        |v| (0.0..1.0).contains(&v),
        "in [0, 1)",
    );
    let early_stopping = match f.get("early_stopping") {
        None => Some(None),
        Some(n) if n.value == Value::Null => Some(None),
        Some(n) => ctx
            .map(n, "`early_stopping`", &["patience", "min_delta"])
            .and_then(|e| {
                let patience = positive_int(ctx, &e, "patience", 10, 1_000_000);
                let min_delta = number(ctx, &e, "min_delta", 0.0, |v| v >= 0.0, ">= 0");
                Some(Some(EarlyStopping {
                    patience: patience?,
                    min_delta: min_delta?,
                }))
            }),
    };
    let eval_every = positive_int(ctx, &f, "eval_every", 250, 100_000_000);
    let order = match f.get("order") {
        Some(n) => ctx.choice(
            n,
            "batch order",
            &[
                ("sequential", BatchOrder::Sequential),
                ("shuffle", BatchOrder::Shuffle),
            ],
        ),
        None => Some(BatchOrder::Shuffle),
    };
    let clip = |ctx: &mut Ctx, key: &str| match f.get(key) {
        Some(n) if n.value == Value::Null => Some(None),
        Some(_) => number(ctx, &f, key, 0.0, |v| v > 0.0, "> 0").map(Some),
        None => Some(None),
    };
    let clip_grad_value = clip(ctx, "clip_grad_value");
    let clip_grad_norm = match f.get("clip_grad_norm") {
        None if is_rnn && clip_grad_value == Some(None) => Some(Some(RNN_DEFAULT_CLIP)),
        _ => clip(ctx, "clip_grad_norm"),
    };
    if let (Some(Some(_)), Some(Some(_)), Some(n)) =
        (clip_grad_norm, clip_grad_value, f.get("clip_grad_value"))
    {
        ctx.err(
            n.pos,
            "give `clip_grad_norm` or `clip_grad_value`, not both",
        );
    }
    let schedule = match f.get("schedule") {
        Some(n) => decode_schedule(ctx, n),
        None => Some(Schedule::Constant),
    };
    Some(TrainSpec {
        optimizer,
        lr: lr?,
        weight_decay: weight_decay?,
        batch_size: batch_size?,
        steps: steps?,
        epochs: epochs?,
        order: order?,
        eval_every: eval_every?,
        schedule: schedule?,
        clip_grad_norm: clip_grad_norm?,
        clip_grad_value: clip_grad_value?,
        label_smoothing: label_smoothing?,
        early_stopping: early_stopping?,
    })
}

fn decode_schedule(ctx: &mut Ctx, node: &Node) -> Option<Schedule> {
    if let Value::Scalar { text, .. } = &node.value {
        if text == "constant" {
            return Some(Schedule::Constant);
        }
    }
    if !matches!(node.value, Value::Map(_)) {
        ctx.err(
            node.pos,
            "`schedule` must be `constant` or a mapping with `kind: cosine|step|plateau`",
        );
        return None;
    }
    let Value::Map(entries) = &node.value else {
        return None;
    };
    let kind_node = entries
        .iter()
        .find(|(k, _)| matches!(&k.value, Value::Scalar { text, .. } if text == "kind"))
        .map(|(_, v)| v);
    let Some(kind_node) = kind_node else {
        ctx.err(node.pos, "`schedule` is missing required key `kind`");
        return None;
    };
    let kind = ctx.choice(
        kind_node,
        "schedule",
        &[("constant", 0), ("cosine", 1), ("step", 2), ("plateau", 3)],
    )?;
    let keys: &[&str] = match kind {
        0 => &["kind"],
        1 => &["kind", "t_max", "eta_min", "warmup", "unit"],
        2 => &["kind", "step_size", "gamma", "unit"],
        _ => &["kind", "factor", "patience", "min_lr"],
    };
    let f = ctx.map(node, "`schedule`", keys)?;
    let unit = match f.get("unit") {
        Some(n) => ctx.choice(
            n,
            "schedule unit",
            &[
                ("steps", ScheduleUnit::Steps),
                ("epochs", ScheduleUnit::Epochs),
            ],
        ),
        None => Some(ScheduleUnit::Steps),
    };
    let nonneg = |v: f64| v >= 0.0;
    match kind {
        0 => Some(Schedule::Constant),
        1 => {
            let t_max = f
                .required(ctx, "t_max", "a cosine `schedule`")
                .and_then(|_| positive_int(ctx, &f, "t_max", 1, 100_000_000));
            let warmup = match f.get("warmup") {
                Some(n) => ctx.int(n, "`warmup`").and_then(|w| {
                    ctx.check(w >= 0, n.pos, || {
                        format!("`warmup` must be at least 0, found {w}")
                    })
                    .then_some(w)
                }),
                None => Some(0),
            };
            let eta_min = number(ctx, &f, "eta_min", 0.0, nonneg, ">= 0");
            Some(Schedule::Cosine {
                t_max: t_max?,
                eta_min: eta_min?,
                warmup: warmup?,
                unit: unit?,
            })
        }
        2 => {
            let step_size = f
                .required(ctx, "step_size", "a step `schedule`")
                .and_then(|_| positive_int(ctx, &f, "step_size", 1, 100_000_000));
            let gamma = number(ctx, &f, "gamma", 0.1, |v| v > 0.0 && v <= 1.0, "in (0, 1]");
            Some(Schedule::Step {
                step_size: step_size?,
                gamma: gamma?,
                unit: unit?,
            })
        }
        _ => {
            let factor = number(ctx, &f, "factor", 0.1, |v| v > 0.0 && v < 1.0, "in (0, 1)");
            let patience = match f.get("patience") {
                Some(n) => ctx.int(n, "`patience`").and_then(|p| {
                    ctx.check(p >= 0, n.pos, || {
                        format!("`patience` must be at least 0, found {p}")
                    })
                    .then_some(p)
                }),
                None => Some(10),
            };
            let min_lr = number(ctx, &f, "min_lr", 0.0, nonneg, ">= 0");
            Some(Schedule::Plateau {
                factor: factor?,
                patience: patience?,
                min_lr: min_lr?,
            })
        }
    }
}

fn int_list(ctx: &mut Ctx, node: &Node, what: &str, max: i64) -> Option<Vec<i64>> {
    let items = ctx.seq(node, what)?;
    if items.is_empty() {
        ctx.err(node.pos, format!("{what} must not be empty"));
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    for item in items {
        match ctx.int(item, &format!("each of {what}")) {
            Some(v) if (1..=max).contains(&v) => out.push(v),
            Some(v) => {
                ctx.err(
                    item.pos,
                    format!("each of {what} must be between 1 and {max}, found {v}"),
                );
                ok = false;
            }
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn decode_model(ctx: &mut Ctx, node: &Node) -> Option<ModelSpec> {
    let Value::Map(_) = &node.value else {
        ctx.err(
            node.pos,
            format!("`model` must be a mapping, found {}", node.kind_name()),
        );
        return None;
    };
    let Value::Map(entries) = &node.value else {
        return None;
    };
    let kind_entry = entries
        .iter()
        .find(|(k, _)| matches!(&k.value, Value::Scalar { text, .. } if text == "kind"));
    let Some((_, kind_node)) = kind_entry else {
        ctx.err(node.pos, "`model` is missing required key `kind`");
        return None;
    };
    let kinds: Vec<(&str, usize)> = MODEL_KINDS
        .iter()
        .enumerate()
        .map(|(i, (k, _))| (*k, i))
        .collect();
    let kind = ctx.choice(kind_node, "model kind", &kinds)?;
    let (kind_name, keys) = MODEL_KINDS[kind];
    let f = ctx.map(node, &format!("a `{kind_name}` model"), keys)?;
    let activation = |ctx: &mut Ctx| {
        let act = match f.get("activation") {
            Some(n) => ctx.choice(n, "activation", ACTIVATIONS),
            None => Some(Activation::Relu),
        };
        match (act, f.get("negative_slope")) {
            (Some(Activation::LeakyRelu(_)), Some(n)) => {
                let v = ctx.f64(n, "`negative_slope`")?;
                ctx.check((0.0..1.0).contains(&v), n.pos, || {
                    format!("`negative_slope` must be in [0, 1), found {v}")
                })
                .then_some(Activation::LeakyRelu(v))
            }
            (Some(_), Some(n)) => {
                ctx.err(
                    n.pos,
                    "`negative_slope` applies to `activation: leaky_relu` only",
                );
                None
            }
            (act, None) | (act @ None, Some(_)) => act,
        }
    };
    let flag = |ctx: &mut Ctx, key: &str| match f.get(key) {
        Some(n) => ctx.bool(n, &format!("`{key}`")),
        None => Some(false),
    };
    let rate = |ctx: &mut Ctx, key: &str| {
        number(ctx, &f, key, 0.0, |v| (0.0..1.0).contains(&v), "in [0, 1)")
    };
    let kernels = |ctx: &mut Ctx, layers: Option<usize>| match f.get("kernel") {
        Some(n) if matches!(n.value, Value::Seq(_)) => {
            let k = int_list(ctx, n, "`kernel`", 1 << 12);
            if let (Some(k), Some(layers)) = (&k, layers) {
                ctx.check(k.len() == layers, n.pos, || {
                    format!(
                        "`kernel` has {} entries but `channels` has {layers}; give one per layer or a single number",
                        k.len()
                    )
                });
            }
            k
        }
        Some(n) => ctx.int(n, "`kernel`").and_then(|k| {
            ctx.check((1..=4096).contains(&k), n.pos, || {
                format!("`kernel` must be between 1 and 4096, found {k}")
            })
            .then(|| vec![k; layers.unwrap_or(1)])
        }),
        None => Some(vec![3; layers.unwrap_or(1)]),
    };
    match kind_name {
        "linear" => Some(ModelSpec::Linear),
        "mlp" => {
            let hidden = f
                .required(ctx, "hidden", "an `mlp` model")
                .and_then(|n| int_list(ctx, n, "`hidden`", 1 << 16));
            let activation = activation(ctx);
            let residual = flag(ctx, "residual");
            let input_dropout = rate(ctx, "input_dropout");
            let layers = hidden.as_ref().map_or(0, Vec::len);
            let dropout = match f.get("dropout") {
                None => Some(Vec::new()),
                Some(n) if matches!(n.value, Value::Seq(_)) => {
                    let items = ctx.seq(n, "`dropout`")?;
                    let rates: Option<Vec<f64>> = items
                        .iter()
                        .map(|i| {
                            let v = ctx.f64(i, "each of `dropout`")?;
                            ctx.check((0.0..1.0).contains(&v), i.pos, || {
                                format!("each of `dropout` must be in [0, 1), found {v}")
                            })
                            .then_some(v)
                        })
                        .collect();
                    if let Some(r) = &rates {
                        ctx.check(r.len() == layers, n.pos, || {
                            format!("`dropout` has {} rates for {layers} hidden layers", r.len())
                        });
                    }
                    rates
                }
                Some(_) => rate(ctx, "dropout").map(|p| vec![p; layers]),
            };
            Some(ModelSpec::Mlp {
                hidden: hidden?,
                activation: activation?,
                residual: residual?,
                input_dropout: input_dropout?,
                dropout: dropout?,
            })
        }
        "cnn1d" => {
            let channels = f
                .required(ctx, "channels", "a `cnn1d` model")
                .and_then(|n| int_list(ctx, n, "`channels`", 1 << 14));
            let kernel = kernels(ctx, channels.as_ref().map(Vec::len));
            let stride = positive_int(ctx, &f, "stride", 1, 4096);
            let padding = match f.get("padding") {
                Some(n) if matches!(&n.value, Value::Scalar { text, .. } if text == "same") => {
                    if let (Some(s), Some(_)) = (stride, f.get("stride")) {
                        ctx.check(s == 1, n.pos, || {
                            format!("`padding: same` needs stride 1, found stride {s}")
                        });
                    }
                    Some(Padding::Same)
                }
                Some(n) => ctx.int(n, "`padding` (a number or `same`)").and_then(|p| {
                    ctx.check((0..=4096).contains(&p), n.pos, || {
                        format!("`padding` must be between 0 and 4096, found {p}")
                    })
                    .then_some(Padding::Fixed(p))
                }),
                None => Some(Padding::Fixed(0)),
            };
            let activation = activation(ctx);
            let batch_norm = flag(ctx, "batch_norm");
            let head = match f.get("head") {
                Some(n) => ctx.choice(
                    n,
                    "cnn head",
                    &[("flatten", CnnHead::Flatten), ("gap", CnnHead::Gap)],
                ),
                None => Some(CnnHead::Gap),
            };
            let dropout = rate(ctx, "dropout");
            Some(ModelSpec::Cnn1d {
                channels: channels?,
                kernel: kernel?,
                stride: stride?,
                padding: padding?,
                activation: activation?,
                batch_norm: batch_norm?,
                head: head?,
                dropout: dropout?,
            })
        }
        "resnet1d" => {
            let channels = f
                .required(ctx, "channels", "a `resnet1d` model")
                .and_then(|n| int_list(ctx, n, "`channels`", 1 << 14));
            let kernel = match f.get("kernel") {
                Some(n) => int_list(ctx, n, "`kernel`", 1 << 12),
                None => Some(vec![8, 5, 3]),
            };
            let activation = activation(ctx);
            let dropout = rate(ctx, "dropout");
            Some(ModelSpec::Resnet1d {
                channels: channels?,
                kernel: kernel?,
                activation: activation?,
                dropout: dropout?,
            })
        }
        _ => {
            let cell = f.required(ctx, "cell", "an `rnn` model").and_then(|n| {
                ctx.choice(n, "rnn cell", &[("gru", Cell::Gru), ("lstm", Cell::Lstm)])
            });
            let hidden = f.required(ctx, "hidden", "an `rnn` model").and_then(|n| {
                let h = ctx.int(n, "`hidden`")?;
                ctx.check((1..=1 << 14).contains(&h), n.pos, || {
                    format!("`hidden` must be between 1 and 16384, found {h}")
                })
                .then_some(h)
            });
            let layers = positive_int(ctx, &f, "layers", 1, 3);
            let bidirectional = flag(ctx, "bidirectional");
            let readout = match f.get("readout") {
                Some(n) => ctx.choice(
                    n,
                    "readout",
                    &[
                        ("last", Readout::Last),
                        ("mean", Readout::Mean),
                        ("flatten", Readout::Flatten),
                    ],
                ),
                None => Some(Readout::Last),
            };
            let dropout = rate(ctx, "dropout");
            if let (Some(d), Some(1), Some(n)) = (dropout, layers, f.get("dropout")) {
                ctx.check(d == 0.0, n.pos, || {
                    "`dropout` acts between stacked layers: it needs `layers` of 2 or 3 \
                     (use `output_dropout` before the output layer)"
                        .to_string()
                });
            }
            let layer_norm = flag(ctx, "layer_norm");
            let output_dropout = rate(ctx, "output_dropout");
            let forget_bias = match f.get("forget_bias") {
                None => Some(None),
                Some(n) => {
                    if cell == Some(Cell::Gru) {
                        ctx.err(n.pos, "`forget_bias` applies to `cell: lstm` only");
                    }
                    ctx.f64(n, "`forget_bias`").map(Some)
                }
            };
            let embedding = match f.get("embedding") {
                None => Some(None),
                Some(n) => ctx
                    .map(n, "`embedding`", &["vocab", "dim", "dropout"])
                    .and_then(|e| {
                        let vocab = e
                            .required(ctx, "vocab", "`embedding`")
                            .and_then(|_| positive_int(ctx, &e, "vocab", 1, 1 << 24));
                        let dim = positive_int(ctx, &e, "dim", 128, 1 << 16);
                        let dropout = number(
                            ctx,
                            &e,
                            "dropout",
                            0.0,
                            |v| (0.0..1.0).contains(&v),
                            "in [0, 1)",
                        );
                        Some(Some(Embedding {
                            vocab: vocab?,
                            dim: dim?,
                            dropout: dropout?,
                        }))
                    }),
            };
            Some(ModelSpec::Rnn {
                embedding: embedding?,
                cell: cell?,
                hidden: hidden?,
                layers: layers?,
                bidirectional: bidirectional?,
                readout: readout?,
                dropout: dropout?,
                layer_norm: layer_norm?,
                output_dropout: output_dropout?,
                forget_bias: forget_bias?,
            })
        }
    }
}

fn decode_claim(ctx: &mut Ctx, node: &Node) -> Option<Claim> {
    let f = ctx.map(node, "`claim`", &["metric", "reported", "tolerance"])?;
    let metric = match f.get("metric") {
        Some(n) => ctx.choice(
            n,
            "metric",
            &[
                ("accuracy", Metric::Accuracy),
                ("error", Metric::Error),
                ("macro_f1", Metric::MacroF1),
                ("nll", Metric::Nll),
                ("perplexity", Metric::Perplexity),
            ],
        ),
        None => Some(Metric::Accuracy),
    };
    let fraction = metric.is_none_or(Metric::is_fraction);
    let reported = f.required(ctx, "reported", "`claim`").and_then(|n| {
        let v = ctx.f64(n, "`reported`")?;
        let ok = if fraction {
            (0.0..=1.0).contains(&v)
        } else {
            v >= 0.0
        };
        ctx.check(ok, n.pos, || {
            if fraction {
                format!("`reported` is a fraction and must be in [0, 1], found {v}")
            } else {
                format!("`reported` must be at least 0, found {v}")
            }
        })
        .then_some(v)
    });
    let tolerance = f.required(ctx, "tolerance", "`claim`").and_then(|n| {
        let v = ctx.f64(n, "`tolerance`")?;
        let ok = v >= 0.0 && (!fraction || v <= 1.0);
        ctx.check(ok, n.pos, || {
            if fraction {
                format!("`tolerance` must be in [0, 1], found {v}")
            } else {
                format!("`tolerance` must be at least 0, found {v}")
            }
        })
        .then_some(v)
    });
    Some(Claim {
        metric: metric?,
        reported: reported?,
        tolerance: tolerance?,
    })
}
