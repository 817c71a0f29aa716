//! The label control: trained on the labels as given, test accuracy must rise above chance
//! (if not, the labels do not follow the features: shuffled, or misaligned with them);
//! trained on randomly permuted training labels, it must fall to chance (if not, something
//! leaks between train and test: the evaluation sees what training saw).

use tch::Tensor;

use super::overfit::fit;
use super::{labels, learn_advice, Check, ModelFactory, Outcome, Setup};
use crate::data::prep::{self, Split};
use crate::model::Net;
use crate::rng::SplitMix64;
use crate::train::evaluate;
use crate::train::loss::Loss;

pub const NAME: &str = "label control";

/// Training examples of each control run (stratified): enough for every bundled model to
/// generalise well above chance in [`STEPS`] steps.
pub const EXAMPLES: usize = 1000;

/// Steps of each control run at the arm's batch size (about 20 epochs of [`EXAMPLES`] at
/// batch 100): seconds on a CPU, and far above chance for a model that learns.
pub const STEPS: i64 = 200;

/// Test examples scored (stratified): the chance band is ± [`SIGMAS`] binomial sd of these.
pub const TEST_EXAMPLES: usize = 1000;

/// Width of the chance band, in binomial standard deviations of the chance accuracy.
pub const SIGMAS: f64 = 3.0;

/// What the two control runs measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Control {
    /// Test accuracy trained on the labels as given, and on permuted labels.
    pub real: f64,
    pub permuted: f64,
    /// The majority class's share of the test examples: a constant guess's accuracy.
    pub chance: f64,
    /// Accuracies up to `chance + margin` are chance.
    pub margin: f64,
}

/// `split` with its labels permuted by a seeded shuffle (features stay in place).
pub fn permute_labels(split: &Split, seed: u64) -> Split {
    let mut y = labels(&split.y);
    SplitMix64::new(seed ^ 0x5A17_C0DE).shuffle(&mut y);
    Split {
        x: split.x.shallow_clone(),
        y: Tensor::from_slice(&y).to_device(split.y.device()),
        lengths: split.lengths.shallow_clone(),
    }
}

/// Trains a fresh model on `real` and one on `permuted`, and scores both on `test`.
pub fn measure(
    setup: &Setup,
    factory: &ModelFactory,
    real: &Split,
    permuted: &Split,
    test: &Split,
) -> Result<Control, String> {
    let classes = setup.prepared.classes;
    let batch = setup.arm.train.batch_size;
    let accuracy = |train: &Split| -> Result<f64, String> {
        let never = |_: &dyn Net, _: &Loss| false;
        let f = fit(setup, factory, train, STEPS, batch, &never)?;
        if let Some(at) = f.diverged_at {
            return Err(format!("the loss became {} at step {at}", f.losses[at]));
        }
        Ok(evaluate(f.built.net.as_ref(), test, classes).accuracy)
    };
    let y = labels(&test.y);
    let mut counts = vec![0usize; classes.max(1) as usize];
    for &l in &y {
        if let Some(c) = counts.get_mut(l as usize) {
            *c += 1;
        }
    }
    let n = y.len().max(1) as f64;
    let chance = counts.iter().copied().max().unwrap_or(0) as f64 / n;
    Ok(Control {
        real: accuracy(real)?,
        permuted: accuracy(permuted)?,
        chance,
        margin: SIGMAS * (chance * (1.0 - chance) / n).sqrt(),
    })
}

/// The check's verdict on `c`.
pub fn judge(c: &Control, lr: f64) -> Check {
    let band = c.chance + c.margin;
    let reason = format!(
        "test accuracy {:.3} trained on the labels, {:.3} on permuted labels; chance {:.3} \
         (up to {band:.3})",
        c.real, c.permuted, c.chance
    );
    if c.permuted > band {
        Check::new(
            NAME,
            Outcome::Fail,
            format!("permuted labels beat chance: {reason}"),
        )
        .advice(
            "something leaks between train and test: the test split shares examples or labels \
             with training, or the evaluation reads the training labels",
        )
    } else if c.real <= band {
        Check::new(
            NAME,
            Outcome::Fail,
            format!("the labels as given stay at chance: {reason}"),
        )
        .advice(format!(
            "the labels do not follow the features (shuffled, or misaligned with them: \
                 look at what the loader returns); if they do, {}",
            learn_advice(lr)
        ))
    } else {
        Check::new(NAME, Outcome::Pass, reason)
    }
}

pub fn check(setup: &Setup, factory: &ModelFactory) -> Check {
    let p = setup.prepared;
    if p.class_disjoint || !setup.classifier() {
        return Check::new(
            NAME,
            Outcome::Skip,
            "measured by test accuracy, which this arm does not have",
        );
    }
    let real = setup.train_subset(EXAMPLES, 7);
    let permuted = permute_labels(&real, setup.seed as u64);
    let test_labels = labels(&p.test.y);
    let (idx, _) = prep::stratified(&test_labels, TEST_EXAMPLES, setup.seed as u64 ^ 13);
    let test = super::on(&p.test.select(&idx), setup.device);
    match measure(setup, factory, &real, &permuted, &test) {
        Ok(c) => judge(&c, setup.arm.train.lr),
        Err(e) => Check::new(NAME, Outcome::Fail, e).advice(learn_advice(setup.arm.train.lr)),
    }
}
