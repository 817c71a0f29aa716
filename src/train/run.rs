//! The step loop: data, model and optimizer set up from a resolved arm, batches in the declared
//! order, schedule, clipping, NaN/Inf detection, evaluation and selection at each eval step,
//! and the final metrics on the test split.

use tch::{Device, Kind, Tensor};

use super::eval::{self, evaluate, Window};
use super::select::{self, Selector};
use super::{optim, schedule, CurvePoint, Outcome, Status, TrainError};
use crate::data::prep::{self, Split};
use crate::data::Dataset;
use crate::model::{self, InputShape, ModelError};
use crate::spec::{BatchOrder, ResolvedArm, Schedule};

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
    let n = train_split.x.size()[0];
    let batch = t.batch_size.min(n);
    let mut perm: Option<Tensor> = None;
    let classes = prepared.classes;
    let steps_per_epoch = (n + batch - 1) / batch;
    let total_steps = match (t.steps, t.epochs) {
        (Some(s), _) => s,
        (None, Some(e)) => e * steps_per_epoch,
        (None, None) => 0,
    };
    let selection = arm.protocol.selection;

    let mut curve = Vec::new();
    let mut window = Window::default();
    let mut status = Status::Ok;
    let mut completed = 0;
    let mut selector = Selector::new(t.early_stopping);
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
        let (xb, yb, lb) = next_batch(t.order, &train_split, step, batch, &mut perm, device);
        let loss = built
            .net
            .forward(&xb, &lb, true)
            .cross_entropy_loss::<Tensor>(&yb, None, tch::Reduction::Mean, -100, t.label_smoothing);
        let value = loss.double_value(&[]);
        if !value.is_finite() {
            status = Status::Diverged {
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
        window.add(value);
        step_losses.push(value);
        let done = step + 1;
        completed = done;
        on_step(done, total_steps, value);
        if eval::due(done, total_steps, t.eval_every) {
            let (m, point) = eval::at_step(
                built.net.as_ref(),
                eval_split,
                classes,
                done,
                lr,
                &mut window,
                plateau.as_mut(),
            );
            on_point(&point);
            curve.push(point);
            let score = select::score(selection, &m, point.train_loss, || {
                evaluate(built.net.as_ref(), &test_split, classes)
            });
            if let Some(score) = score {
                if selector.observe(score, done, &built.vs) {
                    stopped_early = true;
                    break;
                }
            }
        }
    }

    let selected_step = match status {
        Status::Ok => selector.restore_best(&built.vs).unwrap_or(completed),
        Status::Diverged { .. } => completed,
    };
    let metrics = match &status {
        Status::Ok => {
            let m = evaluate(built.net.as_ref(), &test_split, classes);
            if m.loss.is_finite() {
                Some(m)
            } else {
                status = Status::Diverged {
                    step: completed,
                    reason: format!("evaluation loss is {}", m.loss),
                };
                None
            }
        }
        Status::Diverged { .. } => None,
    };
    Ok(Outcome {
        status,
        eval_split: if val_split.is_some() { "val" } else { "test" }.to_string(),
        length: prepared.length,
        train_size: n,
        test_size: test_split.x.size()[0],
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

/// Batch `step` of `split`: `(x, y, lengths)`. Under `shuffle`, `epoch_perm` holds the epoch's
/// permutation, drawn from libtorch's generator at the first step of each epoch.
fn next_batch(
    order: BatchOrder,
    split: &Split,
    step: i64,
    batch: i64,
    epoch_perm: &mut Option<Tensor>,
    device: Device,
) -> (Tensor, Tensor, Tensor) {
    let (x_train, y_train, len_train) = (&split.x, &split.y, &split.lengths);
    let n = x_train.size()[0];
    match order {
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
                *epoch_perm = Some(Tensor::randperm(n, (Kind::Int64, device)));
            }
            let perm = epoch_perm
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
    }
}
