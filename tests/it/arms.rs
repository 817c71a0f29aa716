//! Arm-level `dataset:`, `protocol:` and `requires:` (issue #13): one spec audits several
//! datasets and protocols side by side, and arms too costly for this device are reported with
//! their reason instead of trained.
use super::util::{repro, text, walk};

const SPEC: &str = "\
id: mixed
title: Arms on their own datasets and protocols
version: 1
dataset: mnist1d
defaults:
  init: torch
  train: { optimizer: adam, lr: 1.0e-2, batch_size: 25, steps: 40, order: sequential, eval_every: 20, weight_decay: 0 }
seeds: { count: 1, base: 3 }
arms:
  - id: logistic
    model: { kind: linear }
  - id: gunpoint
    dataset: GunPoint
    protocol: { selection: best-test }
    model: { kind: linear }
  - id: big
    dataset: ACSF1
    requires: { device: cuda, why: \"2000 epochs of a 1460-long series: GPU-scale\" }
    model: { kind: linear }
";

fn json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn arms_train_on_their_own_dataset_and_protocol_and_report_what_they_need() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("mixed.yaml"), SPEC).unwrap();
    let store = dir.path().join("store");
    let s = store.to_str().unwrap();
    let out = repro(
        dir.path(),
        &["run", "mixed.yaml", "--store", s, "--out", "out"],
        &[],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let needs = "needs cuda: 2000 epochs of a 1460-long series: GPU-scale";
    assert!(stdout.contains(needs), "{stdout}");

    // Two runs, each on its arm's dataset: GunPoint's test split has 150 series, MNIST-1D's 1000.
    let records: Vec<serde_json::Value> = walk(&store, "record.json")
        .iter()
        .map(|p| json(p))
        .collect();
    assert_eq!(records.len(), 2, "the cuda-only arm is not trained on cpu");
    let size =
        |arm: &str| records.iter().find(|r| r["arm_id"] == arm).unwrap()["test_size"].as_i64();
    assert_eq!(
        (size("logistic"), size("gunpoint")),
        (Some(1000), Some(150))
    );

    let report = json(&dir.path().join("out/mixed.json"));
    let arms = report["arms"].as_array().unwrap();
    let datasets: Vec<&str> = arms
        .iter()
        .map(|a| a["dataset"].as_str().unwrap())
        .collect();
    assert_eq!(datasets, ["mnist1d", "GunPoint", "ACSF1"]);
    assert_eq!(arms[0]["protocol_flags"], serde_json::json!([]));
    assert_eq!(arms[1]["protocol_flags"][0]["kind"], "test_selected");
    assert_eq!(arms[2]["needs"], needs);
    assert_eq!(arms[2]["planned"], 0);
    let md = std::fs::read_to_string(dir.path().join("out/mixed.md")).unwrap();
    assert!(md.contains(needs), "{md}");

    let out = repro(dir.path(), &["plan", "mixed.yaml", "--store", s], &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stdout.contains(&format!("mixed/big: not planned on cpu ({needs})")),
        "{stdout}"
    );
}

/// Writing the spec's own dataset and protocol on an arm changes nothing: same keys.
#[test]
fn an_arm_override_equal_to_the_default_keeps_the_run_key() {
    let dir = tempfile::tempdir().unwrap();
    let plain = SPEC.split("  - id: gunpoint").next().unwrap().to_string();
    let explicit = plain.replace(
        "  - id: logistic\n",
        "  - id: logistic\n    dataset: mnist1d\n    protocol: { selection: last }\n",
    );
    assert_ne!(plain, explicit);
    let keys = |spec: &str| {
        std::fs::write(dir.path().join("mixed.yaml"), spec).unwrap();
        let out = repro(dir.path(), &["plan", "mixed.yaml", "--store", "store"], &[]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        stdout
    };
    let (a, b) = (keys(&plain), keys(&explicit));
    assert!(a.contains("logistic"), "{a}");
    assert_eq!(a, b);
}

#[test]
fn bad_arm_datasets_and_requirements_are_spec_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bad = SPEC
        .replace("dataset: GunPoint", "dataset: GunPont")
        .replace("device: cuda", "device: tpu")
        .replace("selection: best-test", "selection: best");
    std::fs::write(dir.path().join("bad.yaml"), bad).unwrap();
    let out = repro(dir.path(), &["validate", "bad.yaml"], &[]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("bad.yaml:13:14") && stderr.contains("did you mean `GunPoint`"),
        "{stderr}"
    );
    assert!(stderr.contains("bad.yaml:14:28"), "{stderr}");
    assert!(
        stderr.contains("bad.yaml:18:25") && stderr.contains("tpu"),
        "{stderr}"
    );
    assert!(!dir.path().join("store").exists());
}

fn sha(path: &std::path::Path) -> String {
    repro::data::sha256_file(path).unwrap()
}

/// A dataset declared by files at the top of a spec can be named by an arm, and `repro
/// inspect` (the sanity path) loads it; a declaration may take a built-in name only for the
/// built-in files, since every arm naming it means those.
#[test]
fn declared_datasets_keep_their_names_apart_from_the_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let ucr = super::util::data_dir().join("ucr");
    let (train, test) = (
        ucr.join("ArrowHead/ArrowHead_TRAIN.ts"),
        ucr.join("ArrowHead/ArrowHead_TEST.ts"),
    );
    let declare = |name: &str| {
        format!(
            "{{ name: {name}, format: ts, train: {}, test: {}, sha256: {{ train: {}, test: {} }} }}",
            train.display(),
            test.display(),
            sha(&train),
            sha(&test)
        )
    };
    let spec = |top: &str| {
        format!(
            "id: own\ntitle: Declared datasets\nversion: 1\ndataset: {top}\n\
             defaults: {{ train: {{ steps: 4, batch_size: 8, eval_every: 2 }} }}\n\
             seeds: {{ count: 1 }}\narms:\n  - id: a\n    model: {{ kind: linear }}\n\
             \x20 - id: b\n    dataset: Arrows\n    model: {{ kind: linear }}\n"
        )
    };
    std::fs::write(dir.path().join("own.yaml"), spec(&declare("Arrows"))).unwrap();
    let out = repro(dir.path(), &["validate", "own.yaml"], &[]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let out = repro(dir.path(), &["inspect", "own.yaml", "--arm", "b"], &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stdout
            .lines()
            .any(|l| l.trim() == "b" || l.trim() == "own/b"),
        "{stdout}"
    );

    // ArrowHead's files under GunPoint's name: refused, so `dataset: GunPoint` elsewhere can
    // only ever mean the built-in files.
    let bad = spec(&declare("GunPoint")).replace("dataset: Arrows", "dataset: GunPoint");
    std::fs::write(dir.path().join("own.yaml"), bad).unwrap();
    let out = repro(dir.path(), &["validate", "own.yaml"], &[]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("own.yaml:4:10")
            && stderr.contains(
                "`GunPoint` is a built-in name, and these files are not its pinned files"
            ),
        "{stderr}"
    );
}
