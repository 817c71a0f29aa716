//! The Slurm executor against a real single-node Slurm (slurmctld, slurmd and munge, started
//! here by `scripts/slurm-local.sh`; `scripts/system-deps.sh` installs them).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use super::util::{self, repro, text};

const SPEC: &str = "\
id: grid
title: A small sweep through Slurm
version: 1
dataset: mnist1d
defaults:
  train: { lr: 1.0e-2, batch_size: 100, steps: 60, eval_every: 30 }
seeds: { count: 2, base: 3 }
arms:
  - id: mlp
    model: { kind: mlp, hidden: [32] }
    sweep: { train.lr: [1.0e-3, 1.0e-2] }
  - id: linear
    model: { kind: linear }
";

/// A running cluster; stopped (daemons killed) when dropped.
struct Cluster {
    dir: PathBuf,
    conf: String,
}

impl Cluster {
    fn start(dir: &Path) -> Cluster {
        let script = util::root().join("scripts/slurm-local.sh");
        let out = Command::new("bash")
            .arg(&script)
            .arg("start")
            .arg(dir)
            .output()
            .expect("run scripts/slurm-local.sh");
        let (stdout, stderr) = text(&out);
        assert!(
            out.status.success(),
            "could not start Slurm (install it with scripts/system-deps.sh):\n{stdout}{stderr}"
        );
        let conf = stdout
            .lines()
            .find_map(|l| l.strip_prefix("export SLURM_CONF="))
            .expect("SLURM_CONF line")
            .to_string();
        Cluster {
            dir: dir.to_path_buf(),
            conf,
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(util::root().join("scripts/slurm-local.sh"))
            .arg("stop")
            .arg(&self.dir)
            .output();
    }
}

fn done_count(store: &Path) -> usize {
    walk(store)
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|f| f == "DONE"))
        .count()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out
}

/// Adaptive seeds through Slurm: a decisive claim stops at `min`, an undecidable one (a point
/// band the interval keeps straddling) gets further array rounds until `max`.
const ADAPTIVE: &str = "\
id: adaptive
title: Adaptive seeds through Slurm
version: 1
dataset: mnist1d
defaults:
  init: torch
  train: { optimizer: adam, lr: 1.0e-2, batch_size: 100, steps: 40, order: sequential, eval_every: 20, weight_decay: 0 }
seeds: { min: 3, max: 4, until: decisive, base: 5 }
arms:
  - id: logistic
    model: { kind: linear }
    claim: { metric: accuracy, reported: 0.95, tolerance: 0.01 }
  - id: point
    model: { kind: linear }
    train: { lr: 3.0e-2 }
    claim: { metric: accuracy, reported: 0.263, tolerance: 0 }
";

#[test]
fn a_sweep_runs_through_a_real_slurm_and_resubmits_only_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(&dir.path().join("slurm"));
    std::fs::write(dir.path().join("grid.yaml"), SPEC).unwrap();
    let store = dir.path().join("store");
    let store_arg = store.to_str().unwrap().to_string();
    let env = [("SLURM_CONF", cluster.conf.as_str())];
    let submit = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "grid.yaml",
            "--store",
            &store_arg,
            "--executor",
            "slurm",
        ];
        args.extend_from_slice(extra);
        repro(dir.path(), &args, &env)
    };

    let started = Instant::now();
    let out = submit(&["--max-parallel", "2", "--wait"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    println!(
        "slurm: 6 runs submitted, trained and audited in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        stderr.contains("submitted Slurm job") && stderr.contains("with 6 array tasks"),
        "{stderr}"
    );
    assert_eq!(done_count(&store), 6);
    // The claims table came from the store the array tasks filled.
    for arm in ["mlp@lr=1.0e-3", "mlp@lr=1.0e-2", "linear"] {
        assert!(
            stdout.lines().any(|l| l.contains(arm) && l.contains("2/2")),
            "{arm}:\n{stdout}"
        );
    }
    let slurm_dir = store.join("slurm");
    let script = walk(&slurm_dir)
        .into_iter()
        .find(|p| p.extension().is_some_and(|x| x == "sbatch"))
        .expect("the sbatch script is kept in the store");
    let script_text = std::fs::read_to_string(&script).unwrap();
    assert!(
        script_text.contains("#SBATCH --array=0-5%2"),
        "{script_text}"
    );
    assert!(
        script_text.contains("worker --plan ")
            && script_text.contains("--index \"$SLURM_ARRAY_TASK_ID\""),
        "{script_text}"
    );
    let logs = walk(&slurm_dir.join("logs"));
    assert_eq!(logs.len(), 6, "one log per array task: {logs:?}");

    // A finished spec submits nothing.
    let again = submit(&[]);
    assert!(
        text(&again).1.contains("nothing to submit"),
        "{}",
        text(&again).1
    );

    // Lose two runs (no DONE means incomplete): resubmitting sends exactly their indices.
    let plan = repro(
        dir.path(),
        &["plan", "grid.yaml", "--store", &store_arg],
        &[],
    );
    let plan_text = text(&plan).0;
    let rows: Vec<&str> = plan_text
        .lines()
        .filter(|l| l.contains("┆ done "))
        .collect();
    assert_eq!(rows.len(), 6, "{plan_text}");
    let mut lost = Vec::new();
    for index in [1usize, 4] {
        let key_prefix = rows[index].split('┆').nth(1).unwrap().trim().to_string();
        let run_dir = walk(&store)
            .into_iter()
            .find(|p| {
                p.is_dir()
                    && p.file_name()
                        .and_then(|f| f.to_str())
                        .is_some_and(|f| f.starts_with(&key_prefix))
            })
            .expect("run directory of the plan row");
        std::fs::remove_file(run_dir.join("DONE")).unwrap();
        lost.push(index);
    }
    assert_eq!(done_count(&store), 4);
    let resumed = submit(&["--wait"]);
    let (stdout, stderr) = text(&resumed);
    assert_eq!(resumed.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stderr.contains("with 2 array tasks"), "{stderr}");
    let submissions = std::fs::read_to_string(slurm_dir.join("submissions.jsonl")).unwrap();
    let last: serde_json::Value =
        serde_json::from_str(submissions.lines().last().unwrap()).unwrap();
    let indices: Vec<usize> = last["indices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(indices, lost);
    assert_eq!(done_count(&store), 6);

    // Every run done once: one `done` journal line per key beyond the two retrained.
    let journal = std::fs::read_to_string(store.join("journal.log")).unwrap();
    let done_lines = journal.lines().filter(|l| l.starts_with("done ")).count();
    assert_eq!(done_lines, 8, "{journal}");
    let status = repro(
        dir.path(),
        &["status", "grid.yaml", "--store", &store_arg],
        &[],
    );
    println!("{}", text(&status).0);

    // Adaptive seeds: `--wait` submits a new round for the arm that is still undecided.
    std::fs::write(dir.path().join("adaptive.yaml"), ADAPTIVE).unwrap();
    let store2 = dir.path().join("store2");
    let out = repro(
        dir.path(),
        &[
            "run",
            "adaptive.yaml",
            "--store",
            store2.to_str().unwrap(),
            "--executor",
            "slurm",
            "--max-parallel",
            "1",
            "--wait",
        ],
        &env,
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let row = |id: &str| {
        stdout
            .lines()
            .find(|l| l.contains(&format!(" {id} ")))
            .unwrap_or_else(|| panic!("{id} row in\n{stdout}"))
            .to_string()
    };
    assert!(
        row("logistic").contains("3/3 (adaptive: decisive)"),
        "{stdout}"
    );
    let rounds = std::fs::read_to_string(store2.join("slurm/submissions.jsonl"))
        .unwrap()
        .lines()
        .count();
    assert!(
        rounds >= 2,
        "more seeds were submitted in later rounds:\n{stderr}"
    );
    let point = row("point");
    assert!(
        point.contains("(adaptive: decisive)") || point.contains("4/4 (adaptive: max 4 reached)"),
        "{point}"
    );
    assert_eq!(
        done_count(&store2),
        3 + 3 + (rounds - 1),
        "one seed per round (--max-parallel 1)"
    );
}
