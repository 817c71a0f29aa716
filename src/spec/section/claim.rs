//! `claim:`: the metric a paper reports for an arm, its value and tolerance.

use crate::spec::decode::Ctx;
use crate::spec::types::*;
use crate::yaml::Node;

pub(in crate::spec) fn decode_claim(ctx: &mut Ctx, node: &Node) -> Option<Claim> {
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
                ("precision_at_1", Metric::PrecisionAt1),
                ("r_precision", Metric::RPrecision),
                ("map_at_r", Metric::MapAtR),
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
