//! The side-by-side benchmark (`benches/vs_pytorch/`, `make bench-vs`): its specs train what
//! the bundled arms they stand for train, and its PyTorch half replays repro's batch order
//! and initial weights (`scripts/gen_golden_bench_vs.py`).

use std::collections::BTreeMap;

use repro::model::{self, InputShape};
use repro::spec::{BatchOrder, ResolvedArm};
use serde::Deserialize;
use tch::{Device, Kind};

use super::util::{repro, root, text, torch_lock};

fn arm(spec: &str, id: &str) -> ResolvedArm {
    let path = root().join(spec);
    let spec = repro::spec::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let arm = spec.arms.iter().find(|a| a.id == id);
    arm.unwrap_or_else(|| panic!("{}: no arm `{id}`", path.display()))
        .resolved
        .clone()
}

/// What decides the work of a run: everything but the names.
fn work(a: &ResolvedArm) -> String {
    serde_json::json!([a.dataset, a.protocol, a.data, a.model, a.init, a.train]).to_string()
}

#[test]
fn bench_specs_validate_and_train_the_bundled_arms_they_stand_for() {
    let out = repro(
        &root(),
        &[
            "validate",
            "benches/vs_pytorch/cnn.yaml",
            "benches/vs_pytorch/gru.yaml",
            "benches/vs_pytorch/lstm.yaml",
            "benches/vs_pytorch/fcn.yaml",
        ],
        &[],
    );
    assert!(out.status.success(), "{:?}", text(&out));
    for (bench, source, id) in [
        ("cnn", "papers/mnist1d.yaml", "cnn"),
        ("gru", "papers/mnist1d.yaml", "gru"),
        ("lstm", "papers/mnist1d.yaml", "lstm-tuned"),
        ("fcn", "papers/wang2017-tsc-baselines.yaml", "fcn-gunpoint"),
    ] {
        let b = arm(&format!("benches/vs_pytorch/{bench}.yaml"), bench);
        let mut s = arm(source, id);
        if bench == "fcn" {
            // The one difference: 150 of the paper's 2000 epochs, so it runs on a CPU.
            assert_eq!((s.train.epochs, b.train.epochs), (Some(2000), Some(150)));
            s.train.epochs = Some(150);
        }
        if bench == "lstm" {
            // The one difference: 1200 of the arm's 3000 steps, the cosine over those 1200.
            assert_eq!((s.train.steps, b.train.steps), (Some(3000), Some(1200)));
            s.train.steps = Some(1200);
            assert_ne!(
                work(&b),
                work(&s),
                "only the schedule's length is left to differ"
            );
            s.train.schedule = b.train.schedule;
        }
        assert_eq!(work(&b), work(&s), "{bench}.yaml against {source} `{id}`");
    }
}

#[derive(Deserialize)]
struct OrderCase {
    order: String,
    seed: i64,
    n: i64,
    batch: i64,
    steps: i64,
    batches: Vec<Vec<i64>>,
}

#[derive(Deserialize)]
struct Variable {
    shape: Vec<i64>,
    sum: f64,
    sum_sq: f64,
    head: Vec<f64>,
}

#[derive(Deserialize)]
struct Init {
    seed: i64,
    variables: BTreeMap<String, Variable>,
}

#[derive(Deserialize)]
struct Golden {
    orders: Vec<OrderCase>,
    init: BTreeMap<String, Init>,
}

fn golden() -> Golden {
    let path = root().join("tests/golden/bench_vs.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn the_pytorch_half_replays_repros_batch_order() {
    let golden = golden();
    assert_eq!(golden.orders.len(), 4);
    for c in &golden.orders {
        let order = match c.order.as_str() {
            "shuffle" => BatchOrder::Shuffle,
            _ => BatchOrder::Sequential,
        };
        let ours = repro::train::order::batch_indices(order, c.seed, c.n, c.batch, c.steps);
        assert_eq!(ours.len(), c.steps as usize);
        assert_eq!(
            ours, c.batches,
            "{} order, seed {}, {} in batches of {}",
            c.order, c.seed, c.n, c.batch
        );
    }
}

/// Each PyTorch script starts from repro's initial weights under the spec's seed: every
/// trainable variable's shape, sum, sum of squares and first values (the scripts' own
/// draws, recorded by the generator).
#[test]
fn the_pytorch_half_starts_from_repros_initial_weights() {
    let golden = golden();
    let _torch = torch_lock();
    for (bench, (length, classes)) in [
        ("cnn", (40, 10)),
        ("gru", (40, 10)),
        ("lstm", (40, 10)),
        ("fcn", (150, 2)),
    ] {
        let want = &golden.init[bench];
        let spec = repro::spec::load(&root().join(format!("benches/vs_pytorch/{bench}.yaml")))
            .expect("bench spec");
        assert_eq!(spec.seeds.base, want.seed, "{bench}: the spec's seed");
        let a = arm(&format!("benches/vs_pytorch/{bench}.yaml"), bench);
        repro::provenance::seed(want.seed);
        let input = InputShape {
            channels: 1,
            length,
            classes,
            full_length: false,
        };
        let built = model::build(&a.model, a.init, input, Device::Cpu).expect("model");
        let vars = built.vs.trainable_variables().len();
        assert_eq!(vars, want.variables.len(), "{bench}: trainable variables");
        let ours = built.vs.variables();
        for (name, w) in &want.variables {
            let t = ours
                .get(name)
                .unwrap_or_else(|| panic!("{bench}: no variable {name}"));
            assert_eq!(t.size(), w.shape, "{bench} {name}");
            let t = t.to_kind(Kind::Double);
            let sum = t.sum(Kind::Double).double_value(&[]);
            let sum_sq = t.square().sum(Kind::Double).double_value(&[]);
            let head =
                Vec::<f64>::try_from(t.flatten(0, -1).narrow(0, 0, w.head.len() as i64)).unwrap();
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 * (1.0 + b.abs());
            assert!(
                close(sum, w.sum),
                "{bench} {name}: sum {sum} vs PyTorch {}",
                w.sum
            );
            assert!(
                close(sum_sq, w.sum_sq),
                "{bench} {name}: sum of squares {sum_sq} vs {}",
                w.sum_sq
            );
            for (i, (a, b)) in head.iter().zip(&w.head).enumerate() {
                assert!(close(*a, *b), "{bench} {name}[{i}]: {a} vs PyTorch {b}");
            }
        }
    }
}
