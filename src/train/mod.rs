//! The training loop: batches in the declared order, the optimizer, optional gradient clipping,
//! a train/eval curve, and the final metrics under the spec's checkpoint-selection protocol.
//!
//! Seeding happens in [`crate::provenance::seed`] right before the model is built, so the
//! initial weights and every shuffle depend on the seed alone.

pub mod optim;
pub mod schedule;

use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::data::prep::{self, Split};
use crate::data::Dataset;
use crate::model::{self, InputShape, ModelError};
use crate::spec::{BatchOrder, ResolvedArm, Schedule, Selection};

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
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

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub accuracy: f64,
    pub error: f64,
    /// Mean negative log-likelihood (unsmoothed cross-entropy).
    pub loss: f64,
    pub perplexity: f64,
    /// Unweighted mean over classes of F1; a class never predicted nor present counts as 0.
    pub macro_f1: f64,
}

impl Metrics {
    pub fn get(&self, metric: crate::spec::Metric) -> f64 {
        use crate::spec::Metric;
        match metric {
            Metric::Accuracy => self.accuracy,
            Metric::Error => self.error,
            Metric::MacroF1 => self.macro_f1,
            Metric::Nll => self.loss,
            Metric::Perplexity => self.perplexity,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    Ok,
    /// Training diverged; the run is recorded, not retried.
    Failed {
        step: i64,
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub status: Status,
    /// Which split the curve's eval columns come from: `val` when the spec carves one, else `test`.
    pub eval_split: String,
    /// The time axis the model saw (after `data.pad`).
    pub length: i64,
    pub train_size: i64,
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
pub fn evaluate(net: &dyn model::Net, split: &Split, classes: i64) -> Metrics {
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
        Metrics {
            accuracy,
            error: 1.0 - accuracy,
            loss,
            perplexity: loss.exp(),
            macro_f1: macro_f1(&preds, &truth, classes),
        }
    })
}

/// Token ids must be whole numbers in `[0, vocab)` (padding is id 0).
fn check_token_ids(x: &Tensor, vocab: i64) -> Result<(), String> {
    if x.numel() == 0 {
        return Ok(());
    }
    let (min, max) = (x.min().double_value(&[]), x.max().double_value(&[]));
    let whole = x.eq_tensor(&x.floor()).all().int64_value(&[]) == 1;
    if !whole || min < 0.0 || max >= vocab as f64 {
        return Err(format!(
            "token ids must be whole numbers in [0, {vocab}); found values from {min} to {max}{}",
            if whole { "" } else { " with fractions" }
        ));
    }
    Ok(())
}

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

/// Trains `arm` on `data` with `seed`; `on_point` sees each curve point as it is made.
pub fn train(
    arm: &ResolvedArm,
    data: &Dataset,
    seed: i64,
    device: Device,
    on_point: impl FnMut(&CurvePoint),
) -> Result<Outcome, TrainError> {
    train_with_progress(arm, data, seed, device, on_point, |_, _, _| {})
}

/// [`train`], with `on_step(done, total, loss)` called after every optimizer step.
pub fn train_with_progress(
    arm: &ResolvedArm,
    data: &Dataset,
    seed: i64,
    device: Device,
    mut on_point: impl FnMut(&CurvePoint),
    mut on_step: impl FnMut(i64, i64, f64),
) -> Result<Outcome, TrainError> {
    crate::provenance::seed(seed);
    let prepared = prep::prepare(data, &arm.data, seed);
    let input = InputShape {
        channels: prepared.channels,
        length: prepared.length,
        classes: prepared.classes,
    };
    let built = model::build(&arm.model, arm.init, input, device)?;
    if let crate::spec::ModelSpec::Rnn {
        embedding: Some(e), ..
    } = &arm.model
    {
        for (name, split) in [
            ("train", Some(&prepared.train)),
            ("val", prepared.val.as_ref()),
            ("test", Some(&prepared.test)),
        ] {
            if let Some(x) = split.map(|s| &s.x) {
                check_token_ids(x, e.vocab)
                    .map_err(|m| ModelError::Shape(format!("{name} split: {m}")))?;
            }
        }
    }
    let t = &arm.train;
    let mut opt = optim::Optim::new(&t.optimizer, t.weight_decay, t.lr, &built.vs)?;
    let mut plateau = match t.schedule {
        Schedule::Plateau {
            factor,
            patience,
            min_lr,
        } => Some(schedule::Plateau::new(t.lr, factor, patience, min_lr)),
        _ => None,
    };

    let on = |s: &Split| Split {
        x: s.x.to_device(device),
        y: s.y.to_device(device),
        lengths: s.lengths.to_device(device),
    };
    let train_split = on(&prepared.train);
    let test_split = on(&prepared.test);
    let val_split = prepared.val.as_ref().map(on);
    let eval_split = val_split.as_ref().unwrap_or(&test_split);
    let (x_train, y_train, len_train) = (&train_split.x, &train_split.y, &train_split.lengths);
    let n = x_train.size()[0];
    let batch = t.batch_size.min(n);
    let mut order: Option<Tensor> = None;
    let classes = prepared.classes;
    let steps_per_epoch = (n + batch - 1) / batch;
    let total_steps = match (t.steps, t.epochs) {
        (Some(s), _) => s,
        (None, Some(e)) => e * steps_per_epoch,
        (None, None) => 0,
    };
    let selection = arm.protocol.selection;

    let mut curve = Vec::new();
    let (mut window_loss, mut window_steps) = (0.0, 0i64);
    let mut status = Status::Ok;
    let mut completed = 0;
    // The selection protocol's best score so far (lower is better), its step and weights.
    let mut best: Option<Best> = None;
    let mut since_best = 0i64;
    let mut stopped_early = false;
    let mut step_losses = Vec::with_capacity(total_steps.max(0) as usize);
    for step in 0..total_steps {
        let lr = match &plateau {
            Some(p) => p.lr,
            None => schedule::lr_at(&t.schedule, t.lr, step, steps_per_epoch),
        };
        if !matches!(t.schedule, Schedule::Constant) {
            opt.set_lr(lr);
        }
        let (xb, yb, lb) = match t.order {
            BatchOrder::Sequential => {
                // greydanus/mnist1d train.py: x[start:start+batch], a short batch at the end.
                let start = (step * batch) % n;
                let len = batch.min(n - start);
                (
                    x_train.narrow(0, start, len),
                    y_train.narrow(0, start, len),
                    len_train.narrow(0, start, len),
                )
            }
            BatchOrder::Shuffle => {
                let per_epoch = (n + batch - 1) / batch;
                let k = step % per_epoch;
                if k == 0 {
                    order = Some(Tensor::randperm(n, (Kind::Int64, device)));
                }
                let perm = order
                    .as_ref()
                    .map(|p| p.shallow_clone())
                    .unwrap_or_else(|| Tensor::arange(n, (Kind::Int64, device)));
                let idx = perm.narrow(0, k * batch, batch.min(n - k * batch));
                (
                    x_train.index_select(0, &idx),
                    y_train.index_select(0, &idx),
                    len_train.index_select(0, &idx),
                )
            }
        };
        let loss = built
            .net
            .forward(&xb, &lb, true)
            .cross_entropy_loss::<Tensor>(&yb, None, tch::Reduction::Mean, -100, t.label_smoothing);
        let value = loss.double_value(&[]);
        if !value.is_finite() {
            status = Status::Failed {
                step,
                reason: format!("training loss became {value}"),
            };
            break;
        }
        opt.zero_grad();
        loss.backward();
        if let Some(max) = t.clip_grad_value {
            opt.clip_grad_value(max);
        }
        if let Some(max) = t.clip_grad_norm {
            opt.clip_grad_norm(max);
        }
        opt.step();
        window_loss += value;
        step_losses.push(value);
        window_steps += 1;
        let done = step + 1;
        completed = done;
        on_step(done, total_steps, value);
        if done % t.eval_every == 0 || done == total_steps {
            let m = evaluate(built.net.as_ref(), eval_split, classes);
            if let Some(p) = plateau.as_mut() {
                p.observe(m.loss);
            }
            let point = CurvePoint {
                step: done,
                train_loss: window_loss / window_steps as f64,
                eval_loss: m.loss,
                eval_accuracy: m.accuracy,
                lr,
            };
            on_point(&point);
            curve.push(point);
            window_loss = 0.0;
            window_steps = 0;
            let score = match selection {
                Selection::Last => None,
                Selection::BestVal => Some(m.loss),
                Selection::MinTrainLoss => Some(point.train_loss),
                Selection::BestTest => {
                    Some(-evaluate(built.net.as_ref(), &test_split, classes).accuracy)
                }
            };
            if let Some(score) = score {
                let min_delta = t.early_stopping.map_or(0.0, |e| e.min_delta);
                let improved = best.as_ref().is_none_or(|b| score < b.score - min_delta);
                if improved {
                    best = Some(Best {
                        score,
                        step: done,
                        weights: snapshot(&built.vs),
                    });
                    since_best = 0;
                } else {
                    since_best += 1;
                }
                if let Some(es) = t.early_stopping {
                    if since_best >= es.patience {
                        stopped_early = true;
                        break;
                    }
                }
            }
        }
    }

    let mut selected_step = completed;
    if let (Status::Ok, Some(b)) = (&status, &best) {
        restore(&built.vs, &b.weights);
        selected_step = b.step;
    }
    let metrics = match &status {
        Status::Ok => {
            let m = evaluate(built.net.as_ref(), &test_split, classes);
            if m.loss.is_finite() {
                Some(m)
            } else {
                status = Status::Failed {
                    step: completed,
                    reason: format!("evaluation loss is {}", m.loss),
                };
                None
            }
        }
        Status::Failed { .. } => None,
    };
    Ok(Outcome {
        status,
        eval_split: if val_split.is_some() { "val" } else { "test" }.to_string(),
        length: prepared.length,
        train_size: n,
        metrics,
        params: built.params,
        steps: completed,
        selected_step,
        stopped_early,
        curve,
        weights_sha256: model::weights_sha256(&built.vs),
        step_losses,
    })
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
