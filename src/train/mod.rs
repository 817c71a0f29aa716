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
    pub loss: f64,
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
    pub steps: i64,
    pub curve: Vec<CurvePoint>,
    pub weights_sha256: String,
}

/// Evaluates `net` on `split` in chunks, without gradients and with dropout off.
pub fn evaluate(net: &dyn model::Net, split: &Split) -> Metrics {
    let (xs, ys, lengths) = (&split.x, &split.y, &split.lengths);
    tch::no_grad(|| {
        let n = xs.size()[0];
        let (mut loss_sum, mut correct) = (0.0, 0i64);
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
            correct += logits
                .argmax(-1, false)
                .eq_tensor(&y)
                .sum(Kind::Int64)
                .int64_value(&[]);
            start += len;
        }
        let accuracy = correct as f64 / n.max(1) as f64;
        Metrics {
            accuracy,
            error: 1.0 - accuracy,
            loss: loss_sum / n.max(1) as f64,
        }
    })
}

/// Trains `arm` on `data` with `seed`; `on_point` sees each curve point as it is made.
pub fn train(
    arm: &ResolvedArm,
    data: &Dataset,
    seed: i64,
    device: Device,
    mut on_point: impl FnMut(&CurvePoint),
) -> Result<Outcome, TrainError> {
    crate::provenance::seed(seed);
    let prepared = prep::prepare(data, &arm.data, seed);
    let input = InputShape {
        channels: prepared.channels,
        length: prepared.length,
        classes: prepared.classes,
    };
    let built = model::build(&arm.model, arm.init, input, device)?;
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

    let mut curve = Vec::new();
    let (mut window_loss, mut window_steps) = (0.0, 0i64);
    let mut status = Status::Ok;
    let mut completed = 0;
    let steps_per_epoch = (n + batch - 1) / batch;
    for step in 0..t.steps {
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
            .cross_entropy_for_logits(&yb);
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
        window_steps += 1;
        let done = step + 1;
        completed = done;
        if done % t.eval_every == 0 || done == t.steps {
            let m = evaluate(built.net.as_ref(), eval_split);
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
        }
    }

    let metrics = match (&status, arm.protocol.selection) {
        (Status::Ok, Selection::Last) => {
            let m = evaluate(built.net.as_ref(), &test_split);
            if m.loss.is_finite() {
                Some(m)
            } else {
                status = Status::Failed {
                    step: t.steps,
                    reason: format!("evaluation loss is {}", m.loss),
                };
                None
            }
        }
        _ => None,
    };
    Ok(Outcome {
        status,
        eval_split: if val_split.is_some() { "val" } else { "test" }.to_string(),
        length: prepared.length,
        train_size: n,
        metrics,
        params: built.params,
        steps: completed,
        curve,
        weights_sha256: model::weights_sha256(&built.vs),
    })
}
