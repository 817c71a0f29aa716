//! Training: batches in the declared order, the optimizer, optional gradient clipping, a
//! train/eval curve, and the final metrics under the spec's checkpoint-selection protocol.
//!
//! Seeding happens in [`crate::provenance::seed`] right before the model is built, so the
//! initial weights depend on the seed alone; the batch order has its own seeded generator
//! ([`order`]), so it depends on the seed and the training-split size, not on the model.
//!
//! - `run`: [`train`] and [`train_with_progress`]: data, model and optimizer set up, then the
//!   step loop (batch order, schedule, clipping, NaN/Inf detection) and the final metrics.
//! - `eval`: [`evaluate`] and [`macro_f1`], the evaluation every `eval_every` steps that
//!   closes a window of training losses into a [`CurvePoint`], and the final metrics
//!   ([`final_metrics`]: classification and/or retrieval, and collapse detection).
//! - [`retrieval`]: P@1, R-Precision and MAP@R on a split's embeddings (pml's definitions).
//! - [`collapse`]: when an embedding counts as collapsed (a run status, never a finding).
//! - [`order`]: batch order; shuffled order from the run's own seeded generator.
//! - `select`: checkpoint selection (the protocol's score, the best weights so far, restoring
//!   them) and early stopping.
//! - [`optim`]: Adam/AdamW/SGD (libtorch's) and RAdam; [`schedule`]: learning-rate schedules.
//! - [`loss`]: cross-entropy, and the metric-learning losses and miners (triplet with
//!   all/hard/semi-hard mining, normalised softmax) as pytorch-metric-learning computes them;
//!   an embedding model's metrics on a split.
//! - [`sampler`]: class-balanced P × K batches from the run's own seeded generator.

#[cfg(torch)]
pub mod collapse;
#[cfg(torch)]
pub(crate) mod eval;
#[cfg(torch)]
pub mod loss;
#[cfg(torch)]
pub mod optim;
#[cfg(torch)]
pub mod order;
#[cfg(torch)]
pub mod retrieval;
#[cfg(torch)]
pub(crate) mod run;
pub mod sampler;
pub mod schedule;
#[cfg(torch)]
mod select;
#[cfg(torch)]
pub mod stacked;

use serde::{Deserialize, Serialize};

#[cfg(torch)]
use crate::model::ModelError;

#[cfg(torch)]
pub use eval::{evaluate, final_metrics, macro_f1, EvalPlan};
#[cfg(torch)]
pub use run::{probe, train, train_reading_back, train_with_progress, READBACK_EVERY};
#[cfg(torch)]
pub use stacked::{train_stacked, train_stacked_grouped};

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[cfg(torch)]
    #[error(transparent)]
    Model(#[from] ModelError),
    #[cfg(torch)]
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    /// The arm would take a decision (schedule, selection, stopping) from the test split.
    #[error("{0}")]
    Protocol(String),
    /// The P × K sampler cannot fill its batches from the training split.
    #[error("{0}")]
    Sampler(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    pub step: i64,
    /// Mean training loss over the steps since the previous point.
    pub train_loss: f64,
    pub eval_loss: f64,
    pub eval_accuracy: f64,
    /// Learning rate of the last step in the window.
    pub lr: f64,
}

/// Classification metrics of a net on a split (what [`evaluate`] measures).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Classification {
    pub accuracy: f64,
    pub error: f64,
    /// Mean negative log-likelihood (unsmoothed cross-entropy).
    pub loss: f64,
    pub perplexity: f64,
    /// Unweighted mean over classes of F1; a class never predicted nor present counts as 0.
    pub macro_f1: f64,
}

/// A run's final metrics on the test split. Classification metrics exist where the net's
/// classes are the test split's (not for embedding models, nor on class-disjoint splits);
/// retrieval metrics where the arm is evaluated as an embedding. A metric an arm does not have
/// is absent (`None`, and missing from the JSON), never 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<f64>,
    /// Mean negative log-likelihood (unsmoothed cross-entropy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perplexity: Option<f64>,
    /// Unweighted mean over classes of F1; a class never predicted nor present counts as 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub macro_f1: Option<f64>,
    /// Retrieval on the test split's embeddings ([`retrieval`]): nearest other item's class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision_at_1: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r_precision: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map_at_r: Option<f64>,
}

impl Metrics {
    /// `metric`'s value, `None` where the run does not have it.
    pub fn get(&self, metric: crate::spec::Metric) -> Option<f64> {
        use crate::spec::Metric;
        match metric {
            Metric::Accuracy => self.accuracy,
            Metric::Error => self.error,
            Metric::MacroF1 => self.macro_f1,
            Metric::Nll => self.loss,
            Metric::Perplexity => self.perplexity,
            Metric::PrecisionAt1 => self.precision_at_1,
            Metric::RPrecision => self.r_precision,
            Metric::MapAtR => self.map_at_r,
        }
    }
}

impl From<Classification> for Metrics {
    fn from(c: Classification) -> Metrics {
        Metrics {
            accuracy: Some(c.accuracy),
            error: Some(c.error),
            loss: Some(c.loss),
            perplexity: Some(c.perplexity),
            macro_f1: Some(c.macro_f1),
            ..Metrics::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    Ok,
    /// Training diverged; the run is recorded, not retried. (Records written before this name
    /// existed say `failed`.)
    #[serde(alias = "failed")]
    Diverged {
        step: i64,
        reason: String,
    },
    /// The test embeddings collapsed ([`collapse`]): the metrics are kept in the record but
    /// are no finding, and the audit counts the run like a diverged one.
    Collapsed {
        reason: String,
    },
}

impl Status {
    /// `ok`, `diverged` or `collapsed`, as the record's `status` field says.
    pub fn name(&self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Diverged { .. } => "diverged",
            Status::Collapsed { .. } => "collapsed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub status: Status,
    /// Which split the curve's eval columns come from: `val` when the spec carves one, else `test`.
    pub eval_split: String,
    /// The time axis the model saw (after `data.pad`).
    pub length: i64,
    pub train_size: i64,
    /// Series in the test split the metrics come from, and in the dataset's whole test split
    /// (fewer only under `data.subset.test`).
    pub test_size: i64,
    pub test_total: i64,
    pub metrics: Option<Metrics>,
    pub params: i64,
    /// Optimizer steps taken (fewer than planned after early stopping or divergence).
    pub steps: i64,
    /// The step whose weights were evaluated, as the selection protocol chose it.
    pub selected_step: i64,
    pub stopped_early: bool,
    pub curve: Vec<CurvePoint>,
    pub weights_sha256: String,
    /// The training loss of every step, for determinism checks (not stored in records).
    #[serde(skip)]
    pub step_losses: Vec<f64>,
}
