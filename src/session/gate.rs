//! The regression gate's two halves: `bless` writes the current results into the blessed
//! baseline table (one file per spec), `check` trains the blessed seeds under the current code
//! and specs and gates each blessed arm (see [`crate::audit::gate`] for the rule).

use std::path::Path;

use crate::audit::{self, ArmGate, SeedOutcome};
#[cfg(torch)]
use crate::baseline::BaselineError;
use crate::baseline::{self, BlessedTable};
#[cfg(torch)]
use crate::data;
use crate::record::Record;
#[cfg(torch)]
use crate::runner::PlannedRun;
use crate::runner::{self, SeedCounts};
use crate::spec::{Metric, Spec};
use crate::train::Status;

#[cfg(torch)]
use super::Event;
use super::{spec_records, Observer, Session, SessionError};

/// One blessed arm as `check` found it.
pub struct GateResult {
    pub spec_id: String,
    /// The spec file, for reports that name it (JUnit's suites).
    pub spec_path: std::path::PathBuf,
    pub metric: Metric,
    /// The blessed mean and seed count, beside the change.
    pub blessed_mean: f64,
    pub blessed_n: usize,
    /// The training time its planned runs recorded, in seconds.
    pub wall_time_s: f64,
    pub gate: ArmGate,
    /// The spec's gate tolerance now, when it differs from the blessed one (the blessed one
    /// decides: a new tolerance takes effect with `repro bless`).
    pub spec_tolerance: Option<f64>,
}

impl Session {
    /// `repro bless`: writes each spec's table under `blessed`, sending what changed. An arm's
    /// gate tolerance is its spec's `gate.tolerance`, else `tolerance`, else the default.
    #[cfg(torch)]
    pub fn bless(
        &self,
        blessed: &Path,
        tolerance: Option<f64>,
        obs: &dyn Observer,
    ) -> Result<(), SessionError> {
        let runs = self.plan(&SeedCounts::new())?;
        let records = runner::load_records(&runs);
        for spec in &self.specs {
            let mine = spec_records(spec, &runs, &records);
            let resolutions = self.resolutions(spec, &runs)?;
            let table = baseline::build(spec, &mine, self.quick, tolerance, &resolutions)
                .map_err(SessionError::Baseline)?;
            let path = baseline::table_path(blessed, &spec.id, self.quick);
            let old = match baseline::read(&path) {
                Ok(t) => Some(t),
                // An older format is replaced; the diff shows every arm as new.
                Err(BaselineError::Missing { .. } | BaselineError::Format { .. }) => None,
                Err(e) => return Err(SessionError::Baseline(e)),
            };
            let diff = baseline::diff(old.as_ref(), &table);
            baseline::write(&path, &table).map_err(SessionError::BaselineWrite)?;
            obs.event(Event::Blessed {
                spec_id: &spec.id,
                path: &path,
                diff: &diff,
            });
        }
        Ok(())
    }

    /// Per arm of `spec`, the metric's resolution: 1/N_test for a fraction of the test set
    /// (the test split as the arm's `data:` prepares it, for its first planned seed), else 0.
    #[cfg(torch)]
    fn resolutions(&self, spec: &Spec, runs: &[PlannedRun]) -> Result<Vec<f64>, SessionError> {
        let mut loaded = data::DatasetCache::default();
        spec.arms
            .iter()
            .map(|arm| {
                let seed = runs
                    .iter()
                    .find(|r| r.spec_id == spec.id && r.arm_id == arm.id)
                    .map_or(0, |r| r.seed);
                if !Metric::of_arm(arm).is_fraction() {
                    return Ok(0.0);
                }
                let resolved = arm.resolved(self.quick);
                let ds = loaded.get(
                    &resolved.dataset,
                    spec.user_dataset(&resolved.dataset),
                    &self.data_dir,
                )?;
                let prepared = data::prep::prepare(ds, &resolved.data, seed)?;
                Ok(1.0 / prepared.test.len().max(1) as f64)
            })
            .collect()
    }

    /// `repro check`: reads every blessed table first (a missing or outdated one is bad input),
    /// trains each blessed arm's seeds (the blessed seed list, also under adaptive seeding,
    /// so candidate and blessed pair seed by seed), then gates each blessed arm. The caller
    /// decides what a failure means for the exit code (see [`regressions`]).
    pub fn check(
        &self,
        blessed: &Path,
        jobs: Option<usize>,
        obs: &dyn Observer,
    ) -> Result<Vec<GateResult>, SessionError> {
        let tables = self
            .specs
            .iter()
            .map(|s| baseline::read(&baseline::table_path(blessed, &s.id, self.quick)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(SessionError::Baseline)?;
        let runs = self.plan(&blessed_counts(&self.specs, &tables, self.quick))?;
        self.store
            .ensure_writable()
            .map_err(SessionError::StoreNotWritable)?;
        self.execute(&runs, jobs, false, obs)?;
        let records = runner::load_records(&runs);
        let mut out = Vec::new();
        for (spec, table) in self.specs.iter().zip(&tables) {
            let mine = spec_records(spec, &runs, &records);
            for blessed in &table.arms {
                let planned: Vec<(i64, Option<&Record>)> = runs
                    .iter()
                    .zip(&records)
                    .filter(|(r, _)| r.spec_id == spec.id && r.arm_id == blessed.arm_id)
                    .map(|(r, rec)| (r.seed, rec.as_ref()))
                    .collect();
                let now: Vec<(i64, SeedOutcome)> = planned
                    .iter()
                    .map(|(seed, rec)| (*seed, outcome(*rec, blessed.metric)))
                    .collect();
                let fingerprint = mine
                    .iter()
                    .filter(|(id, _)| *id == blessed.arm_id)
                    .find_map(|(_, r)| *r)
                    .map(baseline::fingerprint)
                    .unwrap_or_default();
                let spec_tolerance = spec
                    .arms
                    .iter()
                    .find(|a| a.id == blessed.arm_id)
                    .and_then(|a| a.gate_tolerance)
                    .filter(|t| *t != blessed.gate_tolerance);
                out.push(GateResult {
                    spec_id: spec.id.clone(),
                    spec_path: spec.path.clone(),
                    metric: blessed.metric,
                    blessed_mean: blessed.mean,
                    blessed_n: blessed.seeds.len(),
                    wall_time_s: planned
                        .iter()
                        .filter_map(|(_, r)| r.map(|r| r.wall_time_s))
                        .sum(),
                    gate: audit::gate(blessed, &now, &fingerprint),
                    spec_tolerance,
                });
            }
        }
        Ok(out)
    }
}

/// What one planned run gives the gate.
fn outcome(record: Option<&Record>, metric: Metric) -> SeedOutcome {
    match record {
        None => SeedOutcome::NoResult,
        Some(r) => match (&r.status, r.metrics) {
            (Status::Diverged { step, reason }, _) => {
                SeedOutcome::Diverged(format!("step {step}: {reason}"))
            }
            (Status::Collapsed { reason }, _) => {
                SeedOutcome::Diverged(format!("collapsed: {reason}"))
            }
            (Status::Ok, Some(m)) => m
                .get(metric)
                .map_or(SeedOutcome::NoResult, SeedOutcome::Value),
            (Status::Ok, None) => SeedOutcome::NoResult,
        },
    }
}

/// Seeds to plan per arm so that the plan holds every blessed seed: the fewest of the spec's
/// seed list that reach them all (within its limit), at least the blessed count. Under
/// adaptive seeding this is the blessed list, not the minimum.
pub fn blessed_counts(specs: &[Spec], tables: &[BlessedTable], quick: bool) -> SeedCounts {
    let mut counts = SeedCounts::new();
    for (spec, table) in specs.iter().zip(tables) {
        let seeds = spec.seeds(quick);
        for blessed in &table.arms {
            let Some(arm) = spec.arms.iter().find(|a| a.id == blessed.arm_id) else {
                continue;
            };
            let list: Vec<i64> = (0..seeds.limit())
                .map(|i| seeds.seed(&arm.base, i))
                .collect();
            let reach = blessed
                .seeds
                .iter()
                .filter_map(|(s, _, _)| list.iter().position(|x| x == s))
                .max()
                .map_or(0, |i| i + 1);
            let n = reach.max(blessed.seeds.len()).min(list.len()) as u32;
            counts.insert((spec.id.clone(), arm.id.clone()), n.max(1));
        }
    }
    counts
}

/// A failure naming every arm that regressed or could not be decided, if any.
pub fn regressions(results: &[GateResult]) -> Result<(), SessionError> {
    let failed: Vec<String> = results
        .iter()
        .filter(|r| r.gate.outcome.fails())
        .map(|r| {
            let what = if r.gate.outcome == audit::Outcome::Undecided {
                " (cannot decide)"
            } else {
                ""
            };
            format!("{}/{}{what}", r.spec_id, r.gate.arm_id)
        })
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(SessionError::Regression(failed))
    }
}
