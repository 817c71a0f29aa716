//! `repro sanity` and `repro inspect` over a session's arms, and the checks `repro run
//! --sanity` takes before training: each arm's own data preparation and model, its first
//! planned seed, nothing written to the store.

use super::{Session, SessionError};
use crate::data::{self, Dataset, DatasetCache, UserDataset};
use crate::sanity::{self, inspect::Inspection, ArmSanity, Setup};
use crate::spec::ResolvedArm;

/// One arm as the checks see it: resolved, the seed its first run trains with, the spec file
/// it comes from and the spec's own declaration of its dataset, if any.
pub struct SanityArm<'a> {
    pub arm: &'a ResolvedArm,
    pub seed: i64,
    pub spec_path: &'a std::path::Path,
    pub user: Option<&'a UserDataset>,
}

impl Session {
    /// The session's arms (those whose id or base id is `only`, when given), resolved as
    /// `--quick` says, with the seed their first run trains with; arms that `requires:` a
    /// device this session does not use are left out. An `only` that names no arm is an error
    /// that lists the arms.
    pub fn arms(&self, only: Option<&str>) -> Result<Vec<SanityArm<'_>>, SessionError> {
        let mut out = Vec::new();
        let mut ids = Vec::new();
        for spec in &self.specs {
            let seeds = spec.seeds(self.quick);
            for arm in &spec.arms {
                ids.push(arm.id.clone());
                if arm
                    .requires
                    .as_ref()
                    .is_some_and(|r| !r.met_by(self.device))
                {
                    continue;
                }
                if only.is_none_or(|id| id == arm.id || id == arm.base) {
                    let resolved = arm.resolved(self.quick);
                    out.push(SanityArm {
                        arm: resolved,
                        seed: seeds.seed(&arm.base, 0),
                        spec_path: &spec.path,
                        user: spec.user_dataset(&resolved.dataset),
                    });
                }
            }
        }
        match only {
            Some(id) if out.is_empty() => Err(SessionError::UnknownArm(format!(
                "no arm `{id}` in the spec(s) (or it needs another device); arms: {}",
                ids.join(", ")
            ))),
            _ => Ok(out),
        }
    }

    /// Runs every sanity check on the arms ([`Session::arms`]), calling `done` after each.
    pub fn sanity(
        &self,
        only: Option<&str>,
        done: impl FnMut(&ArmSanity),
    ) -> Result<Vec<ArmSanity>, SessionError> {
        self.check_arms(self.arms(only)?, done)
    }

    /// `repro run --sanity`: the checks of every arm with a run still to train, before any
    /// training; [`SessionError::SanityFailed`] when one fails.
    pub fn sanity_before_training(
        &self,
        done: impl FnMut(&ArmSanity),
    ) -> Result<Vec<ArmSanity>, SessionError> {
        let runs = self.plan_to_train()?;
        let arms: Vec<SanityArm> = self
            .arms(None)?
            .into_iter()
            .filter(|a| {
                runs.iter()
                    .any(|r| !r.done && r.spec_id == a.arm.spec_id && r.arm_id == a.arm.arm_id)
            })
            .collect();
        let checked = self.check_arms(arms, done)?;
        let failed: Vec<String> = checked
            .iter()
            .filter(|c| c.failed())
            .map(|c| format!("{}/{}", c.spec_id, c.arm_id))
            .collect();
        if failed.is_empty() {
            Ok(checked)
        } else {
            Err(SessionError::SanityFailed(failed))
        }
    }

    fn check_arms(
        &self,
        arms: Vec<SanityArm>,
        mut done: impl FnMut(&ArmSanity),
    ) -> Result<Vec<ArmSanity>, SessionError> {
        let device = self.device.resolve(0)?;
        let mut datasets = DatasetCache::default();
        let mut out = Vec::new();
        for a in arms {
            let ds = dataset(&mut datasets, &a, &self.data_dir)?;
            let (arm, seed) = (a.arm, a.seed);
            let checks = sanity::check_arm(arm, ds, seed, device)
                .map_err(|e| SessionError::Train(format!("arm `{}`: {e}", arm.arm_id)))?;
            done(&checks);
            out.push(checks);
        }
        Ok(out)
    }

    /// `repro inspect`: each arm's model traced on its first training batch.
    pub fn inspect(&self, only: Option<&str>) -> Result<Vec<Inspection>, SessionError> {
        let device = self.device.resolve(0)?;
        let mut datasets = DatasetCache::default();
        let mut out = Vec::new();
        for a in self.arms(only)? {
            let ds = dataset(&mut datasets, &a, &self.data_dir)?;
            let (arm, seed) = (a.arm, a.seed);
            let fail = |e: crate::train::TrainError| {
                SessionError::Train(format!("arm `{}`: {e}", arm.arm_id))
            };
            let prepared = data::prep::prepare(ds, &arm.data, seed).map_err(|e| fail(e.into()))?;
            let setup = Setup {
                arm,
                prepared: &prepared,
                class_names: &ds.class_names,
                seed,
                device,
            };
            let factory = sanity::build_factory(arm, seed, device);
            out.push(sanity::inspect::inspect(&setup, &factory).map_err(fail)?);
        }
        Ok(out)
    }
}

/// The arm's dataset (the spec's own declaration, else the catalog's), loaded once; a
/// TorchScript arm's module is tried on a real batch of it first, so a module that does not
/// fit is bad input (exit 2) here as in `repro plan`, not a crash mid-check.
/// The arm's dataset (the spec's own declaration, else the catalog's), loaded once; a
/// TorchScript arm's module is tried on a real batch of it first, so a module that does not
/// fit is bad input (exit 2) here as in `repro plan`, not a crash mid-check.
fn dataset<'a>(
    cache: &'a mut DatasetCache,
    a: &SanityArm,
    dir: &std::path::Path,
) -> Result<&'a Dataset, SessionError> {
    let ds = cache.get(&a.arm.dataset, a.user, dir)?;
    if matches!(a.arm.model, crate::spec::ModelSpec::Torchscript { .. }) {
        crate::train::probe(a.arm, ds, a.seed).map_err(|e| {
            SessionError::Run(crate::runner::RunError::Config {
                path: a.spec_path.to_path_buf(),
                message: format!("arm `{}`: {e}", a.arm.arm_id),
            })
        })?;
    }
    Ok(ds)
}
