//! Overfit a tiny set: a stratified handful of training examples must reach ~100% training
//! accuracy (an embedding model: near-zero loss) within a step budget. If it cannot, in
//! order: the learning rate is too high, the data is wrong, the model is wrong.

use super::{learn_advice, Check, ModelFactory, Outcome, Setup};
use crate::data::prep::Split;
use crate::model::{Built, Net};
use crate::train::evaluate;
use crate::train::loss::Loss;
use crate::train::order::BatchSlice;
use crate::train::run::{next_batch, train_step};

pub const NAME: &str = "overfit a tiny set";

/// Examples in the tiny set: 64 covers every class of the bundled datasets several times and
/// is one full batch, so a few hundred steps are seconds on a CPU.
pub const EXAMPLES: usize = 64;

/// Step budget: every bundled MNIST-1D arm memorises 64 examples in well under 300 full-batch
/// steps at its own learning rate; the check stops as soon as it has.
pub const STEPS: i64 = 300;

/// Training accuracy that counts as memorised (63 of 64).
pub const PASS_ACCURACY: f64 = 0.98;

/// Below [`PASS_ACCURACY`] but at least this: WARN (learning, not yet memorised).
pub const WARN_ACCURACY: f64 = 0.9;

/// An embedding model (no accuracy) passes when its loss falls below this fraction of its
/// initial value.
pub const PASS_LOSS_RATIO: f64 = 0.1;

/// How often the tiny set is evaluated to stop early.
const EVERY: i64 = 25;

/// A model trained by [`fit`].
pub(crate) struct Fit {
    pub built: Built,
    pub loss_fn: Loss,
    /// Training loss of each step taken.
    pub losses: Vec<f64>,
    /// The step whose loss was not finite (training stopped there).
    pub diverged_at: Option<usize>,
}

/// Trains a fresh model from `factory` on `split` for up to `steps` steps of `batch`
/// examples in order (cycling), with the arm's optimizer, learning rate and clipping and the
/// real training step; `done(net)`, asked every few steps, stops it early.
pub(crate) fn fit(
    setup: &Setup,
    factory: &ModelFactory,
    split: &Split,
    steps: i64,
    batch: i64,
    done: &dyn Fn(&dyn Net, &Loss) -> bool,
) -> Result<Fit, String> {
    let (built, loss_fn, mut opt) = setup.fresh(factory).map_err(|e| e.to_string())?;
    let n = split.len();
    let batch = batch.min(n).max(1);
    let mut losses = Vec::new();
    let mut diverged_at = None;
    for step in 0..steps {
        let start = (step * batch) % n;
        let slice = BatchSlice::Range {
            start,
            len: batch.min(n - start),
        };
        let b = next_batch(split, slice);
        let value = train_step(built.net.as_ref(), &loss_fn, &mut opt, &setup.arm.train, &b)
            .map_err(|e| format!("the training step failed: {e}"))?;
        losses.push(value);
        if !value.is_finite() {
            diverged_at = Some(step as usize);
            break;
        }
        if (step + 1) % EVERY == 0 && done(built.net.as_ref(), &loss_fn) {
            break;
        }
    }
    Ok(Fit {
        built,
        loss_fn,
        losses,
        diverged_at,
    })
}

/// The loss of `net` on `split` in evaluation mode.
pub(crate) fn loss_on(net: &dyn Net, loss_fn: &Loss, split: &Split) -> f64 {
    tch::no_grad(|| {
        loss_fn
            .compute(&net.forward(&split.x, &split.lengths, false), &split.y)
            .double_value(&[])
    })
}

pub fn check(setup: &Setup, factory: &ModelFactory) -> Check {
    let lr = setup.arm.train.lr;
    let tiny = setup.train_subset(EXAMPLES, 5);
    let classes = setup.prepared.classes;
    let classifier = setup.arm.model.embedding_dim().is_none();
    let initial = match setup.fresh(factory) {
        Ok((b, l, _)) => loss_on(b.net.as_ref(), &l, &tiny),
        Err(e) => {
            return Check::new(
                NAME,
                Outcome::Fail,
                format!("the model cannot be built: {e}"),
            )
        }
    };
    let memorised = |net: &dyn Net, l: &Loss| {
        if classifier {
            evaluate(net, &tiny, classes).accuracy >= 1.0
        } else {
            loss_on(net, l, &tiny) <= PASS_LOSS_RATIO * initial
        }
    };
    let fit = match fit(setup, factory, &tiny, STEPS, tiny.len(), &memorised) {
        Ok(f) => f,
        Err(e) => {
            return Check::new(NAME, Outcome::Fail, format!("{} examples: {e}", tiny.len()))
                .advice(learn_advice(lr))
        }
    };
    let steps = fit.losses.len();
    let what = format!("{} examples, {steps} steps at lr {lr}", tiny.len());
    if let Some(at) = fit.diverged_at {
        return Check::new(
            NAME,
            Outcome::Fail,
            format!("{what}: the loss became {} at step {at}", fit.losses[at]),
        )
        .advice(learn_advice(lr));
    }
    let loss = loss_on(fit.built.net.as_ref(), &fit.loss_fn, &tiny);
    let trend = if loss >= initial {
        format!("; the loss rose from {initial:.3}")
    } else {
        format!(" (from {initial:.3})")
    };
    let (outcome, reason) = if classifier {
        let acc = evaluate(fit.built.net.as_ref(), &tiny, classes).accuracy;
        let outcome = if acc >= PASS_ACCURACY {
            Outcome::Pass
        } else if acc >= WARN_ACCURACY && loss < initial {
            Outcome::Warn
        } else {
            Outcome::Fail
        };
        (
            outcome,
            format!("{what}: train accuracy {acc:.3}, loss {loss:.3}{trend}"),
        )
    } else {
        let outcome = if loss <= PASS_LOSS_RATIO * initial {
            Outcome::Pass
        } else if loss < 0.5 * initial {
            Outcome::Warn
        } else {
            Outcome::Fail
        };
        (outcome, format!("{what}: loss {loss:.3}{trend}"))
    };
    let check = Check::new(NAME, outcome, reason);
    match outcome {
        Outcome::Pass => check,
        _ => check.advice(learn_advice(lr)),
    }
}
