//! `repro table`: every arm of every spec in one baseline table, from the store alone (no
//! training). Each spec is audited exactly as `repro report` audits it; the rows carry the
//! code version and the days of the runs behind them.

use super::{spec_records, Session, SessionError};
use crate::audit::audit_spec;
use crate::report::index::{spec_rows, TableRow};
use crate::runner::{self, SeedCounts};

impl Session {
    /// The baseline table's rows: the session's specs in order, each arm in spec order; arms
    /// with no finished run are rows that say so.
    pub fn table(&self) -> Result<Vec<TableRow>, SessionError> {
        let runs = self.plan(&SeedCounts::new())?;
        let records = runner::load_records(&runs);
        let mut rows = Vec::new();
        for spec in &self.specs {
            let mine = spec_records(spec, &runs, &records);
            let audit = audit_spec(spec, &mine, self.quick);
            let finished: Vec<(String, Option<&crate::record::Record>, Option<u64>)> = runs
                .iter()
                .filter(|r| r.spec_id == spec.id)
                .zip(&mine)
                .map(|(run, (arm, rec))| {
                    (arm.clone(), *rec, rec.and_then(|_| run.dir.finished_at()))
                })
                .collect();
            rows.extend(spec_rows(spec, &audit, &finished));
        }
        Ok(rows)
    }
}
