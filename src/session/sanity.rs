//! `repro sanity` and `repro inspect` over a session's arms, and the checks `repro run
//! --sanity` takes before training: each arm's own data preparation and model, its first
//! planned seed, nothing written to the store.

use std::collections::HashMap;

use super::{Session, SessionError};
use crate::data::{self, Dataset};
use crate::sanity::{self, inspect::Inspection, ArmSanity, Setup};
use crate::spec::ResolvedArm;

impl Session {
    /// The session's arms (those whose id or base id is `only`, when given), resolved as
    /// `--quick` says, with the seed their first run trains with. An `only` that names no arm
    /// is an error that lists the arms.
    pub fn arms(&self, only: Option<&str>) -> Result<Vec<(&ResolvedArm, i64)>, SessionError> {
        let mut out = Vec::new();
        let mut ids = Vec::new();
        for spec in &self.specs {
            let seed = spec.seeds(self.quick).base;
            for arm in &spec.arms {
                ids.push(arm.id.clone());
                if only.is_none_or(|id| id == arm.id || id == arm.base) {
                    out.push((arm.resolved(self.quick), seed));
                }
            }
        }
        match only {
            Some(id) if out.is_empty() => Err(SessionError::UnknownArm(format!(
                "no arm `{id}` in the spec(s); arms: {}",
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
        let arms: Vec<(&ResolvedArm, i64)> = self
            .arms(None)?
            .into_iter()
            .filter(|(a, _)| {
                runs.iter()
                    .any(|r| !r.done && r.spec_id == a.spec_id && r.arm_id == a.arm_id)
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
        arms: Vec<(&ResolvedArm, i64)>,
        mut done: impl FnMut(&ArmSanity),
    ) -> Result<Vec<ArmSanity>, SessionError> {
        let device = self.device.resolve(0)?;
        let mut datasets: HashMap<String, Dataset> = HashMap::new();
        let mut out = Vec::new();
        for (arm, seed) in arms {
            let ds = dataset(&mut datasets, &arm.dataset, &self.data_dir)?;
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
        let mut datasets: HashMap<String, Dataset> = HashMap::new();
        let mut out = Vec::new();
        for (arm, seed) in self.arms(only)? {
            let ds = dataset(&mut datasets, &arm.dataset, &self.data_dir)?;
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

fn dataset<'a>(
    cache: &'a mut HashMap<String, Dataset>,
    name: &str,
    dir: &std::path::Path,
) -> Result<&'a Dataset, SessionError> {
    if !cache.contains_key(name) {
        cache.insert(name.to_string(), data::load(name, dir)?);
    }
    Ok(&cache[name])
}
