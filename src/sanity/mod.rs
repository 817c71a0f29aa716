//! Sanity checks from practice, run on an arm before any long training (`repro sanity`,
//! `repro run --sanity`): "before anything else, check that the model can overfit a tiny set;
//! if it cannot, the learning rate is too high or the code is wrong: look at what the loader
//! returns and every layer's shape".
//!
//! Each check gives a [`Check`]: PASS, WARN, FAIL (or SKIP where it does not apply), a
//! one-line reason, the advice that goes with it, and detail lines. The checks use the real
//! data preparation ([`crate::data::prep::prepare`]), model building (through a
//! [`ModelFactory`], [`crate::model::build`] unless a test passes a broken one) and training
//! step ([`crate::train::run::train_step`]); they never touch the run store. They take
//! prepared splits, so a test can hand them permuted or misaligned labels.
//!
//! - [`sample`]: the first examples of each split with their labels and lengths; labels
//!   outside the head's classes, empty series, non-finite values.
//! - [`initial_loss`]: the untrained model's loss against ln C.
//! - [`gradients`]: every parameter gets a finite, non-zero gradient on a real batch.
//! - [`overfit`]: a tiny stratified subset reaches ~100% training accuracy.
//! - [`control`]: trained on the labels as given, test accuracy is above chance; trained on
//!   permuted labels, it falls to chance.
//! - [`inspect`]: per-layer output shapes, parameter counts, padding and masking (`repro
//!   inspect`).

pub mod control;
pub mod gradients;
pub mod initial_loss;
pub mod inspect;
pub mod overfit;
pub mod sample;

use serde::Serialize;
use tch::{Device, Tensor};

use crate::data::prep::{self, Prepared, Split};
use crate::data::Dataset;
use crate::model::{self, Built, InputShape, ModelError};
use crate::spec::ResolvedArm;
use crate::train::loss::Loss;
use crate::train::optim::Optim;
use crate::train::TrainError;

/// A check's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    Warn,
    Fail,
    /// The check does not apply to this arm (an embedding model has no ln C).
    Skip,
}

impl Outcome {
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Warn => "WARN",
            Outcome::Fail => "FAIL",
            Outcome::Skip => "SKIP",
        }
    }
}

/// One check on one arm.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub outcome: Outcome,
    /// One line: what was measured.
    pub reason: String,
    /// What to do, in order (empty on PASS).
    pub advice: String,
    /// Further lines (per-layer norms, the data sample).
    pub details: Vec<String>,
}

impl Check {
    pub(crate) fn new(name: &'static str, outcome: Outcome, reason: impl Into<String>) -> Check {
        Check {
            name,
            outcome,
            reason: reason.into(),
            advice: String::new(),
            details: Vec::new(),
        }
    }

    pub(crate) fn advice(mut self, advice: impl Into<String>) -> Check {
        self.advice = advice.into();
        self
    }

    pub(crate) fn details(mut self, details: Vec<String>) -> Check {
        self.details = details;
        self
    }
}

/// An arm's checks.
#[derive(Debug, Clone, Serialize)]
pub struct ArmSanity {
    pub spec_id: String,
    pub arm_id: String,
    pub checks: Vec<Check>,
}

impl ArmSanity {
    pub fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.outcome == Outcome::Fail)
    }

    /// The check named `name`.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }
}

/// Builds the model to check for an input shape: [`crate::model::build`] under the arm's seed,
/// or in a test, a deliberately broken model (frozen weights).
pub type ModelFactory<'a> = dyn Fn(InputShape) -> Result<Built, ModelError> + 'a;

/// What every check reads: the arm (optimizer, learning rate, clipping, batch size, loss), its
/// prepared splits, the class names and the seed.
pub struct Setup<'a> {
    pub arm: &'a ResolvedArm,
    pub prepared: &'a Prepared,
    pub class_names: &'a [String],
    pub seed: i64,
    pub device: Device,
}

impl Setup<'_> {
    pub(crate) fn input(&self) -> InputShape {
        self.prepared.input()
    }

    /// A fresh model from `factory`, its loss and its optimizer (the arm's, at its base
    /// learning rate).
    pub(crate) fn fresh(&self, factory: &ModelFactory) -> Result<(Built, Loss, Optim), TrainError> {
        let built = factory(self.input())?;
        let t = &self.arm.train;
        let loss = Loss::new(
            t.loss,
            t.label_smoothing,
            &built.vs.root(),
            self.arm.model.embedding_dim(),
            self.prepared.classes,
        );
        let opt = Optim::new(&t.optimizer, t.weight_decay, t.lr, &built.vs)?;
        Ok((built, loss, opt))
    }

    /// A stratified sample of `take` training examples (the run's seed), on the device.
    pub(crate) fn train_subset(&self, take: usize, salt: u64) -> Split {
        let labels = labels(&self.prepared.train.y);
        let (idx, _) = prep::stratified(&labels, take, (self.seed as u64).wrapping_add(salt));
        on(&self.prepared.train.select(&idx), self.device)
    }

    /// Whether the arm ends in a class head trained by cross-entropy on the test's classes.
    pub(crate) fn classifier(&self) -> bool {
        self.arm.model.embedding_dim().is_none()
            && self.arm.train.loss == crate::spec::LossSpec::CrossEntropy
    }
}

pub(crate) fn labels(y: &Tensor) -> Vec<i64> {
    Vec::<i64>::try_from(&y.to_device(Device::Cpu)).unwrap_or_default()
}

pub(crate) fn on(s: &Split, device: Device) -> Split {
    Split {
        x: s.x.to_device(device),
        y: s.y.to_device(device),
        lengths: s.lengths.to_device(device),
    }
}

/// The model factory of `repro sanity`: [`crate::model::build`] seeded as a run with `seed`.
pub fn build_factory<'a>(
    arm: &'a ResolvedArm,
    seed: i64,
    device: Device,
) -> impl Fn(InputShape) -> Result<Built, ModelError> + 'a {
    move |input| {
        crate::provenance::seed(seed);
        model::build(&arm.model, arm.init, input, device)
    }
}

/// Every check on `setup`, with models from `factory`. The data sample comes first; when it
/// finds labels the head cannot take, the checks that train are skipped.
pub fn run_checks(setup: &Setup, factory: &ModelFactory) -> Vec<Check> {
    let sample = sample::check(setup);
    let usable = sample.outcome != Outcome::Fail;
    let mut checks = vec![sample];
    if !usable {
        for name in [
            initial_loss::NAME,
            gradients::NAME,
            overfit::NAME,
            control::NAME,
        ] {
            checks.push(Check::new(
                name,
                Outcome::Skip,
                "skipped: the data sample failed",
            ));
        }
        return checks;
    }
    checks.push(initial_loss::check(setup, factory));
    checks.push(gradients::check(setup, factory));
    checks.push(overfit::check(setup, factory));
    checks.push(control::check(setup, factory));
    checks
}

/// The checks of `arm` on `data` as `repro sanity` runs them: the arm's own preparation and
/// model, seeded with `seed`.
pub fn check_arm(
    arm: &ResolvedArm,
    data: &Dataset,
    seed: i64,
    device: Device,
) -> Result<ArmSanity, TrainError> {
    let prepared = prep::prepare(data, &arm.data, seed)?;
    let setup = Setup {
        arm,
        prepared: &prepared,
        class_names: &data.class_names,
        seed,
        device,
    };
    let factory = build_factory(arm, seed, device);
    Ok(ArmSanity {
        spec_id: arm.spec_id.clone(),
        arm_id: arm.arm_id.clone(),
        checks: run_checks(&setup, &factory),
    })
}

/// The advice when a model cannot learn what it should, in the order practice tries it.
pub(crate) fn learn_advice(lr: f64) -> String {
    format!(
        "lower the learning rate (now {lr}); then check the data (the sample: labels, lengths, \
         values); then the model (`repro inspect`: every layer's shape)"
    )
}
