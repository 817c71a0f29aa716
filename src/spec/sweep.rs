//! `sweep:` axes: decoding, expansion to the grid of points, writing a point's values into a
//! section, and naming an arm at a point (`arm@key=value,...`).

use super::arm::empty_map;
use super::decode::Ctx;
use super::types::SweepValue;
use crate::yaml::{Node, Pos, Value};

/// The sections a sweep's dotted key may start with.
const SWEEP_SECTIONS: &[&str] = &["data", "model", "init", "train"];
/// Most points one arm's sweep may expand to.
pub(super) const MAX_SWEEP_POINTS: usize = 1000;

/// One `sweep:` entry: a dotted key and the values it takes.
#[derive(Clone)]
pub(super) struct Axis {
    pub(super) key: String,
    pub(super) path: Vec<String>,
    pub(super) pos: Pos,
    pub(super) values: Vec<Node>,
}

pub(super) fn decode_sweep(ctx: &mut Ctx, node: &Node) -> Vec<Axis> {
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
pub(super) fn sweep_points(axes: &[Axis]) -> Vec<Vec<(&Axis, &Node)>> {
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
pub(super) fn assign(node: &Node, path: &[String], value: &Node, pos: Pos) -> Node {
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

/// The values of one point, in axis order, as an arm records them.
pub(super) fn point_values(point: &[(&Axis, &Node)]) -> Vec<SweepValue> {
    point
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
        .collect()
}

/// The id of arm `arm_id` at `point`: `arm@key=value,...`, each key shortened to its last
/// dotted part unless two keys of the point share that part.
pub(super) fn point_arm_id(arm_id: &str, point: &[SweepValue]) -> String {
    if point.is_empty() {
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
    }
}
