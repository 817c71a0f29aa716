//! Stacked seeds (`seeds: { stack: K }`, issue #15): K seeds of an MLP arm trained as one
//! batched model give each seed exactly what its own separate run gives on CPU: every step's
//! loss, the curve, the final metrics and the weights' sha256.

use repro::spec::{BatchOrder, EarlyStopping, InitScheme, Optimizer, Schedule, ScheduleUnit};
use repro::train::{self, Outcome};

use super::util;

const SEEDS: [i64; 4] = [3, 4, 5, 6];

/// Each seed's outcome trained on its own, then all of them stacked.
fn separate_and_stacked(arm: &repro::spec::ResolvedArm) -> (Vec<Outcome>, Vec<Outcome>) {
    let _torch = util::torch_lock();
    let data = repro::data::load("mnist1d", &util::data_dir()).unwrap();
    let dev = tch::Device::Cpu;
    let separate = SEEDS
        .iter()
        .map(|&s| train::train(arm, &data, s, dev, |_| {}).unwrap())
        .collect();
    let stacked = train::train_stacked(arm, &data, &SEEDS, dev, |_, _| {}, |_, _| {}).unwrap();
    (separate, stacked)
}

/// Seed by seed, everything an outcome holds (`Debug`, so a NaN equals a NaN).
fn assert_same(separate: &[Outcome], stacked: &[Outcome]) {
    assert_eq!(stacked.len(), separate.len());
    for (i, (a, b)) in separate.iter().zip(stacked).enumerate() {
        assert_eq!(a.step_losses.len(), b.step_losses.len(), "seed {}", SEEDS[i]);
        for (step, (x, y)) in a.step_losses.iter().zip(&b.step_losses).enumerate() {
            assert_eq!(x.to_bits(), y.to_bits(), "seed {} step {step}", SEEDS[i]);
        }
        assert_eq!(a.weights_sha256, b.weights_sha256, "seed {}", SEEDS[i]);
        assert_eq!(format!("{a:?}"), format!("{b:?}"), "seed {}", SEEDS[i]);
    }
}

fn shuffled_mlp(steps: i64) -> repro::spec::ResolvedArm {
    let mut arm = util::mnist1d_arm("mlp", steps, 40);
    // Each seed its own batch order (the bundled spec's is sequential, the same for all).
    arm.train.order = BatchOrder::Shuffle;
    arm
}

#[test]
fn stacked_mlp_equals_separate_runs_seed_by_seed() {
    let arm = shuffled_mlp(200);
    let (separate, stacked) = separate_and_stacked(&arm);
    assert_same(&separate, &stacked);
    let m = |o: &Outcome| o.metrics.unwrap().accuracy.unwrap();
    assert!(m(&stacked[0]) > 0.3, "it learns: {}", m(&stacked[0]));
    assert_ne!(
        stacked[0].step_losses, stacked[1].step_losses,
        "the seeds are trained apart"
    );
}

#[test]
fn stacked_adamw_cosine_norm_clipping_and_sgd_value_clipping_equal_separate_runs() {
    let mut adamw = shuffled_mlp(120);
    adamw.train.optimizer = Optimizer::Adamw {
        beta1: 0.9,
        beta2: 0.99,
        eps: 1e-7,
    };
    adamw.train.weight_decay = 0.05;
    adamw.train.schedule = Schedule::Cosine {
        t_max: 100,
        eta_min: 1e-4,
        warmup: 10,
        unit: ScheduleUnit::Steps,
    };
    // Small enough that every seed clips, each by its own coefficient.
    adamw.train.clip_grad_norm = Some(0.3);
    let (separate, stacked) = separate_and_stacked(&adamw);
    assert_same(&separate, &stacked);

    let mut sgd = shuffled_mlp(120);
    sgd.train.optimizer = Optimizer::Sgd {
        momentum: 0.9,
        nesterov: true,
    };
    sgd.train.weight_decay = 1e-3;
    sgd.train.lr = 0.05;
    sgd.train.clip_grad_value = Some(0.01);
    let (separate, stacked) = separate_and_stacked(&sgd);
    assert_same(&separate, &stacked);
}

#[test]
fn stacked_seeds_diverge_and_stop_early_each_on_its_own() {
    // SGD at lr 2.5 with He init: three seeds diverge, each at its own step, and one goes on.
    let mut arm = shuffled_mlp(60);
    arm.train.optimizer = Optimizer::Sgd {
        momentum: 0.0,
        nesterov: false,
    };
    arm.train.lr = 2.5;
    arm.init = InitScheme::He;
    arm.train.eval_every = 10;
    let (separate, stacked) = separate_and_stacked(&arm);
    assert_same(&separate, &stacked);
    let ends: Vec<_> = stacked.iter().map(|o| (o.status.name(), o.steps)).collect();
    assert_eq!(
        ends,
        [("diverged", 15), ("diverged", 12), ("ok", 60), ("diverged", 13)]
    );

    // A validation split, best-val selection and early stopping, per seed.
    let mut arm = shuffled_mlp(400);
    arm.data.val_fraction = Some(0.2);
    arm.protocol.selection = repro::spec::Selection::BestVal;
    arm.train.eval_every = 20;
    arm.train.early_stopping = Some(EarlyStopping {
        patience: 2,
        min_delta: 0.0,
    });
    let (separate, stacked) = separate_and_stacked(&arm);
    assert_same(&separate, &stacked);
    let ends: Vec<_> = stacked
        .iter()
        .map(|o| (o.stopped_early, o.steps, o.selected_step))
        .collect();
    assert_eq!(
        ends,
        [
            (true, 200, 160),
            (true, 160, 120),
            (true, 260, 220),
            (true, 220, 180)
        ]
    );
}

#[test]
fn stacking_refuses_what_it_cannot_train_exactly() {
    let _torch = util::torch_lock();
    let data = repro::data::load("mnist1d", &util::data_dir()).unwrap();
    let dev = tch::Device::Cpu;
    let cnn = util::mnist1d_arm("cnn", 10, 10);
    let err = train::train_stacked(&cnn, &data, &SEEDS, dev, |_, _| {}, |_, _| {})
        .err()
        .expect("a CNN is refused");
    assert!(
        err.to_string()
            .contains("stacked seeds cannot train `model.kind: cnn1d`"),
        "{err}"
    );
}
