//! The hidden `repro worker`: trains one run for the local pool (run directory, config on
//! standard input) or for a Slurm array task (plan file and index), or a group of runs of one
//! arm as one stacked model (`--with`, `seeds.stack`).

use std::path::{Path, PathBuf};

use crate::runner::{self, RunError};

use super::Failure;

/// The hidden `repro worker`: one run, from a Slurm plan index (where a run another worker
/// finished is not a failure) or a run directory (config on stdin or in the directory).
pub fn worker(
    dir: Option<PathBuf>,
    with: Vec<PathBuf>,
    plan_index: Option<(PathBuf, usize)>,
    stdin_config: bool,
    opts: runner::WorkerOptions,
    data_dir: &Path,
    force: bool,
) -> Result<(), Failure> {
    if let (Some(dir), false) = (&dir, with.is_empty()) {
        let dirs: Vec<PathBuf> = std::iter::once(dir.clone()).chain(with).collect();
        return stacked(&dirs, stdin_config, opts, data_dir, force);
    }
    let from_plan = plan_index.is_some();
    let (dir, config) = match plan_index {
        Some((plan, index)) => {
            let entry = runner::slurm::plan_entry(&plan, index)?;
            (entry.dir, Some(entry.config))
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
        Err(RunError::Held(d)) if from_plan => {
            println!("{}: already done or held by another worker", d.display());
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// `repro worker DIR --with DIR2 ...`: the runs in `dirs` trained as one stacked model; the
/// configs (with `--stdin-config`) a JSON array on standard input, in the same order.
fn stacked(
    dirs: &[PathBuf],
    stdin_config: bool,
    opts: runner::WorkerOptions,
    data_dir: &Path,
    force: bool,
) -> Result<(), Failure> {
    let configs = if stdin_config {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| Failure::failed(format!("reading the run configs: {e}")))?;
        Some(
            serde_json::from_str(&text)
                .map_err(|e| Failure::bad_input(format!("run configs on standard input: {e}")))?,
        )
    } else {
        None
    };
    runner::worker_stacked(dirs, configs, opts, data_dir, force)?;
    Ok(())
}
