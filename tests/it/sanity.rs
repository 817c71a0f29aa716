//! Issue #14: sanity checks on broken set-ups built on purpose through the library API
//! (shuffled labels, learning rate 10, frozen weights, labels misaligned with features, a
//! mis-scaled output, a leak between train and test), each diagnosed by the check that should
//! catch it; `repro inspect` on a real batch; and `repro sanity` on the bundled MNIST-1D arms.

use repro::data::prep::{Prepared, Split};
use repro::model::{self, Built, InputShape, ModelError};
use repro::sanity::{self, control, gradients, Check, Outcome, Setup};
use repro::spec::ResolvedArm;
use tch::{Device, Tensor};

use crate::util;

const SEED: i64 = 42;

fn data() -> repro::data::Dataset {
    repro::data::load("mnist1d", &util::data_dir()).unwrap()
}

fn prepare(arm: &ResolvedArm, ds: &repro::data::Dataset) -> Prepared {
    util::prepared(ds, &arm.data, SEED)
}

/// Every check of `arm` on `prepared`, with models from `factory`.
fn checks(
    arm: &ResolvedArm,
    prepared: &Prepared,
    ds: &repro::data::Dataset,
    factory: &dyn Fn(InputShape) -> Result<Built, ModelError>,
) -> Vec<Check> {
    let setup = Setup {
        arm,
        prepared,
        class_names: &ds.class_names,
        seed: SEED,
        device: Device::Cpu,
    };
    sanity::run_checks(&setup, factory)
}

fn find<'a>(checks: &'a [Check], name: &str) -> &'a Check {
    checks.iter().find(|c| c.name == name).unwrap()
}

fn relabel(split: &Split, y: Tensor) -> Split {
    Split {
        x: split.x.shallow_clone(),
        y,
        lengths: split.lengths.shallow_clone(),
    }
}

fn with_train(p: &Prepared, train: Split) -> Prepared {
    Prepared {
        train,
        val: None,
        test: relabel(&p.test, p.test.y.shallow_clone()),
        length: p.length,
        channels: p.channels,
        classes: p.classes,
        class_disjoint: false,
    }
}

#[test]
fn the_bundled_cnn_passes_every_check() {
    let _g = util::torch_lock();
    let ds = data();
    let arm = util::mnist1d_arm("cnn", 6001, 250);
    let p = prepare(&arm, &ds);
    let factory = sanity::build_factory(&arm, SEED, Device::Cpu);
    let all = checks(&arm, &p, &ds, &factory);
    for c in &all {
        assert_eq!(c.outcome, Outcome::Pass, "{c:?}");
    }
    assert!(find(&all, "data sample").details[0].starts_with("train[0]: label "));
}

/// Shuffled training labels: the model still memorises a tiny set, but trained on the labels
/// as given its test accuracy stays at chance.
#[test]
fn shuffled_labels_fail_the_label_control() {
    let _g = util::torch_lock();
    let ds = data();
    let arm = util::mnist1d_arm("cnn", 6001, 250);
    let p = prepare(&arm, &ds);
    let shuffled = with_train(&p, control::permute_labels(&p.train, 99));
    let factory = sanity::build_factory(&arm, SEED, Device::Cpu);
    let all = checks(&arm, &shuffled, &ds, &factory);
    let c = find(&all, control::NAME);
    assert_eq!(c.outcome, Outcome::Fail, "{c:?}");
    assert!(
        c.reason.starts_with("the labels as given stay at chance"),
        "{}",
        c.reason
    );
    assert!(
        c.advice.contains("do not follow the features"),
        "{}",
        c.advice
    );
    assert_eq!(find(&all, "initial loss").outcome, Outcome::Pass);
}

/// Labels rolled by one example against the features (an off-by-one in a loader).
#[test]
fn labels_misaligned_with_features_fail_the_label_control() {
    let _g = util::torch_lock();
    let ds = data();
    let arm = util::mnist1d_arm("cnn", 6001, 250);
    let p = prepare(&arm, &ds);
    let rolled = with_train(&p, relabel(&p.train, p.train.y.roll([1], [0])));
    let factory = sanity::build_factory(&arm, SEED, Device::Cpu);
    let all = checks(&arm, &rolled, &ds, &factory);
    let c = find(&all, control::NAME);
    assert_eq!(c.outcome, Outcome::Fail, "{c:?}");
    assert!(
        c.reason.starts_with("the labels as given stay at chance"),
        "{}",
        c.reason
    );
}

/// Learning rate 10: the tiny set is not memorised, and the first advice is to lower it.
#[test]
fn learning_rate_10_fails_overfitting_a_tiny_set() {
    let _g = util::torch_lock();
    let ds = data();
    let mut arm = util::mnist1d_arm("cnn", 6001, 250);
    arm.train.lr = 10.0;
    let p = prepare(&arm, &ds);
    let factory = sanity::build_factory(&arm, SEED, Device::Cpu);
    let setup = Setup {
        arm: &arm,
        prepared: &p,
        class_names: &ds.class_names,
        seed: SEED,
        device: Device::Cpu,
    };
    let c = sanity::overfit::check(&setup, &factory);
    assert_eq!(c.outcome, Outcome::Fail, "{c:?}");
    assert!(
        c.reason.starts_with("64 examples, 300 steps at lr 10"),
        "{}",
        c.reason
    );
    assert!(
        c.advice.starts_with("lower the learning rate (now 10)"),
        "{}",
        c.advice
    );
}

/// A model whose weights have `requires_grad` off cannot learn: gradient flow names every
/// parameter as frozen, and the tiny set is not memorised.
#[test]
fn frozen_weights_fail_gradient_flow_and_overfitting() {
    let _g = util::torch_lock();
    let ds = data();
    let arm = util::mnist1d_arm("mlp", 6001, 250);
    let p = prepare(&arm, &ds);
    let frozen = |input: InputShape| {
        repro::provenance::seed(SEED);
        let mut b = model::build(&arm.model, arm.init, input, Device::Cpu)?;
        b.vs.freeze();
        Ok(b)
    };
    let all = checks(&arm, &p, &ds, &frozen);
    let g = find(&all, gradients::NAME);
    assert_eq!(g.outcome, Outcome::Fail, "{g:?}");
    assert!(
        g.reason
            .starts_with("6 of 6 parameters get no usable gradient"),
        "{}",
        g.reason
    );
    assert!(g.reason.contains("(frozen)"), "{}", g.reason);
    let o = find(&all, sanity::overfit::NAME);
    assert_eq!(o.outcome, Outcome::Fail, "{o:?}");
    // Unfrozen, the same model passes both.
    let factory = sanity::build_factory(&arm, SEED, Device::Cpu);
    let setup = Setup {
        arm: &arm,
        prepared: &p,
        class_names: &ds.class_names,
        seed: SEED,
        device: Device::Cpu,
    };
    assert_eq!(gradients::check(&setup, &factory).outcome, Outcome::Pass);
}

/// Output weights scaled up 50×: the untrained loss is far above ln 10.
#[test]
fn a_mis_scaled_output_fails_the_initial_loss() {
    let _g = util::torch_lock();
    let ds = data();
    let arm = util::mnist1d_arm("logistic", 6001, 250);
    let p = prepare(&arm, &ds);
    let scaled = |input: InputShape| {
        repro::provenance::seed(SEED);
        let b = model::build(&arm.model, arm.init, input, Device::Cpu)?;
        tch::no_grad(|| {
            for (_, mut v) in b.vs.variables() {
                let _ = v.g_mul_scalar_(50.0);
            }
        });
        Ok(b)
    };
    let setup = Setup {
        arm: &arm,
        prepared: &p,
        class_names: &ds.class_names,
        seed: SEED,
        device: Device::Cpu,
    };
    let c = sanity::initial_loss::check(&setup, &scaled);
    assert_eq!(c.outcome, Outcome::Fail, "{c:?}");
    assert!(c.advice.contains("mis-scaled"), "{}", c.advice);
    let plain = sanity::build_factory(&arm, SEED, Device::Cpu);
    let c = sanity::initial_loss::check(&setup, &plain);
    assert_eq!(c.outcome, Outcome::Pass, "{c:?}");
}

/// The evaluation scoring against the training labels (a leak): trained on permuted labels,
/// the model "beats chance" on them.
#[test]
fn a_test_split_that_shares_the_training_labels_fails_the_control() {
    let _g = util::torch_lock();
    let ds = data();
    let arm = util::mnist1d_arm("cnn", 6001, 250);
    let p = prepare(&arm, &ds);
    let setup = Setup {
        arm: &arm,
        prepared: &p,
        class_names: &ds.class_names,
        seed: SEED,
        device: Device::Cpu,
    };
    let factory = sanity::build_factory(&arm, SEED, Device::Cpu);
    let real = relabel(&p.train, p.train.y.shallow_clone());
    let real = Split {
        x: real.x.narrow(0, 0, 500),
        y: real.y.narrow(0, 0, 500),
        lengths: real.lengths.narrow(0, 0, 500),
    };
    let permuted = control::permute_labels(&real, 7);
    let leak = relabel(&permuted, permuted.y.shallow_clone());
    let c = control::measure(&setup, &factory, &real, &permuted, &leak).unwrap();
    assert!(c.permuted > c.chance + c.margin, "{c:?}");
    let check = control::judge(&c, arm.train.lr);
    assert_eq!(check.outcome, Outcome::Fail);
    assert!(
        check.reason.starts_with("permuted labels beat chance"),
        "{}",
        check.reason
    );
    assert!(check.advice.contains("leaks between train and test"));
}

/// `repro inspect`'s numbers: the MNIST-1D CNN's layer shapes on a real batch and its
/// parameters per layer (5,210 in all, as the paper's model), padding none.
#[test]
fn inspect_traces_every_layer_on_a_real_batch() {
    let _g = util::torch_lock();
    let ds = data();
    let arm = util::mnist1d_arm("cnn", 6001, 250);
    let p = prepare(&arm, &ds);
    let setup = Setup {
        arm: &arm,
        prepared: &p,
        class_names: &ds.class_names,
        seed: SEED,
        device: Device::Cpu,
    };
    let factory = sanity::build_factory(&arm, SEED, Device::Cpu);
    let i = sanity::inspect::inspect(&setup, &factory).unwrap();
    let shapes: Vec<(&str, Vec<i64>)> = i
        .shapes
        .iter()
        .map(|(n, s)| (n.as_str(), s.clone()))
        .collect();
    assert_eq!(
        shapes,
        vec![
            ("input", vec![8, 1, 40]),
            ("conv0", vec![8, 25, 19]),
            ("conv1", vec![8, 25, 10]),
            ("conv2", vec![8, 25, 5]),
            ("flatten", vec![8, 125]),
            ("head", vec![8, 10]),
        ]
    );
    assert_eq!(i.total_params, 5210);
    assert_eq!(i.params.len(), 4, "{:?}", i.params);
    assert!(
        i.padding[1].starts_with("0 of 4000 training series are shorter"),
        "{:?}",
        i.padding
    );
}

/// `repro sanity papers/mnist1d.yaml`: every bundled arm passes (exit 0); an unknown `--arm`
/// is bad input (exit 2).
#[test]
fn repro_sanity_passes_the_bundled_mnist1d_arms() {
    let out = util::repro(&util::root(), &["sanity", "papers/mnist1d.yaml"], &[]);
    let (stdout, stderr) = util::text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    for arm in [
        "logistic",
        "mlp",
        "cnn",
        "gru",
        "cnn-shuffled",
        "lstm-tuned",
    ] {
        assert!(stdout.contains(&format!("mnist1d/{arm}\n")), "{stdout}");
    }
    assert!(!stdout.contains("FAIL"), "{stdout}");
    assert!(stdout.contains("sanity: all 9 arm(s) pass"), "{stdout}");
    let out = util::repro(
        &util::root(),
        &["sanity", "papers/mnist1d.yaml", "--arm", "rnn"],
        &[],
    );
    let (_, stderr) = util::text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no arm `rnn`"), "{stderr}");
}

/// `repro run --sanity` with a learning rate of 10: the checks fail, nothing is trained and
/// nothing is written to the store (exit 1).
#[test]
fn run_with_sanity_stops_on_a_failed_check_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let spec = "\
id: hot
title: A learning rate of 10
version: 1
dataset: mnist1d
protocol: { selection: last, split: test }
defaults:
  train: { optimizer: adam, lr: 10.0, batch_size: 100, steps: 2000, eval_every: 500 }
seeds: { count: 2, base: 1 }
arms:
  - id: cnn
    model: { kind: cnn1d, channels: [25, 25, 25], kernel: [5, 3, 3], stride: 2, padding: 1, head: flatten }
";
    std::fs::write(dir.path().join("hot.yaml"), spec).unwrap();
    let store = dir.path().join("store");
    let args = [
        "run",
        "hot.yaml",
        "--sanity",
        "--store",
        store.to_str().unwrap(),
    ];
    let out = util::repro(dir.path(), &args, &[]);
    let (stdout, stderr) = util::text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("FAIL overfit a tiny set"), "{stdout}");
    assert!(
        stderr.contains("sanity checks failed for hot/cnn; nothing was trained"),
        "{stderr}"
    );
    assert!(
        util::walk(&store, "config.json").is_empty(),
        "nothing planned was written"
    );
}
