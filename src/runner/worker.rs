//! The worker side of a run: hold it (check the config against this binary, pin the numerics,
//! lock it, write its config), train it, and write its record and `DONE` ([`worker`]; the
//! stacked worker in [`super::stacked`] shares [`hold`] and [`record_of`]).

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::{check_module, RunError, WorkerOptions};
use crate::record::{Record, RunConfig};
use crate::store::{self, RunDir, Store, StoreError};
use crate::train::{self, Outcome};
use crate::{data, numerics, provenance};

/// One worker process: locks the run in `dir`, writes `config` there (or, without one, trains
/// the `config.json` already there), trains, and writes the record and `DONE`. A run keyed in
/// a stacked group (`stack_group`: a Slurm array task, or the last pending run of a group) is
/// trained with its whole group, as its key says, and only its own record written.
pub fn worker(
    dir: &Path,
    config: Option<RunConfig>,
    opts: WorkerOptions,
    data_dir: &Path,
    force: bool,
) -> Result<Record, RunError> {
    let config = match config {
        Some(c) => c,
        None => RunDir::from_path(dir).read_json(store::CONFIG)?,
    };
    if config.stack_group.is_some() {
        let dirs = [dir.to_path_buf()];
        let mut records =
            super::stacked::worker_stacked(&dirs, Some(vec![config]), opts, data_dir, force)?;
        return records
            .pop()
            .ok_or_else(|| RunError::Held(dir.to_path_buf()));
    }
    let held = hold(dir, Some(config), force)?;
    let config = held.config.clone();
    let run = held.run.clone();
    let WorkerOptions { gpu, progress } = opts;
    let determinism = provenance::configure(config.arm.train.threads as i32, true);
    let device = config.device.resolve(gpu)?;
    let observed = numerics::observe(config.numerics.mode, config.device, gpu);
    if observed.class != config.numerics.class {
        return Err(RunError::NumericsMismatch {
            dir: dir.to_path_buf(),
            planned: config.numerics.class.clone(),
            mine: observed.class,
        });
    }
    let dataset = data::load_named(&config.arm.dataset, config.dataset.as_ref(), data_dir)?;
    if dataset.digests != config.data {
        return Err(RunError::Config {
            path: dir.join(store::CONFIG),
            message: "dataset digests differ from the ones the run was planned with".into(),
        });
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let mut prov = provenance::collect(&cwd, &format!("{device:?}"), determinism, observed);
    prov.module = config.module.clone();
    run.write_json(store::PROVENANCE, &prov)?;

    let start = Instant::now();
    let cpu_start = provenance::process_cpu_seconds();
    let mut curve_csv = String::from(CURVE_HEADER);
    let mut write_error: Option<StoreError> = None;
    let mut lines = ProgressLines::new(progress);
    let outcome: Outcome = train::train_with_progress(
        &config.arm,
        &dataset,
        config.seed,
        device,
        |p| {
            curve_csv.push_str(&curve_row(p));
            if write_error.is_none() {
                write_error = run.write_text(store::CURVE, &curve_csv).err();
            }
        },
        |done, total, loss| lines.step(done, total, loss),
    )?;
    if let Some(e) = write_error {
        return Err(e.into());
    }
    let time = Timing {
        wall_s: start.elapsed().as_secs_f64(),
        cpu_s: cpu_since(cpu_start),
    };
    record_of(held, outcome, &dataset, &prov, time)
}

/// The first line of a run's `curve.csv`.
pub(super) const CURVE_HEADER: &str = "step,train_loss,eval_loss,eval_accuracy,lr\n";

/// One curve point as a row of `curve.csv`.
pub(super) fn curve_row(p: &train::CurvePoint) -> String {
    format!(
        "{},{},{},{},{}\n",
        p.step, p.train_loss, p.eval_loss, p.eval_accuracy, p.lr
    )
}

/// Progress lines on standard output for the parent's bars (`--progress`): at most a few a
/// second, and always the last step.
pub(super) struct ProgressLines {
    on: bool,
    last: Option<Instant>,
}

impl ProgressLines {
    pub(super) fn new(on: bool) -> ProgressLines {
        ProgressLines { on, last: None }
    }

    pub(super) fn step(&mut self, done: i64, total: i64, loss: f64) {
        if !self.on {
            return;
        }
        if done == total || self.last.is_none_or(|t| t.elapsed().as_millis() >= 250) {
            self.last = Some(Instant::now());
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{}", crate::progress::format_step(done, total, loss));
            let _ = out.flush();
        }
    }
}

/// A run a worker holds: its lock, the directory it trains in (a staging directory beside a
/// finished run under `--force`) and its config.
pub(crate) struct Held {
    _lock: store::RunLock,
    target: RunDir,
    pub(super) run: RunDir,
    staged: bool,
    pub(super) config: RunConfig,
    store: Store,
}

/// What a worker does before training a run: checks the config against this binary, pins the
/// numerics, locks the run (`Held` error when it is done or locked elsewhere), prepares its
/// directory and writes the config there.
pub(crate) fn hold(dir: &Path, config: Option<RunConfig>, force: bool) -> Result<Held, RunError> {
    let run = RunDir::from_path(dir);
    let mut config: RunConfig = match config {
        Some(c) => c,
        None => run.read_json(store::CONFIG)?,
    };
    check_module(&mut config)?;
    if config.code != provenance::code_digest() {
        return Err(RunError::CodeMismatch {
            dir: dir.to_path_buf(),
            planned: config.code,
            mine: provenance::code_digest().to_string(),
        });
    }
    // Before any tensor exists: libtorch reads the pins once, at first dispatch.
    numerics::pin(config.numerics.mode);
    let Some(lock) = run.lock(force)? else {
        return Err(RunError::Held(dir.to_path_buf()));
    };
    // A forced rerun of a finished run trains beside it: the old result stays whole until the
    // new one is complete (an interrupted `--force` loses nothing).
    let target = run;
    // A forced rerun that died between its two renames left the old result aside.
    if target.recover_replaced()? && !force {
        return Err(RunError::Held(dir.to_path_buf()));
    }
    let staged = target.is_done();
    let run = if staged {
        target.staging()?
    } else {
        target.reset()?;
        target.clone()
    };
    run.write_json(store::CONFIG, &config)?;
    let store = Store::of_run_dir(&run);
    store.journal(&format!("start {} pid {}", config.key, std::process::id()))?;
    Ok(Held {
        _lock: lock,
        target,
        run,
        staged,
        config,
        store,
    })
}

/// A run's training time: wall seconds, and the CPU seconds the worker used meanwhile.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    pub wall_s: f64,
    pub cpu_s: Option<f64>,
}

/// CPU seconds this process used since `start` (a [`provenance::process_cpu_seconds`]).
pub(crate) fn cpu_since(start: Option<f64>) -> Option<f64> {
    Some(provenance::process_cpu_seconds()? - start?)
}

/// What a worker does after training a run: its record, written with `DONE` (replacing the
/// finished run under `--force`).
pub(crate) fn record_of(
    held: Held,
    outcome: Outcome,
    dataset: &data::Dataset,
    prov: &provenance::Provenance,
    time: Timing,
) -> Result<Record, RunError> {
    let Held {
        target,
        run,
        staged,
        config,
        store,
        ..
    } = held;
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
        test_total: outcome.test_total,
        eval_split: outcome.eval_split,
        class_names: dataset.class_names.clone(),
        wall_time_s: time.wall_s,
        cpu_time_s: time.cpu_s,
        peak_rss_mib: crate::record::peak_rss_mib(),
        weights_sha256: outcome.weights_sha256,
        arm_sha256: config.arm_sha256.clone(),
        spec_sha256: config.spec_sha256.clone(),
        data: config.data.clone(),
        code: prov.code.clone(),
        libtorch: prov.backend.libtorch.clone(),
        device: prov.device.clone(),
        numerics: prov.numerics.clone(),
        curve_diagnosis: None,
        curve: outcome.curve,
    };
    let record = Record {
        curve_diagnosis: Some(record.diagnosis()),
        ..record
    };
    run.write_json(store::RECORD, &record)?;
    run.mark_done()?;
    if staged {
        target.replace_with(&run)?;
    }
    store.journal(&format!("done {} pid {}", config.key, std::process::id()))?;
    Ok(record)
}
