//! `data:`: normalisation, padding, validation split, subset and class-disjoint splits.

use crate::spec::decode::Ctx;
use crate::spec::types::*;
use crate::yaml::{Node, Pos, Value};

pub(in crate::spec) fn decode_data(ctx: &mut Ctx, node: &Node) -> Option<DataSpec> {
    let f = ctx.map(
        node,
        "`data`",
        &["normalize", "pad", "val", "subset", "classes"],
    )?;
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
    let classes = match f.get("classes") {
        None => Some(None),
        Some(n) if n.value == Value::Null => Some(None),
        Some(n) => decode_classes(ctx, n).map(Some),
    };
    Some(DataSpec {
        normalize: normalize?,
        pad: pad?,
        val_fraction: val_fraction?,
        subset: subset?,
        classes: classes?,
    })
}

/// `classes: { train: [...], test: [...] }` (class names as the dataset names them; checked
/// against the dataset when it is loaded) or `classes: { split: half, seed: S }`.
fn decode_classes(ctx: &mut Ctx, node: &Node) -> Option<ClassSplit> {
    let f = ctx.map(node, "`data.classes`", &["train", "test", "split", "seed"])?;
    if let Some(n) = f.get("split") {
        if let Some(other) = f.get("train").or(f.get("test")) {
            ctx.err(
                other.pos,
                "`data.classes` takes either `split: half` or `train`/`test` lists, not both",
            );
            return None;
        }
        ctx.choice(n, "class split", &[("half", ())])?;
        let seed = match f.get("seed") {
            None => Some(0),
            Some(s) => ctx.int(s, "`seed`").and_then(|v| {
                ctx.check(v >= 0, s.pos, || {
                    format!("`seed` must be at least 0, found {v}")
                })
                .then_some(v as u64)
            }),
        }?;
        return Some(ClassSplit::Half { seed });
    }
    if let Some(s) = f.get("seed") {
        ctx.err(s.pos, "`seed` goes with `split: half`");
    }
    let list = |ctx: &mut Ctx, key: &str| -> Option<(Vec<String>, Vec<Pos>)> {
        let n = f.required(ctx, key, "`data.classes` (or `split: half`)")?;
        let items = ctx.seq(n, &format!("`data.classes.{key}`"))?;
        if items.is_empty() {
            ctx.err(
                n.pos,
                format!("`data.classes.{key}` must name at least one class"),
            );
            return None;
        }
        let mut names = Vec::new();
        for item in items {
            let name = ctx.string(item, "a class name")?;
            if names.contains(&name) {
                ctx.err(
                    item.pos,
                    format!("class `{name}` is named twice in `{key}`"),
                );
            }
            names.push(name);
        }
        Some((names, items.iter().map(|i| i.pos).collect()))
    };
    let (train, test) = (list(ctx, "train"), list(ctx, "test"));
    let ((train, _), (test, test_pos)) = (train?, test?);
    for (name, pos) in test.iter().zip(test_pos) {
        ctx.check(!train.contains(name), pos, || {
            format!("class `{name}` is in both `train` and `test`: a class-disjoint split needs disjoint classes")
        });
    }
    Some(ClassSplit::Lists { train, test })
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
