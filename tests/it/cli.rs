//! The binary end to end: exit codes, messages, the run store, reruns that train nothing.
use super::util::{self, repro, text, walk};

const TINY: &str = "\
id: tiny
title: Tiny end-to-end audit
version: 1
dataset: mnist1d
defaults:
  init: torch
  train: { optimizer: adam, lr: 1.0e-2, batch_size: 100, steps: 40, order: sequential, eval_every: 20, weight_decay: 0 }
seeds: { count: 2, base: 5 }
arms:
  - id: logistic
    model: { kind: linear }
    claim: { metric: accuracy, reported: 0.95, tolerance: 0.01 }
  - id: cnn
    model: { kind: cnn1d, channels: [8, 8], kernel: 3, stride: 2, padding: 1, head: gap }
";

#[test]
fn validate_accepts_the_bundled_specs() {
    let out = repro(&util::root(), &["validate"], &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stdout.contains("ok  papers/mnist1d.yaml  mnist1d"),
        "{stdout}"
    );
}

#[test]
fn validate_reports_every_error_with_file_line_col_and_exits_2() {
    let out = repro(
        &util::root(),
        &["validate", "tests/fixtures/specs/bad.yaml"],
        &[],
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines,
        vec![
            "error: tests/fixtures/specs/bad.yaml:6:16: `lr` must be in (0, 10], found 0",
            "tests/fixtures/specs/bad.yaml:9:12: an `mlp` model is missing required key `hidden`",
            "tests/fixtures/specs/bad.yaml:9:25: unknown key `hiden` in a `mlp` model; did you mean `hidden`?",
            "tests/fixtures/specs/bad.yaml:10:58: `tolerance` must be in [0, 1], found -1",
        ]
    );
}

#[test]
fn missing_path_is_bad_input() {
    let out = repro(&util::root(), &["validate", "no/such/spec.yaml"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("no/such/spec.yaml"));
}

#[test]
fn run_writes_records_and_a_rerun_trains_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tiny.yaml"), TINY).unwrap();
    let store = dir.path().join("store");
    let store_arg = store.to_str().unwrap();
    let args = ["run", "tiny.yaml", "--store", store_arg, "--jobs", "2"];
    let out = repro(dir.path(), &args, &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("4 runs planned, 0 already done, 4 to train"),
        "{stderr}"
    );
    // The paper-style claim of 0.95 for a 40-step logistic regression is far off, but two
    // seeds decide nothing.
    let row = stdout.lines().find(|l| l.contains("logistic")).unwrap();
    assert!(
        row.contains("2/2") && row.contains("TOO FEW SEEDS"),
        "{row}"
    );
    assert!(stdout.contains("cnn1d 8-8 gap"), "{stdout}");

    let records = walk(&store, "record.json");
    assert_eq!(records.len(), 4);
    for path in &records {
        let dir = path.parent().unwrap();
        for f in ["config.json", "provenance.json", "curve.csv", "DONE"] {
            assert!(dir.join(f).is_file(), "{} lacks {f}", dir.display());
        }
        let r: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(r["status"], "ok");
        assert_eq!(
            r["key"].as_str().unwrap(),
            dir.file_name().unwrap().to_str().unwrap()
        );
        assert_eq!(r["libtorch"], "2.11.0");
        assert_eq!(r["steps"], 40);
        assert_eq!(r["config"]["train"]["lr"], 0.01);
        // Issue #14: the curve diagnosis is stored with the record.
        assert!(r["curve_diagnosis"]["shape"].is_string(), "{r}");
        assert_eq!(r["seed"].as_i64().map(|s| s == 5 || s == 6), Some(true));
        assert_eq!(r["spec_sha256"].as_str().unwrap().len(), 64);
        let wall = r["wall_time_s"].as_f64().unwrap();
        assert!(wall > 0.0);
        // The worker's CPU seconds over the same span: more than nothing, and no more than
        // every core could give it (one intra-op thread here; loaders and the runtime besides).
        let cpu = r["cpu_time_s"].as_f64().unwrap();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        assert!(
            cpu > 0.0 && cpu <= wall * cores + 0.1,
            "cpu {cpu} s, wall {wall} s"
        );
        assert!(r["code"]["repository"].is_boolean());
        assert_eq!(r["curve"].as_array().unwrap().len(), 2);
        assert_eq!(r["weights_sha256"].as_str().unwrap().len(), 64);
        assert_eq!(r["data"][0]["file"], "mnist1d.npz");
        let acc = r["metrics"]["accuracy"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&acc));
        let csv = std::fs::read_to_string(dir.join("curve.csv")).unwrap();
        assert_eq!(
            csv.lines().next(),
            Some("step,train_loss,eval_loss,eval_accuracy,lr")
        );
        assert_eq!(csv.lines().count(), 3);
    }

    let again = repro(dir.path(), &args, &[]);
    let (stdout2, stderr2) = text(&again);
    assert_eq!(again.status.code(), Some(0), "{stderr2}");
    assert!(stderr2.contains("4 already done, 0 to train"), "{stderr2}");
    assert_eq!(stdout2, stdout, "same table from the store");

    let report = repro(
        dir.path(),
        &["report", "tiny.yaml", "--store", store_arg],
        &[],
    );
    assert_eq!(text(&report).0, stdout);

    // --quick is another computation: other keys, nothing reused.
    let quick_spec = TINY.to_string() + "quick: { train: { steps: 20 }, seeds: { count: 1 } }\n";
    std::fs::write(dir.path().join("tiny.yaml"), quick_spec).unwrap();
    let quick = repro(
        dir.path(),
        &["run", "tiny.yaml", "--quick", "--store", store_arg],
        &[],
    );
    let (_, stderr3) = text(&quick);
    assert!(
        stderr3.contains("2 runs planned, 0 already done, 2 to train"),
        "{stderr3}"
    );
}

#[test]
fn missing_or_corrupt_data_is_refused_before_training() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tiny.yaml"), TINY).unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let store = dir.path().join("store");
    let args = ["run", "tiny.yaml", "--store", store.to_str().unwrap()];
    let out = repro(
        dir.path(),
        &args,
        &[("REPRO_DATA", empty.to_str().unwrap())],
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("mnist1d.npz: missing; run `make data`"),
        "{stderr}"
    );
    assert!(!store.exists(), "nothing written to the store");

    let mut bytes = std::fs::read(util::data_dir().join("mnist1d.npz")).unwrap();
    let last = bytes.len() - 100;
    bytes[last] ^= 1;
    std::fs::write(empty.join("mnist1d.npz"), bytes).unwrap();
    let out = repro(
        dir.path(),
        &args,
        &[("REPRO_DATA", empty.to_str().unwrap())],
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("sha256 mismatch: expected 6b886385"),
        "{stderr}"
    );
}

#[test]
fn bad_flags_exit_2() {
    let out = repro(
        &util::root(),
        &["run", "papers/mnist1d.yaml", "--device", "tpu"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out).1;
    assert!(
        stderr.contains("invalid value 'tpu' for '--device")
            && stderr.contains("possible values: cpu, cuda"),
        "{stderr}"
    );
    let out = repro(&util::root(), &["frobnicate"], &[]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn doctor_reports_backend_and_datasets() {
    let out = repro(&util::root(), &["doctor"], &[]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout.contains("libtorch     2.11.0"), "{stdout}");
    assert!(
        stdout.contains("mnist1d                verified"),
        "{stdout}"
    );
    assert!(stdout.contains("cuda "), "{stdout}");
}

#[test]
fn verify_determinism_retrains_one_seed_per_arm() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tiny.yaml"), TINY).unwrap();
    let out = repro(
        dir.path(),
        &["run", "tiny.yaml", "--verify-determinism"],
        &[],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("deterministic_algorithms: true"),
        "{stderr}"
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines[0].starts_with("tiny/logistic seed 5: identical (40 steps, weights sha256 "));
    assert!(lines[1].starts_with("tiny/cnn seed 5: identical (40 steps"));
    assert!(
        !dir.path().join("runs").exists(),
        "nothing written to the store"
    );
}

#[test]
fn report_writes_markdown_json_and_a_self_contained_html_page() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tiny.yaml"), TINY).unwrap();
    let s = dir.path().join("store");
    let args = [
        "run",
        "tiny.yaml",
        "--store",
        s.to_str().unwrap(),
        "--out",
        "out",
    ];
    let out = repro(dir.path(), &args, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    let html = std::fs::read_to_string(dir.path().join("out/tiny.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    for needle in [
        "<svg",
        "logistic: loss",
        "cnn: loss",
        "accuracy per seed",
        "TOO FEW SEEDS",
        "Student t interval of the mean over seeds",
        "<polyline",
        "<circle",
    ] {
        assert!(html.contains(needle), "missing {needle}");
    }
    for external in ["<script", "<link", "src=\"http", "href=\"http", "url("] {
        assert!(
            !html.contains(external),
            "the page must be self-contained: found {external}"
        );
    }
    // Balanced markup for the elements the page opens.
    for tag in ["svg", "table", "figure", "h2", "tr"] {
        let opened =
            html.matches(&format!("<{tag}>")).count() + html.matches(&format!("<{tag} ")).count();
        assert_eq!(
            opened,
            html.matches(&format!("</{tag}>")).count(),
            "unbalanced <{tag}>"
        );
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("out/tiny.json")).unwrap())
            .unwrap();
    assert_eq!(json["arms"][0]["arm_id"], "logistic");
    assert_eq!(json["arms"][0]["verdict"], "TOO_FEW_SEEDS");
    assert_eq!(
        json["interval"],
        "95% Student t interval of the mean over seeds"
    );
    assert_eq!(json["arms"][0]["values"].as_array().unwrap().len(), 2);
    let md = std::fs::read_to_string(dir.path().join("out/tiny.md")).unwrap();
    assert!(md.contains("| logistic | linear | 410 | 2/2 |"), "{md}");
}

/// Adaptive seeds: after each round (3 seeds, then 2 more with `--jobs 2`, capped at 6) an arm
/// whose verdict at the Bonferroni level of its 4 looks is not decisive gets more seeds. Every
/// arm's seed count must be exactly the first look at which the audit's own rule is decisive
/// (replayed here from the per-seed values), else the maximum: a decisive claim stops at `min`,
/// a point band the interval keeps straddling grows to `max`. A rerun reuses every seed.
#[test]
fn adaptive_seeds_add_seeds_until_decisive_or_max() {
    let dir = tempfile::tempdir().unwrap();
    let text_of_spec = TINY
        .replace("seeds: { count: 2, base: 5 }", "seeds: { min: 3, max: 6, until: decisive, base: 5 }")
        .replace(
            "  - id: cnn\n    model: { kind: cnn1d, channels: [8, 8], kernel: 3, stride: 2, padding: 1, head: gap }",
            "  - id: point\n    model: { kind: linear }\n    train: { lr: 3.0e-2 }\n    claim: { metric: accuracy, reported: 0.263, tolerance: 0 }",
        );
    std::fs::write(dir.path().join("tiny.yaml"), &text_of_spec).unwrap();
    let s = dir.path().join("store");
    let args = [
        "run",
        "tiny.yaml",
        "--store",
        s.to_str().unwrap(),
        "--jobs",
        "2",
        "--out",
        "out",
    ];
    let out = repro(dir.path(), &args, &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let row = |id: &str| {
        stdout
            .lines()
            .find(|l| l.contains(&format!(" {id} ")))
            .unwrap()
            .to_string()
    };
    let spec =
        repro::spec::parse_bytes(&dir.path().join("tiny.yaml"), text_of_spec.as_bytes()).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("out/tiny.json")).unwrap())
            .unwrap();
    let mut total = 0;
    for (i, arm) in spec.arms.iter().enumerate() {
        let got = &json["arms"][i];
        let values: Vec<f64> = serde_json::from_value(got["values"].clone()).unwrap();
        let seeds: Vec<i64> = serde_json::from_value(got["seeds"].clone()).unwrap();
        let test_size = got["test_size"].as_i64();
        assert_eq!(test_size, Some(1000), "MNIST-1D's test split");
        assert_eq!(got["looks"], 4, "one look per seed from 3 to 6");
        // The looks of `--jobs 2`: 3 seeds, then 5, then 6.
        let decisive_at = [3usize, 5, 6].into_iter().find(|&n| {
            let runs = repro::audit::ArmRuns {
                planned: n,
                values: seeds[..n]
                    .iter()
                    .copied()
                    .zip(values[..n].iter().copied())
                    .collect(),
                test_size,
                ..Default::default()
            };
            let v = repro::audit::arm_result(&spec, arm, runs).verdict.unwrap();
            v.is_decisive()
        });
        let expected = decisive_at.unwrap_or(6);
        assert_eq!(values.len(), expected, "{}: {values:?}", arm.id);
        assert_eq!(got["planned"], expected);
        let note = match decisive_at {
            Some(_) => "(adaptive: decisive)".to_string(),
            None => "(adaptive: max 6 reached)".to_string(),
        };
        assert!(
            row(&arm.id).contains(&format!("{expected}/{expected} {note}")),
            "{}",
            row(&arm.id)
        );
        total += expected;
    }
    assert_eq!(
        json["arms"][0]["planned"], 3,
        "0.95 is far off: decisive at the first look"
    );
    assert!(
        json["arms"][1]["planned"].as_u64().unwrap() > 3,
        "the point band needs more looks"
    );
    let again = repro(dir.path(), &args, &[]);
    let (stdout2, stderr2) = text(&again);
    assert!(
        stderr2.contains(&format!(
            "{total} runs planned, {total} already done, 0 to train"
        )),
        "{stderr2}"
    );
    assert_eq!(stdout2, stdout);
}

/// The finding the tool exists for: a baseline arm that matches a paper's claimed method is
/// said so in one sentence, with what makes the comparison unequal.
#[test]
fn a_baseline_matching_the_claimed_method_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let spec = TINY
        .replace(
            "claim: { metric: accuracy, reported: 0.95, tolerance: 0.01 }",
            "claim: { metric: accuracy, reported: 0.20, tolerance: 0.07 }",
        )
        .replace(
            "seeds: { count: 2, base: 5 }",
            "seeds: { count: 3, base: 5 }",
        )
        .replace("  - id: cnn\n", "  - id: cnn\n    role: baseline\n");
    std::fs::write(dir.path().join("tiny.yaml"), spec).unwrap();
    let s = dir.path().join("store");
    let out = repro(
        dir.path(),
        &[
            "run",
            "tiny.yaml",
            "--store",
            s.to_str().unwrap(),
            "--out",
            "out",
        ],
        &[],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let sentence = stdout
        .lines()
        .find(|l| l.starts_with("Strong baseline `cnn`"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        sentence.contains("matches the paper's claim for `logistic` (0.200 ± 0.070)"),
        "{sentence}"
    );
    assert!(
        sentence.ends_with("not like for like: 322 vs 410 parameters."),
        "{sentence}"
    );
    let md = std::fs::read_to_string(dir.path().join("out/tiny.md")).unwrap();
    assert!(md.contains(&format!("**{sentence}**")));
    let html = std::fs::read_to_string(dir.path().join("out/tiny.html")).unwrap();
    assert!(html.contains("class=\"finding\""));

    let bad = TINY.replace("  - id: cnn\n", "  - id: cnn\n    role: baselin\n");
    std::fs::write(dir.path().join("bad.yaml"), bad).unwrap();
    let out = repro(dir.path(), &["validate", "bad.yaml"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out)
            .1
            .contains("unknown arm role `baselin`; did you mean `baseline`?"),
        "{}",
        text(&out).1
    );
}

#[test]
fn an_unwritable_store_is_named_before_anything_trains() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tiny.yaml"), TINY).unwrap();
    // A regular file where the store's directory should be (root ignores permission bits,
    // so this is the failure every user can hit).
    std::fs::write(dir.path().join("blocked"), "not a directory").unwrap();
    let out = repro(
        dir.path(),
        &["run", "tiny.yaml", "--store", "blocked/runs"],
        &[],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains("cannot write the run store") && stderr.contains("blocked/runs"),
        "{stderr}"
    );
    assert!(!stderr.contains("[  1/"), "nothing was started: {stderr}");
}

/// Issue #11: protocol flags (a test-selected checkpoint, a subset test split) are computed once
/// in the audit, stored per arm in the JSON report and shown beside the verdict in the terminal
/// table, the Markdown and the HTML page.
#[test]
fn protocol_flags_are_stored_and_shown_beside_every_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let spec = TINY
        .replace(
            "dataset: mnist1d",
            "dataset: mnist1d\nprotocol: { selection: best-test, split: test }",
        )
        .replace("count: 2", "count: 1")
        .replace(
            "    model: { kind: cnn1d,",
            "    data: { subset: { test: 200 } }\n    model: { kind: cnn1d,",
        );
    std::fs::write(dir.path().join("tiny.yaml"), spec).unwrap();
    let s = dir.path().join("store");
    let args = [
        "run",
        "tiny.yaml",
        "--store",
        s.to_str().unwrap(),
        "--out",
        "out",
    ];
    let out = repro(dir.path(), &args, &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let both = "(test-selected: optimistic; test split subset to 200 of 1000)";
    let one = "TOO FEW SEEDS (test-selected: optimistic)";
    assert!(stdout.contains(both) && stdout.contains(one), "{stdout}");
    let md = std::fs::read_to_string(dir.path().join("out/tiny.md")).unwrap();
    assert!(
        md.contains(&format!("**{one}**")) && md.contains(both),
        "{md}"
    );
    let html = std::fs::read_to_string(dir.path().join("out/tiny.html")).unwrap();
    assert!(html.contains(one) && html.contains(both));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("out/tiny.json")).unwrap())
            .unwrap();
    assert_eq!(
        json["arms"][0]["protocol_flags"],
        serde_json::json!([{ "kind": "test_selected", "text": "test-selected: optimistic" }])
    );
    assert_eq!(
        json["arms"][1]["protocol_flags"],
        serde_json::json!([
            { "kind": "test_selected", "text": "test-selected: optimistic" },
            { "kind": "test_subset", "text": "test split subset to 200 of 1000" },
        ])
    );
    let record = walk(&s, "record.json")
        .into_iter()
        .map(|p| {
            serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(p).unwrap()).unwrap()
        })
        .find(|r| r["arm_id"] == "cnn")
        .unwrap();
    assert_eq!(
        (record["test_size"].as_i64(), record["test_total"].as_i64()),
        (Some(200), Some(1000))
    );
}
