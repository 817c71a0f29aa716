//! Stacked seeds in the runner (`seeds: { stack: K }`): where stacking moves bits and the group
//! goes into each run's key ([`grouped`]), the groups of an arm's seeds that one worker process
//! trains together ([`groups`]), and that worker ([`worker_stacked`]): it holds each run as
//! [`super::worker`] holds one, trains them as one stacked model
//! ([`crate::train::train_stacked`], or for a keyed group the whole group with
//! [`crate::train::train_stacked_grouped`]) and writes one ordinary record per held run.

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
use crate::device::DeviceKind;
use crate::numerics::Mode;
#[cfg(torch)]
use crate::record::{Record, RunConfig};
use crate::spec::ModelSpec;
#[cfg(torch)]
use crate::store::{self, StoreError};
#[cfg(torch)]
use crate::train::Outcome;
#[cfg(torch)]
use crate::{data, numerics, provenance, train};

/// Whether stacking `model`'s seeds on `device` under `mode` moves their bits, so that each
/// run's key must name its group (`RunConfig::stack_group`): on a GPU always (batched kernels
/// may round otherwise than K separate ones), on the CPU for a `cnn1d` with oneDNN's
/// convolutions (native numerics), whose grouped convolution does. Elsewhere each stacked seed
/// is bit for bit its separate run and stacking stays out of the key.
pub fn grouped(model: &ModelSpec, device: DeviceKind, mode: Mode) -> bool {
    device == DeviceKind::Cuda || (mode == Mode::Native && matches!(model, ModelSpec::Cnn1d { .. }))
}

/// `pending` (in plan order) cut into the groups one worker trains: consecutive runs of one
/// arm, at most its `stack` at a time, and never across two keyed groups
/// (`config.stack_group`); a run of an arm without `stack` is a group of one.
pub fn groups<'a>(pending: &[&'a PlannedRun]) -> Vec<Vec<&'a PlannedRun>> {
    let mut out: Vec<Vec<&PlannedRun>> = Vec::new();
    for &run in pending {
        let fits = out.last().is_some_and(|g| {
            let first = g[0];
            first.stack > 1
                && (g.len() as u32) < first.stack
                && first.spec_id == run.spec_id
                && first.arm_id == run.arm_id
                && first.config.stack_group == run.config.stack_group
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
            || c.stack_group != c0.stack_group
        {
            return Err(RunError::Config {
                path: h.run.path().join(store::CONFIG),
                message: format!(
                    "stacked with `{}`, but not the same arm, device, numerics, data and group",
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
    // A keyed group trains whole, whichever of its runs this worker holds (the others are
    // done, or another worker's): each seed's result is the group's computation.
    let seeds: Vec<i64> = match &c0.stack_group {
        Some(group) => group.clone(),
        None => held.iter().map(|h| h.config.seed).collect(),
    };
    // Copy `k` of the stacked model → the held run it is, if any.
    let slot: Vec<Option<usize>> = seeds
        .iter()
        .map(|s| held.iter().position(|h| h.config.seed == *s))
        .collect();
    if let Some(h) = held.iter().find(|h| !seeds.contains(&h.config.seed)) {
        return Err(RunError::Config {
            path: h.run.path().join(store::CONFIG),
            message: format!("seed {} is not in its own `stack_group`", h.config.seed),
        });
    }
    let mut curves = vec![String::from(CURVE_HEADER); seeds.len()];
    let mut write_error: Option<StoreError> = None;
    let mut lines = ProgressLines::new(progress);
    let on_point = |k: usize, p: &train::CurvePoint| {
        let Some(i) = slot[k] else { return };
        let csv = &mut curves[k];
        csv.push_str(&curve_row(p));
        if write_error.is_none() {
            write_error = held[i].run.write_text(store::CURVE, csv).err();
        }
    };
    let on_step = |done, total, loss| lines.step(done, total, loss);
    let outcomes = if c0.stack_group.is_some() {
        train::train_stacked_grouped(&c0.arm, &dataset, &seeds, device, on_point, on_step)?
    } else {
        train::train_stacked(&c0.arm, &dataset, &seeds, device, on_point, on_step)?
    };
    if let Some(e) = write_error {
        return Err(e.into());
    }
    // The group's time, shared out: each record's wall and CPU time is its part of it.
    let k = seeds.len() as f64;
    let time = Timing {
        wall_s: start.elapsed().as_secs_f64() / k,
        cpu_s: cpu_since(cpu_start).map(|s| s / k),
    };
    let mut outcomes: Vec<Option<Outcome>> = outcomes.into_iter().map(Some).collect();
    held.into_iter()
        .map(|h| {
            let k = seeds.iter().position(|s| *s == h.config.seed).unwrap_or(0);
            let outcome = outcomes[k].take().ok_or_else(|| RunError::Config {
                path: h.run.path().join(store::CONFIG),
                message: format!("seed {} held twice", h.config.seed),
            })?;
            record_of(h, outcome, &dataset, &prov, time)
        })
        .collect()
}
