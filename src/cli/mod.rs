//! Command-line interface: clap definitions, dispatch, exit codes. Each command group has a
//! file that parses, calls the library (mostly [`crate::session`]) and prints:
//! [`validate`], [`train`] (`run`), [`gate`] (`bless`, `check`), [`inspect`] (`plan`,
//! `status`, `report`, `table`), [`sanity`] (`sanity`, `run --sanity`), [`model_inspect`]
//! (`inspect`), [`data`] (`data`, `doctor`), [`worker`]; [`ui`] prints a session's
//! events and draws its progress.
//!
//! Exit codes: 0 ok, 1 a gate failed (or a run failed), 2 bad input (spec, data, flags).

mod data;
mod gate;
mod inspect;
#[cfg(torch)]
mod model_inspect;
#[cfg(torch)]
mod sanity;
mod train;
mod ui;
mod validate;
#[cfg(torch)]
mod worker;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::data::DataError;
use crate::device::DeviceKind;
use crate::runner::{self, RunError};
use crate::session::{self, Session, SessionError};
use crate::spec::{self, Spec};

#[derive(Parser, Debug)]
#[command(
    name = "repro",
    version,
    about = "Reproduce papers' claims and audit strong baselines, on libtorch"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check spec files; every problem is reported with file:line:col.
    Validate {
        /// Spec files or directories (default: papers/ baselines/).
        paths: Vec<PathBuf>,
    },
    /// Train every arm × seed of the given specs (skipping finished runs) and audit the claims.
    Run {
        #[arg(required = true)]
        specs: Vec<PathBuf>,
        #[command(flatten)]
        common: Common,
        /// Worker processes (default: one per CPU core on cpu, `--jobs-per-gpu` per GPU on cuda).
        #[arg(long)]
        jobs: Option<usize>,
        /// On cuda without `--jobs`: worker processes sharing each GPU (small baselines leave
        /// a GPU mostly idle). Threads per run stay the spec's.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64), conflicts_with = "jobs")]
        jobs_per_gpu: u32,
        /// Retrain runs that are already done.
        #[arg(long)]
        force: bool,
        /// Instead of the sweep: train the first seed of every arm twice in this process and
        /// report whether the two are identical, or the first step whose loss differs.
        #[arg(long)]
        verify_determinism: bool,
        /// Run the sanity checks (`repro sanity`) of every arm to train first, and stop
        /// (exit 1) on a FAIL before any training.
        #[arg(long)]
        sanity: bool,
        #[command(flatten)]
        executor: ExecutorArgs,
    },
    /// Sanity checks per arm before a long training: overfit a tiny set, initial loss against
    /// ln C, gradient flow, a label control (real vs permuted labels), a data sample. Exit 1
    /// when a check fails.
    Sanity {
        #[arg(required = true)]
        specs: Vec<PathBuf>,
        /// Only this arm (its id, or a swept arm's base id).
        #[arg(long)]
        arm: Option<String>,
        /// Every check's details (per-layer gradient norms).
        #[arg(long, short)]
        verbose: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Each arm's model on a real batch: per-layer output shapes, parameters per layer, the
    /// padding and masking in effect.
    Inspect {
        #[arg(required = true)]
        specs: Vec<PathBuf>,
        #[arg(long)]
        arm: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Write the current results into the blessed baseline table (per spec, under
    /// `baselines/blessed/`), showing what changed. Every planned run must be done.
    Bless {
        #[arg(required = true)]
        specs: Vec<PathBuf>,
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        gate: GateArgs,
    },
    /// Regression gate: train the blessed seeds under the current code and specs, then decide
    /// by non-inferiority against the blessed seeds' noise. Exit 0 pass, 1 regression or
    /// undecidable, 2 error.
    Check {
        #[arg(required = true)]
        specs: Vec<PathBuf>,
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        gate: GateArgs,
        #[arg(long)]
        jobs: Option<usize>,
        /// Also write the result as JUnit XML (a test suite per spec, a test case per arm and
        /// metric) for CI test reports.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Also write a Markdown summary fit for a pull-request comment.
        #[arg(long, value_name = "FILE")]
        summary: Option<PathBuf>,
    },
    /// List every planned run: key, spec, arm, seed and its state in the store.
    Plan {
        #[arg(required = true)]
        specs: Vec<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Per spec and arm: how many runs are done, running, failed, missing.
    Status {
        #[arg(required = true)]
        specs: Vec<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Print the claims table from the store without training anything.
    Report {
        #[arg(required = true)]
        specs: Vec<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// One baseline table of every arm of every spec from the store (no training): model,
    /// parameters, metric, mean ± sd, interval, n, claim and verdict or `baseline`, code
    /// version and days of the runs. With `--out DIR`, also `DIR/index.md` and a
    /// self-contained `DIR/index.html` (one table per dataset, linking each spec's `<id>.html`).
    Table {
        /// Spec files or directories (default: papers/ baselines/).
        specs: Vec<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Datasets: list the catalog, verify files, profile a dataset.
    Data {
        #[command(subcommand)]
        command: DataCommand,
        #[arg(long, env = "REPRO_DATA", default_value = "data", global = true)]
        data_dir: PathBuf,
    },
    /// Environment check: libtorch, CUDA, cuDNN, threads, git state, datasets.
    Doctor {
        #[arg(long, env = "REPRO_DATA", default_value = "data")]
        data_dir: PathBuf,
    },
    /// Train the single run in DIR (used by `repro run`): its config comes on standard input
    /// with `--stdin-config`, else from DIR/config.json.
    #[command(hide = true)]
    Worker {
        /// The run directory (with `--stdin-config` or a `config.json` in it).
        #[arg(required_unless_present = "plan")]
        dir: Option<PathBuf>,
        /// Further run directories of the same arm, trained with DIR as one stacked model
        /// (`seeds.stack`); with `--stdin-config`, standard input holds a JSON array of their
        /// configs, DIR's first.
        #[arg(long = "with", conflicts_with = "plan")]
        with: Vec<PathBuf>,
        /// A plan file written by `--executor slurm`, with `--index`.
        #[arg(long, requires = "index")]
        plan: Option<PathBuf>,
        #[arg(long)]
        index: Option<usize>,
        /// CUDA device ordinal for `--device cuda` runs.
        #[arg(long, default_value_t = 0)]
        gpu: usize,
        #[arg(long)]
        stdin_config: bool,
        /// Print `progress <done> <total> <loss>` lines on standard output while training.
        #[arg(long)]
        progress: bool,
        /// Retrain even if the run is done.
        #[arg(long)]
        force: bool,
        #[arg(long, env = "REPRO_DATA", default_value = "data")]
        data_dir: PathBuf,
    },
    /// Print what a planner needs from libtorch on this machine, as JSON (used by the `repro`
    /// front, which does not load libtorch): version, numerics classes, GPUs.
    #[command(hide = true)]
    Facts,
}

#[derive(Subcommand, Debug)]
pub enum DataCommand {
    /// The catalogued datasets (and the project catalog's, `datasets.yaml`), where they come
    /// from, and whether they are present.
    List,
    /// Check every file of the named datasets (default: all) against its pinned sha256.
    Verify { names: Vec<String> },
    /// Counts, class balance, lengths and pad lengths, value statistics, duplicates, leakage.
    Profile {
        /// A dataset name (built-in or the project catalog's) or a spec file (its dataset).
        name: String,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args, Debug)]
pub struct Common {
    /// Apply each spec's `quick:` overrides (fewer steps and seeds).
    #[arg(long)]
    pub quick: bool,
    /// Compute every spec with portable CPU kernels (`numerics: portable`): the same bits on
    /// any x86-64 machine, at some speed (README, "Numerics"). Part of the run key.
    #[arg(long)]
    pub portable: bool,
    /// Run store directory [env: REPRO_STORE] [default: runs]
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// Where runs train.
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    pub device: DeviceArg,
    #[arg(long, env = "REPRO_DATA", default_value = "data")]
    pub data_dir: PathBuf,
    /// Also write each spec's audit to DIR as `<spec id>.md`, `.json` and a self-contained `.html`.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct ExecutorArgs {
    /// `local` (a pool of worker processes on this machine) or `slurm` (a job array whose
    /// tasks each train one plan index against the shared store).
    #[arg(long, value_enum, default_value_t = Executor::Local)]
    pub executor: Executor,
    /// Slurm partition.
    #[arg(long)]
    pub partition: Option<String>,
    /// GPUs per Slurm task (use with `--device cuda`).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub gpus_per_task: Option<u32>,
    /// At most this many array tasks run at once (`--array=...%K`).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_parallel: Option<u32>,
    /// CPU threads per Slurm task.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub cpus_per_task: u32,
    /// Block until the array has finished, then print the audit like a local run.
    #[arg(long)]
    pub wait: bool,
}

#[derive(clap::Args, Debug)]
pub struct GateArgs {
    /// Directory of blessed tables.
    #[arg(long, default_value = "baselines/blessed")]
    pub blessed: PathBuf,
    /// `bless`: the gate tolerance for arms whose spec sets no `gate.tolerance` (default 0.005
    /// for accuracy, error and macro-F1; 0.5% of the blessed mean for NLL and perplexity).
    /// Never a paper claim's tolerance.
    #[arg(long, value_parser = positive_tolerance)]
    pub tolerance: Option<f64>,
}

/// `--tolerance`: a finite number greater than 0 (the gate's margin must not collapse to 0).
fn positive_tolerance(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("must be a number greater than 0, found `{s}`")),
    }
}

/// `--device`.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceArg {
    Cpu,
    Cuda,
}

impl From<DeviceArg> for DeviceKind {
    fn from(d: DeviceArg) -> DeviceKind {
        match d {
            DeviceArg::Cpu => DeviceKind::Cpu,
            DeviceArg::Cuda => DeviceKind::Cuda,
        }
    }
}

/// `--executor`.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Executor {
    Local,
    Slurm,
}

/// An error with the exit code it maps to.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    fn bad_input(message: impl Into<String>) -> Failure {
        Failure {
            code: 2,
            message: message.into(),
        }
    }

    fn failed(message: impl Into<String>) -> Failure {
        Failure {
            code: 1,
            message: message.into(),
        }
    }
}

impl From<RunError> for Failure {
    fn from(e: RunError) -> Failure {
        match e {
            RunError::Data(_)
            | RunError::Config { .. }
            | RunError::Device(..)
            | RunError::CodeMismatch { .. }
            | RunError::NumericsMismatch { .. } => Failure::bad_input(e.to_string()),
            #[cfg(torch)]
            RunError::Train(crate::train::TrainError::Model(_)) => {
                Failure::bad_input(e.to_string())
            }
            RunError::Held(_) => Failure {
                code: runner::EXIT_HELD as u8,
                message: e.to_string(),
            },
            _ => Failure::failed(e.to_string()),
        }
    }
}

impl From<crate::front::FrontError> for Failure {
    fn from(e: crate::front::FrontError) -> Failure {
        Failure::bad_input(e.to_string())
    }
}

impl From<DataError> for Failure {
    fn from(e: DataError) -> Failure {
        Failure::bad_input(e.to_string())
    }
}

impl From<SessionError> for Failure {
    fn from(e: SessionError) -> Failure {
        match e {
            SessionError::Run(e) => e.into(),
            SessionError::Device(_)
            | SessionError::Data(_)
            | SessionError::Baseline(_)
            | SessionError::UnknownArm(_) => Failure::bad_input(e.to_string()),
            SessionError::StoreNotWritable(_)
            | SessionError::BaselineWrite(_)
            | SessionError::RunsFailed { .. }
            | SessionError::Unfinished(_)
            | SessionError::HeldElsewhere(_)
            | SessionError::Regression(_)
            | SessionError::NotDeterministic(_)
            | SessionError::Train(_)
            | SessionError::SanityFailed(_)
            | SessionError::Report(_) => Failure::failed(e.to_string()),
        }
    }
}

pub fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Validate { paths } => validate::validate(&paths),
        Command::Run {
            specs,
            common,
            jobs,
            jobs_per_gpu,
            force,
            verify_determinism,
            sanity,
            executor,
        } => {
            // The front hands over what trains in this process.
            #[cfg(not(torch))]
            if sanity || verify_determinism {
                return Err(crate::front::delegate().into());
            }
            let mut session = open(&specs, &common)?;
            session.jobs_per_gpu = jobs_per_gpu as usize;
            #[cfg(torch)]
            if sanity {
                sanity::before_run(&session)?;
            }
            #[cfg(torch)]
            if verify_determinism {
                return train::verify_determinism(&session);
            }
            if executor.executor == Executor::Slurm {
                train::run_slurm(&session, &common, &executor, force)
            } else {
                train::run_local(&session, &common, jobs, force)
            }
        }
        #[cfg(torch)]
        Command::Sanity {
            specs,
            arm,
            verbose,
            common,
        } => sanity::sanity(&open(&specs, &common)?, arm.as_deref(), verbose),
        #[cfg(torch)]
        Command::Inspect { specs, arm, common } => {
            model_inspect::inspect(&open(&specs, &common)?, arm.as_deref())
        }
        Command::Report { specs, common } => inspect::report(&open(&specs, &common)?, &common),
        #[cfg(torch)]
        Command::Bless {
            specs,
            common,
            gate,
        } => gate::bless(&open(&specs, &common)?, &gate),
        Command::Check {
            specs,
            common,
            gate,
            jobs,
            junit,
            summary,
        } => gate::check(
            &open(&specs, &common)?,
            &gate,
            jobs,
            &gate::CheckOutputs { junit, summary },
        ),
        Command::Plan { specs, common } => inspect::plan(&open(&specs, &common)?),
        Command::Table { specs, common } => {
            inspect::table(&open(&default_paths(&specs), &common)?, &common)
        }
        Command::Status { specs, common } => inspect::status(&open(&specs, &common)?),
        Command::Data { command, data_dir } => data::data(command, &data_dir),
        #[cfg(torch)]
        Command::Doctor { data_dir } => {
            data::doctor(&data_dir);
            Ok(())
        }
        #[cfg(torch)]
        Command::Worker {
            dir,
            with,
            plan,
            index,
            gpu,
            stdin_config,
            progress,
            force,
            data_dir,
        } => worker::worker(
            dir,
            with,
            plan.zip(index),
            stdin_config,
            runner::WorkerOptions { gpu, progress },
            &data_dir,
            force,
        ),
        #[cfg(torch)]
        Command::Facts => {
            let facts = crate::front::observe();
            let json = serde_json::to_string(&facts).map_err(|e| Failure::failed(e.to_string()))?;
            println!("{json}");
            Ok(())
        }
        // The front: `sanity`, `inspect`, `bless` (its resolutions prepare the test split),
        // `doctor`, `worker` and `facts` run in `repro-torch`.
        #[cfg(not(torch))]
        _ => Err(crate::front::delegate().into()),
    }
}

/// Every spec under `paths`, or all their errors (file:line:col) as one bad-input failure.
fn load_specs(paths: &[PathBuf]) -> Result<Vec<Spec>, Failure> {
    spec::load_all(paths).map_err(|errors| {
        Failure::bad_input(
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
        )
    })
}

/// `paths`, or where none are given the bundled spec directories (`papers/`, `baselines/`)
/// that exist.
fn default_paths(paths: &[PathBuf]) -> Vec<PathBuf> {
    if !paths.is_empty() {
        return paths.to_vec();
    }
    ["papers", "baselines"]
        .iter()
        .map(PathBuf::from)
        .filter(|p| p.exists())
        .collect()
}

/// A session over the specs under `paths` with the shared flags.
fn open(paths: &[PathBuf], common: &Common) -> Result<Session, Failure> {
    let specs = load_specs(paths)?;
    // The front: a TorchScript arm is run on a real batch when planned, in `repro-torch`; any
    // other plan takes libtorch's facts from it (cached), failing here if it cannot.
    #[cfg(not(torch))]
    {
        let torchscript = specs.iter().flat_map(|s| &s.arms).any(|arm| {
            matches!(
                arm.resolved(common.quick).model,
                spec::ModelSpec::Torchscript { .. }
            )
        });
        if torchscript {
            return Err(crate::front::delegate().into());
        }
        crate::front::facts().map_err(|e| Failure::bad_input(e.to_string()))?;
    }
    Ok(Session::new(
        specs,
        &session::Options {
            quick: common.quick,
            portable: common.portable,
            store: common.store.clone(),
            device: common.device.into(),
            data_dir: common.data_dir.clone(),
        },
    ))
}
