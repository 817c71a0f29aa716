//! Retrieval evaluation (issue #12): P@1, R-Precision and MAP@R against pytorch-metric-learning
//! 2.9.0, class-disjoint splits (`data.classes`), `protocol.evaluate: embedding`, and runs whose
//! embeddings collapse reported `collapsed`, never with a value.

use repro::data::prep::{class_sides, prepare};
use repro::data::{DataError, Dataset};
use repro::spec::{ClassSplit, Evaluate, Metric};
use repro::train::retrieval::retrieval;
use repro::train::Status;
use tch::{Device, Kind, Tensor};

use crate::util::{mnist1d_arm, root, torch_lock};

// PyTorch reference (scripts/gen_golden_retrieval.py):
//   calc = AccuracyCalculator(include=("precision_at_1", "r_precision",
//       "mean_average_precision_at_r"), k=None, knn_func=CustomKNN(LpDistance()))
//   calc.get_accuracy(x, labels)   # reference = query: ref_includes_query=True
#[test]
fn retrieval_metrics_match_pytorch_metric_learning() {
    let text = std::fs::read_to_string(root().join("tests/golden/retrieval_pml.json")).unwrap();
    let golden: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(golden["pytorch_metric_learning"], "2.9.0");
    let cases = golden["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 5);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let dim = case["dim"].as_i64().unwrap();
        let x: Vec<f32> = case["embeddings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        let labels: Vec<i64> = case["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        let e = Tensor::from_slice(&x).view([-1, dim]);
        let r = retrieval(&e, &labels).unwrap();
        for (what, got) in [
            ("precision_at_1", r.precision_at_1),
            ("r_precision", r.r_precision),
            ("map_at_r", r.map_at_r),
        ] {
            let want = case[what].as_f64().unwrap();
            assert!(
                (got - want).abs() < 1e-6,
                "{name} {what}: {got} vs pml {want}"
            );
        }
        if name == "single_member_class" {
            // pml leaves the lone query out of every mean: 17 of 18 items are queries.
            assert_eq!(r.queries, labels.len() - 1);
        }
    }
}

/// A small in-memory dataset with four named classes; `x_test` as given.
fn tiny(x_test: Tensor) -> Dataset {
    let n_test = x_test.size()[0];
    let y_train: Vec<i64> = (0..40).map(|i| i % 4).collect();
    let y_test: Vec<i64> = (0..n_test).map(|i| i % 4).collect();
    let _guard = tch::no_grad_guard();
    tch::manual_seed(3);
    Dataset {
        name: "tiny".into(),
        x_train: Tensor::randn([40, 1, 8], (Kind::Float, Device::Cpu)),
        y_train: Tensor::from_slice(&y_train),
        lengths_train: vec![8; 40],
        x_test,
        y_test: Tensor::from_slice(&y_test),
        lengths_test: vec![8; n_test as usize],
        class_names: ["a", "b", "c", "d"].map(String::from).to_vec(),
        classes: 4,
        channels: 1,
        length: 8,
        digests: Vec::new(),
    }
}

#[test]
fn class_lists_keep_and_relabel_train_classes_and_test_the_others() {
    let ds = tiny(Tensor::randn([20, 1, 8], (Kind::Float, Device::Cpu)));
    let mut spec = repro::spec::DataSpec {
        classes: Some(ClassSplit::Lists {
            train: vec!["c".into(), "a".into()],
            test: vec!["d".into(), "b".into()],
        }),
        ..Default::default()
    };
    let p = prepare(&ds, &spec, 0).unwrap();
    assert!(p.class_disjoint);
    assert_eq!(p.classes, 2, "the head covers the train classes only");
    let train: Vec<i64> = Vec::try_from(&p.train.y).unwrap();
    let test: Vec<i64> = Vec::try_from(&p.test.y).unwrap();
    assert_eq!(train.len(), 20);
    // `c` (index 2) is label 0, `a` (index 0) label 1: the order written.
    assert_eq!(&train[..4], &[1, 0, 1, 0]);
    assert_eq!(test.len(), 10);
    assert!(test.iter().all(|&l| l == 1 || l == 3), "{test:?}");

    spec.classes = Some(ClassSplit::Lists {
        train: vec!["a".into()],
        test: vec!["z".into()],
    });
    let err = prepare(&ds, &spec, 0).unwrap_err();
    assert!(matches!(err, DataError::Classes { .. }));
    assert_eq!(
        err.to_string(),
        "dataset `tiny`: `data.classes.test` names class `z`, which the dataset does not have; \
         its classes: a, b, c, d"
    );
}

#[test]
fn a_seeded_half_is_the_same_for_every_run_seed() {
    let ds = tiny(Tensor::randn([20, 1, 8], (Kind::Float, Device::Cpu)));
    let (tr, te) = class_sides(&ds, &ClassSplit::Half { seed: 0 }).unwrap();
    assert_eq!((tr.len(), te.len()), (2, 2));
    let mut all: Vec<i64> = tr.iter().chain(&te).copied().collect();
    all.sort_unstable();
    assert_eq!(all, vec![0, 1, 2, 3]);
    let spec = repro::spec::DataSpec {
        classes: Some(ClassSplit::Half { seed: 0 }),
        ..Default::default()
    };
    let a: Vec<i64> = Vec::try_from(&prepare(&ds, &spec, 1).unwrap().test.y).unwrap();
    let b: Vec<i64> = Vec::try_from(&prepare(&ds, &spec, 2).unwrap().test.y).unwrap();
    assert_eq!(a, b, "run seeds share the class split");
    let halves: Vec<Vec<i64>> = (0..8)
        .map(|s| class_sides(&ds, &ClassSplit::Half { seed: s }).unwrap().0)
        .collect();
    assert!(
        halves.iter().any(|h| *h != halves[0]),
        "the split seed matters"
    );
}

/// A model whose test embeddings are constant (every test input is zero, so a linear model's
/// output is its bias) is recorded `collapsed`, keeps its metrics, and gives no value.
#[test]
fn a_constant_embedding_is_collapsed() {
    let _lock = torch_lock();
    let ds = tiny(Tensor::zeros([20, 1, 8], (Kind::Float, Device::Cpu)));
    let mut arm = mnist1d_arm("logistic", 20, 10);
    arm.dataset = "tiny".into();
    arm.protocol.evaluate = Evaluate::Embedding;
    let out = repro::train::train(&arm, &ds, 0, Device::Cpu, |_| {}).unwrap();
    match &out.status {
        Status::Collapsed { reason } => assert!(reason.contains("radius"), "{reason}"),
        other => panic!("expected collapsed, got {other:?}"),
    }
    let m = out.metrics.unwrap();
    // Kept for inspection (the head still classifies the same test classes), never a value.
    assert!(m.map_at_r.is_some() && m.accuracy.is_some());
    let json = serde_json::to_value(&out.status).unwrap();
    assert_eq!(json["status"], "collapsed");

    // The same arm on inputs that vary is not collapsed.
    let ds = tiny(Tensor::randn([20, 1, 8], (Kind::Float, Device::Cpu)));
    let out = repro::train::train(&arm, &ds, 0, Device::Cpu, |_| {}).unwrap();
    assert_eq!(out.status, Status::Ok);
}

/// A class-disjoint MNIST-1D run: trained on digits 0-4, measured by retrieval on 5-9 only
/// (no accuracy), the curve's eval columns from the training split.
#[test]
fn a_class_disjoint_run_has_retrieval_and_no_accuracy() {
    let _lock = torch_lock();
    let ds = repro::data::load("mnist1d", &crate::util::data_dir()).unwrap();
    let mut arm = mnist1d_arm("logistic", 30, 10);
    arm.data.classes = Some(ClassSplit::Lists {
        train: (0..5).map(|c| c.to_string()).collect(),
        test: (5..10).map(|c| c.to_string()).collect(),
    });
    let out = repro::train::train(&arm, &ds, 42, Device::Cpu, |_| {}).unwrap();
    assert_eq!(out.status, Status::Ok);
    assert_eq!(out.eval_split, "train");
    let test: Vec<i64> = Vec::try_from(&ds.y_test).unwrap();
    assert_eq!(
        out.test_size,
        test.iter().filter(|&&l| l >= 5).count() as i64
    );
    let m = out.metrics.unwrap();
    assert_eq!(m.accuracy, None);
    assert_eq!(m.get(Metric::Accuracy), None);
    let map = m.get(Metric::MapAtR).unwrap();
    // Ten classes' chance MAP@R is about 0.02 at 100 per class; 30 steps of a linear model on
    // other digits does better, and far from perfect.
    assert!(map > 0.03 && map < 0.9, "{map}");
    let json = serde_json::to_value(m).unwrap();
    assert!(json.get("accuracy").is_none(), "absent, not 0: {json}");
}

const SUITE: &str = "\
id: tiny-retrieval
title: retrieval audit
version: 1
dataset: mnist1d
protocol: { evaluate: embedding }
defaults:
  train: { optimizer: adam, lr: 1.0e-2, batch_size: 100, steps: 10 }
seeds: { count: 3, base: 0 }
arms:
  - id: margin
    model: { kind: linear }
    data: { classes: { train: ['0', '1', '2', '3', '4'], test: ['5', '6', '7', '8', '9'] } }
    claim: { metric: map_at_r, reported: 0.5, tolerance: 0.2 }
  - id: plain
    model: { kind: linear }
";

fn record(
    spec: &repro::spec::Spec,
    arm: usize,
    seed: i64,
    status: Status,
    map: f64,
) -> repro::record::Record {
    let a = &spec.arms[arm];
    repro::record::Record {
        key: format!("k{arm}{seed}"),
        spec_id: spec.id.clone(),
        arm_id: a.id.clone(),
        seed,
        quick: false,
        config: a.resolved.clone(),
        status,
        metrics: Some(repro::train::Metrics {
            map_at_r: Some(map),
            ..Default::default()
        }),
        params: 410,
        steps: 10,
        selected_step: 10,
        stopped_early: false,
        train_size: 2000,
        test_size: Some(500),
        length: 40,
        test_total: 1000,
        eval_split: "train".into(),
        class_names: Vec::new(),
        wall_time_s: 1.0,
        cpu_time_s: None,
        peak_rss_mib: None,
        weights_sha256: String::new(),
        arm_sha256: String::new(),
        spec_sha256: String::new(),
        data: Vec::new(),
        code: repro::provenance::CodeIdentity {
            build: String::new(),
            built_from: None,
            repository: false,
            commit: None,
            branch: None,
            dirty: false,
            diff_sha256: None,
            untracked: 0,
        },
        libtorch: String::new(),
        device: "cpu".into(),
        numerics: Default::default(),
        curve: Vec::new(),
        curve_diagnosis: None,
    }
}

/// A collapsed seed keeps its record but gives no value: the arm's statistics come from the
/// other seeds, its count shows in the tables, and an arm measured by retrieval without a
/// claim is summarised in MAP@R, not in a missing accuracy read as 0.
#[test]
fn collapsed_runs_give_no_value_and_are_counted() {
    let spec = repro::spec::parse_bytes(std::path::Path::new("t.yaml"), SUITE.as_bytes()).unwrap();
    assert_eq!(spec.arms[0].resolved.protocol.evaluate, Evaluate::Embedding);
    assert_eq!(Metric::of_arm(&spec.arms[0]), Metric::MapAtR);
    let collapsed = Status::Collapsed {
        reason: "radius".into(),
    };
    let records = [
        record(&spec, 0, 0, Status::Ok, 0.40),
        record(&spec, 0, 1, collapsed.clone(), 0.99),
        record(&spec, 0, 2, Status::Ok, 0.44),
        record(&spec, 1, 0, Status::Ok, 0.30),
        record(&spec, 1, 1, Status::Ok, 0.32),
        record(&spec, 1, 2, collapsed, 0.31),
    ];
    let slots: Vec<(String, Option<&repro::record::Record>)> = records
        .iter()
        .map(|r| (r.arm_id.clone(), Some(r)))
        .collect();
    // A blessed table cannot hold a seed that collapsed: `repro check` would replan it and
    // call its collapse a regression of code that did not change.
    let bless = repro::baseline::build(&spec, &slots, false, None, &[0.0, 0.0]);
    assert!(
        matches!(
            bless,
            Err(repro::baseline::BaselineError::Incomplete { missing: 2, .. })
        ),
        "{bless:?}"
    );
    let results = repro::audit::arm_results(&spec, &slots, false);
    assert_eq!(results[0].values, vec![0.40, 0.44]);
    assert_eq!(results[0].seeds, vec![0, 2]);
    assert_eq!((results[0].collapsed, results[0].diverged), (1, 0));
    assert_eq!(results[0].metric, Metric::MapAtR);
    // `protocol.evaluate: embedding` on a same-class classifier: measured in MAP@R too, so
    // it can be compared with the embedding arms.
    assert_eq!(results[1].metric, Metric::MapAtR);
    assert_eq!(results[1].values, vec![0.30, 0.32]);
    let md = repro::report::claims_table(&spec, &results, false);
    assert_eq!(md.matches("2/3 (1 collapsed)").count(), 2, "{md}");
    let json = serde_json::to_value(&results[0]).unwrap();
    assert_eq!(json["collapsed"], 1);
    assert_eq!(json["metric"], "map_at_r");
}

/// `data.classes` and `protocol.evaluate` are checked with line:col, and leave the run keys
/// of arms that do not use them unchanged (absent from the canonical JSON).
#[test]
fn class_split_keys_are_checked_and_stay_out_of_other_keys() {
    let bad = SUITE
        .replace("test: ['5', '6'", "test: ['4', '6'")
        .replace("evaluate: embedding", "evaluate: embeddings");
    let err = repro::spec::parse_bytes(std::path::Path::new("t.yaml"), bad.as_bytes())
        .unwrap_err()
        .to_string();
    assert!(err.contains("t.yaml:5:"), "{err}");
    assert!(err.contains("embeddings"), "{err}");
    assert!(
        err.contains("t.yaml:12:") && err.contains("class `4` is in both `train` and `test`"),
        "{err}"
    );
    let spec = repro::spec::parse_bytes(std::path::Path::new("t.yaml"), SUITE.as_bytes()).unwrap();
    let plain = spec.arms[1].resolved.canonical_json();
    assert!(!plain.contains("classes"), "{plain}");
    let logistic = mnist1d_arm("logistic", 10, 10).canonical_json();
    assert!(!logistic.contains("evaluate") && !logistic.contains("classes"));
}

/// A claim in a metric the arm never measures is a spec error at the claim's metric, not a
/// silent arm without value or verdict.
#[test]
fn a_claim_the_arm_cannot_measure_is_a_spec_error() {
    let dir = tempfile::tempdir().unwrap();
    let spec = "\
id: unmeasured
title: Claims an arm cannot measure
version: 1
dataset: mnist1d
defaults:
  train: { lr: 0.01, steps: 10 }
arms:
  - id: embedding
    model: { kind: mlp, hidden: [8], embedding_dim: 4 }
    train: { loss: { kind: triplet }, sampler: { classes_per_batch: 5, per_class: 4 }, batch_size: 20 }
    claim: { metric: accuracy, reported: 0.9, tolerance: 0.01 }
  - id: classifier
    model: { kind: linear }
    claim: { metric: map_at_r, reported: 0.5, tolerance: 0.1 }
  - id: evaluated
    model: { kind: linear }
    data: { classes: { train: ['0', '1'], test: ['2', '3'] } }
    claim: { metric: map_at_r, reported: 0.5, tolerance: 0.1 }
";
    std::fs::write(dir.path().join("u.yaml"), spec).unwrap();
    let out = crate::util::repro(dir.path(), &["validate", "u.yaml"], &[]);
    let stderr = crate::util::text(&out).1;
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr
            .contains("u.yaml:11:22: arm `embedding` claims `accuracy`, which it does not measure")
            && stderr.contains(
                "u.yaml:14:22: arm `classifier` claims `map_at_r`, which it does not measure"
            ),
        "{stderr}"
    );
    assert!(
        !stderr.contains("`evaluated`"),
        "a class-disjoint arm measures MAP@R: {stderr}"
    );
}
