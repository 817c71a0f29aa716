//! `repro run --verify-determinism`: each arm's first seed trained twice in this process,
//! compared loss by loss and by the final weights' digest (an arm whose seeds are keyed in
//! stacked groups: its first group, stacked, twice).

use crate::data;
use crate::numerics::{self, Mode};
use crate::provenance;

use super::{Event, Observer, Session, SessionError};

/// How one arm's two runs compared.
pub struct ArmDeterminism {
    pub spec_id: String,
    pub arm_id: String,
    pub seed: i64,
    pub steps: i64,
    pub weights_sha256: String,
    pub outcome: Agreement,
}

pub enum Agreement {
    Identical,
    /// Every step's loss agrees, but the final weights (or the step counts) differ.
    WeightsDiffer,
    /// The first step (1-based) whose loss differs, and the two losses.
    LossDiffers {
        step: usize,
        a: f64,
        b: f64,
    },
}

impl Session {
    /// Trains the first seed of every arm twice with the workers' settings (the arm's threads,
    /// deterministic algorithms on); a failure counts the arms whose runs differ.
    pub fn verify_determinism(&self, obs: &dyn Observer) -> Result<(), SessionError> {
        // One process computes every comparison: its kernels are pinned once, before the first
        // tensor, so every spec must ask for the same numerics mode.
        let modes: Vec<Mode> = self
            .specs
            .iter()
            .map(|s| {
                if self.portable {
                    Mode::Portable
                } else {
                    s.numerics
                }
            })
            .collect();
        let mode = modes.first().copied().unwrap_or_default();
        {
            if modes.iter().any(|&m| m != mode) {
                return Err(SessionError::Train(
                    "--verify-determinism: these specs ask for different `numerics:` modes; \
                     verify the native and the portable ones separately"
                        .into(),
                ));
            }
            numerics::pin(mode);
        }
        let device = self.device.resolve(0)?;
        let mut differing = 0;
        for spec in &self.specs {
            let mut loaded = data::DatasetCache::default();
            for arm in &spec.arms {
                if arm
                    .requires
                    .as_ref()
                    .is_some_and(|r| !r.met_by(self.device))
                {
                    continue;
                }
                let resolved = arm.resolved(self.quick);
                let data = loaded.get(
                    &resolved.dataset,
                    spec.user_dataset(&resolved.dataset),
                    &self.data_dir,
                )?;
                let threads = resolved.train.threads as i32;
                let flags = provenance::configure(threads, true);
                obs.event(Event::DeterminismSetup {
                    flags,
                    threads,
                    device,
                    numerics: numerics::observe(mode, self.device, 0),
                });
                let seeds = spec.seeds(self.quick);
                let seed = seeds.seed(&arm.base, 0);
                // An arm keyed in stacked groups is trained as its first group, twice: its
                // seeds' results are that computation's (the first seed's is compared).
                let stack = seeds.stack.unwrap_or(1) as usize;
                let group: Vec<i64> = (0..stack as u32)
                    .map(|i| seeds.seed(&arm.base, i))
                    .collect();
                let grouped =
                    stack > 1 && crate::runner::stacked_grouped(&resolved.model, self.device, mode);
                let train = || {
                    let out = if grouped {
                        crate::train::train_stacked_grouped(
                            resolved,
                            data,
                            &group,
                            device,
                            |_, _| {},
                            |_, _, _| {},
                        )
                        .map(|mut o| o.swap_remove(0))
                    } else {
                        crate::train::train(resolved, data, seed, device, |_| {})
                    };
                    out.map_err(|e| SessionError::Train(e.to_string()))
                };
                let (a, b) = (train()?, train()?);
                let first = a
                    .step_losses
                    .iter()
                    .zip(&b.step_losses)
                    .position(|(x, y)| x.to_bits() != y.to_bits());
                let outcome = match first {
                    None if a.weights_sha256 == b.weights_sha256
                        && a.step_losses.len() == b.step_losses.len() =>
                    {
                        Agreement::Identical
                    }
                    None => Agreement::WeightsDiffer,
                    Some(step) => Agreement::LossDiffers {
                        step: step + 1,
                        a: a.step_losses[step],
                        b: b.step_losses[step],
                    },
                };
                if !matches!(outcome, Agreement::Identical) {
                    differing += 1;
                }
                obs.event(Event::Determinism(&ArmDeterminism {
                    spec_id: spec.id.clone(),
                    arm_id: arm.id.clone(),
                    seed,
                    steps: a.steps,
                    weights_sha256: a.weights_sha256.clone(),
                    outcome,
                }));
            }
        }
        if differing > 0 {
            return Err(SessionError::NotDeterministic(differing));
        }
        Ok(())
    }
}
