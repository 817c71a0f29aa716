//! Training through Slurm: each round is one job array over the shared store; with `wait`, the
//! session follows the store and the queue, submits the next adaptive round, and finally names
//! every run that did not finish with its task log.

use crate::runner::slurm::{self as executor, SlurmOptions, Submission};
use crate::runner::{self, PlannedRun, RunState, SeedCounts};
use crate::store::Holder;

use super::{adaptive, Event, Observer, Session, SessionError};

/// How a Slurm session ended.
pub enum SlurmOutcome {
    /// Submitted without waiting: follow it with `repro status`, then `repro report`.
    Submitted,
    /// Waited until the arrays were gone; the complete plan of the last round.
    Finished(Vec<PlannedRun>),
}

impl Session {
    /// `repro run --executor slurm`: submits the runs that need training as a job array and,
    /// with `wait`, follows the store until the array is gone from the queue (then, under
    /// adaptive seeds, submits the next round for arms still INCONCLUSIVE, and so on).
    pub fn train_slurm(
        &self,
        opts: &SlurmOptions,
        wait: bool,
        force: bool,
        obs: &dyn Observer,
    ) -> Result<SlurmOutcome, SessionError> {
        let mut runs = self.plan_to_train()?;
        let mut counts = SeedCounts::new();
        let step = opts.max_parallel.unwrap_or(2).max(1);
        let mut force = force;
        loop {
            let done = runs.iter().filter(|r| r.done).count();
            let submission = executor::submit(&self.store, &runs, force, opts)?;
            obs.event(Event::Submitted {
                planned: runs.len(),
                done,
                submission: submission.as_ref(),
                logs: executor::logs_dir(&self.store),
            });
            let jobs: Vec<String> = match submission {
                Some(sub) => vec![sub.job_id],
                None => executor::submissions(&self.store)
                    .into_iter()
                    .map(|s| s.job_id)
                    .collect(),
            };
            if !wait {
                return Ok(SlurmOutcome::Submitted);
            }
            wait_for_store(&runs, &jobs, obs);
            force = false;
            if !adaptive::next_round(&self.specs, &runs, self.quick, step, &mut counts) {
                break;
            }
            runs = self.plan(&counts)?;
        }
        Ok(SlurmOutcome::Finished(runs))
    }

    /// After a Slurm array: a failure naming the runs that are not done, with their task logs.
    pub fn slurm_outcome(&self, runs: &[PlannedRun]) -> Result<(), SessionError> {
        let subs: Vec<Submission> = executor::submissions(&self.store);
        let mut problems = Vec::new();
        for (i, r) in runs.iter().enumerate() {
            let st = runner::state(r);
            if matches!(st, RunState::Done | RunState::Collapsed) {
                continue;
            }
            let log = subs
                .iter()
                .rev()
                .find(|s| s.indices.contains(&i))
                .map(|s| {
                    executor::task_log(&self.store, &s.job_id, i)
                        .display()
                        .to_string()
                })
                .unwrap_or_else(|| "no task log".into());
            problems.push(format!(
                "  {}/{} seed {}: {} (log {log})",
                r.spec_id,
                r.arm_id,
                r.seed,
                st.name()
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(SessionError::Unfinished(problems))
        }
    }
}

/// Polls the store until none of `jobs` has a task left in the queue and no run is held by a
/// live worker; reports runs done/total as it goes.
fn wait_for_store(runs: &[PlannedRun], jobs: &[String], obs: &dyn Observer) {
    let bar = obs.progress(runs.len() as u64, "slurm");
    loop {
        // Polled twice a second: look at DONE markers and locks only, never at records.
        let finished = runs.iter().filter(|r| r.dir.is_done()).count();
        let running = runs
            .iter()
            .filter(|r| !r.dir.is_done() && r.dir.holder() != Holder::Nobody)
            .count();
        bar.set(finished as u64, &format!("{running} running"));
        obs.event(Event::Waiting {
            finished,
            total: runs.len(),
            running,
        });
        let queued = running > 0
            || jobs
                .iter()
                .any(|id| executor::live_tasks(id).is_some_and(|t| !t.is_empty()));
        if !queued {
            bar.finish();
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}
