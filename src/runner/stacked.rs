//! Stacked seeds in the runner (`seeds: { stack: K }`): the groups of an arm's seeds that one
//! worker process trains together ([`groups`]), and that worker ([`worker_stacked`]): it holds
//! each run as [`super::worker`] holds one, trains them as one stacked model
//! ([`crate::train::train_stacked`]) and writes one ordinary record per run.

#[cfg(torch)]
use std::path::{Path, PathBuf};
#[cfg(torch)]
use std::time::Instant;

#[cfg(torch)]
use super::worker::{cpu_since, Timing};
#[cfg(torch)]
use super::worker::{curve_row, ProgressLines, CURVE_HEADER};
use super::PlannedRun;
#[cfg(torch)]
use super::{hold, record_of, Held, RunError, WorkerOptions};
#[cfg(torch)]
use crate::record::{Record, RunConfig};
#[cfg(torch)]
use crate::store::{self, StoreError};
#[cfg(torch)]
use crate::{data, numerics, provenance, train};

/// `pending` (in plan order) cut into the groups one worker trains: consecutive runs of one
/// arm, at most its `stack` at a time; a run of an arm without `stack` is a group of one.
pub fn groups<'a>(pending: &[&'a PlannedRun]) -> Vec<Vec<&'a PlannedRun>> {
    let mut out: Vec<Vec<&PlannedRun>> = Vec::new();
    for &run in pending {
        let fits = out.last().is_some_and(|g| {
            let first = g[0];
            first.stack > 1
                && (g.len() as u32) < first.stack
                && first.spec_id == run.spec_id
                && first.arm_id == run.arm_id
        });
        match out.last_mut() {
            Some(g) if fits => g.push(run),
            _ => out.push(vec![run]),
        }
    }
    out
}

/// One worker process for a group of runs of one arm: holds every run (a run done or held by
/// another process is left to it), trains the held ones stacked and writes each one's record.
/// Returns the records written; [`RunError::Held`] when it held none.
#[cfg(torch)]
pub fn worker_stacked(
    dirs: &[PathBuf],
    configs: Option<Vec<RunConfig>>,
    opts: WorkerOptions,
    data_dir: &Path,
    force: bool,
) -> Result<Vec<Record>, RunError> {
    let mut configs = configs.map(|c| c.into_iter().map(Some).collect::<Vec<_>>());
    if configs.as_ref().is_some_and(|c| c.len() != dirs.len()) {
        return Err(RunError::Config {
            path: dirs[0].join(store::CONFIG),
            message: format!(
                "{} run directories but other than as many configs",
                dirs.len()
            ),
        });
    }
    let mut held: Vec<Held> = Vec::new();
    for (i, dir) in dirs.iter().enumerate() {
        let config = configs.as_mut().and_then(|c| c[i].take());
        match hold(dir, config, force) {
            Ok(h) => held.push(h),
            Err(RunError::Held(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    let Some(first) = held.first() else {
        return Err(RunError::Held(dirs[0].clone()));
    };
    let c0 = first.config.clone();
    for h in &held[1..] {
        let c = &h.config;
        if c.arm_sha256 != c0.arm_sha256
            || c.device != c0.device
            || c.numerics != c0.numerics
            || c.data != c0.data
        {
            return Err(RunError::Config {
                path: h.run.path().join(store::CONFIG),
                message: format!(
                    "stacked with `{}`, but not the same arm, device, numerics and data",
                    first.run.path().display()
                ),
            });
        }
    }
    let WorkerOptions { gpu, progress } = opts;
    let determinism = provenance::configure(c0.arm.train.threads as i32, true);
    let device = c0.device.resolve(gpu)?;
    let observed = numerics::observe(c0.numerics.mode, c0.device, gpu);
    if observed.class != c0.numerics.class {
        return Err(RunError::NumericsMismatch {
            dir: first.run.path().to_path_buf(),
            planned: c0.numerics.class.clone(),
            mine: observed.class,
        });
    }
    let dataset = data::load_named(&c0.arm.dataset, c0.dataset.as_ref(), data_dir)?;
    if dataset.digests != c0.data {
        return Err(RunError::Config {
            path: first.run.path().join(store::CONFIG),
            message: "dataset digests differ from the ones the run was planned with".into(),
        });
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let mut prov = provenance::collect(&cwd, &format!("{device:?}"), determinism, observed);
    prov.module = c0.module.clone();
    for h in &held {
        h.run.write_json(store::PROVENANCE, &prov)?;
    }

    let start = Instant::now();
    let cpu_start = provenance::process_cpu_seconds();
    let seeds: Vec<i64> = held.iter().map(|h| h.config.seed).collect();
    let mut curves = vec![String::from(CURVE_HEADER); held.len()];
    let mut write_error: Option<StoreError> = None;
    let mut lines = ProgressLines::new(progress);
    let outcomes = train::train_stacked(
        &c0.arm,
        &dataset,
        &seeds,
        device,
        |k, p| {
            let csv = &mut curves[k];
            csv.push_str(&curve_row(p));
            if write_error.is_none() {
                write_error = held[k].run.write_text(store::CURVE, csv).err();
            }
        },
        |done, total, loss| lines.step(done, total, loss),
    )?;
    if let Some(e) = write_error {
        return Err(e.into());
    }
    // The group's time, shared out: each record's wall and CPU time is its part of it.
    let k = held.len() as f64;
    let time = Timing {
        wall_s: start.elapsed().as_secs_f64() / k,
        cpu_s: cpu_since(cpu_start).map(|s| s / k),
    };
    held.into_iter()
        .zip(outcomes)
        .map(|(h, outcome)| record_of(h, outcome, &dataset, &prov, time))
        .collect()
}
