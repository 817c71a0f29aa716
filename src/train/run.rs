//! The step loop: data, model and optimizer set up from a resolved arm, batches in the declared
//! order, schedule, clipping, NaN/Inf detection, evaluation and selection at each eval step,
//! and the final metrics on the test split.

use tch::{Device, TchError, Tensor};

use super::eval::{self, evaluate, EvalPlan, Window};
use super::loss::Loss;
use super::order::{self, BatchSlice};
use super::sampler::PkSampler;
use super::select::{self, Selector};
use super::{optim, schedule, CurvePoint, Outcome, Status, TrainError};
use crate::data::prep::{self, Split};
use crate::data::Dataset;
use crate::model::{self, ModelError};
use crate::spec::{Monitor, ResolvedArm, Schedule, Selection, TrainSpec};

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

/// Refuses an arm whose training would take a decision from the test split: the curve's eval
/// columns come from the test split when no validation split is carved, so a plateau on
/// `val_loss`, `best-val` selection or early stopping would read test loss there. The spec
/// decoder reports the same with file and line; this guards arms built in code.
pub(super) fn check_no_test_decisions(arm: &ResolvedArm, has_val: bool) -> Result<(), TrainError> {
    if has_val {
        return Ok(());
    }
    let t = &arm.train;
    let what = if matches!(
        t.schedule,
        Schedule::Plateau {
            monitor: Monitor::ValLoss,
            ..
        }
    ) {
        "a plateau schedule on `val_loss`"
    } else if arm.protocol.selection == Selection::BestVal {
        "`selection: best-val`"
    } else if t.early_stopping.is_some() {
        "early stopping"
    } else {
        return Ok(());
    };
    Err(TrainError::Protocol(format!(
        "{what} needs a validation split (`data.val`); without one it would decide on the test split"
    )))
}

/// Builds `arm`'s model on the CPU as a run with `seed` would and tries a TorchScript module
/// on the first training batch (training and evaluation mode): the checks `repro plan`, `run`
/// and `check` make before any run starts. A no-op beyond building for built-in models.
pub fn probe(arm: &ResolvedArm, data: &Dataset, seed: i64) -> Result<(), TrainError> {
    crate::provenance::seed(seed);
    let prepared = prep::prepare(data, &arm.data, seed)?;
    let input = prepared.input();
    let built = model::build(&arm.model, arm.init, input, Device::Cpu)?;
    let n = prepared.train.x.size()[0];
    let xs = prepared.train.x.narrow(0, 0, arm.train.batch_size.min(n));
    model::torchscript::check_built(
        built.net.as_ref(),
        &xs.to_kind(tch::Kind::Float),
        input,
        arm.model.embedding_dim(),
    )?;
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

/// [`train`], with `on_step(done, total, loss)` called after every optimizer step (on a GPU,
/// in bursts: the losses come back every [`READBACK_EVERY`] steps).
pub fn train_with_progress(
    arm: &ResolvedArm,
    data: &Dataset,
    seed: i64,
    device: Device,
    on_point: impl FnMut(&CurvePoint),
    on_step: impl FnMut(i64, i64, f64),
) -> Result<Outcome, TrainError> {
    // On a GPU the losses stay on the device and come back every READBACK_EVERY steps (and at
    // each evaluation): reading each one would wait for the GPU every step. On the CPU there is
    // nothing to wait for, so each is read at once, and a non-finite loss updates nothing.
    let readback = if device == Device::Cpu {
        1
    } else {
        READBACK_EVERY
    };
    train_reading_back(arm, data, seed, device, readback, on_point, on_step)
}

/// [`train`] with the losses read back to the host every `readback` steps (and at each
/// evaluation) whatever the device: what a GPU run does, checkable on the CPU.
#[doc(hidden)]
pub fn train_reading_back(
    arm: &ResolvedArm,
    data: &Dataset,
    seed: i64,
    device: Device,
    readback: usize,
    mut on_point: impl FnMut(&CurvePoint),
    mut on_step: impl FnMut(i64, i64, f64),
) -> Result<Outcome, TrainError> {
    crate::provenance::seed(seed);
    let selection = arm.protocol.selection;
    let prepared = prep::prepare(data, &arm.data, seed)?;
    if prepared.class_disjoint && selection == Selection::BestTest {
        return Err(TrainError::Protocol(
            "`selection: best-test` needs test accuracy, which a class-disjoint split \
             (`data.classes`) does not have"
                .into(),
        ));
    }
    let input = prepared.input();
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
    check_no_test_decisions(arm, prepared.val.is_some())?;
    let loss_fn = Loss::new(
        t.loss,
        t.label_smoothing,
        &built.vs.root(),
        arm.model.embedding_dim(),
        prepared.classes,
    );
    let mut opt = optim::Optim::new(&t.optimizer, t.weight_decay, t.lr, &built.vs)?;
    let mut plateau = match t.schedule {
        Schedule::Plateau { monitor, .. } => {
            schedule::Plateau::of(&t.schedule, t.lr).map(|p| (p, monitor))
        }
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
    // A class-disjoint test split has classes the head never saw: without a validation split
    // the curve's eval columns come from the training split.
    let (eval_split, eval_name) = match (&val_split, prepared.class_disjoint) {
        (Some(v), _) => (v, "val"),
        (None, true) => (&train_split, "train"),
        (None, false) => (&test_split, "test"),
    };
    let n = train_split.x.size()[0];
    let batch = t.batch_size.min(n);
    let mut batches = order::Batches::new(t.order, seed, n, batch);
    let mut pk = match t.sampler {
        Some(s) => {
            let labels = Vec::<i64>::try_from(&prepared.train.y).unwrap_or_default();
            Some(PkSampler::new(s, seed, &labels).map_err(|m| {
                TrainError::Sampler(format!("{}, arm `{}`: {m}", arm.spec_id, arm.arm_id))
            })?)
        }
        None => None,
    };
    // An embedding model has no class head: its curve and final metrics come from its loss
    // and nearest neighbours (`Loss::evaluate_embedding`).
    let embedding = built.net.is_embedding();
    let metrics_on = |s: &Split| {
        if embedding {
            loss_fn.evaluate_embedding(built.net.as_ref(), s, prepared.classes, batch)
        } else {
            evaluate(built.net.as_ref(), s, prepared.classes)
        }
    };
    let mut since_point = (0.0, 0);
    let classes = prepared.classes;
    let steps_per_epoch = (n + batch - 1) / batch;
    let total_steps = match (t.steps, t.epochs) {
        (Some(s), _) => s,
        (None, Some(e)) => e * steps_per_epoch,
        (None, None) => 0,
    };

    let mut curve = Vec::new();
    let mut window = Window::default();
    let mut status = Status::Ok;
    let mut completed = 0;
    let mut selector = Selector::new(t.early_stopping);
    let mut stopped_early = false;
    let mut step_losses = Vec::with_capacity(total_steps.max(0) as usize);
    let mut queued: Vec<Tensor> = Vec::with_capacity(readback);
    for step in 0..total_steps {
        let lr = match &plateau {
            Some((p, _)) => p.lr,
            None => schedule::lr_at(&t.schedule, t.lr, step, steps_per_epoch),
        };
        if !matches!(t.schedule, Schedule::Constant) {
            opt.set_lr(lr);
        }
        let slice = match pk.as_mut() {
            Some(pk) => BatchSlice::Gather(Tensor::from_slice(&pk.next_batch()).to_device(device)),
            None => batches.slice(step, device),
        };
        let batch = next_batch(&train_split, slice);
        let done = step + 1;
        let values = if readback <= 1 {
            vec![train_step(
                built.net.as_ref(),
                &loss_fn,
                &mut opt,
                t,
                &batch,
            )?]
        } else {
            queued.push(train_step_queued(
                built.net.as_ref(),
                &loss_fn,
                &mut opt,
                t,
                &batch,
            )?);
            if queued.len() < readback && !eval::due(done, total_steps, t.eval_every) {
                continue;
            }
            read_back(&mut queued)?
        };
        // The steps whose losses just came back, in order.
        let first = done - values.len() as i64;
        for (i, value) in values.into_iter().enumerate() {
            let at = first + i as i64;
            if !value.is_finite() {
                status = Status::Diverged {
                    step: at,
                    reason: format!("training loss became {value}"),
                };
                break;
            }
            window.add(value);
            since_point = (since_point.0 + value, since_point.1 + 1);
            step_losses.push(value);
            completed = at + 1;
            on_step(at + 1, total_steps, value);
        }
        if matches!(status, Status::Diverged { .. }) {
            break;
        }
        if eval::due(done, total_steps, t.eval_every) {
            let (m, point) = if embedding {
                let m = metrics_on(eval_split);
                let point = CurvePoint {
                    step: done,
                    train_loss: since_point.0 / since_point.1 as f64,
                    eval_loss: m.loss,
                    eval_accuracy: m.accuracy,
                    lr,
                };
                window = Window::default();
                (m, point)
            } else {
                eval::at_step(
                    built.net.as_ref(),
                    eval_split,
                    classes,
                    done,
                    lr,
                    &mut window,
                )
            };
            since_point = (0.0, 0);
            if let Some((p, monitor)) = plateau.as_mut() {
                // `eval_split` is the validation split here: checked before the first step.
                p.observe(match monitor {
                    Monitor::TrainLoss => point.train_loss,
                    Monitor::ValLoss => m.loss,
                });
            }
            on_point(&point);
            curve.push(point);
            let score = select::score(selection, &m, point.train_loss, || metrics_on(&test_split));
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
        Status::Diverged { .. } | Status::Collapsed { .. } => completed,
    };
    let metrics = match &status {
        Status::Ok => {
            let plan = EvalPlan::of(arm, prepared.class_disjoint);
            let last_loss = curve.last().map_or(f64::NAN, |p: &CurvePoint| p.train_loss);
            let (m, s) = eval::final_metrics(
                built.net.as_ref(),
                &test_split,
                classes,
                &plan,
                completed,
                last_loss,
            );
            status = s;
            m
        }
        _ => None,
    };
    Ok(Outcome {
        status,
        eval_split: eval_name.to_string(),
        length: prepared.length,
        train_size: n,
        test_size: test_split.len(),
        test_total: data.y_test.size()[0],
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

/// Steps between two reads of the training losses on a GPU. A diverged run there is caught
/// at the first non-finite loss all the same (its step is exact), but its weights may have
/// taken up to this many updates more than on the CPU.
pub const READBACK_EVERY: usize = 32;

/// The queued losses as numbers (one device-to-host copy), emptying the queue.
fn read_back(queued: &mut Vec<Tensor>) -> Result<Vec<f64>, TchError> {
    let all = Tensor::stack(queued, 0)
        .to_device(Device::Cpu)
        .to_kind(tch::Kind::Double);
    queued.clear();
    Vec::<f64>::try_from(&all)
}

/// [`train_step`] without reading the loss: forward, backward, clipping and the update, the
/// loss returned as a detached tensor on the device. A non-finite loss is only seen when it
/// is read back.
fn train_step_queued(
    net: &dyn model::Net,
    loss_fn: &Loss,
    opt: &mut optim::Optim,
    t: &TrainSpec,
    (xb, yb, lb): &(Tensor, Tensor, Tensor),
) -> Result<Tensor, TchError> {
    let loss = loss_fn.compute(&net.forward(xb, lb, true), yb);
    update(opt, t, &loss)?;
    Ok(loss.detach())
}

/// Backward from `loss`, the arm's gradient clipping and the optimizer's update.
fn update(opt: &mut optim::Optim, t: &TrainSpec, loss: &Tensor) -> Result<(), TchError> {
    opt.zero_grad();
    loss.f_backward()?;
    if let Some(max) = t.clip_grad_value {
        opt.clip_grad_value(max);
    }
    if let Some(max) = t.clip_grad_norm {
        opt.clip_grad_norm(max);
    }
    opt.step();
    Ok(())
}

/// One optimizer step on `(x, y, lengths)`, as every training loop here takes it (`repro
/// run` and the sanity checks): forward with dropout on, the loss, and, when it is finite,
/// backward, the arm's gradient clipping and the update. Returns the loss before the update
/// (a non-finite one updates nothing). A model none of whose weights needs a gradient is an
/// error here, not a panic.
pub(crate) fn train_step(
    net: &dyn model::Net,
    loss_fn: &Loss,
    opt: &mut optim::Optim,
    t: &TrainSpec,
    (xb, yb, lb): &(Tensor, Tensor, Tensor),
) -> Result<f64, TchError> {
    let loss = loss_fn.compute(&net.forward(xb, lb, true), yb);
    let value = loss.double_value(&[]);
    if !value.is_finite() {
        return Ok(value);
    }
    update(opt, t, &loss)?;
    Ok(value)
}

/// One batch of `split`: `(x, y, lengths)`.
pub(crate) fn next_batch(split: &Split, slice: BatchSlice) -> (Tensor, Tensor, Tensor) {
    let (x, y, lengths) = (&split.x, &split.y, &split.lengths);
    match slice {
        BatchSlice::Range { start, len } => (
            x.narrow(0, start, len),
            y.narrow(0, start, len),
            lengths.narrow(0, start, len),
        ),
        BatchSlice::Gather(idx) => (
            x.index_select(0, &idx),
            y.index_select(0, &idx),
            lengths.index_select(0, &idx),
        ),
    }
}
