//! Training behaviour: parameter counts from the paper, determinism, divergence handling.

use repro::model::{self, InputShape};
use repro::spec::{InitScheme, ModelSpec};
use repro::train::{self, Status};

use super::util;

#[test]
fn parameter_counts_match_the_paper() {
    // ../shared/CLAIMS.md: 410, 15,210, 5,210, 5,134.
    let input = InputShape {
        channels: 1,
        length: 40,
        classes: 10,
        full_length: false,
    };
    // Building draws initial weights from libtorch's global generator: hold the lock so no
    // concurrently running test sees its sequence disturbed.
    let _torch = util::torch_lock();
    for (id, want) in [
        ("logistic", 410),
        ("mlp", 15_210),
        ("cnn", 5_210),
        ("gru", 5_134),
    ] {
        let arm = util::mnist1d_arm(id, 1, 1);
        let built = model::build(&arm.model, arm.init, input, tch::Device::Cpu).unwrap();
        assert_eq!(built.params, want, "{id}");
    }
}

#[test]
fn same_arm_and_seed_twice_gives_identical_weights() {
    let arm = util::mnist1d_arm("cnn", 120, 40);
    let _torch = util::torch_lock();
    let data = repro::data::load("mnist1d", &util::data_dir()).unwrap();
    let a = train::train(&arm, &data, 3, tch::Device::Cpu, |_| {}).unwrap();
    let b = train::train(&arm, &data, 3, tch::Device::Cpu, |_| {}).unwrap();
    assert_eq!(a.weights_sha256, b.weights_sha256);
    assert_eq!(a.metrics, b.metrics);
    assert_eq!(a.curve, b.curve);
    let c = train::train(&arm, &data, 4, tch::Device::Cpu, |_| {}).unwrap();
    assert_ne!(
        a.weights_sha256, c.weights_sha256,
        "another seed, other weights"
    );
}

#[test]
fn shuffled_lstm_trains_and_is_deterministic() {
    let mut arm = util::mnist1d_arm("gru", 60, 30);
    arm.model = ModelSpec::Rnn {
        cell: repro::spec::Cell::Lstm,
        hidden: 16,
        layers: 2,
        bidirectional: false,
        readout: repro::spec::Readout::Last,
        dropout: 0.2,
        layer_norm: false,
        output_dropout: 0.1,
        forget_bias: Some(1.0),
        embedding: None,
        embedding_dim: None,
    };
    arm.init = InitScheme::Xavier;
    arm.train.order = repro::spec::BatchOrder::Shuffle;
    arm.train.clip_grad_norm = Some(1.0);
    let _torch = util::torch_lock();
    let data = repro::data::load("mnist1d", &util::data_dir()).unwrap();
    let a = train::train(&arm, &data, 11, tch::Device::Cpu, |_| {}).unwrap();
    let b = train::train(&arm, &data, 11, tch::Device::Cpu, |_| {}).unwrap();
    assert_eq!(a.status, Status::Ok);
    assert_eq!(a.weights_sha256, b.weights_sha256);
    let first = a.curve.first().unwrap().train_loss;
    let last = a.curve.last().unwrap().train_loss;
    assert!(last < first, "loss should fall: {first} -> {last}");
    // 2-layer LSTM, 16 hidden: 4·16·(1+16+2) + 4·16·(16+16+2) + 16·10+10.
    assert_eq!(a.params, 4 * 16 * 19 + 4 * 16 * 34 + 170);
}

#[test]
fn divergence_is_recorded_as_a_diverged_run() {
    let mut arm = util::mnist1d_arm("mlp", 50, 10);
    arm.train.optimizer = repro::spec::Optimizer::Sgd {
        momentum: 0.0,
        nesterov: false,
    };
    arm.train.lr = 10.0;
    arm.init = InitScheme::He;
    let _torch = util::torch_lock();
    let data = repro::data::load("mnist1d", &util::data_dir()).unwrap();
    let out = train::train(&arm, &data, 0, tch::Device::Cpu, |_| {}).unwrap();
    match out.status {
        Status::Diverged { step, reason } => {
            assert!(step < 50, "{step}");
            assert!(reason.contains("training loss became"), "{reason}");
            assert!(out.metrics.is_none());
        }
        other => panic!("lr 10 with SGD should diverge, got {other:?}"),
    }
}

/// Losses read back in bursts (as on a GPU) give the same run, step for step, as losses read
/// every step: the curve points, per-step losses, selection and weights; and a diverging run
/// is caught at the same step.
#[test]
fn losses_read_back_in_bursts_give_the_same_run() {
    let mut arm = util::mnist1d_arm("cnn", 90, 20);
    arm.train.order = repro::spec::BatchOrder::Shuffle;
    arm.train.clip_grad_norm = Some(0.5);
    let _torch = util::torch_lock();
    let data = repro::data::load("mnist1d", &util::data_dir()).unwrap();
    let mut steps_seen = Vec::new();
    let each = train::train(&arm, &data, 5, tch::Device::Cpu, |_| {}).unwrap();
    // 7 divides neither the eval interval (20) nor the 90 steps: bursts straddle evaluations.
    let burst = train::train_reading_back(
        &arm,
        &data,
        5,
        tch::Device::Cpu,
        7,
        |_| {},
        |done, _, _| steps_seen.push(done),
    )
    .unwrap();
    assert_eq!(burst.step_losses.len(), 90);
    assert_eq!(each.step_losses, burst.step_losses);
    assert_eq!(each.curve, burst.curve);
    assert_eq!(each.metrics, burst.metrics);
    assert_eq!(each.weights_sha256, burst.weights_sha256);
    assert_eq!(
        steps_seen,
        (1..=90).collect::<Vec<i64>>(),
        "every step reported once, in order"
    );

    let mut wild = util::mnist1d_arm("mlp", 50, 10);
    wild.train.optimizer = repro::spec::Optimizer::Sgd {
        momentum: 0.0,
        nesterov: false,
    };
    wild.train.lr = 10.0;
    wild.init = InitScheme::He;
    let each = train::train(&wild, &data, 0, tch::Device::Cpu, |_| {}).unwrap();
    let burst =
        train::train_reading_back(&wild, &data, 0, tch::Device::Cpu, 8, |_| {}, |_, _, _| {})
            .unwrap();
    match (&each.status, &burst.status) {
        (Status::Diverged { step: a, .. }, Status::Diverged { step: b, .. }) => {
            assert_eq!(a, b);
            assert_eq!(each.steps, burst.steps);
            assert_eq!(each.step_losses, burst.step_losses);
        }
        other => panic!("both should diverge: {other:?}"),
    }
}

#[test]
fn radam_with_cosine_epochs_and_value_clipping_trains() {
    let mut arm = util::mnist1d_arm("cnn", 120, 40);
    arm.train.optimizer = repro::spec::Optimizer::Radam {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
    };
    arm.train.lr = 3e-3;
    arm.train.clip_grad_value = Some(1.0);
    arm.train.schedule = repro::spec::Schedule::Cosine {
        t_max: 3,
        eta_min: 0.0,
        warmup: 0,
        unit: repro::spec::ScheduleUnit::Epochs,
    };
    let _torch = util::torch_lock();
    let data = repro::data::load("mnist1d", &util::data_dir()).unwrap();
    let out = train::train(&arm, &data, 1, tch::Device::Cpu, |_| {}).unwrap();
    assert_eq!(out.status, Status::Ok);
    // 40 steps per epoch: epoch 0 at lr, epoch 1 at lr·(1+cos(π/3))/2, epoch 2 at lr·(1+cos(2π/3))/2.
    let lrs: Vec<f64> = out.curve.iter().map(|p| p.lr).collect();
    let want = [3e-3, 3e-3 * 0.75, 3e-3 * 0.25];
    for (g, w) in lrs.iter().zip(want) {
        assert!((g - w).abs() < 1e-12, "{lrs:?}");
    }
    let (first, last) = (out.curve[0].train_loss, out.curve[2].train_loss);
    assert!(last < first, "loss should fall: {first} -> {last}");
}

#[test]
fn early_stopping_restores_the_best_validation_checkpoint() {
    let mut arm = util::mnist1d_arm("cnn", 2000, 20);
    arm.data.val_fraction = Some(0.2);
    arm.protocol.selection = repro::spec::Selection::BestVal;
    arm.train.lr = 5e-2; // fast enough to overfit a 3,200-series split within the budget
    arm.train.early_stopping = Some(repro::spec::EarlyStopping {
        patience: 3,
        min_delta: 0.0,
    });
    let _torch = util::torch_lock();
    let data = repro::data::load("mnist1d", &util::data_dir()).unwrap();
    let out = train::train(&arm, &data, 2, tch::Device::Cpu, |_| {}).unwrap();
    assert!(
        out.stopped_early,
        "should stop before 2000 steps: {}",
        out.steps
    );
    assert_eq!(out.eval_split, "val");
    assert_eq!(out.train_size, 3200);
    let best = out
        .curve
        .iter()
        .min_by(|a, b| a.eval_loss.total_cmp(&b.eval_loss))
        .unwrap();
    assert_eq!(out.selected_step, best.step);
    assert_eq!(
        out.steps,
        best.step + 3 * 20,
        "stopped after `patience` evaluations without improvement"
    );
}

#[test]
fn min_train_loss_selection_and_epoch_budgets() {
    let mut arm = util::mnist1d_arm("mlp", 1, 10);
    arm.train.steps = None;
    arm.train.epochs = Some(3);
    arm.data.subset = Some(repro::spec::Subset::Count {
        train: Some(400),
        test: None,
    });
    arm.protocol.selection = repro::spec::Selection::MinTrainLoss;
    arm.train.label_smoothing = 0.1;
    let _torch = util::torch_lock();
    let data = repro::data::load("mnist1d", &util::data_dir()).unwrap();
    let out = train::train(&arm, &data, 0, tch::Device::Cpu, |_| {}).unwrap();
    assert_eq!(out.train_size, 400);
    assert_eq!(out.steps, 12, "3 epochs of 400 / 100");
    let best = out
        .curve
        .iter()
        .min_by(|a, b| a.train_loss.total_cmp(&b.train_loss))
        .unwrap();
    assert_eq!(out.selected_step, best.step);
    let m = out.metrics.unwrap();
    let (perplexity, loss, f1) = (m.perplexity.unwrap(), m.loss.unwrap(), m.macro_f1.unwrap());
    assert!((perplexity - loss.exp()).abs() < 1e-9);
    assert!(f1 > 0.0 && f1 <= 1.0);
    assert_eq!(m.map_at_r, None, "no retrieval unless the arm asks for it");
}

/// The learning rates a plateau schedule gives when fed `losses`: the rate of each curve point
/// is the one in force before that point's loss is observed.
fn plateau_replay(lr: f64, losses: &[f64]) -> Vec<f64> {
    let schedule = repro::spec::Schedule::Plateau {
        factor: 0.5,
        patience: 0,
        min_lr: 0.0,
        monitor: repro::spec::Monitor::TrainLoss,
        threshold: repro::spec::PLATEAU_THRESHOLD,
        threshold_mode: repro::spec::ThresholdMode::Rel,
    };
    let mut p = train::schedule::Plateau::of(&schedule, lr).unwrap();
    losses
        .iter()
        .map(|&l| {
            let before = p.lr;
            p.observe(l);
            before
        })
        .collect()
}

/// Issue #11: without a validation split the plateau schedule reduced the rate on the TEST loss.
/// It now follows the monitor it declares: the training loss (Fawaz et al.) or validation loss.
#[test]
fn plateau_follows_its_monitor_never_the_test_loss() {
    use repro::spec::{Monitor, Schedule};
    let _torch = util::torch_lock();
    let data = repro::data::load("mnist1d", &util::data_dir()).unwrap();
    let plateau = |monitor| Schedule::Plateau {
        factor: 0.5,
        patience: 0,
        min_lr: 0.0,
        monitor,
        threshold: repro::spec::PLATEAU_THRESHOLD,
        threshold_mode: repro::spec::ThresholdMode::Rel,
    };
    let mut arm = util::mnist1d_arm("logistic", 200, 10);
    arm.train.lr = 0.5; // noisy enough that the monitored loss stalls now and then
    arm.train.schedule = plateau(Monitor::TrainLoss);
    let out = train::train(&arm, &data, 3, tch::Device::Cpu, |_| {}).unwrap();
    assert_eq!(out.eval_split, "test");
    let lrs: Vec<f64> = out.curve.iter().map(|p| p.lr).collect();
    let train_losses: Vec<f64> = out.curve.iter().map(|p| p.train_loss).collect();
    let test_losses: Vec<f64> = out.curve.iter().map(|p| p.eval_loss).collect();
    assert_eq!(lrs.len(), 20);
    assert_eq!(lrs, plateau_replay(0.5, &train_losses));
    assert!(lrs.iter().any(|&l| l < 0.5), "never reduced: {lrs:?}");
    assert_ne!(
        lrs,
        plateau_replay(0.5, &test_losses),
        "the test loss would have given other rates (else this test shows nothing)"
    );

    arm.data.val_fraction = Some(0.2);
    arm.train.schedule = plateau(Monitor::ValLoss);
    let out = train::train(&arm, &data, 3, tch::Device::Cpu, |_| {}).unwrap();
    assert_eq!(out.eval_split, "val");
    let lrs: Vec<f64> = out.curve.iter().map(|p| p.lr).collect();
    let val_losses: Vec<f64> = out.curve.iter().map(|p| p.eval_loss).collect();
    assert_eq!(lrs, plateau_replay(0.5, &val_losses));
    assert!(lrs.iter().any(|&l| l < 0.5), "never reduced: {lrs:?}");

    // Built in code, past the spec's checks: refused rather than run on the test loss.
    arm.data.val_fraction = None;
    let err = train::train(&arm, &data, 3, tch::Device::Cpu, |_| {})
        .expect_err("val_loss without a validation split");
    assert!(
        err.to_string()
            .contains("a plateau schedule on `val_loss` needs a validation split"),
        "{err}"
    );
}
