//! Spec parsing: the bundled specs, every kind of bad input with its line and column, and
//! hostile YAML that must fail fast.

use std::path::Path;

use repro::spec::{self, InitScheme, ModelSpec};

const GOOD: &str = "\
id: demo
title: Demo
version: 1
dataset: mnist1d
defaults:
  train: { lr: 0.01, steps: 100, batch_size: 10 }
seeds: { count: 3, base: 7 }
arms:
  - id: a
    model: { kind: linear }
    claim: { metric: accuracy, reported: 0.5, tolerance: 0.1 }
  - id: b
    model: { kind: rnn, cell: lstm, hidden: 8 }
    train: { lr: 0.001 }
quick:
  train: { steps: 10 }
  seeds: { count: 1 }
";

/// Parses `text` and asserts the diagnostics: each expected entry is `line:col` and a fragment
/// of the message, in order.
fn check(text: &str, expected: &[(&str, &str)]) {
    let err = spec::parse_bytes(Path::new("t.yaml"), text.as_bytes())
        .expect_err("spec should be rejected");
    let got: Vec<(String, String)> = err
        .diags
        .iter()
        .map(|d| (d.pos.to_string(), d.message.clone()))
        .collect();
    assert_eq!(got.len(), expected.len(), "diagnostics: {got:#?}");
    for ((pos, msg), (want_pos, want_msg)) in got.iter().zip(expected) {
        assert_eq!(pos, want_pos, "position of `{msg}`");
        assert!(
            msg.contains(want_msg),
            "`{msg}` should contain `{want_msg}`"
        );
    }
}

#[test]
fn good_spec_resolves_defaults_and_quick_overrides() {
    let s = spec::parse_bytes(Path::new("t.yaml"), GOOD.as_bytes()).unwrap();
    assert_eq!(s.seeds(false).list("a"), vec![7, 8, 9]);
    assert_eq!(s.seeds(true).list("a"), vec![7]);
    let a = &s.arms[0].resolved;
    assert_eq!(a.train.lr, 0.01);
    assert_eq!(a.train.steps, Some(100));
    assert_eq!(a.train.weight_decay, 1e-4, "built-in default");
    assert_eq!(a.init, InitScheme::Torch);
    let b = &s.arms[1];
    assert_eq!(b.resolved.train.lr, 0.001, "arm overrides defaults");
    assert_eq!(b.resolved.train.batch_size, 10, "other defaults kept");
    assert_eq!(b.resolved_quick.train.steps, Some(10));
    assert_eq!(b.resolved_quick.train.lr, 0.001);
    assert!(matches!(
        b.resolved.model,
        ModelSpec::Rnn {
            hidden: 8,
            layers: 1,
            ..
        }
    ));
    assert!(b.claim.is_none());
    assert_eq!(
        b.resolved.train.clip_grad_norm,
        Some(spec::RNN_DEFAULT_CLIP),
        "RNNs clip by default"
    );
    assert_eq!(
        s.arms[0].resolved.train.clip_grad_norm, None,
        "other models do not"
    );
    let off = GOOD.replace(
        "    train: { lr: 0.001 }",
        "    train: { lr: 0.001, clip_grad_norm: null }",
    );
    let off = spec::parse_bytes(Path::new("t.yaml"), off.as_bytes()).unwrap();
    assert_eq!(
        off.arms[1].resolved.train.clip_grad_norm, None,
        "`null` turns it off"
    );
}

#[test]
fn canonical_hash_ignores_layout_but_not_values() {
    let s1 = spec::parse_bytes(Path::new("a.yaml"), GOOD.as_bytes()).unwrap();
    let reordered = GOOD.replace(
        "train: { lr: 0.01, steps: 100, batch_size: 10 }",
        "train:\n    batch_size: 10   # same values, other order\n    steps: 100\n    lr: 1.0e-2",
    );
    let s2 = spec::parse_bytes(Path::new("b.yaml"), reordered.as_bytes()).unwrap();
    assert_eq!(s1.arms[0].resolved.sha256(), s2.arms[0].resolved.sha256());
    assert_ne!(s1.file_sha256, s2.file_sha256);
    let changed = GOOD.replace("lr: 0.01,", "lr: 0.02,");
    let s3 = spec::parse_bytes(Path::new("c.yaml"), changed.as_bytes()).unwrap();
    assert_ne!(s1.arms[0].resolved.sha256(), s3.arms[0].resolved.sha256());
    assert_eq!(s1.arms[0].resolved.sha256().len(), 64);
}

#[test]
fn bundled_specs_are_valid_and_match_the_paper() {
    let specs = spec::load_all(&[
        super::util::root().join("papers"),
        super::util::root().join("baselines"),
    ])
    .unwrap_or_else(|e| {
        panic!(
            "{}",
            e.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    let m = specs.iter().find(|s| s.id == "mnist1d").unwrap();
    let reported: Vec<(&str, f64)> = m
        .arms
        .iter()
        .filter_map(|a| a.claim.map(|c| (a.id.as_str(), c.reported)))
        .collect();
    assert_eq!(
        reported,
        vec![
            ("logistic", 0.32),
            ("mlp", 0.68),
            ("cnn", 0.94),
            ("gru", 0.91),
            ("logistic-shuffled", 0.32),
            ("mlp-shuffled", 0.68),
            ("cnn-shuffled", 0.56),
            ("gru-shuffled", 0.57)
        ]
    );
    assert_eq!(m.seeds(false).count, 5);
    assert!(m
        .arms
        .iter()
        .filter(|a| a.claim.is_some())
        .all(|a| a.resolved.train.lr == 1e-2 && a.resolved.train.batch_size == 100));
    // Issue 13: the tuned strong LSTM beside the claims, as a baseline.
    let lstm = m.arms.iter().find(|a| a.id == "lstm-tuned").unwrap();
    assert_eq!(lstm.role, repro::spec::Role::Baseline);
    assert_eq!(lstm.resolved.train.lr, 1e-3);
    let suites: Vec<&str> = specs.iter().map(|s| s.id.as_str()).collect();
    for id in ["lstm-depth", "gru-vs-lstm", "cnn-shortcuts", "batch-size"] {
        assert!(suites.contains(&id), "{id} missing from {suites:?}");
    }
}

#[test]
fn misspelt_key_suggests_the_closest() {
    check(
        &GOOD.replace(
            "    train: { lr: 0.001 }",
            "    train: { lr: 0.001, optimiser: adam }",
        ),
        &[(
            "14:25",
            "unknown key `optimiser` in `train`; did you mean `optimizer`?",
        )],
    );
    check(
        &GOOD.replace("seeds: { count: 3", "sedes: { count: 3"),
        &[(
            "7:1",
            "unknown key `sedes` in the spec; did you mean `seeds`?",
        )],
    );
}

#[test]
fn wrong_types_and_ranges_are_reported_together() {
    let text = GOOD
        .replace("lr: 0.01,", "lr: -1,")
        .replace("count: 3,", "count: 0,")
        .replace("tolerance: 0.1", "tolerance: -0.1")
        .replace("hidden: 8", "hidden: eight")
        .replace("version: 1", "version: \"1\"");
    check(
        &text,
        &[
            (
                "3:10",
                "`version` must be an integer, found the string \"1\"",
            ),
            ("6:16", "`lr` must be in (0, 10], found -1"),
            ("7:17", "`seeds.count` must be between 1 and 1000, found 0"),
            ("11:58", "`tolerance` must be in [0, 1], found -0.1"),
            ("13:45", "`hidden` must be an integer, found `eight`"),
        ],
    );
}

#[test]
fn missing_keys_unknown_names_and_duplicates() {
    check(
        "id: x\ntitle: t\nversion: 1\ndataset: mnist1f\narms:\n  - id: a\n    model: { kind: gru }\n  - id: a\n    model: { kind: linear }\n    train: { lr: 0.1 }\n",
        &[
            ("4:10", "unknown dataset `mnist1f`; did you mean `mnist1d`?"),
            ("6:5", "`train` needs `steps` or `epochs`"),
            ("7:20", "unknown model kind `gru`"),
            ("8:9", "duplicate arm id `a` (first at line 6)"),
            ("10:12", "`train` needs `steps` or `epochs`"),
        ],
    );
}

#[test]
fn optimizer_specific_keys_are_checked() {
    check(
        &GOOD.replace(
            "    train: { lr: 0.001 }",
            "    train: { lr: 0.001, momentum: 0.9 }",
        ),
        &[("14:35", "`momentum` does not apply to optimizer `adam`")],
    );
    // PyTorch has fused kernels for Adam and AdamW only.
    check(
        &GOOD.replace(
            "    train: { lr: 0.001 }",
            "    train: { lr: 0.001, optimizer: radam, fused: true }",
        ),
        &[("14:50", "`fused` does not apply to optimizer `radam`")],
    );
    check(
        &GOOD.replace(
            "    train: { lr: 0.001 }",
            "    train: { lr: 0.001, fused: yes }",
        ),
        &[("14:32", "`fused` must be true or false")],
    );
    let fused = GOOD.replace(
        "    train: { lr: 0.001 }",
        "    train: { lr: 0.001, optimizer: adamw, fused: true }",
    );
    let s = spec::parse_bytes(Path::new("t.yaml"), fused.as_bytes()).unwrap();
    assert!(matches!(
        s.arms[1].resolved.train.optimizer,
        spec::Optimizer::Adamw { fused: true, .. }
    ));
    assert!(matches!(
        s.arms[0].resolved.train.optimizer,
        spec::Optimizer::Adam { fused: false, .. }
    ));
    // In the key only when on: a spec without `fused` keeps the canonical JSON it had.
    let json = |o: &spec::Optimizer| serde_json::to_string(o).unwrap();
    assert_eq!(
        json(&s.arms[0].resolved.train.optimizer),
        r#"{"name":"adam","beta1":0.9,"beta2":0.999,"eps":1e-8}"#
    );
    assert!(json(&s.arms[1].resolved.train.optimizer).contains(r#""fused":true"#));
}

#[test]
fn yaml_syntax_error_has_a_position() {
    check(
        "id: x\ntitle: [unclosed\nversion: 1\n",
        &[("3:8", "invalid YAML")],
    );
}

#[test]
fn hostile_inputs_fail_fast() {
    // Billion laughs: 10^9 nodes if expanded.
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        bomb.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    let err = spec::parse_bytes(Path::new("t.yaml"), bomb.as_bytes()).unwrap_err();
    assert!(err.diags[0].message.contains("more than"), "{err}");
    let deep = "a: ".to_string() + &"[".repeat(10_000) + &"]".repeat(10_000);
    assert!(spec::parse_bytes(Path::new("t.yaml"), deep.as_bytes()).is_err());
    let mut block = String::new();
    for i in 0..10_000 {
        block.push_str(&" ".repeat(i));
        block.push_str("k:\n");
    }
    assert!(spec::parse_bytes(Path::new("t.yaml"), block.as_bytes()).is_err());
    let err = spec::parse_bytes(Path::new("t.yaml"), b"id: x\ntitle: \xff\xfe\n").unwrap_err();
    assert_eq!(err.diags[0].pos.to_string(), "2:8");
    assert!(err.diags[0].message.contains("UTF-8"));

    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.yaml");
    std::fs::write(&big, "x".repeat(50 << 20)).unwrap();
    let err = spec::load(&big).unwrap_err();
    assert!(err.to_string().contains("limited to"), "{err}");
}

#[test]
fn data_block_is_merged_and_checked() {
    let text = GOOD
        .replace(
            "  train: { lr: 0.01, steps: 100, batch_size: 10 }",
            "  train: { lr: 0.01, steps: 100, batch_size: 10 }\n  data: { normalize: series, pad: { percentile: 90 }, val: { fraction: 0.2 } }",
        )
        .replace("    train: { lr: 0.001 }", "    train: { lr: 0.001 }\n    data: { pad: 32, subset: { fraction: 0.1 } }");
    let s = spec::parse_bytes(Path::new("t.yaml"), text.as_bytes()).unwrap();
    let a = s.arms[0].resolved.data.clone();
    assert_eq!(a.normalize, spec::Normalize::Series);
    assert_eq!(a.pad, spec::Pad::Percentile(90.0));
    assert_eq!(a.val_fraction, Some(0.2));
    let b = s.arms[1].resolved.data.clone();
    assert_eq!(
        b.pad,
        spec::Pad::Length(32),
        "arm overrides the default pad"
    );
    assert_eq!(b.normalize, spec::Normalize::Series, "and keeps the rest");
    assert_eq!(b.subset, Some(spec::Subset::Fraction(0.1)));

    let bad = GOOD.replace(
        "    train: { lr: 0.001 }",
        "    train: { lr: 0.001 }\n    data: { pad: { percentile: 120 }, val: { fraction: 1.5 }, normalise: series }",
    );
    check(
        &bad,
        &[
            ("15:32", "`percentile` must be in (0, 100], found 120"),
            ("15:56", "`fraction` must be in (0, 1), found 1.5"),
            (
                "15:63",
                "unknown key `normalise` in `data`; did you mean `normalize`?",
            ),
        ],
    );
}

#[test]
fn optimizers_schedules_and_clipping_are_declared_and_checked() {
    let text = GOOD.replace(
        "    train: { lr: 0.001 }",
        "    train: { lr: 0.001, optimizer: radam, clip_grad_value: 0.5, schedule: { kind: cosine, t_max: 64, unit: epochs, warmup: 2 } }",
    );
    let s = spec::parse_bytes(Path::new("t.yaml"), text.as_bytes()).unwrap();
    let t = &s.arms[1].resolved.train;
    assert_eq!(t.optimizer.name(), "radam");
    assert_eq!(t.clip_grad_value, Some(0.5));
    assert_eq!(
        t.schedule,
        spec::Schedule::Cosine {
            t_max: 64,
            eta_min: 0.0,
            warmup: 2,
            unit: spec::ScheduleUnit::Epochs
        }
    );
    assert_eq!(s.arms[0].resolved.train.schedule, spec::Schedule::Constant);

    let bad = GOOD.replace(
        "    train: { lr: 0.001 }",
        "    train: { lr: 0.001, optimizer: adamw, clip_grad_norm: 1, clip_grad_value: 1, schedule: { kind: step, gamma: 2 } }",
    );
    check(
        &bad,
        &[
            (
                "14:79",
                "give `clip_grad_norm` or `clip_grad_value`, not both",
            ),
            (
                "14:92",
                "a step `schedule` is missing required key `step_size`",
            ),
            ("14:113", "`gamma` must be in (0, 1], found 2"),
        ],
    );
    check(
        &GOOD.replace(
            "    train: { lr: 0.001 }",
            "    train: { lr: 0.001, schedule: { kind: cosin } }",
        ),
        &[("14:43", "unknown schedule `cosin`; did you mean `cosine`?")],
    );
}

#[test]
fn selection_and_early_stopping_need_a_validation_split() {
    let text = GOOD
        .replace(
            "dataset: mnist1d",
            "dataset: mnist1d\nprotocol: { selection: best-val }",
        )
        .replace(
            "    train: { lr: 0.001 }",
            "    train: { lr: 0.001, early_stopping: { patience: 5 } }",
        );
    check(
        &text,
        &[
            ("10:5", "`selection: best-val` needs a validation split"),
            ("13:5", "`selection: best-val` needs a validation split"),
            ("13:5", "early stopping needs a validation split"),
        ],
    );
    let last = GOOD
        .replace(
            "  train: { lr: 0.01,",
            "  data: { val: { fraction: 0.25 } }\n  train: { lr: 0.01,",
        )
        .replace(
            "    train: { lr: 0.001 }",
            "    train: { lr: 0.001, early_stopping: { patience: 5 } }",
        );
    check(
        &last,
        &[(
            "13:5",
            "early stopping restores the best-validation weights",
        )],
    );
    let s = spec::parse_bytes(
        Path::new("t.yaml"),
        GOOD.replace("steps: 100,", "epochs: 4,")
            .replace(
                "dataset: mnist1d",
                "dataset: mnist1d\nprotocol: { selection: best-test }",
            )
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(s.arms[0].resolved.train.epochs, Some(4));
    assert_eq!(s.arms[0].resolved.train.steps, None);
    assert_eq!(s.protocol.selection, spec::Selection::BestTest);
}

/// Issue #11: a plateau schedule watched the eval split, the test split when no validation
/// split is carved. It now says what it monitors, and `val_loss` needs a validation split.
#[test]
fn plateau_schedules_monitor_train_or_validation_loss_never_test() {
    let plateau = |monitor: &str| {
        GOOD.replace(
            "    train: { lr: 0.001 }",
            &format!(
                "    train: {{ lr: 0.001, schedule: {{ kind: plateau, patience: 3{monitor} }} }}"
            ),
        )
    };
    let s = spec::parse_bytes(
        Path::new("t.yaml"),
        plateau(", monitor: train_loss").as_bytes(),
    )
    .unwrap();
    assert_eq!(
        s.arms[1].resolved.train.schedule,
        spec::Schedule::Plateau {
            factor: 0.1,
            patience: 3,
            min_lr: 0.0,
            monitor: spec::Monitor::TrainLoss,
            threshold: spec::PLATEAU_THRESHOLD,
            threshold_mode: spec::ThresholdMode::Rel,
        }
    );
    check(
        &plateau(""),
        &[("14:35", "a plateau `schedule` needs `monitor: train_loss`")],
    );
    check(
        &plateau(", monitor: val_loss"),
        &[("14:74", "`monitor: val_loss` needs a validation split")],
    );
    check(
        &plateau(", monitor: test_loss"),
        &[("14:74", "unknown plateau monitor `test_loss`")],
    );
    let with_val = plateau(", monitor: val_loss").replace(
        "  train: { lr: 0.01,",
        "  data: { val: { fraction: 0.2 } }\n  train: { lr: 0.01,",
    );
    let s = spec::parse_bytes(Path::new("t.yaml"), with_val.as_bytes()).unwrap();
    assert!(matches!(
        s.arms[1].resolved.train.schedule,
        spec::Schedule::Plateau {
            monitor: spec::Monitor::ValLoss,
            ..
        }
    ));
    // The quick variant is checked too: a `quick:` plateau on val_loss names its own line.
    let quick = GOOD.replace(
        "  train: { steps: 10 }",
        "  train: { steps: 10, schedule: { kind: plateau, monitor: val_loss } }",
    );
    check(
        &quick,
        &[("16:59", "`monitor: val_loss` needs a validation split")],
    );
}

#[test]
fn model_knobs_are_decoded_and_checked() {
    let text = GOOD.replace(
        "    model: { kind: rnn, cell: lstm, hidden: 8 }",
        "    model: { kind: rnn, cell: lstm, hidden: 8, layers: 2, dropout: 0.2, layer_norm: true, output_dropout: 0.1, forget_bias: 1 }",
    ).replace(
        "    model: { kind: linear }",
        "    model: { kind: resnet1d, channels: [64, 128, 128], activation: leaky_relu, negative_slope: 0.1 }",
    );
    let s = spec::parse_bytes(Path::new("t.yaml"), text.as_bytes()).unwrap();
    assert_eq!(
        s.arms[0].resolved.model,
        ModelSpec::Resnet1d {
            channels: vec![64, 128, 128],
            kernel: vec![8, 5, 3],
            activation: spec::Activation::LeakyRelu(0.1),
            dropout: 0.0,
            embedding_dim: None,
        }
    );
    assert!(matches!(
        s.arms[1].resolved.model,
        ModelSpec::Rnn {
            layers: 2,
            layer_norm: true,
            forget_bias: Some(1.0),
            ..
        }
    ));

    let bad = GOOD
        .replace("    model: { kind: rnn, cell: gru, hidden: 8 }", "")
        .replace(
            "    model: { kind: rnn, cell: lstm, hidden: 8 }",
            "    model: { kind: rnn, cell: gru, hidden: 8, dropout: 0.5, forget_bias: 1 }",
        )
        .replace(
            "    model: { kind: linear }",
            "    model: { kind: cnn1d, channels: [4], stride: 2, padding: same, activation: relu, negative_slope: 0.1 }",
        );
    check(
        &bad,
        &[
            ("10:62", "`padding: same` needs stride 1, found stride 2"),
            (
                "10:102",
                "`negative_slope` applies to `activation: leaky_relu` only",
            ),
            ("13:56", "`dropout` acts between stacked layers"),
            ("13:74", "`forget_bias` applies to `cell: lstm` only"),
        ],
    );
}

#[test]
fn adaptive_seeds_are_declared_and_checked() {
    let s = spec::parse_bytes(
        Path::new("t.yaml"),
        GOOD.replace(
            "seeds: { count: 3, base: 7 }",
            "seeds: { min: 3, max: 20, until: decisive, base: 7 }",
        )
        .as_bytes(),
    )
    .unwrap();
    assert_eq!(
        (s.seeds.count, s.seeds.max, s.seeds.limit()),
        (3, Some(20), 20)
    );
    assert_eq!(
        s.seeds(true).max,
        None,
        "quick's `count` turns adaptivity off"
    );
    check(
        &GOOD.replace(
            "seeds: { count: 3, base: 7 }",
            "seeds: { count: 3, max: 2, until: sometimes }",
        ),
        &[
            (
                "7:17",
                "adaptive seeds take `min`, `max` and `until: decisive`, not `count`",
            ),
            ("7:25", "`seeds.max` (2) is below `seeds.min` (3)"),
            ("7:35", "unknown `seeds.until` `sometimes`"),
        ],
    );
}

const SWEPT: &str = "\
id: swept
title: Sweeps
version: 1
dataset: mnist1d
defaults:
  train: { lr: 0.01, steps: 100, batch_size: 10, schedule: { kind: cosine, t_max: 32 } }
seeds: { count: 2, base: 3 }
sweep:
  train.schedule.t_max: [32, 64]
arms:
  - id: rnn
    model: { kind: rnn, cell: gru, hidden: 8 }
    sweep:
      model.cell: [gru, lstm]
      train.schedule.t_max: [16, 32, 64]
  - id: mlp
    model: { kind: mlp, hidden: [8] }
    tuning: { trials: 50 }
compare:
  - model.cell
  - [rnn, rnn]
";

#[test]
fn sweeps_expand_into_points_over_dotted_keys() {
    // `[rnn, rnn]` pairs every point with itself: refused, the rest is fine.
    check(SWEPT, &[("21:5", "compared with itself")]);
    let text = SWEPT.replace(
        "  - [rnn, rnn]\n",
        "  - [\"rnn@t_max=16,cell=gru\", \"mlp@t_max=32\"]\n",
    );
    let s = spec::parse_bytes(Path::new("t.yaml"), text.as_bytes()).unwrap();
    let ids: Vec<&str> = s.arms.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "rnn@t_max=16,cell=gru",
            "rnn@t_max=16,cell=lstm",
            "rnn@t_max=32,cell=gru",
            "rnn@t_max=32,cell=lstm",
            "rnn@t_max=64,cell=gru",
            "rnn@t_max=64,cell=lstm",
            "mlp@t_max=32",
            "mlp@t_max=64",
        ],
        "the arm's own axis replaces the spec's (in its place); the spec's applies to the \
         other arms; the first key varies slowest"
    );
    let lstm64 = &s.arms[5];
    assert_eq!(lstm64.base, "rnn");
    assert_eq!(lstm64.tuning_trials, 6);
    assert_eq!(lstm64.id, "rnn@t_max=64,cell=lstm");
    assert_eq!(lstm64.point[0].key, "train.schedule.t_max");
    assert_eq!(lstm64.point[0].number, Some(64.0));
    assert_eq!(lstm64.point[1].number, None);
    match &lstm64.resolved.model {
        ModelSpec::Rnn { cell, hidden, .. } => {
            assert_eq!(format!("{cell:?}"), "Lstm");
            assert_eq!(*hidden, 8, "the rest of the arm's model is kept");
        }
        m => panic!("{m:?}"),
    }
    assert_eq!(
        format!("{:?}", lstm64.resolved.train.schedule),
        format!("{:?}", s.arms[4].resolved.train.schedule),
        "nested key set inside the defaults' schedule"
    );
    assert!(format!("{:?}", lstm64.resolved.train.schedule).contains("t_max: 64"));
    assert_eq!(lstm64.resolved.train.lr, 0.01, "defaults still apply");
    assert_eq!(s.arms[6].tuning_trials, 50, "declared search effort");
    // Sweep points have distinct run configurations.
    let hashes: std::collections::HashSet<String> =
        s.arms.iter().map(|a| a.resolved.sha256()).collect();
    assert_eq!(hashes.len(), 8);
    // `model.cell` compares lstm with gru at each t_max; the pair names one point and an arm.
    let pairs: Vec<(&str, &str)> = s
        .compare
        .iter()
        .map(|c| (c.a.as_str(), c.b.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("rnn@t_max=16,cell=gru", "rnn@t_max=16,cell=lstm"),
            ("rnn@t_max=32,cell=gru", "rnn@t_max=32,cell=lstm"),
            ("rnn@t_max=64,cell=gru", "rnn@t_max=64,cell=lstm"),
            ("rnn@t_max=16,cell=gru", "mlp@t_max=32"),
        ]
    );
}

#[test]
fn bad_sweeps_and_comparisons_name_their_line() {
    let base = "\
id: bad
title: Bad sweeps
version: 1
dataset: mnist1d
defaults:
  train: { lr: 0.01, steps: 100 }
arms:
  - id: a
    model: { kind: mlp, hidden: [8] }
    sweep:
      modle.hidden: [[8], [16]]
      train.lr: []
      train.batch_size: [10, 10]
      model.hiden: [[4]]
  - id: b
    model: { kind: linear }
compare:
  - [a, c]
  - [a]
  - train.momentum
";
    check(
        base,
        &[
            (
                "11:7",
                "must start with one of `data`, `model`, `init`, `train` (did you mean `model`?)",
            ),
            ("12:17", "sweep `train.lr` has no values"),
            ("13:30", "lists 10 twice"),
            ("14:7", "unknown key `hiden`"),
            ("18:9", "unknown arm `c`"),
            ("19:5", "a comparison names two arms, found 1"),
            ("20:5", "no arm is swept over `train.momentum`"),
        ],
    );
}

#[test]
fn seeds_are_derived_per_index_or_per_arm() {
    let s = spec::parse_bytes(Path::new("t.yaml"), GOOD.as_bytes()).unwrap();
    assert_eq!(
        s.seeds.list("a"),
        s.seeds.list("b"),
        "index: shared, so arms pair"
    );
    let text = GOOD.replace(
        "seeds: { count: 3, base: 7 }",
        "seeds: { count: 3, base: 7, derive: arm }",
    );
    let s = spec::parse_bytes(Path::new("t.yaml"), text.as_bytes()).unwrap();
    let (a, b) = (s.seeds.list("a"), s.seeds.list("b"));
    assert_ne!(a, b, "arm: independent per arm");
    assert_eq!(a, s.seeds.list("a"), "stable");
    assert!(a.iter().all(|x| (0..1i64 << 31).contains(x)));
    assert_eq!(
        s.seeds(true).list("a"),
        a[..1].to_vec(),
        "quick inherits the derivation"
    );
    check(
        &GOOD.replace(
            "seeds: { count: 3, base: 7 }",
            "seeds: { count: 3, derive: hash }",
        ),
        &[("7:28", "`seeds.derive`")],
    );
}

/// Issue #13: Wang et al. 2017 and Fawaz et al. 2019 train their MLP with Keras's Adadelta and
/// reduce the rate when the training loss has not improved by Keras's absolute `min_delta`.
/// Both decode; keys of other optimizers are refused; a plateau at PyTorch's default threshold
/// hashes as before the keys existed (no threshold in the canonical arm).
#[test]
fn adadelta_and_an_absolute_plateau_threshold_decode() {
    let keras = GOOD.replace(
        "    train: { lr: 0.001 }",
        "    train: { optimizer: adadelta, lr: 1.0, rho: 0.95, eps: 1.0e-7,\n\
         \x20            schedule: { kind: plateau, monitor: train_loss, factor: 0.5, patience: 199, min_lr: 0.1, threshold: 1.0e-4, threshold_mode: abs } }",
    );
    let s = spec::parse_bytes(Path::new("t.yaml"), keras.as_bytes()).unwrap();
    let t = &s.arms[1].resolved.train;
    assert_eq!(
        t.optimizer,
        spec::Optimizer::Adadelta {
            rho: 0.95,
            eps: 1e-7
        }
    );
    assert_eq!(
        t.schedule,
        spec::Schedule::Plateau {
            factor: 0.5,
            patience: 199,
            min_lr: 0.1,
            monitor: spec::Monitor::TrainLoss,
            threshold: 1e-4,
            threshold_mode: spec::ThresholdMode::Abs,
        }
    );
    assert!(s.arms[1]
        .resolved
        .canonical_json()
        .contains("\"threshold_mode\":\"abs\""));

    let rel = GOOD.replace(
        "    train: { lr: 0.001 }",
        "    train: { lr: 0.001, schedule: { kind: plateau, monitor: train_loss } }",
    );
    let s = spec::parse_bytes(Path::new("t.yaml"), rel.as_bytes()).unwrap();
    let json = s.arms[1].resolved.canonical_json();
    assert!(json.contains("\"kind\":\"plateau\""), "{json}");
    assert!(!json.contains("threshold"), "{json}");

    check(
        &GOOD.replace(
            "    train: { lr: 0.001 }",
            "    train: { optimizer: adam, rho: 0.9, schedule: { kind: plateau, monitor: train_loss, threshold_mode: max } }",
        ),
        &[
            ("14:36", "`rho` does not apply to optimizer `adam`"),
            ("14:105", "unknown plateau threshold mode `max`"),
        ],
    );
}
