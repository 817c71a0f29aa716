//! Stacked seeds (`seeds: { stack: K }`): K seeds of one arm trained in one process as one set
//! of batched tensors ([`crate::model::stacked::StackedMlp`]), each copy with its own initial
//! weights (drawn as its own run draws them), its own data preparation and batch order, its
//! own optimizer state (libtorch's optimizer over the `[K, ...]` variables: every update is
//! elementwise) and its own gradient-norm clipping, evaluation, selection and early stopping.
//! On CPU each seed's [`Outcome`] has the bits of [`super::train`] with that seed (per-step
//! losses, curve, metrics, weight digest), checked in `tests/it/stacked.rs`; a step is one
//! batched kernel per layer where K runs take K.

use tch::{Device, Kind, Tensor};

use super::eval::{self, EvalPlan, Window};
use super::loss::Loss;
use super::order::Batches;
use super::run::{check_no_test_decisions, next_batch};
use super::select::{self, Selector};
use super::{optim, schedule, CurvePoint, Outcome, Status, TrainError};
use crate::data::prep::{self, Prepared, Split};
use crate::data::Dataset;
use crate::model::stacked::Stacked;
use crate::model::{self, Built};
use crate::spec::{ResolvedArm, Schedule};

/// One seed of the stack: its data, its ordinary model (where its weights are evaluated,
/// selected and digested) and its run's state.
struct Copy {
    prepared: Prepared,
    built: Built,
    train: Split,
    test: Split,
    val: Option<Split>,
    batches: Batches,
    window: Window,
    since_point: (f64, i64),
    curve: Vec<CurvePoint>,
    status: Status,
    completed: i64,
    selector: Selector,
    stopped_early: bool,
    step_losses: Vec<f64>,
    /// Still training: not diverged, not stopped early.
    active: bool,
}

impl Copy {
    /// The split the curve's eval columns come from, and its name (as [`super::train`]).
    fn eval_split(&self) -> (&Split, &'static str) {
        match (&self.val, self.prepared.class_disjoint) {
            (Some(v), _) => (v, "val"),
            (None, true) => (&self.train, "train"),
            (None, false) => (&self.test, "test"),
        }
    }
}

fn refuse(arm: &ResolvedArm, why: impl std::fmt::Display) -> TrainError {
    TrainError::Protocol(format!(
        "{}, arm `{}`: stacked seeds cannot train {why}",
        arm.spec_id, arm.arm_id
    ))
}

/// Trains `arm` once per seed in `seeds`, all seeds as one stacked model; returns one
/// [`Outcome`] per seed, in order, each bit for bit the seed's separate run on CPU (an arm
/// whose stacked computation would round otherwise, a `cnn1d` with oneDNN on or any arm on a
/// GPU, is refused: [`train_stacked_grouped`] trains those). `on_point(i, point)` sees seed
/// `i`'s curve points, `on_step(done, total, loss)` each stacked step (the mean loss of the
/// seeds still training).
pub fn train_stacked(
    arm: &ResolvedArm,
    data: &Dataset,
    seeds: &[i64],
    device: Device,
    on_point: impl FnMut(usize, &CurvePoint),
    on_step: impl FnMut(i64, i64, f64),
) -> Result<Vec<Outcome>, TrainError> {
    stacked(arm, data, seeds, device, true, on_point, on_step)
}

/// [`train_stacked`] where the stacked kernels may round otherwise than separate runs' (a GPU,
/// a `cnn1d` with oneDNN's convolutions): each seed's result is then that of this group, which
/// is why the runner puts the group into each run's key (`RunConfig::stack_group`).
pub fn train_stacked_grouped(
    arm: &ResolvedArm,
    data: &Dataset,
    seeds: &[i64],
    device: Device,
    on_point: impl FnMut(usize, &CurvePoint),
    on_step: impl FnMut(i64, i64, f64),
) -> Result<Vec<Outcome>, TrainError> {
    stacked(arm, data, seeds, device, false, on_point, on_step)
}

fn stacked(
    arm: &ResolvedArm,
    data: &Dataset,
    seeds: &[i64],
    device: Device,
    exact: bool,
    mut on_point: impl FnMut(usize, &CurvePoint),
    mut on_step: impl FnMut(i64, i64, f64),
) -> Result<Vec<Outcome>, TrainError> {
    if let Some(why) = arm.stack_refusal() {
        return Err(refuse(arm, why));
    }
    if seeds.is_empty() {
        return Ok(Vec::new());
    }
    let t = &arm.train;
    let on = |s: &Split| Split {
        x: s.x.to_device(device),
        y: s.y.to_device(device),
        lengths: s.lengths.to_device(device),
    };
    let mut copies = Vec::with_capacity(seeds.len());
    for &seed in seeds {
        // The order of a separate run: seed, prepare, build (prepare draws from its own
        // generator, so the model's initial weights are this seed's).
        crate::provenance::seed(seed);
        let prepared = prep::prepare(data, &arm.data, seed)?;
        let input = prepared.input();
        let built = model::build(&arm.model, arm.init, input, device)?;
        check_no_test_decisions(arm, prepared.val.is_some())?;
        let n = prepared.train.x.size()[0];
        copies.push(Copy {
            train: on(&prepared.train),
            test: on(&prepared.test),
            val: prepared.val.as_ref().map(on),
            batches: Batches::new(t.order, seed, n, t.batch_size.min(n)),
            prepared,
            built,
            window: Window::default(),
            since_point: (0.0, 0),
            curve: Vec::new(),
            status: Status::Ok,
            completed: 0,
            selector: Selector::new(t.early_stopping),
            stopped_early: false,
            step_losses: Vec::new(),
            active: true,
        });
    }
    let shape = |c: &Copy| {
        (
            c.prepared.channels,
            c.prepared.length,
            c.prepared.classes,
            c.train.len(),
        )
    };
    if copies.iter().any(|c| shape(c) != shape(&copies[0])) {
        return Err(refuse(
            arm,
            "seeds whose prepared data differ in shape (training size, length or classes)",
        ));
    }
    let (_, _, classes, n) = shape(&copies[0]);
    let batch = t.batch_size.min(n);
    let stacked_vs = tch::nn::VarStore::new(device);
    let vss: Vec<_> = copies.iter().map(|c| &c.built.vs).collect();
    let stacked = Stacked::stack(&arm.model, &vss, &stacked_vs)?;
    if exact && device != Device::Cpu {
        return Err(refuse(
            arm,
            "bit for bit on a GPU, where batched kernels may round otherwise than K separate \
             ones (`train_stacked_grouped` trains the group as its own computation)",
        ));
    }
    if stacked.convolves() {
        // A grouped convolution is each copy's own bit for bit only on ATen's own CPU kernels.
        if exact && crate::numerics::onednn_enabled() {
            return Err(refuse(
                arm,
                "a `cnn1d` with oneDNN on (native numerics) bit for bit: a grouped convolution \
                 rounds otherwise than K separate ones; compute it with `numerics: portable` \
                 (or `--portable`), or let the runner group it (the group in each key)",
            ));
        }
        // Padded batches would be masked per copy; every sequence must fill the length.
        let length = copies[0].prepared.length;
        for c in &copies {
            let l = &c.train.lengths;
            if l.numel() > 0 && l.min().int64_value(&[]) < length {
                return Err(refuse(arm, "a `cnn1d` on variable-length (padded) data"));
            }
        }
    }
    // The shortest batch a step can take: an epoch's last one, or any under a sequential order
    // that wraps around the split.
    let smallest = if n % batch == 0 { batch } else { 1 };
    if exact {
        // Below these sizes the batched kernels round otherwise than K separate ones.
        stacked.check_sizes(smallest)?;
    }
    let loss_fn = Loss::new(t.loss, t.label_smoothing, &stacked_vs.root(), None, classes);
    // Exact: a fused step per copy, as each separate run steps its own tensors; grouped, one
    // call over all copies (fewer launches; the group is its own computation).
    let per_copy = if exact { copies.len() as i64 } else { 1 };
    let mut opt = optim::Optim::stacked(&t.optimizer, t.weight_decay, t.lr, &stacked_vs, per_copy)?;
    let steps_per_epoch = (n + batch - 1) / batch;
    let total_steps = match (t.steps, t.epochs) {
        (Some(s), _) => s,
        (None, Some(e)) => e * steps_per_epoch,
        (None, None) => 0,
    };
    for c in &mut copies {
        c.step_losses.reserve(total_steps.max(0) as usize);
    }

    for step in 0..total_steps {
        let lr = schedule::lr_at(&t.schedule, t.lr, step, steps_per_epoch);
        if !matches!(t.schedule, Schedule::Constant) {
            opt.set_lr(lr);
        }
        let (xs, ys): (Vec<Tensor>, Vec<Tensor>) = copies
            .iter_mut()
            .map(|c| {
                let (x, y, _) = next_batch(&c.train, c.batches.slice(step, device));
                (x, y)
            })
            .unzip();
        let tape = stacked.forward(&Tensor::stack(&xs, 0));
        let losses: Vec<Tensor> = tape
            .logits
            .unbind(0)
            .iter()
            .zip(&ys)
            .map(|(out, y)| loss_fn.compute(out, y))
            .collect();
        let losses = Tensor::stack(&losses, 0);
        let values = Vec::<f64>::try_from(losses.to_kind(Kind::Double).to_device(Device::Cpu))?;
        for (k, c) in copies.iter_mut().enumerate() {
            if c.active && !values[k].is_finite() {
                // A separate run stops here, before the update, and keeps these weights.
                stacked.write_into(k as i64, &c.built.vs)?;
                c.status = Status::Diverged {
                    step,
                    reason: format!("training loss became {}", values[k]),
                };
                c.active = false;
            }
        }
        if !copies.iter().any(|c| c.active) {
            break;
        }
        let mut grads = stacked.gradients(&tape, &losses.sum(Kind::Float));
        if let Some(max) = t.clip_grad_value {
            for g in &mut grads {
                let _ = g.clamp_(-max, max);
            }
        }
        if let Some(max) = t.clip_grad_norm {
            clip_norm_per_copy(&mut grads, max)?;
        }
        set_grads(&stacked.params(), &grads)?;
        opt.step();

        let done = step + 1;
        let training: Vec<f64> = (0..copies.len())
            .filter(|&k| copies[k].active)
            .map(|k| values[k])
            .collect();
        on_step(
            done,
            total_steps,
            training.iter().sum::<f64>() / training.len() as f64,
        );
        for (k, c) in copies.iter_mut().enumerate() {
            if !c.active {
                continue;
            }
            let value = values[k];
            c.window.add(value);
            c.since_point = (c.since_point.0 + value, c.since_point.1 + 1);
            c.step_losses.push(value);
            c.completed = done;
            if !eval::due(done, total_steps, t.eval_every) {
                continue;
            }
            stacked.write_into(k as i64, &c.built.vs)?;
            let mut window = std::mem::take(&mut c.window);
            let net = c.built.net.as_ref();
            let (split, _) = c.eval_split();
            let (m, point) = eval::at_step(net, split, classes, done, lr, &mut window);
            c.since_point = (0.0, 0);
            on_point(k, &point);
            c.curve.push(point);
            let score = select::score(arm.protocol.selection, &m, point.train_loss, || {
                eval::evaluate(net, &c.test, classes)
            });
            if let Some(score) = score {
                if c.selector.observe(score, done, &c.built.vs) {
                    c.stopped_early = true;
                    c.active = false;
                }
            }
        }
        if !copies.iter().any(|c| c.active) {
            break;
        }
    }

    let plan_of = |c: &Copy| EvalPlan::of(arm, c.prepared.class_disjoint);
    let mut outcomes = Vec::with_capacity(copies.len());
    for (k, c) in copies.into_iter().enumerate() {
        if c.active {
            stacked.write_into(k as i64, &c.built.vs)?;
        }
        let mut status = c.status.clone();
        let selected_step = match status {
            Status::Ok => c.selector.restore_best(&c.built.vs).unwrap_or(c.completed),
            Status::Diverged { .. } | Status::Collapsed { .. } => c.completed,
        };
        let metrics = match &status {
            Status::Ok => {
                let last_loss = c.curve.last().map_or(f64::NAN, |p| p.train_loss);
                let (m, s) = eval::final_metrics(
                    c.built.net.as_ref(),
                    &c.test,
                    classes,
                    &plan_of(&c),
                    c.completed,
                    last_loss,
                );
                status = s;
                m
            }
            _ => None,
        };
        outcomes.push(Outcome {
            status,
            eval_split: c.eval_split().1.to_string(),
            length: c.prepared.length,
            train_size: n,
            test_size: c.test.len(),
            test_total: data.y_test.size()[0],
            metrics,
            params: c.built.params,
            steps: c.completed,
            selected_step,
            stopped_early: c.stopped_early,
            curve: c.curve,
            weights_sha256: model::weights_sha256(&c.built.vs),
            step_losses: c.step_losses,
        });
    }
    Ok(outcomes)
}

/// Global-norm clipping per copy, as `torch.nn.utils.clip_grad_norm_` (and
/// `optim::Optim::clip_grad_norm`) clips one run: each copy's norm of its per-tensor norms, in
/// the variables' order, and its own coefficient `max / (norm + 1e-6)` clamped at 1, computed
/// on the device as the single run computes it (no host read).
fn clip_norm_per_copy(grads: &mut [Tensor], max: f64) -> Result<(), TrainError> {
    tch::no_grad(|| {
        let norms: Vec<Tensor> = grads
            .iter()
            .map(|g| {
                g.flatten(1, -1)
                    .norm_scalaropt_dim(2, [1].as_slice(), false)
            })
            .collect();
        let totals = Tensor::stack(&norms, 1).norm_scalaropt_dim(2, [1].as_slice(), false);
        let coef = ((totals + 1e-6).reciprocal() * max).clamp_max(1.0);
        for g in grads.iter_mut() {
            let mut shape = vec![1i64; g.dim()];
            shape[0] = -1;
            let _ = g.g_mul_(&coef.view(shape.as_slice()));
        }
    });
    Ok(())
}

/// Makes `grads` the gradients of `params`, for the optimizer: copied into the existing
/// gradients, or on the first step defined by a backward pass of `Σ p·g` (whose gradient is
/// `1·g`, exactly `g`).
fn set_grads(params: &[&Tensor], grads: &[Tensor]) -> Result<(), TrainError> {
    if params.iter().all(|p| p.grad().defined()) {
        tch::no_grad(|| {
            for (p, g) in params.iter().zip(grads) {
                let mut slot = p.grad();
                slot.copy_(g);
            }
        });
        return Ok(());
    }
    let terms: Vec<Tensor> = params
        .iter()
        .zip(grads)
        .map(|(p, g)| (*p * g).sum(Kind::Float))
        .collect();
    Tensor::stack(&terms, 0).sum(Kind::Float).f_backward()?;
    Ok(())
}
