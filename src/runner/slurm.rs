//! The Slurm executor: one job array per submission, one array task per plan index.
//!
//! `submit` writes the whole plan into the store (`slurm/plan-<sha>.json`, content-addressed,
//! so resubmitting the same plan reuses it), an sbatch script next to it, and submits the array
//! with `sbatch --parsable` for the indices that are neither done, nor held by a live worker,
//! nor still queued by an earlier submission of the same plan. Each task runs
//! `repro worker --plan FILE --index $SLURM_ARRAY_TASK_ID` against the shared store; `repro
//! status` and `repro report` read only the store.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{state, PlannedRun, RunError, RunState};
use crate::record::RunConfig;
use crate::store::Store;

/// Everything a Slurm task needs to find its run: index → (run directory, config).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanFile {
    pub runs: Vec<PlanEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanEntry {
    pub dir: PathBuf,
    pub config: RunConfig,
}

/// One line of `slurm/submissions.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Submission {
    pub job_id: String,
    pub plan: PathBuf,
    pub script: PathBuf,
    pub indices: Vec<usize>,
}

pub struct SlurmOptions {
    pub partition: Option<String>,
    pub gpus_per_task: Option<u32>,
    pub max_parallel: Option<u32>,
    pub cpus_per_task: u32,
    pub data_dir: PathBuf,
}

fn slurm_error(message: impl Into<String>) -> RunError {
    RunError::Slurm(message.into())
}

/// `[0, 1, 2, 5, 7, 8]` → `0-2,5,7-8` (the syntax of `sbatch --array`).
pub fn array_ranges(indices: &[usize]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < indices.len() {
        let start = indices[i];
        let mut end = start;
        while i + 1 < indices.len() && indices[i + 1] == end + 1 {
            i += 1;
            end = indices[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if end == start {
            let _ = write!(out, "{start}");
        } else {
            let _ = write!(out, "{start}-{end}");
        }
        i += 1;
    }
    out
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// A shell word: single-quoted unless it is plainly safe.
fn quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:@%,".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

fn slurm_dir(store: &Store) -> PathBuf {
    store.root().join("slurm")
}

/// Where the array tasks' logs go: `<store>/slurm/logs`.
pub fn logs_dir(store: &Store) -> PathBuf {
    slurm_dir(store).join("logs")
}

/// The log of array task `index` of job `job_id` (the script's `--output` pattern).
pub fn task_log(store: &Store, job_id: &str, index: usize) -> PathBuf {
    logs_dir(store).join(format!("{job_id}_{index}.log"))
}

/// The run directory and config at `index` of the plan file `plan`.
pub fn plan_entry(plan: &Path, index: usize) -> Result<PlanEntry, RunError> {
    let mut file = read_plan(plan)?;
    if index >= file.runs.len() {
        return Err(RunError::Config {
            path: plan.to_path_buf(),
            message: format!(
                "no plan index {index} (the plan has {} runs)",
                file.runs.len()
            ),
        });
    }
    Ok(file.runs.swap_remove(index))
}

/// Writes the plan file for `runs` (absolute run directories) and returns its path.
pub fn write_plan(store: &Store, runs: &[PlannedRun]) -> Result<PathBuf, RunError> {
    let plan = PlanFile {
        runs: runs
            .iter()
            .map(|r| PlanEntry {
                dir: absolute(r.dir.path()),
                config: r.config.clone(),
            })
            .collect(),
    };
    let text = serde_json::to_string_pretty(&plan).map_err(|e| slurm_error(e.to_string()))?;
    let sha = hex::encode(Sha256::digest(text.as_bytes()));
    let dir = slurm_dir(store);
    std::fs::create_dir_all(&dir).map_err(|source| crate::store::StoreError::Io {
        path: dir.clone(),
        source,
    })?;
    let path = absolute(&dir.join(format!("plan-{}.json", &sha[..16])));
    crate::store::write_atomic(&path, text.as_bytes())?;
    Ok(path)
}

pub fn read_plan(path: &Path) -> Result<PlanFile, RunError> {
    let text = std::fs::read_to_string(path).map_err(|source| crate::store::StoreError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| RunError::Config {
        path: path.to_path_buf(),
        message: format!("not a repro plan file: {e}"),
    })
}

/// The sbatch script for an array over `indices` of the plan at `plan`.
pub fn script(
    plan: &Path,
    indices: &[usize],
    store: &Store,
    exe: &Path,
    opts: &SlurmOptions,
    force: bool,
) -> String {
    let logs = absolute(&logs_dir(store));
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let mut s = String::from("#!/bin/bash\n");
    let _ = writeln!(s, "#SBATCH --job-name=repro");
    let throttle = opts
        .max_parallel
        .map(|k| format!("%{k}"))
        .unwrap_or_default();
    let _ = writeln!(s, "#SBATCH --array={}{throttle}", array_ranges(indices));
    let _ = writeln!(s, "#SBATCH --ntasks=1");
    let _ = writeln!(s, "#SBATCH --cpus-per-task={}", opts.cpus_per_task.max(1));
    if let Some(p) = &opts.partition {
        let _ = writeln!(s, "#SBATCH --partition={p}");
    }
    if let Some(g) = opts.gpus_per_task {
        let _ = writeln!(s, "#SBATCH --gpus-per-task={g}");
    }
    let _ = writeln!(s, "#SBATCH --output={}/%A_%a.log", logs.display());
    let _ = writeln!(s, "#SBATCH --chdir={}", cwd.display());
    s.push_str("# Written by `repro run --executor slurm`; one task trains one plan index.\n");
    s.push_str("set -euo pipefail\n");
    let _ = writeln!(
        s,
        "export REPRO_DATA={}",
        quote(&absolute(&opts.data_dir).to_string_lossy())
    );
    let _ = writeln!(
        s,
        "exec {} worker --plan {} --index \"$SLURM_ARRAY_TASK_ID\"{}",
        quote(&exe.to_string_lossy()),
        quote(&plan.to_string_lossy()),
        if force { " --force" } else { "" }
    );
    s
}

fn run_tool(tool: &str, args: &[&str]) -> Result<String, RunError> {
    let out = Command::new(tool).args(args).output().map_err(|e| {
        slurm_error(format!(
            "cannot run `{tool}`: {e} (is Slurm installed and on PATH?)"
        ))
    })?;
    if !out.status.success() {
        return Err(slurm_error(format!(
            "`{tool} {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Array tasks of `job_id` that Slurm still has queued or running, by array index; `None`
/// when the job is no longer known (finished and purged).
pub fn live_tasks(job_id: &str) -> Option<Vec<usize>> {
    let out = Command::new("squeue")
        .args(["-h", "-r", "-j", job_id, "-o", "%K"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.trim().parse::<usize>().ok())
            .collect(),
    )
}

fn submissions_path(store: &Store) -> PathBuf {
    slurm_dir(store).join("submissions.jsonl")
}

pub fn submissions(store: &Store) -> Vec<Submission> {
    std::fs::read_to_string(submissions_path(store))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Submits the runs of `runs` that need training; `None` when there is nothing to submit.
pub fn submit(
    store: &Store,
    runs: &[PlannedRun],
    force: bool,
    opts: &SlurmOptions,
) -> Result<Option<Submission>, RunError> {
    // An array task trains one run; a run keyed in a stacked group needs its whole group
    // trained, so each of the group's K tasks would train all K copies.
    if let Some(r) = runs.iter().find(|r| r.config.stack_group.is_some()) {
        return Err(RunError::Config {
            path: r.config.spec_path.clone(),
            message: format!(
                "arm `{}`: its stacked seeds are keyed by their group (`seeds.stack` on a GPU, \
                 or of a `cnn1d` with native kernels), and a Slurm array task trains one run, \
                 so each task would train the whole group (K times the work); train it with \
                 the local executor, or drop `stack`",
                r.arm_id
            ),
        });
    }
    let plan = write_plan(store, runs)?;
    // Indices an earlier submission of this same plan still has in the queue.
    let mut queued: Vec<usize> = Vec::new();
    for s in submissions(store).iter().filter(|s| s.plan == plan) {
        queued.extend(live_tasks(&s.job_id).unwrap_or_default());
    }
    let indices: Vec<usize> = runs
        .iter()
        .enumerate()
        .filter(|(i, r)| {
            let st = state(r);
            !queued.contains(i) && (st == RunState::Missing || (force && st != RunState::Running))
        })
        .map(|(i, _)| i)
        .collect();
    if indices.is_empty() {
        return Ok(None);
    }
    let max_array = run_tool("scontrol", &["show", "config"])
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.trim_start().starts_with("MaxArraySize"))
                .and_then(|l| l.split('=').nth(1))
                .and_then(|v| v.trim().parse::<usize>().ok())
        })
        .unwrap_or(1001);
    if let Some(&last) = indices.last() {
        if last >= max_array {
            return Err(slurm_error(format!(
                "plan index {last} exceeds this cluster's MaxArraySize ({max_array}); \
                 submit fewer specs at a time"
            )));
        }
    }
    let exe = super::worker_exe()?;
    std::fs::create_dir_all(logs_dir(store)).map_err(|source| crate::store::StoreError::Io {
        path: logs_dir(store),
        source,
    })?;
    let text = script(&plan, &indices, store, &exe, opts, force);
    let sha = hex::encode(Sha256::digest(text.as_bytes()));
    let script_path = absolute(&slurm_dir(store).join(format!("array-{}.sbatch", &sha[..16])));
    crate::store::write_atomic(&script_path, text.as_bytes())?;
    let out =
        run_tool("sbatch", &["--parsable", &script_path.to_string_lossy()]).inspect_err(|_| {
            // Not submitted: leave no script that looks as if it had been.
            let _ = std::fs::remove_file(&script_path);
        })?;
    // `--parsable` prints `jobid` or `jobid;cluster`.
    let job_id = out
        .trim()
        .split(';')
        .next()
        .filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()))
        .ok_or_else(|| slurm_error(format!("unexpected `sbatch --parsable` output: {out:?}")))?
        .to_string();
    let submission = Submission {
        job_id,
        plan,
        script: script_path,
        indices,
    };
    let line = serde_json::to_string(&submission).map_err(|e| slurm_error(e.to_string()))?;
    crate::store::append_line(&submissions_path(store), &line)?;
    store.journal(&format!(
        "submit slurm job {} ({} tasks)",
        submission.job_id,
        submission.indices.len()
    ))?;
    Ok(Some(submission))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_compress_runs_of_indices() {
        assert_eq!(array_ranges(&[0, 1, 2, 5, 7, 8]), "0-2,5,7-8");
        assert_eq!(array_ranges(&[3]), "3");
        assert_eq!(array_ranges(&[]), "");
    }

    #[test]
    fn the_script_carries_every_option() {
        let store = Store::open(Some(Path::new("/shared/runs")));
        let opts = SlurmOptions {
            partition: Some("gpu".into()),
            gpus_per_task: Some(1),
            max_parallel: Some(4),
            cpus_per_task: 8,
            data_dir: PathBuf::from("/shared/data"),
        };
        let text = script(
            Path::new("/shared/runs/slurm/plan-ab.json"),
            &[0, 1, 2, 7],
            &store,
            Path::new("/opt/repro bin/repro"),
            &opts,
            true,
        );
        for line in [
            "#SBATCH --array=0-2,7%4",
            "#SBATCH --cpus-per-task=8",
            "#SBATCH --partition=gpu",
            "#SBATCH --gpus-per-task=1",
            "#SBATCH --output=/shared/runs/slurm/logs/%A_%a.log",
            "export REPRO_DATA=/shared/data",
            "exec '/opt/repro bin/repro' worker --plan /shared/runs/slurm/plan-ab.json --index \"$SLURM_ARRAY_TASK_ID\" --force",
        ] {
            assert!(text.lines().any(|l| l == line), "{line}\n---\n{text}");
        }
        let plain = SlurmOptions {
            partition: None,
            gpus_per_task: None,
            max_parallel: None,
            cpus_per_task: 1,
            data_dir: PathBuf::from("/d"),
        };
        let text = script(
            Path::new("/p.json"),
            &[3],
            &store,
            Path::new("/r"),
            &plain,
            false,
        );
        assert!(text.contains("#SBATCH --array=3\n"));
        assert!(
            !text.contains("--partition") && !text.contains("--gpus") && !text.contains("--force")
        );
    }

    #[test]
    fn words_are_quoted_for_the_shell() {
        assert_eq!(quote("/a/b-c.json"), "/a/b-c.json");
        assert_eq!(quote("it's here"), r"'it'\''s here'");
        assert_eq!(quote(""), "''");
    }
}
