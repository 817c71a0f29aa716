//! Issue #16: a team's own model as a TorchScript module (`model.kind: torchscript`), its
//! seeding, the errors users hit before training, and `repro check --junit/--summary`.
//!
//! The modules come from `scripts/gen_torchscript_fixtures.py` (committed, in
//! `tests/fixtures/torchscript/`): `mnist1d_cnn.pt` is a scripted copy of papers/mnist1d.yaml's
//! `cnn` arm, layer for layer:
//!
//! ```python
//! self.conv0 = nn.Conv1d(1, 25, 5, stride=2, padding=1)   # conv1, conv2: 25 → 25, kernel 3
//! self.out = nn.Linear(25 * 5, 10)                          # relu between, flatten before
//! ```

use std::path::{Path, PathBuf};

use repro::spec::{InitScheme, ModelSpec, ResolvedArm};

use super::util::{self, repro, text};

fn fixture(name: &str) -> PathBuf {
    util::root().join("tests/fixtures/torchscript").join(name)
}

fn sha256(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

/// papers/mnist1d.yaml's `cnn` arm with its model replaced by the module at `path`.
fn scripted_arm(path: &Path, steps: i64, init: InitScheme) -> ResolvedArm {
    let mut arm = util::mnist1d_arm("cnn", steps, steps);
    arm.model = ModelSpec::Torchscript {
        sha256: sha256(path),
        path: path.to_path_buf(),
        embedding_dim: None,
    };
    arm.init = init;
    arm
}

#[test]
fn scripted_copy_of_the_builtin_cnn_trains_to_the_same_accuracy() {
    let _g = util::torch_lock();
    let ds = repro::data::load("mnist1d", &util::data_dir()).unwrap();
    let steps = 150;
    let builtin = util::mnist1d_arm("cnn", steps, steps);
    let scripted = scripted_arm(&fixture("mnist1d_cnn.pt"), steps, InitScheme::Torch);
    let a = repro::train::train(&builtin, &ds, 42, tch::Device::Cpu, |_| {}).unwrap();
    let b = repro::train::train(&scripted, &ds, 42, tch::Device::Cpu, |_| {}).unwrap();
    assert_eq!(a.params, 5210);
    assert_eq!(b.params, a.params);
    let (ma, mb) = (a.metrics.unwrap(), b.metrics.unwrap());
    let (acc_a, acc_b) = (ma.accuracy.unwrap(), mb.accuracy.unwrap());
    assert!(acc_a > 0.3, "the built-in arm learns: {acc_a}");
    assert!(
        (acc_a - acc_b).abs() <= 1e-6,
        "built-in {acc_a} vs scripted {acc_b}"
    );
    assert!((ma.loss.unwrap() - mb.loss.unwrap()).abs() <= 1e-6);
    // Step by step, not only at the end: the same initial weights and the same updates.
    assert_eq!(a.step_losses.len(), b.step_losses.len());
    for (i, (x, y)) in a.step_losses.iter().zip(&b.step_losses).enumerate() {
        assert!((x - y).abs() <= 1e-6, "step {i}: {x} vs {y}");
    }
}

#[test]
fn same_seed_same_weights_and_as_saved_keeps_the_files_weights() {
    let _g = util::torch_lock();
    let path = fixture("mnist1d_cnn.pt");
    let input = repro::model::InputShape {
        channels: 1,
        length: 40,
        classes: 10,
        full_length: false,
    };
    let build = |init: InitScheme, seed: i64| {
        repro::provenance::seed(seed);
        let spec = scripted_arm(&path, 1, init).model;
        repro::model::build(&spec, init, input, tch::Device::Cpu).unwrap()
    };
    let digest = |init, seed| repro::model::weights_sha256(&build(init, seed).vs);
    assert_eq!(digest(InitScheme::Torch, 7), digest(InitScheme::Torch, 7));
    assert_ne!(digest(InitScheme::Torch, 7), digest(InitScheme::Torch, 8));
    // `as_saved`: the seed draws nothing, the weights are the file's.
    assert_eq!(
        digest(InitScheme::AsSaved, 7),
        digest(InitScheme::AsSaved, 8)
    );
    let saved = tch::CModule::load(&path)
        .unwrap()
        .named_parameters()
        .unwrap();
    let built = build(InitScheme::AsSaved, 1);
    let vars = built.vs.variables();
    for (name, t) in &saved {
        let mine = &vars[&name.replace('.', "_")];
        assert!(mine.equal(t), "{name} differs from the file");
    }
    let drawn = build(InitScheme::Torch, 1);
    assert!(!drawn.vs.variables()["conv0_weight"].equal(&saved[0].1));
    // The head adds no weights: the module's output is the logits, or with `embedding_dim`
    // the embedding, L2-normalised.
    let xs = tch::Tensor::randn([4, 1, 40], (tch::Kind::Float, tch::Device::Cpu));
    let lengths = tch::Tensor::from_slice(&[40i64; 4]);
    assert_eq!(drawn.params, 5210);
    assert!(!drawn.net.is_embedding());
    assert_eq!(drawn.net.forward(&xs, &lengths, false).size(), [4, 10]);
    let embedding = ModelSpec::Torchscript {
        sha256: sha256(&path),
        path: path.clone(),
        embedding_dim: Some(10),
    };
    let e = repro::model::build(&embedding, InitScheme::Torch, input, tch::Device::Cpu).unwrap();
    assert!(e.net.is_embedding());
    let norms = e
        .net
        .forward(&xs, &lengths, false)
        .norm_scalaropt_dim(2, [1].as_slice(), false);
    assert!(norms.allclose(
        &tch::Tensor::ones([4], (tch::Kind::Float, tch::Device::Cpu)),
        1e-6,
        1e-6,
        false
    ));
}

/// A spec with one torchscript arm whose model block is `model` (in a temp dir, the fixture
/// `module` copied to `models/net.pt`).
fn spec_dir(module: Option<&str>, model: &str, init: &str, seeds: u32) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("models")).unwrap();
    if let Some(m) = module {
        std::fs::copy(fixture(m), dir.path().join("models/net.pt")).unwrap();
    }
    let spec = format!(
        "id: byom\ntitle: Bring your own model\nversion: 1\ndataset: mnist1d\n\
         defaults:\n  init: {init}\n  train: {{ optimizer: adam, lr: 1.0e-2, batch_size: 100, \
         steps: 120, order: sequential, eval_every: 120, clip_grad_norm: null }}\n\
         seeds: {{ count: {seeds}, base: 42 }}\narms:\n  - id: mine\n    model: {model}\n"
    );
    std::fs::write(dir.path().join("byom.yaml"), spec).unwrap();
    dir
}

/// `repro plan` in `dir`: exit 2 with every `needles` in stderr, and no run store written.
fn plan_fails(dir: &Path, needles: &[&str]) {
    let out = repro(dir, &["plan", "byom.yaml", "--store", "runs"], &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    for n in needles {
        assert!(stderr.contains(n), "`{n}` not in: {stderr}");
    }
    assert!(
        !dir.join("runs").exists(),
        "nothing is written to the store"
    );
}

#[test]
fn each_bad_module_is_bad_input_before_training() {
    let net = "{ kind: torchscript, path: models/net.pt }";
    // A missing file: the spec error names file, line and column (`validate` catches it).
    let d = spec_dir(None, net, "torch", 1);
    let out = repro(d.path(), &["validate", "byom.yaml"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out).1;
    assert!(
        stderr.contains("byom.yaml:11:") && stderr.contains("cannot read the TorchScript module"),
        "{stderr}"
    );
    assert!(stderr.contains("models/net.pt"), "{stderr}");
    plan_fails(d.path(), &["models/net.pt"]);
    // Junk bytes.
    let d = spec_dir(None, net, "torch", 1);
    std::fs::write(d.path().join("models/net.pt"), b"not a zip archive at all").unwrap();
    plan_fails(
        d.path(),
        &["models/net.pt", "not a TorchScript module", "arm `mine`"],
    );
    // Wrong number of classes.
    let d = spec_dir(Some("wrong_classes.pt"), net, "torch", 1);
    plan_fails(
        d.path(),
        &[
            "models/net.pt",
            "output does not fit the task",
            "expected [100, 10] (10 classes), got [100, 7]",
        ],
    );
    // Wrong embedding size.
    let d = spec_dir(
        Some("mnist1d_cnn.pt"),
        "{ kind: torchscript, path: models/net.pt, embedding_dim: 16 }",
        "torch",
        1,
    );
    let spec = d.path().join("byom.yaml");
    let yaml = std::fs::read_to_string(&spec).unwrap();
    let triplet = yaml.replace(
        "clip_grad_norm: null",
        "clip_grad_norm: null, loss: { kind: normalized_softmax }",
    );
    std::fs::write(&spec, triplet).unwrap();
    plan_fails(
        d.path(),
        &["expected [100, 16] (`embedding_dim` 16), got [100, 10]"],
    );
    // No trainable parameters.
    let d = spec_dir(Some("no_params.pt"), net, "torch", 1);
    plan_fails(d.path(), &["models/net.pt", "no trainable parameters"]);
    // Fails on a real batch: the message names the shape it was given.
    let d = spec_dir(Some("three_channels.pt"), net, "torch", 1);
    plan_fails(
        d.path(),
        &[
            "models/net.pt",
            "forward failed on a batch of shape [100, 1, 40]",
        ],
    );
    // `init: as_saved` on a built-in model.
    let d = spec_dir(None, "{ kind: linear }", "as_saved", 1);
    let out = repro(d.path(), &["validate", "byom.yaml"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).1.contains("byom.yaml:6:9: `init: as_saved`"),
        "{}",
        text(&out).1
    );
}

#[test]
fn a_module_changed_between_plan_and_train_is_refused() {
    let _g = util::torch_lock();
    let d = spec_dir(
        Some("mnist1d_cnn.pt"),
        "{ kind: torchscript, path: models/net.pt }",
        "torch",
        1,
    );
    let spec = repro::spec::load(&d.path().join("byom.yaml")).unwrap();
    let store = repro::store::Store::open(Some(&d.path().join("runs")));
    let runs = repro::runner::plan(
        &[spec],
        false,
        false,
        &store,
        repro::device::DeviceKind::Cpu,
        &util::data_dir(),
        &Default::default(),
    )
    .unwrap();
    let config = runs[0].config.clone();
    let module = config
        .module
        .clone()
        .expect("the module file travels with the config");
    assert!(module.path.ends_with("models/net.pt"));
    // The key holds the file's digest, not its path.
    let arm_json = serde_json::to_string(&config.arm).unwrap();
    assert!(arm_json.contains(&module.sha256) && !arm_json.contains("net.pt"));
    std::fs::copy(
        fixture("mnist1d_cnn_narrow.pt"),
        d.path().join("models/net.pt"),
    )
    .unwrap();
    let opts = repro::runner::WorkerOptions {
        gpu: 0,
        progress: false,
    };
    let err = repro::runner::worker(
        runs[0].dir.path(),
        Some(config),
        opts,
        &util::data_dir(),
        false,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("models/net.pt") && err.contains("changed since the run was planned"),
        "{err}"
    );
}

/// `repro check` in `dir` with JUnit and summary files; its exit code, stdout and the files.
fn check(dir: &Path) -> (Option<i32>, String, String, String) {
    let out = repro(
        dir,
        &[
            "check",
            "byom.yaml",
            "--store",
            "runs",
            "--blessed",
            "blessed",
            "--junit",
            "ci/junit.xml",
            "--summary",
            "ci/summary.md",
        ],
        &[],
    );
    let (stdout, stderr) = text(&out);
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    (
        out.status.code(),
        format!("{stdout}{stderr}"),
        read("ci/junit.xml"),
        read("ci/summary.md"),
    )
}

/// The structure the JUnit schema requires (testsuites → testsuite → testcase, names, counts
/// that match the cases, `time`), checked on the parsed document; the counts per kind.
fn junit_counts(xml: &str) -> (usize, usize, usize) {
    let doc = roxmltree::Document::parse(xml).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let attr = |n: roxmltree::Node, a: &str| -> usize {
        n.attribute(a)
            .unwrap_or_else(|| panic!("<{}> has no `{a}`", n.tag_name().name()))
            .parse()
            .unwrap()
    };
    let time = |n: roxmltree::Node| {
        let t: f64 = n.attribute("time").expect("time").parse().unwrap();
        assert!(t >= 0.0);
    };
    time(root);
    let (mut tests, mut failures, mut errors) = (0, 0, 0);
    let suites: Vec<_> = root.children().filter(|n| n.is_element()).collect();
    assert!(!suites.is_empty());
    for suite in suites {
        assert_eq!(suite.tag_name().name(), "testsuite");
        assert!(!suite.attribute("name").unwrap_or("").is_empty());
        time(suite);
        let cases: Vec<_> = suite.children().filter(|n| n.is_element()).collect();
        let kind = |k: &str| {
            cases
                .iter()
                .filter(|c| c.children().any(|e| e.tag_name().name() == k))
                .count()
        };
        for c in &cases {
            assert_eq!(c.tag_name().name(), "testcase");
            assert!(!c.attribute("name").unwrap_or("").is_empty());
            assert!(!c.attribute("classname").unwrap_or("").is_empty());
            time(*c);
            for e in c.children().filter(|e| e.is_element()) {
                if matches!(e.tag_name().name(), "failure" | "error") {
                    assert!(e.attribute("message").is_some() && e.attribute("type").is_some());
                }
            }
        }
        assert_eq!(attr(suite, "tests"), cases.len());
        assert_eq!(attr(suite, "failures"), kind("failure"));
        assert_eq!(attr(suite, "errors"), kind("error"));
        assert_eq!(attr(suite, "skipped"), kind("skipped"));
        tests += cases.len();
        failures += kind("failure");
        errors += kind("error");
    }
    assert_eq!(attr(root, "tests"), tests);
    assert_eq!(attr(root, "failures"), failures);
    assert_eq!(attr(root, "errors"), errors);
    (tests, failures, errors)
}

#[test]
fn changing_one_layer_makes_check_fail_and_name_the_arm() {
    let d = spec_dir(
        Some("mnist1d_cnn.pt"),
        "{ kind: torchscript, path: models/net.pt }",
        "torch",
        3,
    );
    let dir = d.path();
    let plan_keys = || {
        let out = repro(dir, &["plan", "byom.yaml", "--store", "runs"], &[]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
        text(&out).0
    };
    let before = plan_keys();
    let out = repro(dir, &["run", "byom.yaml", "--store", "runs"], &[]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let out = repro(
        dir,
        &[
            "bless",
            "byom.yaml",
            "--store",
            "runs",
            "--blessed",
            "blessed",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let prov = util::walk(&dir.join("runs"), "provenance.json");
    let prov: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&prov[0]).unwrap()).unwrap();
    assert_eq!(prov["module"]["sha256"], sha256(&fixture("mnist1d_cnn.pt")));
    assert!(prov["module"]["path"]
        .as_str()
        .unwrap()
        .ends_with("models/net.pt"));

    let (code, out, xml, md) = check(dir);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(junit_counts(&xml), (1, 0, 0));
    assert!(md.starts_with("## repro check: passed (1 arms)"), "{md}");

    // Change one layer: conv0 with 2 channels instead of 25.
    std::fs::copy(fixture("mnist1d_cnn_narrow.pt"), dir.join("models/net.pt")).unwrap();
    let after = plan_keys();
    assert_ne!(before, after, "a changed module file is a new run key");
    let (code, out, xml, md) = check(dir);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("REGRESSION byom/mine"), "{out}");
    assert!(out.contains("gate failed: byom/mine"), "{out}");
    assert_eq!(junit_counts(&xml), (1, 1, 0));
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let case = doc
        .descendants()
        .find(|n| n.has_tag_name("testcase"))
        .unwrap();
    assert_eq!(case.attribute("name"), Some("mine accuracy"));
    assert_eq!(case.attribute("classname"), Some("byom"));
    let failure = case.children().find(|n| n.has_tag_name("failure")).unwrap();
    let body = failure.text().unwrap();
    for needle in [
        "shift: accuracy -",
        "interval: one-sided 95% [",
        "margin: ",
        "p: ",
    ] {
        assert!(body.contains(needle), "`{needle}` not in {body}");
    }
    assert!(failure
        .attribute("message")
        .unwrap()
        .contains("REGRESSION byom/mine"));
    assert!(
        md.starts_with("## repro check: FAILED (1 of 1 arms: `byom/mine`)"),
        "{md}"
    );
    assert!(
        md.contains("| ❌ REGRESSION | byom | mine | accuracy |"),
        "{md}"
    );
}

#[test]
fn junit_escapes_what_xml_does_not_allow() {
    assert_eq!(
        repro::report::junit::xml_escape("a<b & \"c\" 'd'>\u{1}"),
        "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;\u{FFFD}"
    );
}
