//! One audit session: the specs, the run store, the device and the code identity, and what
//! every command does with them. The local pool and the Slurm array share one [`Session::plan`],
//! one adaptive-seed loop ([`adaptive`]) and one way of reading results back; the CLI only
//! parses flags, calls these functions and prints the [`Event`]s they send.
//!
//! - [`local`]: train in a pool of worker processes on this machine, round after round;
//! - [`slurm`]: submit rounds as job arrays, wait for them, name the runs that did not finish;
//! - [`gate`]: bless the results into the baseline table, or check them against it;
//! - [`determinism`]: train each arm's first seed twice and compare step by step;
//! - [`table`]: every arm of every spec in one baseline table, from the store.

pub mod adaptive;
#[cfg(torch)]
pub mod determinism;
pub mod gate;
pub mod local;
#[cfg(torch)]
pub mod sanity;
pub mod slurm;
pub mod table;

use std::path::{Path, PathBuf};

use crate::baseline::BaselineError;
use crate::data::DataError;
use crate::device::{DeviceError, DeviceKind};
#[cfg(torch)]
use crate::provenance;
use crate::record::Record;
use crate::runner::{self, PlannedRun, RunError, RunState, SeedCounts};
use crate::spec::Spec;
use crate::store::{Store, StoreError};

/// Why a session stopped. The CLI maps each to an exit code: bad input 2, a failure 1.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("cannot write the run store: {0}")]
    StoreNotWritable(StoreError),
    /// A blessed table that cannot be built or read (bad input).
    #[error(transparent)]
    Baseline(BaselineError),
    /// A blessed table that cannot be written.
    #[error(transparent)]
    BaselineWrite(BaselineError),
    #[error("{errors} run(s) could not finish and {diverged} diverged")]
    RunsFailed { errors: usize, diverged: usize },
    #[error("{} run(s) did not finish:\n{}", .0.len(), .0.join("\n"))]
    Unfinished(Vec<String>),
    #[error(
        "{} run(s) were skipped because other live workers are training them; their arms get \
         no verdict until they finish (`repro status` follows them, `repro report` audits them \
         after):\n{}",
        .0.len(),
        .0.join("\n")
    )]
    HeldElsewhere(Vec<String>),
    #[error("gate failed: {}", .0.join(", "))]
    Regression(Vec<String>),
    #[error("{0} arm(s) are not deterministic")]
    NotDeterministic(usize),
    #[error("{0}")]
    Train(String),
    /// `--arm` names no arm of the specs (bad input).
    #[error("{0}")]
    UnknownArm(String),
    /// `repro run --sanity`: a sanity check failed, so nothing was trained.
    #[error("sanity checks failed for {}; nothing was trained", .0.join(", "))]
    SanityFailed(Vec<String>),
    #[error(transparent)]
    Report(StoreError),
}

/// What a session tells its user as it goes; the CLI prints these, a test can collect them.
pub enum Event<'a> {
    /// A round of local training is about to start.
    Pool(&'a local::Pool),
    /// One run of the current local round ended (`index` of `total`).
    Finished {
        index: usize,
        total: usize,
        run: &'a runner::Finished,
    },
    /// A Slurm array was submitted (`submission` is `None` when every run that needs training
    /// is already running or queued).
    Submitted {
        planned: usize,
        done: usize,
        submission: Option<&'a runner::slurm::Submission>,
        logs: PathBuf,
    },
    /// While waiting on a Slurm array: runs finished of `total`, runs running.
    Waiting {
        finished: usize,
        total: usize,
        running: usize,
    },
    /// `--verify-determinism`: the switches and threads the comparison runs under.
    #[cfg(torch)]
    DeterminismSetup {
        flags: provenance::Determinism,
        threads: i32,
        device: tch::Device,
        /// The numerics class the comparison computes with.
        numerics: crate::numerics::Numerics,
    },
    /// `--verify-determinism`: one arm's two runs compared.
    #[cfg(torch)]
    Determinism(&'a determinism::ArmDeterminism),
    /// `repro bless`: a spec's table was written, with what changed against the old one.
    Blessed {
        spec_id: &'a str,
        path: &'a Path,
        diff: &'a [String],
    },
}

/// Receives a session's [`Event`]s, and makes the progress display for training rounds.
pub trait Observer {
    fn event(&self, event: Event<'_>);
    /// The display for a round of `total` runs (bars on a terminal, lines otherwise).
    fn progress(&self, total: u64, label: &str) -> crate::progress::Progress;
}

/// How a session was opened: the flags every command that plans shares.
#[derive(Debug, Clone)]
pub struct Options {
    /// Apply each spec's `quick:` overrides.
    pub quick: bool,
    /// Portable numerics for every spec, whatever its `numerics:` says.
    pub portable: bool,
    /// The run store (else `REPRO_STORE`, else `runs`).
    pub store: Option<PathBuf>,
    pub device: DeviceKind,
    pub data_dir: PathBuf,
}

pub struct Session {
    pub specs: Vec<Spec>,
    pub quick: bool,
    pub portable: bool,
    pub store: Store,
    pub device: DeviceKind,
    pub data_dir: PathBuf,
    /// Worker processes per GPU when `--jobs` is not given on CUDA (`--jobs-per-gpu`, 1 by
    /// default): small baselines leave a GPU mostly idle, so several share one.
    pub jobs_per_gpu: usize,
}

impl Session {
    pub fn new(specs: Vec<Spec>, opts: &Options) -> Session {
        Session {
            specs,
            quick: opts.quick,
            portable: opts.portable,
            store: Store::open(opts.store.as_deref()),
            device: opts.device,
            data_dir: opts.data_dir.clone(),
            jobs_per_gpu: 1,
        }
    }

    /// Every run of the session's specs, with `counts` seeds for arms that grew adaptively.
    /// The device need not be here: `status`, `report`, `plan` and `bless` read a CUDA store on
    /// a machine without CUDA (a Slurm login node), taking the numerics class of the stored
    /// results ([`crate::numerics::UNOBSERVED`]); commands that train check the device first.
    pub fn plan(&self, counts: &SeedCounts) -> Result<Vec<PlannedRun>, SessionError> {
        Ok(runner::plan(
            &self.specs,
            self.quick,
            self.portable,
            &self.store,
            self.device,
            &self.data_dir,
            counts,
        )?)
    }

    /// [`Session::plan`] for commands that train: the store must also be writable, checked
    /// before any run starts so the error names the path once instead of once per worker.
    pub fn plan_to_train(&self) -> Result<Vec<PlannedRun>, SessionError> {
        self.device.ensure_available()?;
        let runs = self.plan(&SeedCounts::new())?;
        self.store
            .ensure_writable()
            .map_err(SessionError::StoreNotWritable)?;
        Ok(runs)
    }

    /// Per spec and arm, how many planned runs are in each [`RunState`].
    pub fn arm_states(&self, runs: &[PlannedRun]) -> Vec<ArmStates> {
        let states: Vec<RunState> = runs.iter().map(runner::state).collect();
        let mut out = Vec::new();
        for spec in &self.specs {
            for arm in &spec.arms {
                let mine: Vec<RunState> = runs
                    .iter()
                    .zip(&states)
                    .filter(|(r, _)| r.spec_id == spec.id && r.arm_id == arm.id)
                    .map(|(_, s)| *s)
                    .collect();
                out.push(ArmStates {
                    spec_id: spec.id.clone(),
                    arm_id: arm.id.clone(),
                    states: mine,
                });
            }
        }
        out
    }
}

/// The states of one arm's planned runs.
pub struct ArmStates {
    pub spec_id: String,
    pub arm_id: String,
    pub states: Vec<RunState>,
}

impl ArmStates {
    pub fn count(&self, state: RunState) -> usize {
        self.states.iter().filter(|&&s| s == state).count()
    }
}

/// `(arm id, record)` for each planned run of `spec`, in plan order.
pub fn spec_records<'a>(
    spec: &Spec,
    runs: &[PlannedRun],
    records: &'a [Option<Record>],
) -> Vec<(String, Option<&'a Record>)> {
    runs.iter()
        .zip(records)
        .filter(|(r, _)| r.spec_id == spec.id)
        .map(|(r, rec)| (r.arm_id.clone(), rec.as_ref()))
        .collect()
}
