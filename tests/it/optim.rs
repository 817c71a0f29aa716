//! Optimizers, schedules and clipping against PyTorch: `scripts/gen_golden_optim.py` ran 30
//! steps of every optimizer × schedule on a fixed least-squares problem; repro's
//! `train::optim` and `train::schedule` must end at the same parameters to 1e-5.
//!
//! ```python
//! opt = torch.optim.Adadelta([w, b], lr=1.0, rho=0.95, eps=1e-7, weight_decay=0.01, foreach=False)
//! sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1,
//!                                                    threshold=0.02, threshold_mode="abs", min_lr=0.01)
//! opt = torch.optim.RAdam([w, b], lr=0.05, weight_decay=0.01, foreach=False)
//! sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10, eta_min=0.001)
//! for _ in range(30): loss = ((x @ w.T + b - y) ** 2).mean(); ...; opt.step(); sched.step()
//! ```

use serde::Deserialize;
use tch::{nn, Tensor};

use repro::spec::{Optimizer, Schedule, ScheduleUnit};
use repro::train::{optim::Optim, schedule};

use super::util;

#[derive(Deserialize)]
struct Golden {
    steps: i64,
    problem: Problem,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Problem {
    w: Vec<f32>,
    b: Vec<f32>,
    x: Vec<f32>,
    y: Vec<f32>,
}

#[derive(Deserialize)]
struct Case {
    /// The starting learning rate (Adadelta at Keras's 1.0, the others at the generator's LR).
    lr: f64,
    optimizer: String,
    schedule: String,
    clip: Option<(String, f64)>,
    lrs: Vec<f64>,
    w: Vec<f32>,
    b: Vec<f32>,
}

fn optimizer(name: &str) -> (Optimizer, f64) {
    let adam = (0.9, 0.999, 1e-8);
    match name {
        "adam" | "adam_fused" => (
            Optimizer::Adam {
                beta1: adam.0,
                beta2: adam.1,
                eps: adam.2,
                fused: name == "adam_fused",
            },
            0.01,
        ),
        "adamw" | "adamw_fused" => (
            Optimizer::Adamw {
                beta1: adam.0,
                beta2: adam.1,
                eps: adam.2,
                fused: name == "adamw_fused",
            },
            0.01,
        ),
        "radam" => (
            Optimizer::Radam {
                beta1: adam.0,
                beta2: adam.1,
                eps: adam.2,
            },
            0.01,
        ),
        "radam_nowd" => (
            Optimizer::Radam {
                beta1: adam.0,
                beta2: adam.1,
                eps: adam.2,
            },
            0.0,
        ),
        "sgd" => (
            Optimizer::Sgd {
                momentum: 0.9,
                nesterov: false,
            },
            0.01,
        ),
        "sgd_nesterov" => (
            Optimizer::Sgd {
                momentum: 0.9,
                nesterov: true,
            },
            0.01,
        ),
        "adadelta" => (
            Optimizer::Adadelta {
                rho: 0.95,
                eps: 1e-7,
            },
            0.01,
        ),
        other => panic!("unknown optimizer {other}"),
    }
}

fn schedule_of(name: &str) -> Schedule {
    match name {
        "constant" => Schedule::Constant,
        "cosine" => Schedule::Cosine {
            t_max: 10,
            eta_min: 0.001,
            warmup: 0,
            unit: ScheduleUnit::Steps,
        },
        "step" => Schedule::Step {
            step_size: 7,
            gamma: 0.5,
            unit: ScheduleUnit::Steps,
        },
        "plateau" => Schedule::Plateau {
            factor: 0.5,
            patience: 2,
            min_lr: 0.0,
            monitor: repro::spec::Monitor::TrainLoss,
            threshold: repro::spec::PLATEAU_THRESHOLD,
            threshold_mode: repro::spec::ThresholdMode::Rel,
        },
        "plateau_abs" => Schedule::Plateau {
            factor: 0.5,
            patience: 1,
            min_lr: 0.01,
            monitor: repro::spec::Monitor::TrainLoss,
            threshold: 0.02,
            threshold_mode: repro::spec::ThresholdMode::Abs,
        },
        other => panic!("unknown schedule {other}"),
    }
}

fn close(got: &Tensor, want: &[f32], what: &str) {
    let got = Vec::<f32>::try_from(got.flatten(0, -1)).unwrap();
    assert!(!want.is_empty(), "{what}: empty golden");
    assert_eq!(got.len(), want.len(), "{what}: element count");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-5 * w.abs().max(1.0),
            "{what}[{i}]: {g} vs PyTorch {w}"
        );
    }
}

#[test]
fn optimizers_and_schedules_match_pytorch() {
    let golden: Golden = serde_json::from_str(
        &std::fs::read_to_string(util::root().join("tests/golden/optim_pytorch.json")).unwrap(),
    )
    .unwrap();
    let _torch = util::torch_lock();
    let p = &golden.problem;
    let x = Tensor::from_slice(&p.x).view([16, 3]);
    let y = Tensor::from_slice(&p.y).view([16, 4]);
    assert_eq!(golden.cases.len(), 51);
    let mut fused_bits = 0;
    for case in &golden.cases {
        let what = format!(
            "{} / {} / clip {:?}",
            case.optimizer, case.schedule, case.clip
        );
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let w = vs
            .root()
            .var_copy("w", &Tensor::from_slice(&p.w).view([4, 3]));
        let b = vs.root().var_copy("b", &Tensor::from_slice(&p.b));
        let (spec, wd) = optimizer(&case.optimizer);
        let sched = schedule_of(&case.schedule);
        let mut opt = Optim::new(&spec, wd, case.lr, &vs).unwrap();
        let mut plateau = schedule::Plateau::of(&sched, case.lr);
        for step in 0..golden.steps {
            let lr = match &plateau {
                Some(p) => p.lr,
                None => schedule::lr_at(&sched, case.lr, step, 1),
            };
            let want_lr = case.lrs[step as usize];
            assert!(
                (lr - want_lr).abs() <= 1e-12 + 1e-9 * want_lr,
                "{what} step {step}: lr {lr} vs {want_lr}"
            );
            opt.set_lr(lr);
            let loss = (x.matmul(&w.tr()) + &b - &y)
                .square()
                .mean(tch::Kind::Float);
            opt.zero_grad();
            loss.backward();
            match &case.clip {
                Some((kind, max)) if kind == "norm" => opt.clip_grad_norm(*max),
                Some((_, max)) => opt.clip_grad_value(*max),
                None => {}
            }
            opt.step();
            if let Some(p) = plateau.as_mut() {
                p.observe(loss.double_value(&[]));
            }
        }
        close(&w, &case.w, &format!("{what}: w"));
        close(&b, &case.b, &format!("{what}: b"));
        // The fused step is PyTorch's own kernel: the same bits, wherever the learning rates
        // are the same bits too (the cosine and plateau schedules' differ by an ulp or so).
        if case.optimizer.ends_with("_fused")
            && ["constant", "step"].contains(&case.schedule.as_str())
        {
            fused_bits += 1;
            identical(&w, &case.w, &format!("{what}: w"));
            identical(&b, &case.b, &format!("{what}: b"));
        }
    }
    assert_eq!(fused_bits, 6, "fused cases compared bit for bit");
}

fn identical(got: &Tensor, want: &[f32], what: &str) {
    let got = Vec::<f32>::try_from(got.flatten(0, -1)).unwrap();
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(
        bits(&got),
        bits(want),
        "{what}: not PyTorch's bits ({got:?} vs {want:?})"
    );
}
