//! `repro run`: train locally or through Slurm (adaptive rounds included), or verify
//! determinism; then print the audit.

use crate::runner::slurm::SlurmOptions;
use crate::session::slurm::SlurmOutcome;
use crate::session::Session;

use super::ui::{print_audit, Terminal};
use super::{Common, ExecutorArgs, Failure};

pub fn run_local(
    session: &Session,
    common: &Common,
    jobs: Option<usize>,
    force: bool,
) -> Result<(), Failure> {
    let trained = session.train_local(jobs, force, &Terminal::default())?;
    print_audit(session, &trained.runs, common.out.as_deref())?;
    Ok(trained.outcome()?)
}

pub fn run_slurm(
    session: &Session,
    common: &Common,
    ex: &ExecutorArgs,
    force: bool,
) -> Result<(), Failure> {
    let opts = SlurmOptions {
        partition: ex.partition.clone(),
        gpus_per_task: ex.gpus_per_task,
        max_parallel: ex.max_parallel,
        cpus_per_task: ex.cpus_per_task,
        data_dir: common.data_dir.clone(),
    };
    match session.train_slurm(&opts, ex.wait, force, &Terminal::default())? {
        SlurmOutcome::Submitted => {
            eprintln!(
                "follow it with `repro status`, then `repro report` (both read only the store)"
            );
            Ok(())
        }
        SlurmOutcome::Finished(runs) => {
            print_audit(session, &runs, common.out.as_deref())?;
            Ok(session.slurm_outcome(&runs)?)
        }
    }
}

#[cfg(torch)]
pub fn verify_determinism(session: &Session) -> Result<(), Failure> {
    Ok(session.verify_determinism(&Terminal::default())?)
}
