//! Checkpoint selection and early stopping: the selection protocol's score at each evaluation,
//! a copy of the best weights so far, and restoring them once training ends.

use tch::Tensor;

use super::Classification;
use crate::spec::{EarlyStopping, Selection};

/// Every variable's name and a copy of its value.
type Checkpoint = Vec<(String, Tensor)>;

/// The selection protocol's best evaluation point so far (lower score is better).
struct Best {
    score: f64,
    step: i64,
    weights: Checkpoint,
}

/// A copy of every variable, to restore a selected checkpoint.
fn snapshot(vs: &tch::nn::VarStore) -> Checkpoint {
    tch::no_grad(|| {
        vs.variables()
            .into_iter()
            .map(|(k, v)| (k, v.detach().copy()))
            .collect()
    })
}

fn restore(vs: &tch::nn::VarStore, saved: &[(String, Tensor)]) {
    let vars = vs.variables();
    tch::no_grad(|| {
        for (name, value) in saved {
            if let Some(v) = vars.get(name) {
                v.shallow_clone().copy_(value);
            }
        }
    });
}

/// The score `selection` ranks an evaluation by (lower is better), from the eval split's
/// metrics `eval`, the point's training loss and, for `best_test`, the test split's metrics;
/// `None` under `last`.
pub(super) fn score(
    selection: Selection,
    eval: &Classification,
    train_loss: f64,
    test: impl FnOnce() -> Classification,
) -> Option<f64> {
    match selection {
        Selection::Last => None,
        Selection::BestVal => Some(eval.loss),
        Selection::MinTrainLoss => Some(train_loss),
        Selection::BestTest => Some(-test().accuracy),
    }
}

/// The best evaluation so far and how many evaluations since it.
pub(super) struct Selector {
    best: Option<Best>,
    since_best: i64,
    early_stopping: Option<EarlyStopping>,
}

impl Selector {
    pub(super) fn new(early_stopping: Option<EarlyStopping>) -> Selector {
        Selector {
            best: None,
            since_best: 0,
            early_stopping,
        }
    }

    /// Takes the score of the evaluation after step `step`, copying the weights of `vs` when it
    /// beats the best by more than early stopping's `min_delta`; `true` when early stopping
    /// ends training here.
    pub(super) fn observe(&mut self, score: f64, step: i64, vs: &tch::nn::VarStore) -> bool {
        let min_delta = self.early_stopping.map_or(0.0, |e| e.min_delta);
        let improved = self
            .best
            .as_ref()
            .is_none_or(|b| score < b.score - min_delta);
        if improved {
            self.best = Some(Best {
                score,
                step,
                weights: snapshot(vs),
            });
            self.since_best = 0;
        } else {
            self.since_best += 1;
        }
        self.early_stopping
            .is_some_and(|es| self.since_best >= es.patience)
    }

    /// Puts the best weights back into `vs`; the step they come from, or `None` when nothing
    /// was scored (`last`, or no evaluation).
    pub(super) fn restore_best(&self, vs: &tch::nn::VarStore) -> Option<i64> {
        let b = self.best.as_ref()?;
        restore(vs, &b.weights);
        Some(b.step)
    }
}
