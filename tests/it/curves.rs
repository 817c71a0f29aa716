//! Issue #14: the curve diagnosis on synthetic curves (one per outcome, and the borderline
//! cases of each threshold), and on the kept MNIST-1D GRU runs (overfitting from about step
//! 1000: test loss rising while train loss goes to 0).

use repro::audit::curves::{self, diagnose, Curve, Diagnosis};
use repro::train::CurvePoint;

const LN10: f64 = std::f64::consts::LN_10;

/// 25 points every 250 steps, like the MNIST-1D runs.
fn points(train: impl Fn(usize) -> f64, eval: impl Fn(usize) -> f64) -> Vec<CurvePoint> {
    (0..25)
        .map(|k| CurvePoint {
            step: 250 * (k as i64 + 1),
            train_loss: train(k),
            eval_loss: eval(k),
            eval_accuracy: 0.0,
            lr: 0.01,
        })
        .collect()
}

fn of(points: &[CurvePoint]) -> Diagnosis {
    diagnose(&Curve {
        points,
        chance_loss: Some(LN10),
        diverged: false,
    })
}

fn falling(k: usize) -> f64 {
    2.0 * (-(k as f64) / 5.0).exp() + 0.05
}

#[test]
fn a_steadily_falling_curve_is_healthy() {
    let p = points(falling, |k| falling(k) + 0.1);
    assert_eq!(of(&p), Diagnosis::Healthy);
}

#[test]
fn a_flat_training_loss_near_ln_c_is_not_decreasing() {
    let p = points(|k| 2.3 - 0.001 * k as f64, |_| 2.31);
    assert_eq!(of(&p), Diagnosis::NotDecreasing);
    // Borderline: ending at 0.91 × ln C is not decreasing, at 0.85 × ln C it is learning.
    let end_at = |f: f64| points(move |k| LN10 - (1.0 - f) * LN10 * k as f64 / 24.0, |_| 2.31);
    assert_eq!(of(&end_at(0.91)), Diagnosis::NotDecreasing);
    assert_eq!(of(&end_at(0.85)), Diagnosis::Healthy);
}

/// A flat curve that wobbles (labels misaligned: the loss never leaves ln C) is not
/// decreasing, whichever way its last point falls, never "diverging".
#[test]
fn a_flat_curve_that_wobbles_is_not_decreasing_not_diverging() {
    let wobble = [2.303, 2.302, 2.304, 2.303, 2.305, 2.304];
    let p = points(|k| wobble[k % wobble.len()], |_| 2.31);
    assert_eq!(of(&p), Diagnosis::NotDecreasing);
    let p = points(|k| 2.30 + 0.0005 * k as f64, |_| 2.31);
    assert_eq!(
        of(&p),
        Diagnosis::NotDecreasing,
        "a slow drift up stays within a tenth of ln C"
    );
    let p = points(|k| 2.30 + 0.02 * k as f64, |_| 2.31);
    assert_eq!(
        of(&p),
        Diagnosis::Diverging,
        "ending 0.48 above the start is material"
    );
}

#[test]
fn a_first_window_already_learned_is_not_read_as_flat() {
    // Logistic regression on MNIST-1D: 1.75 after the first window, 1.61 at the end; ln 10 is
    // the reference, so it decreased.
    let p = points(|k| if k == 0 { 1.75 } else { 1.61 }, |_| 1.67);
    assert_eq!(of(&p), Diagnosis::Healthy);
    let without_chance = diagnose(&Curve {
        points: &p,
        chance_loss: None,
        diverged: false,
    });
    assert_eq!(
        without_chance,
        Diagnosis::NotDecreasing,
        "the first point alone"
    );
}

#[test]
fn a_training_loss_that_climbs_back_is_diverging() {
    let p = points(
        |k| {
            if k < 10 {
                2.3 - 0.18 * k as f64
            } else {
                0.5 + 0.2 * (k - 10) as f64
            }
        },
        |_| 1.0,
    );
    assert_eq!(of(&p), Diagnosis::Diverging);
    // Borderline: climbing back 40% of the drop is not diverging, 60% is.
    let back = |f: f64| {
        points(
            move |k| {
                if k < 12 {
                    2.3 - 2.0 * k as f64 / 11.0
                } else {
                    0.3 + f * 2.0 * (k - 12) as f64 / 12.0
                }
            },
            |_| 1.0,
        )
    };
    assert_ne!(of(&back(0.4)), Diagnosis::Diverging);
    assert_eq!(of(&back(0.6)), Diagnosis::Diverging);
    let p = points(falling, |_| 1.0);
    let stopped = diagnose(&Curve {
        points: &p,
        chance_loss: Some(LN10),
        diverged: true,
    });
    assert_eq!(stopped, Diagnosis::Diverging, "a run stopped on a NaN loss");
    let mut nan = points(falling, |_| 1.0);
    nan[20].eval_loss = f64::NAN;
    assert_eq!(of(&nan), Diagnosis::Diverging);
}

#[test]
fn eval_loss_rising_while_train_loss_falls_is_overfitting_from_its_minimum() {
    // Eval loss falls to 0.4 at step 1000 (k = 3), then rises by 0.02 per point.
    let eval = |rise: f64| {
        move |k: usize| {
            if k <= 3 {
                1.0 - 0.2 * k as f64
            } else {
                0.4 + rise * (k - 3) as f64 / 21.0
            }
        }
    };
    let p = points(falling, eval(0.5));
    assert_eq!(of(&p), Diagnosis::Overfitting { from_step: 1000 });
    // Borderline: a rise of 0.04 (under both 10% of 0.4 and 0.05) is not overfitting; 0.06 is.
    assert_eq!(of(&points(falling, eval(0.04))), Diagnosis::Healthy);
    assert_eq!(
        of(&points(falling, eval(0.06))),
        Diagnosis::Overfitting { from_step: 1000 }
    );
    // Eval loss still falling at the end: its minimum is the last point.
    assert_eq!(
        of(&points(falling, |k| 1.0 - 0.03 * k as f64)),
        Diagnosis::Healthy
    );
    // One spike does not make a rise: the running median removes it.
    let spike = points(
        falling,
        |k| if k == 20 { 3.0 } else { 1.0 - 0.03 * k as f64 },
    );
    assert_eq!(of(&spike), Diagnosis::Healthy);
}

#[test]
fn a_training_loss_jumping_around_its_trend_is_too_noisy() {
    let noisy = |a: f64| {
        points(
            move |k| 2.0 - k as f64 / 24.0 + a * [1.0, -1.0, 0.0][k % 3],
            |k| 2.2 - 0.02 * k as f64,
        )
    };
    assert_eq!(of(&noisy(0.4)), Diagnosis::TooNoisy);
    assert_eq!(of(&noisy(0.05)), Diagnosis::Healthy);
}

#[test]
fn three_points_are_too_short_to_tell() {
    let p = points(falling, falling);
    assert_eq!(of(&p[..3]), Diagnosis::TooShort);
    assert_eq!(of(&p[..4]), Diagnosis::Healthy);
}

#[test]
fn an_arm_reports_its_most_common_diagnosis_with_the_median_step() {
    let o = |s| Diagnosis::Overfitting { from_step: s };
    let s = curves::summarize(&[o(750), o(1000), o(1000), o(1500), o(1250)]).unwrap();
    assert_eq!(s.diagnosis, o(1000));
    assert_eq!(s.text(), "overfitting from step ~1000 in 5/5 seeds");
    assert!(
        s.text_with_advice().contains("early-stop"),
        "{}",
        s.text_with_advice()
    );
    let s = curves::summarize(&[Diagnosis::Healthy, o(500), Diagnosis::Healthy]).unwrap();
    assert_eq!(s.text(), "healthy in 2/3 seeds");
    assert_eq!(
        s.counts,
        vec![("overfitting".to_string(), 1), ("healthy".to_string(), 2)]
    );
    assert!(curves::summarize(&[]).is_none());
}

fn kept_gru_records() -> Vec<repro::record::Record> {
    let dir = crate::util::root().join("tests/fixtures/mnist1d-gru-records");
    (42..47)
        .map(|seed| {
            let text = std::fs::read_to_string(dir.join(format!("seed{seed}.json"))).unwrap();
            serde_json::from_str(&text).unwrap()
        })
        .collect()
}

/// The kept MNIST-1D GRU runs (records written before the diagnosis existed, so it is
/// computed from their curves): test loss bottoms out around step 1000 and rises while the
/// training loss goes to 0.
#[test]
fn kept_mnist1d_gru_runs_overfit_from_about_step_1000() {
    let records = kept_gru_records();
    let each: Vec<Diagnosis> = records.iter().map(|r| r.diagnosis()).collect();
    assert!(records.iter().all(|r| r.curve_diagnosis.is_none()));
    assert_eq!(
        each,
        [750, 1000, 1000, 1500, 1250].map(|s| Diagnosis::Overfitting { from_step: s })
    );
    let s = curves::summarize(&each).unwrap();
    assert_eq!(s.text(), "overfitting from step ~1000 in 5/5 seeds");
}

/// The report shows it next to the arm: the terminal table, Markdown, HTML and JSON.
#[test]
fn every_report_shows_the_arms_curve_diagnosis() {
    let spec = repro::spec::load(&crate::util::root().join("papers/mnist1d.yaml")).unwrap();
    let records = kept_gru_records();
    let slots: Vec<(String, Option<&repro::record::Record>)> = records
        .iter()
        .map(|r| ("gru".to_string(), Some(r)))
        .collect();
    let results = repro::audit::arm_results(&spec, &slots, false);
    let gru = results.iter().find(|r| r.arm_id == "gru").unwrap();
    let line = "overfitting from step ~1000 in 5/5 seeds: early-stop near the eval-loss minimum";
    assert!(gru
        .curves
        .as_ref()
        .unwrap()
        .text_with_advice()
        .starts_with(line));
    assert!(results
        .iter()
        .filter(|r| r.arm_id != "gru")
        .all(|r| r.curves.is_none()));
    let table = repro::report::claims_table(&spec, &results, false);
    assert!(table.contains(&format!("gru: {line}")), "{table}");
    let md = repro::report::claims_markdown(&spec, &results, &[], &[], &[], &[], &[], false, &[]);
    assert!(md.contains(&format!("- `gru`: {line}")), "{md}");
    let html =
        repro::report::html::page(&spec, &results, &[], &[], &[], &[], &[], &slots, false, &[]);
    assert!(html.contains(&format!("<li><b>gru</b>: {line}")), "{html}");
    let json = serde_json::to_value(gru).unwrap();
    assert_eq!(json["curves"]["diagnosis"]["shape"], "overfitting");
    assert_eq!(json["curves"]["diagnosis"]["from_step"], 1000);
    assert_eq!(json["curves"]["seeds"], 5);
}

/// A run whose embeddings collapsed is diagnosed `collapsed`, whatever its stored curve
/// diagnosis says: the batch-hard triplet runs on MNIST-1D collapsed in 5/5 seeds with flat
/// loss curves, which read as "not decreasing: check the labels", the wrong advice.
#[test]
fn a_collapsed_run_is_diagnosed_collapsed_not_by_its_flat_curve() {
    let mut records = kept_gru_records();
    for r in &mut records[..3] {
        r.status = repro::train::Status::Collapsed {
            reason: "every test embedding within 1e-6 of the others".into(),
        };
        r.curve_diagnosis = Some(Diagnosis::NotDecreasing);
    }
    let each: Vec<Diagnosis> = records.iter().map(|r| r.diagnosis()).collect();
    assert_eq!(&each[..3], &[Diagnosis::Collapsed; 3]);
    assert_eq!(
        &each[3..],
        &[1500, 1250].map(|s| Diagnosis::Overfitting { from_step: s })
    );
    let s = curves::summarize(&each).unwrap();
    assert_eq!(s.text(), "collapsed in 3/5 seeds");
    assert!(
        s.text_with_advice().contains("mining: semihard"),
        "{}",
        s.text_with_advice()
    );
    assert_eq!(
        s.counts,
        vec![("collapsed".to_string(), 3), ("overfitting".to_string(), 2)]
    );
    let json = serde_json::to_value(s.diagnosis).unwrap();
    assert_eq!(json["shape"], "collapsed");
}
