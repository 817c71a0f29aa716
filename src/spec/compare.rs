//! `compare:`: arm pairs and sweep keys resolved to the paired comparisons of a spec.

use super::decode::Ctx;
use super::types::*;
use crate::yaml::{Node, Pos, Value};

/// `compare:` items: a pair `[a, b]` of arm ids, or a sweep key. A pair naming swept arms by
/// their own id pairs their points with equal values; a sweep key compares, within each arm
/// and each setting of its other keys, every value with the key's first value.
pub(super) fn decode_compare(ctx: &mut Ctx, node: &Node, arms: &[Arm]) -> Vec<Comparison> {
    let Some(items) = ctx.seq(node, "`compare`") else {
        return Vec::new();
    };
    let mut out: Vec<Comparison> = Vec::new();
    let mut push = |ctx: &mut Ctx, pos: Pos, a: &Arm, b: &Arm| {
        let (ma, mb) = (Metric::of_arm(a), Metric::of_arm(b));
        if out.iter().any(|c| c.a == a.id && c.b == b.id) {
            ctx.err(pos, format!("`{}` and `{}` are compared twice", a.id, b.id));
        } else if ma != mb {
            // Each arm's values are in its own claim's metric (else accuracy): a paired
            // difference of an accuracy and an NLL means nothing.
            ctx.err(
                pos,
                format!(
                    "`{}` is measured in {} and `{}` in {}: a comparison needs one metric \
                     (give both arms claims in the same metric)",
                    a.id,
                    ma.name(),
                    b.id,
                    mb.name()
                ),
            );
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
