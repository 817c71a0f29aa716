//! The regression gate's two halves: `bless` writes the current results into the blessed
//! baseline table (one file per spec), `check` trains what is missing and compares each blessed
//! arm seed by seed.

use std::path::Path;

use crate::audit::{self, ArmGate};
use crate::baseline::{self, BaselineError};
use crate::record::Record;
use crate::runner;

use super::{spec_records, Event, Observer, Session, SessionError};

/// One blessed arm as `check` found it.
pub struct GateResult {
    pub spec_id: String,
    pub gate: ArmGate,
}

impl Session {
    /// `repro bless`: writes each spec's table under `blessed`, sending what changed.
    /// Arms without a claim get `tolerance`.
    pub fn bless(
        &self,
        blessed: &Path,
        tolerance: f64,
        obs: &dyn Observer,
    ) -> Result<(), SessionError> {
        let runs = self.plan(&runner::SeedCounts::new())?;
        let records = runner::load_records(&runs);
        for spec in &self.specs {
            let mine = spec_records(spec, &runs, &records);
            let table = baseline::build(spec, &mine, self.quick, tolerance)
                .map_err(SessionError::Baseline)?;
            let path = baseline::table_path(blessed, &spec.id, self.quick);
            let old = match baseline::read(&path) {
                Ok(t) => Some(t),
                Err(BaselineError::Missing { .. }) => None,
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

    /// `repro check`: reads every blessed table first (a missing one is bad input), trains
    /// what is missing, then gates each blessed arm. The caller decides what a regression means
    /// for the exit code (see [`regressions`]).
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
        let runs = self.plan_to_train()?;
        self.execute(&runs, jobs, false, obs)?;
        let records = runner::load_records(&runs);
        let mut out = Vec::new();
        for (spec, table) in self.specs.iter().zip(&tables) {
            let mine = spec_records(spec, &runs, &records);
            for blessed in &table.arms {
                let done: Vec<&Record> = mine
                    .iter()
                    .filter(|(id, _)| *id == blessed.arm_id)
                    .filter_map(|(_, r)| *r)
                    .collect();
                let now: Vec<(i64, f64)> = done
                    .iter()
                    .filter_map(|r| r.metrics.map(|m| (r.seed, m.get(blessed.metric))))
                    .collect();
                let fingerprint = done
                    .first()
                    .map(|r| baseline::fingerprint(r))
                    .unwrap_or_default();
                out.push(GateResult {
                    spec_id: spec.id.clone(),
                    gate: audit::gate(blessed, &now, &fingerprint),
                });
            }
        }
        Ok(out)
    }
}

/// A failure naming every arm that regressed, if any did.
pub fn regressions(results: &[GateResult]) -> Result<(), SessionError> {
    let failed: Vec<String> = results
        .iter()
        .filter(|r| r.gate.regression)
        .map(|r| format!("{}/{}", r.spec_id, r.gate.arm_id))
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(SessionError::Regression(failed))
    }
}
