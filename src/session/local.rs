//! Training on this machine: a pool of `repro worker` processes (one device each), sized from
//! the CPU cores or GPUs, round after round while adaptive seeding asks for more.

use crate::runner::{self, Finished, LocalOptions, PlannedRun, RunResult, SeedCounts};
use crate::store::Holder;

use super::{adaptive, Event, Observer, Session, SessionError};

/// How a round of local training is laid out.
#[derive(Debug, Clone)]
pub struct Pool {
    pub planned: usize,
    pub pending: usize,
    pub jobs: usize,
    /// Intra-op threads of the runs (the most any pending run asks for; each run uses its own).
    pub threads_per_job: i32,
    /// CUDA devices the workers are spread over (0 on CPU).
    pub gpus: usize,
    pub store: std::path::PathBuf,
}

/// The runs of the last round (the complete plan) and every run that ended in this session.
pub struct Trained {
    pub runs: Vec<PlannedRun>,
    pub finished: Vec<Finished>,
}

impl Trained {
    /// Planned runs that are not done because another live worker holds them (a resumed
    /// sweep beside a running one): "`spec/arm` seed N (pid P on H)".
    pub fn held_elsewhere(&self) -> Vec<String> {
        self.runs
            .iter()
            .filter(|r| !r.dir.is_done())
            .filter_map(|r| match r.dir.holder() {
                Holder::Alive { pid, host } => Some(format!(
                    "{}/{} seed {} (pid {pid} on {host})",
                    r.spec_id, r.arm_id, r.seed
                )),
                Holder::Nobody => None,
            })
            .collect()
    }

    /// A failure when any run could not finish or diverged, or is still held by another
    /// worker (its arm's audit would rest on fewer seeds than planned).
    pub fn outcome(&self) -> Result<(), SessionError> {
        let errors = self
            .finished
            .iter()
            .filter(|f| matches!(f.result, RunResult::Error(_)))
            .count();
        let diverged = self
            .finished
            .iter()
            .filter(|f| matches!(&f.result, RunResult::Trained(r) if r.metrics.is_none()))
            .count();
        if errors > 0 || diverged > 0 {
            return Err(SessionError::RunsFailed { errors, diverged });
        }
        let held = self.held_elsewhere();
        if !held.is_empty() {
            return Err(SessionError::HeldElsewhere(held));
        }
        Ok(())
    }
}

impl Session {
    /// `repro run`: trains every pending run, then more seeds for arms still INCONCLUSIVE
    /// under adaptive seeding (rounds of `jobs` seeds, 2 by default).
    pub fn train_local(
        &self,
        jobs: Option<usize>,
        force: bool,
        obs: &dyn Observer,
    ) -> Result<Trained, SessionError> {
        let mut runs = self.plan_to_train()?;
        let mut finished = self.execute(&runs, jobs, force, obs)?;
        let mut counts = SeedCounts::new();
        let step = jobs.unwrap_or(2).max(1) as u32;
        while adaptive::next_round(&self.specs, &runs, self.quick, step, &mut counts) {
            runs = self.plan(&counts)?;
            finished.extend(self.execute(&runs, jobs, false, obs)?);
        }
        Ok(Trained { runs, finished })
    }

    /// The pool for `runs`: `jobs` workers (default [`Session::jobs_per_gpu`] per GPU on CUDA,
    /// else as many as the cores hold at the runs' own thread counts), never more than there
    /// are runs to train.
    /// Threads are the runs' (from their specs), never derived from `jobs`: the numbers of a
    /// key do not depend on how many ran beside it.
    pub fn pool(&self, runs: &[PlannedRun], jobs: Option<usize>, force: bool) -> Pool {
        let pending: Vec<&PlannedRun> = runs.iter().filter(|r| force || !r.done).collect();
        let threads = pending
            .iter()
            .map(|r| r.config.arm.train.threads)
            .max()
            .unwrap_or(1)
            .max(1) as usize;
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let gpus = self.device.gpus();
        let jobs = pool_jobs(jobs, gpus, self.jobs_per_gpu, cpus / threads, pending.len());
        Pool {
            planned: runs.len(),
            pending: pending.len(),
            jobs,
            threads_per_job: threads as i32,
            gpus,
            store: self.store.root().to_path_buf(),
        }
    }

    /// Trains the pending runs of `runs` in one pool, sending an event as each ends.
    pub fn execute(
        &self,
        runs: &[PlannedRun],
        jobs: Option<usize>,
        force: bool,
        obs: &dyn Observer,
    ) -> Result<Vec<Finished>, SessionError> {
        let pool = self.pool(runs, jobs, force);
        obs.event(Event::Pool(&pool));
        let opts = LocalOptions {
            jobs: pool.jobs,
            data_dir: self.data_dir.clone(),
            force,
            gpus: pool.gpus,
        };
        let progress = obs.progress(pool.pending as u64, "train");
        let finished = runner::execute_local(runs, &opts, &progress, |index, total, run| {
            obs.event(Event::Finished { index, total, run })
        })?;
        progress.finish();
        Ok(finished)
    }
}

/// Workers for a round: `requested` (`--jobs`) if given, else `per_gpu` on each of `gpus`
/// GPUs, else as many as `cpu_slots` (cores over threads per run); at least 1 and never more
/// than the `pending` runs.
fn pool_jobs(
    requested: Option<usize>,
    gpus: usize,
    per_gpu: usize,
    cpu_slots: usize,
    pending: usize,
) -> usize {
    let default = if gpus > 0 {
        gpus * per_gpu.max(1)
    } else {
        cpu_slots
    };
    requested.unwrap_or(default).clamp(1, pending.max(1))
}

#[cfg(test)]
mod tests {
    use super::pool_jobs;

    #[test]
    fn jobs_per_gpu_multiplies_the_gpus_and_jobs_overrides_it() {
        assert_eq!(pool_jobs(None, 1, 1, 2, 100), 1);
        assert_eq!(pool_jobs(None, 1, 4, 2, 100), 4);
        assert_eq!(pool_jobs(None, 2, 8, 2, 100), 16);
        // never more workers than runs to train
        assert_eq!(pool_jobs(None, 1, 8, 2, 5), 5);
        // an explicit --jobs wins; on CPU the cores decide
        assert_eq!(pool_jobs(Some(3), 1, 8, 2, 100), 3);
        assert_eq!(pool_jobs(None, 0, 8, 2, 100), 2);
        assert_eq!(pool_jobs(None, 0, 1, 0, 100), 1);
    }
}
