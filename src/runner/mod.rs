//! Planning and executing runs.
//!
//! - [`plan`] expands specs into runs (arm × seed) with content-addressed keys ([`run_key`]).
//! - [`execute_local`] trains the pending ones in a pool of `repro worker` processes.
//! - [`worker`] is what one such process does for one run directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::data::{self, DataError, FileDigest};
use crate::device::{DeviceError, DeviceKind};
use crate::provenance;
use crate::record::{Record, RunConfig};
use crate::spec::{ResolvedArm, Spec};
use crate::store::{self, RunDir, Store, StoreError};
use crate::train::{self, Outcome};

pub mod slurm;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Train(#[from] train::TrainError),
    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error("cannot start worker `{exe}`: {source}")]
    Spawn {
        exe: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error("slurm: {0}")]
    Slurm(String),
    #[error("{0}: done, or locked by another live process")]
    Held(PathBuf),
    #[error(
        "{dir}: planned by a repro built from code {planned:.12}, but this binary is code {mine:.12} \
         (rebuilt since planning?); plan it again with this binary (`repro run` resubmits it)"
    )]
    CodeMismatch {
        dir: PathBuf,
        planned: String,
        mine: String,
    },
}

/// Exit status of a worker that found its run done or locked by another process.
pub const EXIT_HELD: i32 = 3;

/// sha256 over the canonical resolved arm, seed, dataset digests, the binary's code digest,
/// libtorch version and device kind: the same key means the same computation.
pub fn run_key(
    arm: &ResolvedArm,
    seed: i64,
    data: &[FileDigest],
    code: &str,
    libtorch: &str,
    device: DeviceKind,
) -> String {
    let material = serde_json::json!({
        "arm": serde_json::to_value(arm).unwrap_or_default(),
        "seed": seed,
        "data": data,
        "code": code,
        "libtorch": libtorch,
        "device": device.name(),
    });
    hex::encode(Sha256::digest(material.to_string().as_bytes()))
}

#[derive(Debug, Clone)]
pub struct PlannedRun {
    pub spec_id: String,
    pub arm_id: String,
    /// The arm's id as written in the spec, and the sweep point (empty without a sweep).
    pub arm_base: String,
    pub point: Vec<crate::spec::SweepValue>,
    pub seed: i64,
    pub dir: RunDir,
    pub config: RunConfig,
    pub done: bool,
}

/// Seeds per arm beyond the spec's own count, for adaptive seeding: `(spec id, arm id) → n`.
pub type SeedCounts = std::collections::HashMap<(String, String), u32>;

/// Expands `specs` into runs; datasets are verified first, so nothing starts on bad data.
///
/// An arm trains the spec's seed count, or `counts`' entry for it; under adaptive seeding at
/// least as many as the store already holds from the base seed on, so a report sees them all.
pub fn plan(
    specs: &[Spec],
    quick: bool,
    store: &Store,
    device: DeviceKind,
    data_dir: &Path,
    counts: &SeedCounts,
) -> Result<Vec<PlannedRun>, RunError> {
    let libtorch = provenance::torch_version();
    let fingerprint = provenance::code_digest().to_string();
    let mut runs = Vec::new();
    for spec in specs {
        let digests = data::verify(data::catalog::get(&spec.dataset)?, data_dir)?;
        let seeds = spec.seeds(quick);
        for arm in &spec.arms {
            let resolved = arm.resolved(quick);
            let make = |seed: i64| {
                let key = run_key(resolved, seed, &digests, &fingerprint, &libtorch, device);
                let dir = store.run_dir(&spec.id, &arm.id, &key);
                PlannedRun {
                    spec_id: spec.id.clone(),
                    arm_id: arm.id.clone(),
                    arm_base: arm.base.clone(),
                    point: arm.point.clone(),
                    seed,
                    done: dir.is_done(),
                    dir,
                    config: RunConfig {
                        key,
                        spec_path: spec.path.clone(),
                        spec_sha256: spec.file_sha256.clone(),
                        arm: resolved.clone(),
                        arm_sha256: resolved.sha256(),
                        seed,
                        quick,
                        data: digests.clone(),
                        code: fingerprint.clone(),
                        libtorch: libtorch.clone(),
                        device,
                    },
                }
            };
            let mut n = counts
                .get(&(spec.id.clone(), arm.id.clone()))
                .copied()
                .unwrap_or(seeds.count);
            if seeds.max.is_some() {
                while n < seeds.limit() && make(seeds.seed(&arm.base, n)).done {
                    n += 1;
                }
            }
            let list: Vec<i64> = (0..n.min(seeds.limit()))
                .map(|i| seeds.seed(&arm.base, i))
                .collect();
            let mut sorted = list.clone();
            sorted.sort_unstable();
            if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
                return Err(RunError::Config {
                    path: spec.path.clone(),
                    message: format!("arm `{}` derives seed {} twice", arm.id, w[0]),
                });
            }
            runs.extend(list.into_iter().map(make));
        }
    }
    Ok(runs)
}

pub struct LocalOptions {
    pub jobs: usize,
    pub data_dir: PathBuf,
    pub force: bool,
    /// CUDA devices to spread workers over (each worker gets the least busy one); 0 on CPU.
    pub gpus: usize,
}

/// A worker process in flight.
struct Active {
    run: PlannedRun,
    child: std::process::Child,
    gpu: Option<usize>,
    bar: crate::progress::RunBar,
    reader: Option<std::thread::JoinHandle<()>>,
}

/// What happened to one planned run in this invocation.
pub struct Finished {
    pub run: PlannedRun,
    pub result: RunResult,
}

pub enum RunResult {
    Trained(Box<Record>),
    /// Another runner had locked it (or finished it) first: not trained here.
    Skipped,
    /// The worker process could not finish (its error, or its exit status).
    Error(String),
}

/// Trains every pending run in `runs` with up to `jobs` worker processes, calling
/// `on_finish` as each one ends. Runs already `DONE` are skipped unless `force`.
pub fn execute_local(
    runs: &[PlannedRun],
    opts: &LocalOptions,
    progress: &crate::progress::Progress,
    mut on_finish: impl FnMut(usize, usize, &Finished),
) -> Result<Vec<Finished>, RunError> {
    let exe = std::env::current_exe().map_err(|source| RunError::Spawn {
        exe: PathBuf::from("repro"),
        source,
    })?;
    let pending: Vec<&PlannedRun> = runs.iter().filter(|r| opts.force || !r.done).collect();
    let total = pending.len();
    let mut queue = pending.into_iter();
    let mut active: Vec<Active> = Vec::new();
    let mut finished = Vec::new();
    loop {
        while active.len() < opts.jobs.max(1) {
            let Some(run) = queue.next() else { break };
            let config = serde_json::to_vec(&run.config).map_err(|e| RunError::Config {
                path: run.dir.path().join(store::CONFIG),
                message: e.to_string(),
            })?;
            // Round-robin by load: the GPU with the fewest workers on it.
            let gpu = (opts.gpus > 0).then(|| {
                (0..opts.gpus)
                    .min_by_key(|g| active.iter().filter(|a| a.gpu == Some(*g)).count())
                    .unwrap_or(0)
            });
            let mut child = Command::new(&exe)
                .arg("worker")
                .arg(run.dir.path())
                .arg("--stdin-config")
                .arg("--progress")
                .args(opts.force.then_some("--force"))
                .arg("--gpu")
                .arg(gpu.unwrap_or(0).to_string())
                .env("REPRO_DATA", &opts.data_dir)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|source| RunError::Spawn {
                    exe: exe.clone(),
                    source,
                })?;
            if let Some(mut stdin) = child.stdin.take() {
                use std::io::Write;
                // A worker that dies before reading reports through its exit status.
                let _ = stdin.write_all(&config);
            }
            let bar =
                progress.run_bar(&format!("{}/{} seed {}", run.spec_id, run.arm_id, run.seed));
            // Progress lines on the worker's stdout feed its bar; reading them also keeps the
            // pipe from filling up.
            let reader = child.stdout.take().map(|out| {
                let bar = bar.clone();
                std::thread::spawn(move || {
                    use std::io::BufRead;
                    for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                        if let Some((done, total, loss)) = crate::progress::parse_step(&line) {
                            bar.update(done, total, loss);
                        }
                    }
                })
            });
            active.push(Active {
                run: run.clone(),
                child,
                gpu,
                bar,
                reader,
            });
        }
        if active.is_empty() {
            break;
        }
        // Poll: children finish in any order; a short sleep keeps this loop off the CPU.
        let mut i = 0;
        let mut any = false;
        while i < active.len() {
            let exited = active[i].child.try_wait().ok().flatten();
            if let Some(status) = exited {
                let Active {
                    run,
                    child,
                    bar,
                    reader,
                    ..
                } = active.swap_remove(i);
                let stderr = child
                    .wait_with_output()
                    .map(|o| String::from_utf8_lossy(&o.stderr).trim().to_string())
                    .unwrap_or_default();
                if let Some(r) = reader {
                    let _ = r.join();
                }
                bar.finish();
                let result = if status.code() == Some(EXIT_HELD) {
                    RunResult::Skipped
                } else if status.success() && run.dir.is_done() {
                    match run.dir.read_json::<Record>(store::RECORD) {
                        Ok(r) => RunResult::Trained(Box::new(r)),
                        Err(e) => RunResult::Error(e.to_string()),
                    }
                } else {
                    RunResult::Error(if stderr.is_empty() {
                        format!("worker exited with {status}")
                    } else {
                        stderr
                    })
                };
                let done = Finished { run, result };
                progress.inc();
                on_finish(finished.len() + 1, total, &done);
                finished.push(done);
                any = true;
            } else {
                i += 1;
            }
        }
        if !any {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
    Ok(finished)
}

/// Where a planned run stands in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    Done,
    /// Finished, but training diverged.
    Diverged,
    /// `DONE`, but its record cannot be read.
    Unreadable,
    /// Locked by a live worker.
    Running,
    Missing,
}

impl RunState {
    pub fn name(self) -> &'static str {
        match self {
            RunState::Done => "done",
            RunState::Diverged => "diverged",
            RunState::Unreadable => "unreadable",
            RunState::Running => "running",
            RunState::Missing => "missing",
        }
    }
}

pub fn state(run: &PlannedRun) -> RunState {
    if run.dir.is_done() {
        match run.dir.read_json::<Record>(store::RECORD) {
            Ok(r) if r.metrics.is_some() => RunState::Done,
            Ok(_) => RunState::Diverged,
            Err(_) => RunState::Unreadable,
        }
    } else if run.dir.holder() != store::Holder::Nobody {
        RunState::Running
    } else {
        RunState::Missing
    }
}

/// Loads the finished record of each planned run, in plan order; `None` where not done.
pub fn load_records(runs: &[PlannedRun]) -> Vec<Option<Record>> {
    runs.iter()
        .map(|r| {
            r.dir
                .is_done()
                .then(|| r.dir.read_json::<Record>(store::RECORD).ok())
                .flatten()
        })
        .collect()
}

/// One worker process: locks the run in `dir`, writes `config` there (or, without one, trains
/// the `config.json` already there), trains, and writes the record and `DONE`.
/// How a worker process runs: CUDA ordinal, and whether it prints progress lines. (Its CPU
/// threads come from the run's config: they are part of the key.)
#[derive(Debug, Clone, Copy)]
pub struct WorkerOptions {
    pub gpu: usize,
    pub progress: bool,
}

pub fn worker(
    dir: &Path,
    config: Option<RunConfig>,
    opts: WorkerOptions,
    data_dir: &Path,
    force: bool,
) -> Result<Record, RunError> {
    let run = RunDir::from_path(dir);
    let config: RunConfig = match config {
        Some(c) => c,
        None => run.read_json(store::CONFIG)?,
    };
    if config.code != provenance::code_digest() {
        return Err(RunError::CodeMismatch {
            dir: dir.to_path_buf(),
            planned: config.code,
            mine: provenance::code_digest().to_string(),
        });
    }
    let Some(_lock) = run.lock(force)? else {
        return Err(RunError::Held(dir.to_path_buf()));
    };
    run.reset()?;
    run.write_json(store::CONFIG, &config)?;
    let store = Store::of_run_dir(&run);
    store.journal(&format!("start {} pid {}", config.key, std::process::id()))?;
    let WorkerOptions { gpu, progress } = opts;
    let determinism = provenance::configure(config.arm.train.threads as i32, true);
    let device = config.device.resolve(gpu)?;
    let dataset = data::load(&config.arm.dataset, data_dir)?;
    if dataset.digests != config.data {
        return Err(RunError::Config {
            path: dir.join(store::CONFIG),
            message: "dataset digests differ from the ones the run was planned with".into(),
        });
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let prov = provenance::collect(&cwd, &format!("{device:?}"), determinism);
    run.write_json(store::PROVENANCE, &prov)?;

    let start = Instant::now();
    let mut curve_csv = String::from("step,train_loss,eval_loss,eval_accuracy,lr\n");
    let mut write_error: Option<StoreError> = None;
    // Progress for the parent's bars, at most a few lines a second (and the last step).
    let mut last_report: Option<Instant> = None;
    let outcome: Outcome = train::train_with_progress(
        &config.arm,
        &dataset,
        config.seed,
        device,
        |p| {
            curve_csv.push_str(&format!(
                "{},{},{},{},{}\n",
                p.step, p.train_loss, p.eval_loss, p.eval_accuracy, p.lr
            ));
            if write_error.is_none() {
                write_error = run.write_text(store::CURVE, &curve_csv).err();
            }
        },
        |done, total, loss| {
            if !progress {
                return;
            }
            if done == total || last_report.is_none_or(|t| t.elapsed().as_millis() >= 250) {
                last_report = Some(Instant::now());
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{}", crate::progress::format_step(done, total, loss));
                let _ = out.flush();
            }
        },
    )?;
    if let Some(e) = write_error {
        return Err(e.into());
    }
    let record = Record {
        key: config.key.clone(),
        spec_id: config.arm.spec_id.clone(),
        arm_id: config.arm.arm_id.clone(),
        seed: config.seed,
        quick: config.quick,
        config: config.arm.clone(),
        status: outcome.status,
        metrics: outcome.metrics,
        params: outcome.params,
        steps: outcome.steps,
        selected_step: outcome.selected_step,
        stopped_early: outcome.stopped_early,
        train_size: outcome.train_size,
        test_size: Some(outcome.test_size),
        length: outcome.length,
        eval_split: outcome.eval_split,
        class_names: dataset.class_names.clone(),
        wall_time_s: start.elapsed().as_secs_f64(),
        weights_sha256: outcome.weights_sha256,
        arm_sha256: config.arm_sha256.clone(),
        spec_sha256: config.spec_sha256.clone(),
        data: config.data.clone(),
        code: prov.code.clone(),
        libtorch: prov.backend.libtorch.clone(),
        device: prov.device.clone(),
        curve: outcome.curve,
    };
    run.write_json(store::RECORD, &record)?;
    run.mark_done()?;
    store.journal(&format!("done {} pid {}", config.key, std::process::id()))?;
    Ok(record)
}
