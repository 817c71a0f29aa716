//! Learning-rate schedules, as closed forms of PyTorch's schedulers (checked against them in
//! `tests/it/optim.rs`), plus the stateful reduce-on-plateau.

use crate::spec::{Schedule, ScheduleUnit, ThresholdMode};

/// The learning rate for optimizer step `step` (0-based) under a non-plateau `schedule`.
pub fn lr_at(schedule: &Schedule, base: f64, step: i64, steps_per_epoch: i64) -> f64 {
    let t = |unit: ScheduleUnit| match unit {
        ScheduleUnit::Steps => step,
        ScheduleUnit::Epochs => step / steps_per_epoch.max(1),
    };
    match *schedule {
        Schedule::Constant | Schedule::Plateau { .. } => base,
        Schedule::Cosine {
            t_max,
            eta_min,
            warmup,
            unit,
        } => {
            let t = t(unit);
            if t < warmup {
                base * (t + 1) as f64 / (warmup + 1) as f64
            } else {
                let t = (t - warmup) as f64;
                eta_min
                    + (base - eta_min) * (1.0 + (std::f64::consts::PI * t / t_max as f64).cos())
                        / 2.0
            }
        }
        Schedule::Step {
            step_size,
            gamma,
            unit,
        } => base * gamma.powi((t(unit) / step_size) as i32),
    }
}

/// ReduceLROnPlateau (mode min, no cooldown), relative or absolute threshold.
#[derive(Debug, Clone)]
pub struct Plateau {
    factor: f64,
    patience: i64,
    min_lr: f64,
    threshold: f64,
    mode: ThresholdMode,
    best: f64,
    bad: i64,
    pub lr: f64,
}

impl Plateau {
    /// The plateau of `schedule` starting at `lr`; `None` for other schedules.
    pub fn of(schedule: &Schedule, lr: f64) -> Option<Plateau> {
        match *schedule {
            Schedule::Plateau {
                factor,
                patience,
                min_lr,
                threshold,
                threshold_mode,
                ..
            } => Some(Plateau {
                factor,
                patience,
                min_lr,
                threshold,
                mode: threshold_mode,
                best: f64::INFINITY,
                bad: 0,
                lr,
            }),
            _ => None,
        }
    }

    /// Feeds one eval loss; returns the (possibly reduced) learning rate.
    pub fn observe(&mut self, loss: f64) -> f64 {
        let bar = match self.mode {
            ThresholdMode::Rel => self.best * (1.0 - self.threshold),
            ThresholdMode::Abs => self.best - self.threshold,
        };
        if loss < bar {
            self.best = loss;
            self.bad = 0;
        } else {
            self.bad += 1;
        }
        if self.bad > self.patience {
            let reduced = (self.lr * self.factor).max(self.min_lr);
            // PyTorch skips reductions smaller than eps = 1e-8.
            if self.lr - reduced > 1e-8 {
                self.lr = reduced;
            }
            self.bad = 0;
        }
        self.lr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_then_cosine() {
        let s = Schedule::Cosine {
            t_max: 10,
            eta_min: 0.0,
            warmup: 4,
            unit: ScheduleUnit::Steps,
        };
        let lrs: Vec<f64> = (0..16).map(|t| lr_at(&s, 1.0, t, 1)).collect();
        assert_eq!(&lrs[..4], &[0.2, 0.4, 0.6, 0.8]);
        assert_eq!(lrs[4], 1.0);
        assert!((lrs[9] - 0.5).abs() < 1e-12);
        assert!(lrs[14].abs() < 1e-12);
    }

    #[test]
    fn epochs_hold_the_rate_within_an_epoch() {
        let s = Schedule::Step {
            step_size: 2,
            gamma: 0.5,
            unit: ScheduleUnit::Epochs,
        };
        let lrs: Vec<f64> = (0..12).map(|t| lr_at(&s, 1.0, t, 3)).collect();
        assert_eq!(
            lrs,
            vec![1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
        );
    }
}
