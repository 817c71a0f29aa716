//! The untrained model's loss against ln C: a classifier that knows nothing predicts every
//! class alike and its cross-entropy is ln C; far above it, the output is mis-scaled (initial
//! logits too large) or the labels do not match the head.

use super::{Check, ModelFactory, Outcome, Setup};

pub const NAME: &str = "initial loss";

/// Examples the loss is measured on (stratified): enough for a mean within a few percent.
pub const EXAMPLES: usize = 256;

/// PASS within this fraction of ln C: PyTorch's default initialisation gives small logits,
/// so an untrained MNIST-1D model sits within a few percent of ln C.
pub const PASS_WITHIN: f64 = 0.25;

/// FAIL beyond this multiple of ln C (or non-finite): no initialisation should start there.
pub const FAIL_ABOVE: f64 = 2.0;

pub fn check(setup: &Setup, factory: &ModelFactory) -> Check {
    let classes = setup.prepared.classes;
    if !setup.classifier() {
        return Check::new(
            NAME,
            Outcome::Skip,
            "not a cross-entropy classifier: ln C does not apply",
        );
    }
    let (built, loss_fn, _) = match setup.fresh(factory) {
        Ok(m) => m,
        Err(e) => {
            return Check::new(
                NAME,
                Outcome::Fail,
                format!("the model cannot be built: {e}"),
            )
        }
    };
    let s = setup.train_subset(EXAMPLES, 11);
    let loss = tch::no_grad(|| {
        loss_fn
            .compute(&built.net.forward(&s.x, &s.lengths, false), &s.y)
            .double_value(&[])
    });
    let chance = (classes as f64).ln();
    let reason = format!(
        "{loss:.3} on {} examples; ln {classes} = {chance:.3} ({:+.0}%)",
        s.len(),
        100.0 * (loss - chance) / chance
    );
    let advice = "far above ln C: the output is mis-scaled (check the initialisation and the \
                  last layer) or the labels do not match the head (check them against the class \
                  names)";
    if !loss.is_finite() || loss > FAIL_ABOVE * chance {
        Check::new(NAME, Outcome::Fail, reason).advice(advice)
    } else if (loss - chance).abs() > PASS_WITHIN * chance {
        Check::new(NAME, Outcome::Warn, reason).advice(advice)
    } else {
        Check::new(NAME, Outcome::Pass, reason)
    }
}
