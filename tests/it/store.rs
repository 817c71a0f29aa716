//! The run store under stress: a sweep killed with SIGKILL and resumed, and two runners on
//! one store, must end with every run done exactly once and every file whole.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::util::{self, repro, text};

const SWEEP: &str = "\
id: sweep
title: Kill and resume
version: 1
dataset: mnist1d
defaults:
  train: { lr: 1.0e-2, batch_size: 100, steps: 400, eval_every: 200 }
seeds: { count: 4, base: 1 }
arms:
  - id: cnn
    model: { kind: cnn1d, channels: [16, 16], kernel: 5, stride: 2, padding: 2, head: gap }
  - id: mlp
    model: { kind: mlp, hidden: [64] }
";

fn count_files(dir: &Path, pred: &dyn Fn(&str) -> bool) -> usize {
    let mut n = 0;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                n += count_files(&p, pred);
            } else if p.file_name().and_then(|f| f.to_str()).is_some_and(pred) {
                n += 1;
            }
        }
    }
    n
}

fn wait_until(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < limit, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every run done, once: one `done` journal line per key, no temp files, no locks, whole JSON.
fn check_store(store: &Path, runs: usize) {
    let journal = std::fs::read_to_string(store.join("journal.log")).unwrap();
    let mut done: Vec<&str> = journal
        .lines()
        .filter(|l| l.starts_with("done "))
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    done.sort();
    let total = done.len();
    done.dedup();
    assert_eq!(done.len(), runs, "every run finished:\n{journal}");
    assert_eq!(total, runs, "no run finished twice:\n{journal}");
    assert_eq!(count_files(store, &|f| f == "DONE"), runs);
    assert_eq!(
        count_files(store, &|f| f.starts_with(".tmp-")),
        0,
        "no temp files left"
    );
    assert_eq!(
        count_files(store, &|f| f.ends_with(".lock")),
        0,
        "no locks left"
    );
    let mut stack = vec![store.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "json") {
                let text = std::fs::read_to_string(&p).unwrap();
                serde_json::from_str::<serde_json::Value>(&text)
                    .unwrap_or_else(|e| panic!("{} is not whole JSON: {e}", p.display()));
            }
        }
    }
}

#[test]
fn killed_sweep_resumes_and_every_run_is_done_once() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sweep.yaml"), SWEEP).unwrap();
    let store = dir.path().join("store");
    let store_arg = store.to_str().unwrap().to_string();
    let mut sweep = Command::new(env!("CARGO_BIN_EXE_repro"))
        .current_dir(dir.path())
        .args(["run", "sweep.yaml", "--store", &store_arg, "--jobs", "2"])
        .env("REPRO_DATA", util::data_dir())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("a first finished run", Duration::from_secs(120), || {
        count_files(&store, &|f| f == "DONE") >= 1
    });
    sweep.kill().unwrap(); // SIGKILL: no cleanup; its workers are orphaned mid-run
    sweep.wait().unwrap();
    assert!(count_files(&store, &|f| f == "DONE") < 8, "killed mid-way");

    let out = repro(
        dir.path(),
        &["run", "sweep.yaml", "--store", &store_arg, "--jobs", "2"],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    // Orphaned workers finish their own runs; the resumed sweep skipped those.
    wait_until("the orphans to finish", Duration::from_secs(120), || {
        count_files(&store, &|f| f == "DONE") == 8
            && count_files(&store, &|f| f.ends_with(".lock")) == 0
    });
    check_store(&store, 8);

    let again = repro(
        dir.path(),
        &["run", "sweep.yaml", "--store", &store_arg],
        &[],
    );
    assert!(
        text(&again).1.contains("8 already done, 0 to train"),
        "{}",
        text(&again).1
    );
    let status = repro(
        dir.path(),
        &["status", "sweep.yaml", "--store", &store_arg],
        &[],
    );
    let (stdout, _) = text(&status);
    println!("repro status after kill -9 and resume:\n{stdout}");
    assert!(
        stdout
            .lines()
            .filter(|l| l.contains("sweep") && l.contains("┆ 4 "))
            .count()
            == 2,
        "{stdout}"
    );
    let plan = repro(
        dir.path(),
        &["plan", "sweep.yaml", "--store", &store_arg],
        &[],
    );
    assert_eq!(
        text(&plan)
            .0
            .lines()
            .filter(|l| l.contains("┆ done "))
            .count(),
        8
    );
}

#[test]
fn two_runners_on_one_store_never_train_a_run_twice() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sweep.yaml"), SWEEP).unwrap();
    let store = dir.path().join("store");
    let store_arg = store.to_str().unwrap().to_string();
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_repro"))
            .current_dir(dir.path())
            .args(["run", "sweep.yaml", "--store", &store_arg, "--jobs", "1"])
            .env("REPRO_DATA", util::data_dir())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success() && b.status.success());
    let trained = |o: &std::process::Output| {
        String::from_utf8_lossy(&o.stderr)
            .lines()
            .filter(|l| l.contains(": accuracy "))
            .count()
    };
    assert_eq!(
        trained(&a) + trained(&b),
        8,
        "each run trained by exactly one runner"
    );
    check_store(&store, 8);
}
