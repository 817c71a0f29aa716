//! `gate:` (the spec's, or an arm's own): the regression gate's tolerance, separate from a
//! paper claim's. `repro check` fails an arm whose change, in the worst case at 95%, costs
//! more than `max(tolerance, 4 × blessed sd, resolution)` (see `crate::audit` `gate`).

use crate::spec::decode::Ctx;
use crate::yaml::{Node, Pos};

/// `gate: { tolerance: T }`: the tolerance (a number > 0, in the metric's units) and where it
/// was written; `None` when something was reported.
pub(in crate::spec) fn decode_gate(ctx: &mut Ctx, node: &Node) -> Option<(f64, Pos)> {
    let f = ctx.map(node, "`gate`", &["tolerance"])?;
    let n = f.required(ctx, "tolerance", "`gate`")?;
    let v = ctx.f64(n, "`gate.tolerance`")?;
    ctx.check(v > 0.0, n.pos, || {
        format!(
            "`gate.tolerance` must be greater than 0 (the gate's margin must not collapse to 0), \
             found {v}"
        )
    })
    .then_some((v, n.pos))
}

/// The arm's effective gate tolerance (its own, else the spec's), checked against its metric:
/// at most 1 for fractions.
pub(in crate::spec) fn arm_gate_tolerance(
    ctx: &mut Ctx,
    own: Option<(f64, Pos)>,
    spec: Option<(f64, Pos)>,
    fraction: bool,
    arm_id: &str,
) -> Option<f64> {
    let (v, pos) = own.or(spec)?;
    if fraction && v > 1.0 {
        ctx.err(
            pos,
            format!(
                "`gate.tolerance` of arm `{arm_id}` must be at most 1 (its metric is a fraction), \
                 found {v}"
            ),
        );
    }
    Some(v)
}
