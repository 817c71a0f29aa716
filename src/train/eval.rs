//! Evaluation: a net's classification metrics on a split (accuracy, NLL, perplexity,
//! macro-F1), the evaluation every `eval_every` steps that turns the training losses since the
//! previous one into a curve point, and the final metrics on the test split: classification
//! and/or retrieval on its embeddings, and whether they collapsed.

use tch::{Device, Tensor};

use super::{collapse, retrieval, Classification, CurvePoint, Metrics, Status};
use crate::data::prep::Split;
use crate::model;
use crate::spec::ResolvedArm;

/// Macro-F1 from predicted and true labels over `classes` classes.
pub fn macro_f1(pred: &[i64], truth: &[i64], classes: i64) -> f64 {
    let k = classes.max(1) as usize;
    let (mut tp, mut fp, mut fn_) = (vec![0f64; k], vec![0f64; k], vec![0f64; k]);
    for (&p, &t) in pred.iter().zip(truth) {
        let (p, t) = (p as usize, t as usize);
        if p == t {
            tp[t] += 1.0;
        } else {
            if p < k {
                fp[p] += 1.0;
            }
            if t < k {
                fn_[t] += 1.0;
            }
        }
    }
    (0..k)
        .map(|c| {
            let denom = 2.0 * tp[c] + fp[c] + fn_[c];
            if denom == 0.0 {
                0.0
            } else {
                2.0 * tp[c] / denom
            }
        })
        .sum::<f64>()
        / k as f64
}

/// Evaluates `net` on `split` in chunks, without gradients and with dropout off.
pub fn evaluate(net: &dyn model::Net, split: &Split, classes: i64) -> Classification {
    let (xs, ys, lengths) = (&split.x, &split.y, &split.lengths);
    tch::no_grad(|| {
        let n = xs.size()[0];
        let mut loss_sum = 0.0;
        let mut preds = Vec::with_capacity(n as usize);
        let chunk = 1024;
        let mut start = 0;
        while start < n {
            let len = chunk.min(n - start);
            let logits = net.forward(
                &xs.narrow(0, start, len),
                &lengths.narrow(0, start, len),
                false,
            );
            let y = ys.narrow(0, start, len);
            loss_sum += logits.cross_entropy_for_logits(&y).double_value(&[]) * len as f64;
            preds.extend(
                Vec::<i64>::try_from(logits.argmax(-1, false).to_device(Device::Cpu))
                    .unwrap_or_default(),
            );
            start += len;
        }
        let truth = Vec::<i64>::try_from(ys.to_device(Device::Cpu)).unwrap_or_default();
        let correct = preds.iter().zip(&truth).filter(|(p, t)| p == t).count();
        let accuracy = correct as f64 / n.max(1) as f64;
        let loss = loss_sum / n.max(1) as f64;
        Classification {
            accuracy,
            error: 1.0 - accuracy,
            loss,
            perplexity: loss.exp(),
            macro_f1: macro_f1(&preds, &truth, classes),
        }
    })
}

/// Whether step `done` of `total` ends with an evaluation: every `every` steps and after the last.
pub(super) fn due(done: i64, total: i64, every: i64) -> bool {
    done % every == 0 || done == total
}

/// The training losses since the previous curve point.
#[derive(Default)]
pub(super) struct Window {
    loss: f64,
    steps: i64,
}

impl Window {
    pub(super) fn add(&mut self, loss: f64) {
        self.loss += loss;
        self.steps += 1;
    }
}

/// The evaluation after step `done` (learning rate `lr`): `net` on the eval split and the curve
/// point that closes `window`. Returns the eval metrics with the point; what they may decide is
/// the caller's (never anything, when the eval split is the test split).
pub(super) fn at_step(
    net: &dyn model::Net,
    split: &Split,
    classes: i64,
    done: i64,
    lr: f64,
    window: &mut Window,
) -> (Classification, CurvePoint) {
    let m = evaluate(net, split, classes);
    let point = CurvePoint {
        step: done,
        train_loss: window.loss / window.steps as f64,
        eval_loss: m.loss,
        eval_accuracy: m.accuracy,
        lr,
    };
    *window = Window::default();
    (m, point)
}

/// What the final evaluation measures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EvalPlan {
    /// Classification metrics: the head's classes are the test split's.
    pub classification: bool,
    /// Retrieval metrics on the test split's embeddings (`net.embed`).
    pub retrieval: bool,
    /// The arm's triplet margin, for the chance-at-the-margin collapse rule.
    pub triplet_margin: Option<f64>,
}

impl EvalPlan {
    /// The plan for `arm`; `class_disjoint`: its test split holds other classes than training.
    pub fn of(arm: &ResolvedArm, class_disjoint: bool) -> EvalPlan {
        EvalPlan {
            classification: arm.has_classification() && !class_disjoint,
            retrieval: arm.has_retrieval() || class_disjoint,
            triplet_margin: arm.triplet_margin(),
        }
    }
}

/// `net`'s embeddings of `split` (`[N, d]`), in chunks, without gradients, dropout off.
fn embeddings(net: &dyn model::Net, split: &Split) -> Tensor {
    tch::no_grad(|| {
        let n = split.len();
        let chunk = 1024;
        let parts: Vec<Tensor> = (0..n)
            .step_by(chunk as usize)
            .map(|start| {
                let len = chunk.min(n - start);
                net.embed(
                    &split.x.narrow(0, start, len),
                    &split.lengths.narrow(0, start, len),
                    false,
                )
            })
            .collect();
        Tensor::cat(&parts, 0)
    })
}

/// The final metrics of `net` on the `test` split as `plan` says, and the run's status: a
/// non-finite evaluation loss diverged (at `step`), collapsed test embeddings
/// ([`collapse::collapsed`]; `final_train_loss` is the last curve point's) collapsed.
/// Collapsed runs keep their metrics.
pub fn final_metrics(
    net: &dyn model::Net,
    test: &Split,
    classes: i64,
    plan: &EvalPlan,
    step: i64,
    final_train_loss: f64,
) -> (Option<Metrics>, Status) {
    let mut metrics = Metrics::default();
    if plan.classification {
        let m = evaluate(net, test, classes);
        if !m.loss.is_finite() {
            let reason = format!("evaluation loss is {}", m.loss);
            return (None, Status::Diverged { step, reason });
        }
        metrics = m.into();
    }
    let mut status = Status::Ok;
    if plan.retrieval && !test.is_empty() {
        let emb = embeddings(net, test);
        let finite = emb.isfinite().all().int64_value(&[]) == 1;
        if !finite {
            let reason = "test embeddings are not finite".to_string();
            return (None, Status::Diverged { step, reason });
        }
        let labels = Vec::<i64>::try_from(test.y.to_device(Device::Cpu)).unwrap_or_default();
        let r = retrieval::retrieval(&emb, &labels);
        if let Some(r) = &r {
            metrics.precision_at_1 = Some(r.precision_at_1);
            metrics.r_precision = Some(r.r_precision);
            metrics.map_at_r = Some(r.map_at_r);
        }
        let triplet = plan.triplet_margin.map(|m| (m, final_train_loss));
        if let Some(reason) = collapse::collapsed(retrieval::spread(&emb), r.as_ref(), triplet) {
            status = Status::Collapsed { reason };
        }
    }
    (Some(metrics), status)
}

#[cfg(test)]
mod tests {
    use super::macro_f1;

    #[test]
    fn macro_f1_by_hand() {
        // class 0: tp 1, fp 1, fn 1 → 0.5; class 1: tp 1, fp 1, fn 0 → 2/3; class 2: tp 0, fn 1 → 0.
        let f1 = macro_f1(&[0, 1, 1, 0], &[0, 1, 0, 2], 3);
        assert!((f1 - (0.5 + 2.0 / 3.0) / 3.0).abs() < 1e-12, "{f1}");
        assert_eq!(
            macro_f1(&[1, 1], &[1, 1], 2),
            0.5,
            "an absent, never-predicted class scores 0"
        );
    }
}
