//! `seeds:` (and `quick.seeds:`, layered on the spec's): a fixed count or adaptive seeding, and
//! `stack: K` (seeds trained K at a time as one stacked model; the arms that can stack are
//! checked once the arms are decoded, `document.rs`).

use crate::spec::decode::Ctx;
use crate::spec::types::*;
use crate::yaml::Node;

pub(in crate::spec) fn decode_seeds(
    ctx: &mut Ctx,
    node: &Node,
    base: Option<Seeds>,
) -> Option<Seeds> {
    let f = ctx.map(
        node,
        "`seeds`",
        &["count", "base", "min", "max", "until", "derive", "stack"],
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
    let stack = match f.get("stack") {
        Some(n) => ctx.int(n, "`seeds.stack`").and_then(|k| {
            ctx.check((1..=64).contains(&k), n.pos, || {
                format!("`seeds.stack` must be between 1 and 64, found {k}")
            })
            .then_some(Some(k as u32))
        }),
        None => Some(base.and_then(|b| b.stack)),
    };
    Some(Seeds {
        stack: stack?,
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
