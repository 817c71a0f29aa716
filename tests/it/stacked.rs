//! Stacked seeds (`seeds: { stack: K }`, issue #15): K seeds of an MLP arm, or of a plain CNN
//! arm with oneDNN off (`numerics: portable`), trained as one batched model give each seed
//! exactly what its own separate run gives on CPU: every step's loss, the curve, the final
//! metrics and the weights' sha256.

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
    let stacked = train::train_stacked(arm, &data, &SEEDS, dev, |_, _| {}, |_, _, _| {}).unwrap();
    (separate, stacked)
}

/// Seed by seed, everything an outcome holds (`Debug`, so a NaN equals a NaN).
fn assert_same(separate: &[Outcome], stacked: &[Outcome]) {
    assert_eq!(stacked.len(), separate.len());
    for (i, (a, b)) in separate.iter().zip(stacked).enumerate() {
        assert_eq!(
            a.step_losses.len(),
            b.step_losses.len(),
            "seed {}",
            SEEDS[i]
        );
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
fn stacked_optimizers_schedules_and_clipping_equal_separate_runs() {
    let mut adamw = shuffled_mlp(120);
    adamw.train.optimizer = Optimizer::Adamw {
        beta1: 0.9,
        beta2: 0.99,
        eps: 1e-7,
        fused: false,
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

    // PyTorch's fused kernel over the [K, ...] variables: elementwise, so each copy's update
    // is its separate run's, whichever vector lane or tail an element falls in.
    let mut fused = adamw.clone();
    fused.train.optimizer = Optimizer::Adamw {
        beta1: 0.9,
        beta2: 0.99,
        eps: 1e-7,
        fused: true,
    };
    let (separate, stacked) = separate_and_stacked(&fused);
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

    // The optimizers implemented here, with L2 weight decay.
    for optimizer in [
        Optimizer::Radam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        },
        Optimizer::Adadelta {
            rho: 0.95,
            eps: 1e-6,
        },
    ] {
        let mut arm = shuffled_mlp(80);
        arm.train.optimizer = optimizer;
        arm.train.weight_decay = 1e-3;
        arm.train.lr = 0.5;
        let (separate, stacked) = separate_and_stacked(&arm);
        assert_same(&separate, &stacked);
    }
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
        [
            ("diverged", 15),
            ("diverged", 12),
            ("ok", 60),
            ("diverged", 13)
        ]
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

/// oneDNN off (as `numerics: portable` runs) while it lives, on again after.
struct PortableConvs;

impl PortableConvs {
    fn new() -> PortableConvs {
        repro::numerics::set_onednn(false);
        PortableConvs
    }
}

impl Drop for PortableConvs {
    fn drop(&mut self) {
        repro::numerics::set_onednn(true);
    }
}

fn shuffled_cnn(steps: i64) -> repro::spec::ResolvedArm {
    let mut arm = util::mnist1d_arm("cnn", steps, 40);
    arm.train.order = BatchOrder::Shuffle;
    arm
}

/// Each seed's outcome trained on its own, then stacked, with oneDNN off.
fn separate_and_stacked_portable(arm: &repro::spec::ResolvedArm) -> (Vec<Outcome>, Vec<Outcome>) {
    let _torch = util::torch_lock();
    let _portable = PortableConvs::new();
    let data = repro::data::load("mnist1d", &util::data_dir()).unwrap();
    let dev = tch::Device::Cpu;
    let separate = SEEDS
        .iter()
        .map(|&s| train::train(arm, &data, s, dev, |_| {}).unwrap())
        .collect();
    let stacked = train::train_stacked(arm, &data, &SEEDS, dev, |_, _| {}, |_, _, _| {}).unwrap();
    (separate, stacked)
}

#[test]
fn stacked_cnn_equals_separate_runs_seed_by_seed_with_onednn_off() {
    // MNIST-1D's paper CNN (3 convolutions, stride 2, padding 1, flatten head) under Adam.
    let arm = shuffled_cnn(160);
    let (separate, stacked) = separate_and_stacked_portable(&arm);
    assert_same(&separate, &stacked);
    let m = |o: &Outcome| o.metrics.unwrap().accuracy.unwrap();
    assert!(m(&stacked[0]) > 0.3, "it learns: {}", m(&stacked[0]));
    assert_ne!(
        stacked[0].step_losses, stacked[1].step_losses,
        "the seeds are trained apart"
    );

    // SGD with Nesterov momentum, weight decay and per-copy norm clipping, on `same` padding
    // at stride 1 with even kernels (asymmetric padding) and a cosine schedule.
    let mut sgd = shuffled_cnn(80);
    sgd.model = repro::spec::ModelSpec::Cnn1d {
        channels: vec![8, 12],
        kernel: vec![4, 3],
        stride: 1,
        padding: repro::spec::Padding::Same,
        activation: repro::spec::Activation::Relu,
        batch_norm: false,
        head: repro::spec::CnnHead::Flatten,
        dropout: 0.0,
        embedding_dim: None,
    };
    sgd.train.optimizer = Optimizer::Sgd {
        momentum: 0.9,
        nesterov: true,
    };
    sgd.train.weight_decay = 1e-3;
    sgd.train.lr = 0.05;
    sgd.train.clip_grad_norm = Some(0.5);
    sgd.train.schedule = Schedule::Cosine {
        t_max: 80,
        eta_min: 1e-4,
        warmup: 5,
        unit: ScheduleUnit::Steps,
    };
    let (separate, stacked) = separate_and_stacked_portable(&sgd);
    assert_same(&separate, &stacked);
}

#[test]
fn stacking_refuses_what_it_cannot_train_exactly() {
    let _torch = util::torch_lock();
    let data = repro::data::load("mnist1d", &util::data_dir()).unwrap();
    let dev = tch::Device::Cpu;
    let refusal = |arm: &repro::spec::ResolvedArm| {
        train::train_stacked(arm, &data, &SEEDS, dev, |_, _| {}, |_, _, _| {})
            .expect_err("refused")
            .to_string()
    };
    // oneDNN on (native numerics): grouped convolutions round otherwise.
    repro::numerics::set_onednn(true);
    let cnn = util::mnist1d_arm("cnn", 10, 10);
    let err = refusal(&cnn);
    assert!(
        err.contains(
            "mnist1d, arm `cnn`: stacked seeds cannot train a `cnn1d` with oneDNN on (native \
             numerics) bit for bit"
        ),
        "{err}"
    );
    // Grouped, the same arm trains: each seed's result is then its group's (the runner keys it
    // so). Two seeds, a few steps, oneDNN still on.
    let grouped =
        train::train_stacked_grouped(&cnn, &data, &SEEDS[..2], dev, |_, _| {}, |_, _, _| {})
            .expect("a grouped native cnn1d trains");
    assert_eq!(grouped.len(), 2);
    assert!(grouped.iter().all(|o| o.steps == 10 && o.metrics.is_some()));
    let with = |f: &dyn Fn(&mut repro::spec::ModelSpec)| {
        let mut arm = cnn.clone();
        f(&mut arm.model);
        arm
    };
    use repro::spec::ModelSpec::Cnn1d;
    for (arm, why) in [
        (
            with(&|m| {
                if let Cnn1d { batch_norm, .. } = m {
                    *batch_norm = true
                }
            }),
            "a `cnn1d` with `batch_norm` (its statistics would span the copies)",
        ),
        (
            with(&|m| {
                if let Cnn1d { dropout, .. } = m {
                    *dropout = 0.1
                }
            }),
            "dropout (each copy would need its own generator)",
        ),
        (
            with(&|m| {
                if let Cnn1d { head, .. } = m {
                    *head = repro::spec::CnnHead::Gap
                }
            }),
            "a `cnn1d` with `head: gap` (only `head: flatten` stacks)",
        ),
        (
            with(&|m| {
                if let Cnn1d { activation, .. } = m {
                    *activation = repro::spec::Activation::Gelu
                }
            }),
            "a `cnn1d` with an activation other than `relu`",
        ),
        (
            util::mnist1d_arm("gru", 10, 10),
            "`model.kind: rnn` (only `mlp`, `linear` and `cnn1d` stack: a stacked LSTM that \
             keeps each seed's bits is about 4x slower on the CPU than separate native runs",
        ),
    ] {
        let err = refusal(&arm);
        assert!(
            err.contains(&format!("stacked seeds cannot train {why}")),
            "{err}"
        );
    }
}

const STACK_SPEC: &str = "\
id: stack
title: Stacked seeds end to end
version: 1
dataset: mnist1d
numerics: portable
defaults:
  init: torch
  train: { optimizer: adam, lr: 1.0e-2, batch_size: 100, steps: 60, order: shuffle, eval_every: 20 }
seeds: { count: 3, base: 7STACK }
arms:
  - id: mlp
    model: { kind: mlp, hidden: [100, 100], residual: true }
  - id: logistic
    model: { kind: linear }
  - id: cnn
    model: { kind: cnn1d, channels: [25, 25, 25], kernel: [5, 3, 3], stride: 2, padding: 1, head: flatten }
";

/// `(path under the store, record.json)` of every run, and the journal's `start` lines.
fn stored(root: &std::path::Path, stack: &str) -> (Vec<(String, serde_json::Value)>, Vec<String>) {
    let spec = STACK_SPEC.replace("STACK", stack);
    std::fs::write(root.join("stack.yaml"), spec).unwrap();
    let store = root.join("store");
    let args = [
        "run",
        "stack.yaml",
        "--store",
        store.to_str().unwrap(),
        "--jobs",
        "2",
    ];
    let out = util::repro(root, &args, &[]);
    let (_, stderr) = util::text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let records = util::walk(&store, "record.json")
        .into_iter()
        .map(|p| {
            let mut r: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            // The spec file itself differs (its `stack`), and so do the time taken and the memory.
            for field in ["wall_time_s", "cpu_time_s", "peak_rss_mib", "spec_sha256"] {
                r.as_object_mut().unwrap().remove(field);
            }
            let rel = p
                .strip_prefix(&store)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (rel, r)
        })
        .collect();
    let journal = std::fs::read_to_string(store.join("journal.log")).unwrap();
    let starts = journal
        .lines()
        .filter(|l| l.starts_with("start "))
        .map(String::from)
        .collect();
    (records, starts)
}

#[test]
fn a_stacked_spec_stores_the_records_of_separate_runs_under_the_same_keys() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (separate, separate_starts) = stored(a.path(), "");
    let (stacked, stacked_starts) = stored(b.path(), ", stack: 3");
    assert_eq!(separate.len(), 9);
    // Same keys (directories), and every field of every record but the wall time.
    let paths =
        |r: &[(String, serde_json::Value)]| r.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
    assert_eq!(paths(&separate), paths(&stacked));
    for ((path, a), (_, b)) in separate.iter().zip(&stacked) {
        assert!(a == b, "{path}: separate {a}\nstacked {b}");
    }
    let pids = |starts: &[String]| {
        let mut p: Vec<String> = starts
            .iter()
            .map(|l| l.rsplit(' ').next().unwrap().to_string())
            .collect();
        p.sort();
        p.dedup();
        p.len()
    };
    assert_eq!(pids(&separate_starts), 9, "{separate_starts:?}");
    assert_eq!(
        pids(&stacked_starts),
        3,
        "one worker per arm: {stacked_starts:?}"
    );
}

#[test]
fn a_stack_over_an_arm_that_cannot_stack_is_refused_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let spec = STACK_SPEC.replace("STACK", ", stack: 2")
        + "  - id: fcn\n    model: { kind: cnn1d, channels: [8], kernel: 3, batch_norm: true }\n";
    std::fs::write(dir.path().join("stack.yaml"), spec).unwrap();
    let out = util::repro(dir.path(), &["validate", "stack.yaml"], &[]);
    let (_, stderr) = util::text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "stack.yaml:9:36: `seeds.stack: 2` cannot stack arm `fcn`: stacked seeds cannot \
             train a `cnn1d` with `batch_norm` (its statistics would span the copies)"
        ),
        "{stderr}"
    );
}

/// `config.json` of every run under `store`: `(arm, seed, stack_group, key)`, sorted.
fn configs(store: &std::path::Path) -> Vec<(String, i64, Option<Vec<i64>>, String)> {
    let mut out: Vec<_> = util::walk(store, "config.json")
        .into_iter()
        .map(|p| {
            let c: repro::record::RunConfig =
                serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            (c.arm.arm_id, c.seed, c.stack_group, c.key)
        })
        .collect();
    out.sort();
    out
}

/// A `cnn1d` stacked with oneDNN's convolutions (native numerics) rounds otherwise than its
/// separate runs, so the runner keys each of its runs by its group (`stack_group`), as it does
/// every stacked run on a GPU: tested here, on the CPU, where it can be.
#[test]
fn a_native_stacked_cnn_is_keyed_by_its_group_and_trained_whole() {
    let dir = tempfile::tempdir().unwrap();
    let native = STACK_SPEC.replace("numerics: portable", "numerics: native");
    let run = |name: &str, text: &str, store: &str, extra: &[&str]| {
        std::fs::write(dir.path().join(name), text).unwrap();
        let mut args = vec!["run", name, "--store", store, "--jobs", "2"];
        args.extend(extra);
        let out = util::repro(dir.path(), &args, &[]);
        let (stdout, stderr) = util::text(&out);
        (out.status.code(), format!("{stdout}{stderr}"))
    };
    // The spec with `stack: 2`, into store `store`.
    let stacked_run = |store: &str, extra: &[&str]| {
        run(
            "stacked.yaml",
            &native.replace("STACK", ", stack: 2"),
            store,
            extra,
        )
    };
    let (code, out) = run("alone.yaml", &native.replace("STACK", ""), "alone", &[]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = stacked_run("stacked", &[]);
    assert_eq!(code, Some(0), "{out}");
    let (alone, stacked) = (
        configs(&dir.path().join("alone")),
        configs(&dir.path().join("stacked")),
    );
    assert_eq!((alone.len(), stacked.len()), (9, 9));
    for ((arm, seed, group, key), (_, _, _, alone_key)) in stacked.iter().zip(&alone) {
        if arm == "cnn" {
            // Seeds 7, 8, 9 in groups of 2 by index: [7, 8] and [9, 10] (10 is trained with 9
            // and not kept: the count stops inside its group).
            let want = if *seed == 9 { vec![9, 10] } else { vec![7, 8] };
            assert_eq!(group.as_deref(), Some(want.as_slice()), "cnn seed {seed}");
            assert_ne!(key, alone_key, "cnn seed {seed}: the group is in the key");
        } else {
            // An MLP and a linear model stack bit for bit: no group, the keys of separate runs.
            assert_eq!(group, &None, "{arm} seed {seed}");
            assert_eq!(key, alone_key, "{arm} seed {seed}");
        }
    }

    // The premise, on this machine: the group of two computes other bits than the seeds alone
    // (oneDNN's grouped convolution), so a key without the group would mix two computations.
    let weights = |store: &str, seed: i64| {
        util::walk(&dir.path().join(store), "record.json")
            .into_iter()
            .map(|p| {
                serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(p).unwrap())
                    .unwrap()
            })
            .find(|r| r["arm_id"] == "cnn" && r["seed"] == seed)
            .unwrap()["weights_sha256"]
            .clone()
    };
    assert!(
        [7, 8]
            .iter()
            .any(|&s| weights("alone", s) != weights("stacked", s)),
        "the stacked native cnn1d gave its seeds their separate runs' bits"
    );

    // Slurm array tasks train one run each: refused for keyed groups, nothing submitted.
    let (code, out) = stacked_run("slurm", &["--executor", "slurm"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("arm `cnn`: its stacked seeds are keyed by their group"),
        "{out}"
    );

    // A run of each group lost: each group's worker trains the whole group again (seeds 8 and
    // 9 pending side by side are not one group), writes only the lost run, and gets its bits
    // back.
    let store = dir.path().join("stacked");
    let record = |seed: i64| -> (std::path::PathBuf, serde_json::Value) {
        let p = util::walk(&store, "record.json")
            .into_iter()
            .find(|p| {
                let r: serde_json::Value =
                    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
                r["arm_id"] == "cnn" && r["seed"] == seed
            })
            .unwrap();
        let r = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        (p, r)
    };
    let (path8, before8) = record(8);
    let (path9, before9) = record(9);
    let (_, before7) = record(7);
    std::fs::remove_dir_all(path8.parent().unwrap()).unwrap();
    std::fs::remove_dir_all(path9.parent().unwrap()).unwrap();
    let (code, out) = stacked_run("stacked", &[]);
    assert_eq!(code, Some(0), "{out}");
    for (seed, before) in [(8, &before8), (9, &before9)] {
        let (_, after) = record(seed);
        assert_eq!(
            after["weights_sha256"], before["weights_sha256"],
            "seed {seed}"
        );
        assert_eq!(after["metrics"], before["metrics"], "seed {seed}");
    }
    assert_eq!(
        record(7).1,
        before7,
        "the run that was done is left as it was"
    );
    let journal = std::fs::read_to_string(store.join("journal.log")).unwrap();
    assert_eq!(
        journal.lines().filter(|l| l.starts_with("start ")).count(),
        11
    );

    // --verify-determinism trains the cnn's first group twice.
    let (code, out) = stacked_run("verify", &["--verify-determinism"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("differ"), "{out}");

    // Raising the count keeps every key: seed 10 joins the group [9, 10] it was always in, and
    // only its run is trained (its worker trains the group, writes seed 10).
    let (_, before9) = record(9);
    let (code, out) = run(
        "stacked.yaml",
        &native.replace("count: 3, base: 7STACK", "count: 4, base: 7, stack: 2"),
        "stacked",
        &[],
    );
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(record(9).1, before9, "seed 9 kept its key and its record");
    let journal = std::fs::read_to_string(store.join("journal.log")).unwrap();
    assert_eq!(
        journal.lines().filter(|l| l.starts_with("start ")).count(),
        14,
        "the 3 new runs (seed 10 of mlp, logistic and cnn), nothing else: {journal}"
    );
    let cnn: Vec<_> = configs(&store)
        .into_iter()
        .filter(|c| c.0 == "cnn")
        .map(|c| (c.1, c.2.unwrap()))
        .collect();
    assert_eq!(
        cnn,
        [
            (7, vec![7, 8]),
            (8, vec![7, 8]),
            (9, vec![9, 10]),
            (10, vec![9, 10])
        ]
    );
}
