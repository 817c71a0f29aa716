//! Command-line interface: clap definitions, the commands, printing, and exit codes.
//!
//! Exit codes: 0 ok, 1 a gate failed (or a run failed), 2 bad input (spec, data, flags).

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

use crate::data::{self, DataError};
use crate::runner::{self, DeviceKind, LocalOptions, RunError, RunResult};
use crate::spec::{self, Spec};
use crate::store::Store;
use crate::{audit, baseline, provenance, report};

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
        /// Worker processes (default: one per CPU core on cpu, 1 on cuda).
        #[arg(long)]
        jobs: Option<usize>,
        /// Retrain runs that are already done.
        #[arg(long)]
        force: bool,
        /// Instead of the sweep: train the first seed of every arm twice in this process and
        /// report whether the two are identical, or the first step whose loss differs.
        #[arg(long)]
        verify_determinism: bool,
        #[command(flatten)]
        executor: ExecutorArgs,
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
    /// Regression gate: train what is missing, then compare with the blessed table. Exit 0
    /// pass, 1 regression, 2 error.
    Check {
        #[arg(required = true)]
        specs: Vec<PathBuf>,
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        gate: GateArgs,
        #[arg(long)]
        jobs: Option<usize>,
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
        #[arg(long, default_value_t = 1)]
        threads: i32,
        #[arg(long, env = "REPRO_DATA", default_value = "data")]
        data_dir: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum DataCommand {
    /// The catalogued datasets, where they come from, and whether they are present.
    List,
    /// Check every file of the named datasets (default: all) against its pinned sha256.
    Verify { names: Vec<String> },
    /// Counts, class balance, lengths and pad lengths, value statistics, duplicates, leakage.
    Profile {
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
    quick: bool,
    /// Run store directory [env: REPRO_STORE] [default: runs]
    #[arg(long)]
    store: Option<PathBuf>,
    /// cpu or cuda.
    #[arg(long, default_value = "cpu")]
    device: String,
    #[arg(long, env = "REPRO_DATA", default_value = "data")]
    data_dir: PathBuf,
    /// Also write each spec's audit to DIR as `<spec id>.md`, `.json` and a self-contained `.html`.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct ExecutorArgs {
    /// `local` (a pool of worker processes on this machine) or `slurm` (a job array whose
    /// tasks each train one plan index against the shared store).
    #[arg(long, default_value = "local", value_parser = ["local", "slurm"])]
    executor: String,
    /// Slurm partition.
    #[arg(long)]
    partition: Option<String>,
    /// GPUs per Slurm task (use with `--device cuda`).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    gpus_per_task: Option<u32>,
    /// At most this many array tasks run at once (`--array=...%K`).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    max_parallel: Option<u32>,
    /// CPU threads per Slurm task.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    cpus_per_task: u32,
    /// Block until the array has finished, then print the audit like a local run.
    #[arg(long)]
    wait: bool,
}

#[derive(clap::Args, Debug)]
pub struct GateArgs {
    /// Directory of blessed tables.
    #[arg(long, default_value = "baselines/blessed")]
    blessed: PathBuf,
    /// Tolerance for arms without a claim (a claim's own tolerance wins).
    #[arg(long, default_value_t = 0.01)]
    tolerance: f64,
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
            RunError::Data(_) | RunError::Config { .. } | RunError::Device(..) => {
                Failure::bad_input(e.to_string())
            }
            RunError::Train(crate::train::TrainError::Model(_)) => {
                Failure::bad_input(e.to_string())
            }
            RunError::Claimed(_) => Failure {
                code: runner::EXIT_CLAIMED as u8,
                message: e.to_string(),
            },
            _ => Failure::failed(e.to_string()),
        }
    }
}

impl From<DataError> for Failure {
    fn from(e: DataError) -> Failure {
        Failure::bad_input(e.to_string())
    }
}

pub fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Validate { paths } => validate(&paths),
        Command::Run {
            specs,
            common,
            verify_determinism: true,
            ..
        } => verify_determinism(&specs, &common),
        Command::Run {
            specs,
            common,
            jobs,
            force,
            executor,
            ..
        } => {
            if executor.executor == "slurm" {
                run_slurm(&specs, &common, &executor, force)
            } else {
                run_specs(&specs, &common, jobs, force)
            }
        }
        Command::Report { specs, common } => report_specs(&specs, &common),
        Command::Bless {
            specs,
            common,
            gate,
        } => bless(&specs, &common, &gate),
        Command::Check {
            specs,
            common,
            gate,
            jobs,
        } => check(&specs, &common, &gate, jobs),
        Command::Plan { specs, common } => {
            let specs = load_specs(&specs)?;
            let (_, runs) = plan(&specs, &common)?;
            use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
            let mut table = Table::new();
            table.load_preset(UTF8_FULL_CONDENSED).set_header(vec![
                "index",
                "key",
                "spec",
                "arm",
                "sweep point",
                "seed",
                "state",
            ]);
            for (i, r) in runs.iter().enumerate() {
                let point: Vec<String> = r
                    .point
                    .iter()
                    .map(|p| format!("{}={}", p.key, p.value))
                    .collect();
                table.add_row(vec![
                    i.to_string(),
                    r.config.key[..16].to_string(),
                    r.spec_id.clone(),
                    r.arm_base.clone(),
                    point.join(" "),
                    r.seed.to_string(),
                    runner::state(r).name().to_string(),
                ]);
            }
            println!("{table}");
            Ok(())
        }
        Command::Status { specs, common } => status(&specs, &common),
        Command::Data { command, data_dir } => data_command(command, &data_dir),
        Command::Doctor { data_dir } => {
            doctor(&data_dir);
            Ok(())
        }
        Command::Worker {
            dir,
            plan,
            index,
            gpu,
            stdin_config,
            progress,
            force,
            threads,
            data_dir,
        } => worker_command(
            dir,
            plan.zip(index),
            stdin_config,
            runner::WorkerOptions {
                threads,
                gpu,
                progress,
            },
            &data_dir,
            force,
        ),
    }
}

/// The hidden `repro worker`: one run, from a Slurm plan index (where a run another worker
/// finished is not a failure) or a run directory (config on stdin or in the directory).
fn worker_command(
    dir: Option<PathBuf>,
    plan_index: Option<(PathBuf, usize)>,
    stdin_config: bool,
    opts: runner::WorkerOptions,
    data_dir: &Path,
    force: bool,
) -> Result<(), Failure> {
    let from_plan = plan_index.is_some();
    let (dir, config) = match plan_index {
        Some((plan, index)) => {
            let file = runner::slurm::read_plan(&plan)?;
            let Some(entry) = file.runs.get(index) else {
                return Err(Failure::bad_input(format!(
                    "{}: no plan index {index} (the plan has {} runs)",
                    plan.display(),
                    file.runs.len()
                )));
            };
            (entry.dir.clone(), Some(entry.config.clone()))
        }
        None => {
            let dir = dir.ok_or_else(|| {
                Failure::bad_input("worker: give a run directory, or --plan and --index")
            })?;
            let config = if stdin_config {
                let mut text = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                    .map_err(|e| Failure::failed(format!("reading the run config: {e}")))?;
                Some(serde_json::from_str(&text).map_err(|e| {
                    Failure::bad_input(format!("run config on standard input: {e}"))
                })?)
            } else {
                None
            };
            (dir, config)
        }
    };
    match runner::worker(&dir, config, opts, data_dir, force) {
        Ok(r) => {
            if from_plan {
                println!(
                    "{} {} seed {}: done ({:.1} s)",
                    r.spec_id, r.arm_id, r.seed, r.wall_time_s
                );
            }
            Ok(())
        }
        Err(RunError::Claimed(d)) if from_plan => {
            println!("{}: already done or held by another worker", d.display());
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

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

fn validate(paths: &[PathBuf]) -> Result<(), Failure> {
    let paths = if paths.is_empty() {
        vec![PathBuf::from("papers"), PathBuf::from("baselines")]
            .into_iter()
            .filter(|p| p.exists())
            .collect()
    } else {
        paths.to_vec()
    };
    let specs = load_specs(&paths)?;
    for s in &specs {
        let runs: usize = s.arms.len() * s.seeds.count as usize;
        let mut bases: Vec<&str> = s.arms.iter().map(|a| a.base.as_str()).collect();
        bases.dedup();
        let points = if bases.len() == s.arms.len() {
            String::new()
        } else {
            format!(" ({} with sweep points)", s.arms.len())
        };
        println!(
            "ok  {}  {} (v{}, {} arms{points}, {} runs, {} comparisons, {})",
            s.path.display(),
            s.id,
            s.version,
            bases.len(),
            runs,
            s.compare.len(),
            &s.file_sha256[..12]
        );
    }
    Ok(())
}

fn device_kind(name: &str) -> Result<DeviceKind, Failure> {
    DeviceKind::parse(name)
        .ok_or_else(|| Failure::bad_input(format!("--device must be cpu or cuda, found `{name}`")))
}

fn plan(specs: &[Spec], common: &Common) -> Result<(Store, Vec<runner::PlannedRun>), Failure> {
    let device = device_kind(&common.device)?;
    if device == DeviceKind::Cuda && !tch::Cuda::is_available() {
        return Err(Failure::bad_input(
            "--device cuda: no CUDA device is available (see `repro doctor`)",
        ));
    }
    let store = Store::open(common.store.as_deref());
    let code = provenance::code_identity(Path::new("."));
    let runs = runner::plan(
        specs,
        common.quick,
        &store,
        device,
        &common.data_dir,
        &code,
        &runner::SeedCounts::new(),
    )?;
    Ok((store, runs))
}

/// [`plan`] for commands that train: the store must also be writable, checked before any
/// run starts so the error names the path once instead of once per worker.
fn plan_to_train(
    specs: &[Spec],
    common: &Common,
) -> Result<(Store, Vec<runner::PlannedRun>), Failure> {
    let (store, runs) = plan(specs, common)?;
    store
        .ensure_writable()
        .map_err(|e| Failure::failed(format!("cannot write the run store: {e}")))?;
    Ok((store, runs))
}

fn run_specs(
    paths: &[PathBuf],
    common: &Common,
    jobs: Option<usize>,
    force: bool,
) -> Result<(), Failure> {
    let specs = load_specs(paths)?;
    let (store, mut runs) = plan_to_train(&specs, common)?;
    let mut finished = execute(&store, &runs, common, jobs, force)?;
    let mut counts = runner::SeedCounts::new();
    let step = jobs.unwrap_or(2).max(1) as u32;
    while next_seed_round(&specs, &runs, common.quick, step, &mut counts) {
        runs = replan(&specs, common, &store, &counts)?;
        finished.extend(execute(&store, &runs, common, jobs, false)?);
    }
    print_tables(&specs, &runs, common)?;
    finish_status(&finished)
}

/// Adaptive seeds: while an arm's claim is INCONCLUSIVE and it may use more seeds, it gets a
/// round of `step` more. Updates `counts`; false when no arm grew.
fn next_seed_round(
    specs: &[Spec],
    runs: &[runner::PlannedRun],
    quick: bool,
    step: u32,
    counts: &mut runner::SeedCounts,
) -> bool {
    let records = runner::load_records(runs);
    let mut grew = false;
    for spec in specs.iter().filter(|s| s.seeds(quick).max.is_some()) {
        let seeds = spec.seeds(quick);
        let results = audit::arm_results(spec, &spec_records(spec, runs, &records));
        for r in &results {
            let n = r.planned as u32;
            if r.verdict == Some(audit::Verdict::Inconclusive) && n < seeds.limit() {
                counts.insert(
                    (spec.id.clone(), r.arm_id.clone()),
                    (n + step).min(seeds.limit()),
                );
                grew = true;
            }
        }
    }
    grew
}

fn replan(
    specs: &[Spec],
    common: &Common,
    store: &Store,
    counts: &runner::SeedCounts,
) -> Result<Vec<runner::PlannedRun>, Failure> {
    let code = provenance::code_identity(Path::new("."));
    Ok(runner::plan(
        specs,
        common.quick,
        store,
        device_kind(&common.device)?,
        &common.data_dir,
        &code,
        counts,
    )?)
}

/// `repro run --executor slurm`: submits the runs that need training as a job array and, with
/// `--wait`, follows the store until the array is gone from the queue (then, under adaptive
/// seeds, submits the next round for arms still INCONCLUSIVE, and so on).
fn run_slurm(
    paths: &[PathBuf],
    common: &Common,
    ex: &ExecutorArgs,
    force: bool,
) -> Result<(), Failure> {
    let specs = load_specs(paths)?;
    let (store, mut runs) = plan_to_train(&specs, common)?;
    let opts = runner::slurm::SlurmOptions {
        partition: ex.partition.clone(),
        gpus_per_task: ex.gpus_per_task,
        max_parallel: ex.max_parallel,
        cpus_per_task: ex.cpus_per_task,
        data_dir: common.data_dir.clone(),
    };
    let mut counts = runner::SeedCounts::new();
    let step = ex.max_parallel.unwrap_or(2).max(1);
    let mut force = force;
    loop {
        let done = runs.iter().filter(|r| r.done).count();
        let jobs: Vec<String> = match runner::slurm::submit(&store, &runs, force, &opts)? {
            Some(sub) => {
                eprintln!(
                    "{} runs planned, {done} done: submitted Slurm job {} with {} array tasks\n  script {}\n  logs   {}",
                    runs.len(),
                    sub.job_id,
                    sub.indices.len(),
                    sub.script.display(),
                    store.root().join("slurm/logs").display()
                );
                vec![sub.job_id]
            }
            None => {
                eprintln!(
                    "{} runs planned, {done} done: nothing to submit (the rest is running or queued)",
                    runs.len()
                );
                runner::slurm::submissions(&store)
                    .into_iter()
                    .map(|s| s.job_id)
                    .collect()
            }
        };
        if !ex.wait {
            eprintln!(
                "follow it with `repro status`, then `repro report` (both read only the store)"
            );
            return Ok(());
        }
        wait_for_store(&runs, &jobs)?;
        force = false;
        if !next_seed_round(&specs, &runs, common.quick, step, &mut counts) {
            break;
        }
        runs = replan(&specs, common, &store, &counts)?;
    }
    print_tables(&specs, &runs, common)?;
    slurm_outcome(&store, &runs)
}

/// Polls the store until none of `jobs` has a task left in the queue and no run is held by a
/// live worker; shows runs done/total as it goes.
fn wait_for_store(runs: &[runner::PlannedRun], jobs: &[String]) -> Result<(), Failure> {
    let mut last = usize::MAX;
    let bar = crate::progress::Progress::new(runs.len() as u64, "slurm");
    loop {
        // Polled twice a second: look at DONE markers and locks only, never at records.
        let finished = runs.iter().filter(|r| r.dir.is_done()).count();
        let running = runs
            .iter()
            .filter(|r| !r.dir.is_done() && r.dir.holder() != crate::store::Holder::Nobody)
            .count();
        bar.set(finished as u64, &format!("{running} running"));
        if !bar.is_drawing() && finished != last {
            eprintln!("{finished}/{} runs finished, {running} running", runs.len());
            last = finished;
        }
        let queued = running > 0
            || jobs
                .iter()
                .any(|id| runner::slurm::live_tasks(id).is_some_and(|t| !t.is_empty()));
        if !queued {
            bar.finish();
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

/// After a Slurm array: exit 1 naming the runs that are not done, with their task logs.
fn slurm_outcome(store: &Store, runs: &[runner::PlannedRun]) -> Result<(), Failure> {
    let subs = runner::slurm::submissions(store);
    let mut problems = Vec::new();
    for (i, r) in runs.iter().enumerate() {
        let st = runner::state(r);
        if st == runner::RunState::Done {
            continue;
        }
        let log = subs
            .iter()
            .rev()
            .find(|s| s.indices.contains(&i))
            .map(|s| {
                store
                    .root()
                    .join(format!("slurm/logs/{}_{i}.log", s.job_id))
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
        Err(Failure::failed(format!(
            "{} run(s) did not finish:\n{}",
            problems.len(),
            problems.join("\n")
        )))
    }
}

/// Trains the pending runs, printing a line as each ends.
fn execute(
    store: &Store,
    runs: &[runner::PlannedRun],
    common: &Common,
    jobs: Option<usize>,
    force: bool,
) -> Result<Vec<runner::Finished>, Failure> {
    let pending = runs.iter().filter(|r| force || !r.done).count();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let gpus = if common.device == "cuda" {
        tch::Cuda::device_count().max(0) as usize
    } else {
        0
    };
    let default_jobs = if gpus > 0 { gpus } else { cpus };
    let jobs = jobs.unwrap_or(default_jobs).clamp(1, pending.max(1));
    let threads = (cpus / jobs).max(1) as i32;
    let gpu_note = if gpus > 0 {
        format!(", {gpus} GPU(s) round-robin")
    } else {
        String::new()
    };
    eprintln!(
        "{} runs planned, {} already done, {} to train ({} jobs × {} threads{gpu_note}, store {})",
        runs.len(),
        runs.len() - pending,
        pending,
        jobs,
        threads,
        store.root().display()
    );
    let opts = LocalOptions {
        jobs,
        threads_per_job: threads,
        data_dir: common.data_dir.clone(),
        force,
        gpus,
    };
    let progress = crate::progress::Progress::new(pending as u64, "train");
    let finished = runner::execute_local(runs, &opts, &progress, |i, total, f| {
        let head = format!(
            "[{i:>3}/{total}] {}/{} seed {}",
            f.run.spec_id, f.run.arm_id, f.run.seed
        );
        let line = match &f.result {
            RunResult::Trained(r) => match (&r.metrics, &r.status) {
                (Some(m), _) => format!(
                    "{head}: accuracy {:.4}, loss {:.4} ({:.1} s)",
                    m.accuracy, m.loss, r.wall_time_s
                ),
                (None, s) => format!("{head}: FAILED {s:?}"),
            },
            RunResult::Skipped => format!("{head}: skipped (another runner has it)"),
            RunResult::Failed(e) => format!("{head}: ERROR {e}"),
        };
        progress.line(&line);
    })?;
    progress.finish();
    Ok(finished)
}

fn finish_status(finished: &[runner::Finished]) -> Result<(), Failure> {
    let errors: Vec<&runner::Finished> = finished
        .iter()
        .filter(|f| matches!(f.result, RunResult::Failed(_)))
        .collect();
    let diverged = finished
        .iter()
        .filter(|f| matches!(&f.result, RunResult::Trained(r) if r.metrics.is_none()))
        .count();
    if !errors.is_empty() || diverged > 0 {
        return Err(Failure::failed(format!(
            "{} run(s) could not finish and {} diverged",
            errors.len(),
            diverged
        )));
    }
    Ok(())
}

fn print_tables(
    specs: &[Spec],
    runs: &[runner::PlannedRun],
    common: &Common,
) -> Result<(), Failure> {
    let records = runner::load_records(runs);
    for spec in specs {
        let mine = spec_records(spec, runs, &records);
        let results = audit::arm_results(spec, &mine);
        println!("{}", report::claims_table(spec, &results, common.quick));
        let budgets: Vec<String> = spec
            .arms
            .iter()
            .map(|a| {
                let t = &a.resolved(common.quick).train;
                match (t.steps, t.epochs) {
                    (Some(s), _) => format!("{s} steps"),
                    (None, Some(e)) => format!("{e} epochs"),
                    (None, None) => "?".into(),
                }
            })
            .collect();
        let findings = audit::baseline_findings(spec, &results, &budgets);
        for f in &findings {
            println!("{}", f.sentence);
        }
        let comparisons = audit::comparisons(spec, &results, &budgets);
        if !comparisons.is_empty() {
            println!("\nPaired comparisons (b − a, on shared seeds)");
            println!("{}", report::comparisons_table(&comparisons));
            for c in &comparisons {
                println!("{}", c.sentence);
            }
        }
        if let Some(dir) = &common.out {
            let first = mine.iter().find_map(|(_, r)| *r);
            let provenance = provenance_rows(first);
            let json = serde_json::json!({
                "spec": spec.id,
                "title": spec.title,
                "spec_sha256": spec.file_sha256,
                "quick": common.quick,
                "arms": results,
                "findings": findings,
                "comparisons": comparisons,
                "provenance": provenance,
            });
            let files = [
                (
                    "md",
                    report::claims_markdown(
                        spec,
                        &results,
                        &findings,
                        &comparisons,
                        common.quick,
                        &provenance,
                    ),
                ),
                (
                    "json",
                    format!(
                        "{}\n",
                        serde_json::to_string_pretty(&json).unwrap_or_default()
                    ),
                ),
                (
                    "html",
                    report::html::page(
                        spec,
                        &results,
                        &findings,
                        &comparisons,
                        &mine,
                        common.quick,
                        &provenance,
                    ),
                ),
            ];
            std::fs::create_dir_all(dir)
                .map_err(|e| Failure::failed(format!("{}: {e}", dir.display())))?;
            for (ext, text) in files {
                let path = dir.join(format!("{}.{ext}", spec.id));
                crate::store::write_atomic(&path, text.as_bytes())
                    .map_err(|e| Failure::failed(e.to_string()))?;
                eprintln!("wrote {}", path.display());
            }
        }
    }
    Ok(())
}

/// Where a spec's numbers came from, taken from one of its records.
fn provenance_rows(record: Option<&runner::Record>) -> Vec<(String, String)> {
    let Some(r) = record else { return Vec::new() };
    let commit = match &r.code.commit {
        Some(c) => format!(
            "{}{}",
            &c[..12.min(c.len())],
            if r.code.dirty { " (dirty)" } else { "" }
        ),
        None => "not in git".into(),
    };
    vec![
        ("code".into(), commit),
        ("libtorch".into(), r.libtorch.clone()),
        ("device".into(), r.device.clone()),
        (
            "data".into(),
            r.data
                .iter()
                .map(|d| format!("{} sha256 {}", d.file, &d.sha256[..16]))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        ("spec sha256".into(), r.spec_sha256[..16].to_string()),
    ]
}

/// `(arm id, record)` for each planned run of `spec`, in plan order.
fn spec_records<'a>(
    spec: &Spec,
    runs: &[runner::PlannedRun],
    records: &'a [Option<runner::Record>],
) -> Vec<(String, Option<&'a runner::Record>)> {
    runs.iter()
        .zip(records)
        .filter(|(r, _)| r.spec_id == spec.id)
        .map(|(r, rec)| (r.arm_id.clone(), rec.as_ref()))
        .collect()
}

fn bless(paths: &[PathBuf], common: &Common, gate: &GateArgs) -> Result<(), Failure> {
    let specs = load_specs(paths)?;
    let (_, runs) = plan(&specs, common)?;
    let records = runner::load_records(&runs);
    for spec in &specs {
        let mine = spec_records(spec, &runs, &records);
        let table = baseline::build(spec, &mine, common.quick, gate.tolerance)
            .map_err(|e| Failure::bad_input(e.to_string()))?;
        let path = baseline::table_path(&gate.blessed, &spec.id, common.quick);
        let old = match baseline::read(&path) {
            Ok(t) => Some(t),
            Err(baseline::BaselineError::Missing { .. }) => None,
            Err(e) => return Err(Failure::bad_input(e.to_string())),
        };
        for line in baseline::diff(old.as_ref(), &table) {
            println!("{}/{line}", spec.id);
        }
        baseline::write(&path, &table).map_err(|e| Failure::failed(e.to_string()))?;
        eprintln!("blessed {}", path.display());
    }
    Ok(())
}

fn check(
    paths: &[PathBuf],
    common: &Common,
    gate: &GateArgs,
    jobs: Option<usize>,
) -> Result<(), Failure> {
    let specs = load_specs(paths)?;
    let tables = specs
        .iter()
        .map(|s| baseline::read(&baseline::table_path(&gate.blessed, &s.id, common.quick)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Failure::bad_input(e.to_string()))?;
    let (store, runs) = plan_to_train(&specs, common)?;
    execute(&store, &runs, common, jobs, false)?;
    let records = runner::load_records(&runs);
    let mut regressions = Vec::new();
    for (spec, table) in specs.iter().zip(&tables) {
        let mine = spec_records(spec, &runs, &records);
        for blessed in &table.arms {
            let done: Vec<&runner::Record> = mine
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
            let g = audit::gate(blessed, &now, &fingerprint);
            let verdict = if g.regression { "REGRESSION" } else { "ok" };
            println!("{verdict:<10} {}/{}: {}", spec.id, g.arm_id, g.reason);
            if g.same_fingerprint {
                for (seed, old, new) in &g.changed {
                    println!("           seed {seed}: {old} -> {new} (same configuration, data, libtorch and device)");
                }
            }
            if g.regression {
                regressions.push(format!("{}/{}", spec.id, g.arm_id));
            }
        }
    }
    if regressions.is_empty() {
        Ok(())
    } else {
        Err(Failure::failed(format!(
            "regression in {}",
            regressions.join(", ")
        )))
    }
}

fn verify_determinism(paths: &[PathBuf], common: &Common) -> Result<(), Failure> {
    let specs = load_specs(paths)?;
    let kind = device_kind(&common.device)?;
    let device = match kind {
        DeviceKind::Cpu => tch::Device::Cpu,
        DeviceKind::Cuda if tch::Cuda::is_available() => tch::Device::Cuda(0),
        DeviceKind::Cuda => {
            return Err(Failure::bad_input(
                "--device cuda: no CUDA device is available",
            ))
        }
    };
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as i32;
    let flags = provenance::configure(cpus, true);
    eprintln!("determinism: {flags:?}, {cpus} threads, device {device:?}");
    let mut differing = 0;
    for spec in &specs {
        let data = data::load(&spec.dataset, &common.data_dir)?;
        for arm in &spec.arms {
            let resolved = arm.resolved(common.quick);
            let seed = spec.seeds(common.quick).seed(&arm.base, 0);
            let train = || {
                crate::train::train(resolved, &data, seed, device, |_| {})
                    .map_err(|e| Failure::failed(e.to_string()))
            };
            let (a, b) = (train()?, train()?);
            let first = a
                .step_losses
                .iter()
                .zip(&b.step_losses)
                .position(|(x, y)| x.to_bits() != y.to_bits());
            let head = format!("{}/{} seed {seed}", spec.id, arm.id);
            match first {
                None if a.weights_sha256 == b.weights_sha256
                    && a.step_losses.len() == b.step_losses.len() =>
                {
                    println!(
                        "{head}: identical ({} steps, weights sha256 {})",
                        a.steps,
                        &a.weights_sha256[..16]
                    )
                }
                None => {
                    differing += 1;
                    println!("{head}: losses agree but final weights differ");
                }
                Some(step) => {
                    differing += 1;
                    println!(
                        "{head}: DIFFERS from step {}: loss {} vs {}",
                        step + 1,
                        a.step_losses[step],
                        b.step_losses[step]
                    );
                }
            }
        }
    }
    if differing > 0 {
        return Err(Failure::failed(format!(
            "{differing} arm(s) are not deterministic"
        )));
    }
    Ok(())
}

fn status(paths: &[PathBuf], common: &Common) -> Result<(), Failure> {
    use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
    use runner::RunState;
    let specs = load_specs(paths)?;
    let (store, runs) = plan(&specs, common)?;
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_header(vec!["spec", "arm", "done", "running", "failed", "missing"]);
    let states: Vec<RunState> = runs.iter().map(runner::state).collect();
    for spec in &specs {
        for arm in &spec.arms {
            let mine: Vec<RunState> = runs
                .iter()
                .zip(&states)
                .filter(|(r, _)| r.spec_id == spec.id && r.arm_id == arm.id)
                .map(|(_, s)| *s)
                .collect();
            let count = |s: RunState| mine.iter().filter(|&&m| m == s).count().to_string();
            table.add_row(vec![
                spec.id.clone(),
                arm.id.clone(),
                count(RunState::Done),
                count(RunState::Running),
                count(RunState::Failed),
                count(RunState::Missing),
            ]);
        }
    }
    println!("store {}\n{table}", store.root().display());
    Ok(())
}

fn report_specs(paths: &[PathBuf], common: &Common) -> Result<(), Failure> {
    let specs = load_specs(paths)?;
    let (store, runs) = plan(&specs, common)?;
    let done = runs.iter().filter(|r| r.done).count();
    if done < runs.len() {
        eprintln!(
            "{done} of {} planned runs are done in {} (keys include the code version: \
             run `repro run` to train the rest)",
            runs.len(),
            store.root().display()
        );
    }
    print_tables(&specs, &runs, common)
}

fn data_command(command: DataCommand, dir: &Path) -> Result<(), Failure> {
    match command {
        DataCommand::List => {
            for e in data::catalog::CATALOG {
                let state = match data::verify(e, dir) {
                    Ok(_) => "verified".to_string(),
                    Err(DataError::Missing { .. }) => format!("missing (`{}`)", e.fetch),
                    Err(_) => "BAD CHECKSUM".to_string(),
                };
                println!("{:<22} {:<10} {}", e.name, state, e.description);
                println!("{:<22} {:<10} from {}", "", "", e.source);
            }
            Ok(())
        }
        DataCommand::Verify { names } => {
            let entries: Vec<&data::Entry> = if names.is_empty() {
                data::catalog::CATALOG.iter().collect()
            } else {
                names
                    .iter()
                    .map(|n| data::catalog::get(n))
                    .collect::<Result<_, _>>()?
            };
            let mut bad = Vec::new();
            for e in entries {
                match data::verify(e, dir) {
                    Ok(files) => {
                        for f in files {
                            println!("ok   {}  {}", &f.sha256[..16], dir.join(&f.file).display());
                        }
                    }
                    Err(err) => {
                        println!("FAIL {}: {err}", e.name);
                        bad.push(err.to_string());
                    }
                }
            }
            if bad.is_empty() {
                Ok(())
            } else {
                Err(Failure::bad_input(format!(
                    "{} dataset(s) failed verification",
                    bad.len()
                )))
            }
        }
        DataCommand::Profile { name, json } => {
            let ds = data::load(&name, dir)?;
            let p = data::profile::profile(&ds);
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&p).map_err(|e| Failure::failed(e.to_string()))?
                );
            } else {
                println!("{}", data::profile::render(&p));
            }
            Ok(())
        }
    }
}

fn doctor(data_dir: &Path) {
    let backend = provenance::backend();
    let code = provenance::code_identity(Path::new("."));
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("repro        {}", env!("CARGO_PKG_VERSION"));
    println!("libtorch     {}", backend.libtorch);
    println!(
        "cuda         {}",
        if backend.cuda_available {
            format!(
                "available, runtime {}",
                backend.cuda_runtime.as_deref().unwrap_or("?")
            )
        } else {
            format!(
                "not available (backend built for CUDA {})",
                backend.cuda_runtime.as_deref().unwrap_or("none")
            )
        }
    );
    for d in &backend.devices {
        println!("  device     {d}");
    }
    println!(
        "cudnn        {}",
        backend.cudnn.as_deref().unwrap_or("none")
    );
    println!(
        "threads      {} torch intra-op, {} CPU cores",
        tch::get_num_threads(),
        cpus
    );
    println!("host         {}", provenance::hostname());
    match &code.commit {
        Some(c) => println!(
            "git          {} on {}{}{}",
            &c[..12.min(c.len())],
            code.branch.as_deref().unwrap_or("(detached)"),
            if code.dirty { ", dirty" } else { ", clean" },
            if code.untracked > 0 {
                format!(", {} untracked", code.untracked)
            } else {
                String::new()
            }
        ),
        None if code.repository => println!("git          repository without commits yet"),
        None => println!("git          not a git work tree (runs will not record a commit)"),
    }
    for (k, v) in provenance::numeric_env() {
        println!("env          {k}={v}");
    }
    println!("datasets     in {}", data_dir.display());
    for entry in data::catalog::CATALOG {
        let state = match data::verify(entry, data_dir) {
            Ok(_) => "verified".to_string(),
            Err(DataError::Missing { .. }) => format!("missing (run `{}`)", entry.fetch),
            Err(e) => format!("BAD: {e}"),
        };
        println!("  {:<22} {state}", entry.name);
    }
}
