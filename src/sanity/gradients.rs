//! Gradient flow: on one real training batch, every parameter gets a gradient that is defined,
//! finite and not zero; per-layer gradient norms as details. A frozen layer, a branch cut off
//! by a detach or an integer cast, or a NaN in the forward pass shows here.

use super::{Check, ModelFactory, Outcome, Setup};
use crate::train::order::BatchSlice;
use crate::train::run::next_batch;

pub const NAME: &str = "gradient flow";

/// A parameter's gradient state on the batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Grad {
    /// `requires_grad` is off: the optimizer can never move it.
    Frozen,
    /// Needs a gradient but backward gave none: cut off from the loss.
    Missing,
    NonFinite,
    Zero,
    Norm(f64),
}

/// Each trainable parameter's gradient after one backward pass on the arm's first batch, by
/// name in name order; `Err` when backward itself fails (nothing needs a gradient).
pub fn gradients(setup: &Setup, factory: &ModelFactory) -> Result<Vec<(String, Grad)>, String> {
    let (built, loss_fn, _) = setup.fresh(factory).map_err(|e| e.to_string())?;
    let train = super::on(&setup.prepared.train, setup.device);
    let batch = next_batch(
        &train,
        BatchSlice::Range {
            start: 0,
            len: setup.arm.train.batch_size.min(train.len()),
        },
    );
    let (x, y, lengths) = &batch;
    let loss = loss_fn.compute(&built.net.forward(x, lengths, true), y);
    let trainable = built.vs.trainable_variables();
    let mut named: Vec<(String, tch::Tensor)> = built
        .vs
        .variables()
        .into_iter()
        .filter(|(_, t)| trainable.iter().any(|p| p.data_ptr() == t.data_ptr()))
        .collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    let backward = if named.iter().any(|(_, t)| t.requires_grad()) {
        loss.f_backward().map_err(|e| e.to_string())
    } else {
        Ok(())
    };
    backward?;
    Ok(named
        .into_iter()
        .map(|(name, t)| {
            let g = t.grad();
            let state = if !t.requires_grad() {
                Grad::Frozen
            } else if !g.defined() {
                Grad::Missing
            } else {
                let norm = g.norm().double_value(&[]);
                if !norm.is_finite() {
                    Grad::NonFinite
                } else if norm == 0.0 {
                    Grad::Zero
                } else {
                    Grad::Norm(norm)
                }
            };
            (name, state)
        })
        .collect())
}

pub fn check(setup: &Setup, factory: &ModelFactory) -> Check {
    let advice = "a parameter without a gradient never learns: look for frozen weights \
                  (requires_grad off), a detach or integer cast in the forward pass, a layer \
                  the output does not use; a non-finite one: the inputs or the learning rate";
    let grads = match gradients(setup, factory) {
        Ok(g) => g,
        Err(e) => {
            return Check::new(NAME, Outcome::Fail, format!("backward failed: {e}")).advice(advice)
        }
    };
    let details: Vec<String> = grads
        .iter()
        .map(|(name, g)| match g {
            Grad::Norm(n) => format!("{name}: ‖grad‖ = {n:.3e}"),
            Grad::Frozen => format!("{name}: frozen (requires_grad off)"),
            Grad::Missing => format!("{name}: no gradient"),
            Grad::NonFinite => format!("{name}: non-finite gradient"),
            Grad::Zero => format!("{name}: zero gradient"),
        })
        .collect();
    let bad: Vec<String> = grads
        .iter()
        .filter(|(_, g)| !matches!(g, Grad::Norm(_)))
        .map(|(name, g)| {
            let what = match g {
                Grad::Frozen => "frozen",
                Grad::Missing => "none",
                Grad::NonFinite => "non-finite",
                _ => "zero",
            };
            format!("{name} ({what})")
        })
        .collect();
    let n = grads.len();
    let (lo, hi) = grads
        .iter()
        .filter_map(|(_, g)| match g {
            Grad::Norm(v) => Some(*v),
            _ => None,
        })
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if n == 0 {
        return Check::new(NAME, Outcome::Fail, "the model has no trainable parameter")
            .advice(advice);
    }
    if bad.is_empty() {
        Check::new(
            NAME,
            Outcome::Pass,
            format!(
                "all {n} parameters get a finite, non-zero gradient (norms {lo:.1e} to {hi:.1e})"
            ),
        )
        .details(details)
    } else {
        let shown: Vec<&str> = bad.iter().take(4).map(String::as_str).collect();
        Check::new(
            NAME,
            Outcome::Fail,
            format!(
                "{} of {n} parameters get no usable gradient: {}{}",
                bad.len(),
                shown.join(", "),
                if bad.len() > shown.len() { ", …" } else { "" }
            ),
        )
        .advice(advice)
        .details(details)
    }
}
