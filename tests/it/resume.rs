//! Issue 11: runs that cannot vanish. A forced rerun keeps the old result until the new one is
//! complete, and a resumed sweep that skipped runs other live workers hold says so instead of
//! auditing fewer seeds as if they were all.

use std::path::Path;
use std::time::{Duration, Instant};

use super::util::{repro, text, walk};

const SPEC: &str = "\
id: resume
title: Runs that cannot vanish
version: 1
dataset: mnist1d
defaults:
  train: { lr: 1.0e-2, batch_size: 100, steps: 4000, eval_every: 20 }
seeds: { count: 2, base: 11 }
arms:
  - id: mlp
    model: { kind: mlp, hidden: [64] }
    claim: { metric: accuracy, reported: 0.5, tolerance: 0.2 }
";

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// `--force` used to empty the run directory first: killed halfway, it left neither the old
/// result nor a new one.
#[test]
fn an_interrupted_forced_rerun_keeps_the_old_result() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("resume.yaml"), SPEC).unwrap();
    let out = repro(root, &["run", "resume.yaml", "--store", "store"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    let records = walk(&root.join("store"), "record.json");
    assert_eq!(records.len(), 2);
    let before: Vec<String> = records.iter().map(|p| read(p)).collect();

    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_repro"))
        .current_dir(root)
        .args([
            "run",
            "resume.yaml",
            "--store",
            "store",
            "--force",
            "--jobs",
            "1",
        ])
        .env("REPRO_DATA", super::util::data_dir())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the first forced run is training (its staging directory has a curve), then
    // kill its worker and the runner.
    let start = Instant::now();
    let (staging, lock) = loop {
        let found = records.iter().find_map(|r| {
            let run = r.parent().unwrap();
            let name = run.file_name().unwrap().to_string_lossy().into_owned();
            let staging = run.with_file_name(format!("{name}.new"));
            let lock = run.with_file_name(format!("{name}.lock"));
            (staging.join("curve.csv").is_file() && !read(&lock).is_empty())
                .then_some((staging, lock))
        });
        if let Some(f) = found {
            break f;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no forced run started"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    let pid: i32 = read(&lock)
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let _ = child.kill();
    let _ = child.wait();

    assert!(staging.is_dir(), "the new run trained beside the old one");
    let after: Vec<String> = records.iter().map(|p| read(p)).collect();
    assert_eq!(before, after, "both old records are intact");
    for r in &records {
        assert!(r.with_file_name("DONE").is_file());
    }
    // The store still audits both seeds, and a later forced run replaces them whole.
    let status = repro(root, &["status", "resume.yaml", "--store", "store"], &[]);
    assert!(text(&status).0.contains("┆ 2 "), "{}", text(&status).0);
    let out = repro(
        root,
        &["run", "resume.yaml", "--store", "store", "--force"],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    assert_eq!(walk(&root.join("store"), "record.json").len(), 2);
    assert!(!staging.exists(), "the staged run took the old one's place");
}

/// A second `repro run` beside a live one skips the runs the other holds: it must say so, exit
/// non-zero, and give that arm no verdict on the seeds it happens to see.
#[test]
fn runs_held_by_a_live_worker_are_named_and_get_no_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let spec = SPEC
        .replace("steps: 4000", "steps: 200")
        .replace("count: 2", "count: 3");
    std::fs::write(root.join("resume.yaml"), spec).unwrap();
    let plan = repro(root, &["plan", "resume.yaml", "--store", "store"], &[]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan).1);
    // Hold the second seed's run the way a live worker does (this test process is alive).
    let specs = repro::spec::load(&root.join("resume.yaml")).unwrap();
    let runs = repro::runner::plan(
        &[specs],
        false,
        false,
        &repro::store::Store::open(Some(&root.join("store"))),
        repro::device::DeviceKind::Cpu,
        &super::util::data_dir(),
        &repro::runner::SeedCounts::new(),
    )
    .unwrap();
    let held = runs.iter().find(|r| r.seed == 13).unwrap();
    let _lock = held.dir.lock(false).unwrap().expect("lock");

    let out = repro(root, &["run", "resume.yaml", "--store", "store"], &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("1 run(s) were skipped because other live workers are training them")
            && stderr.contains(&format!(
                "resume/mlp seed 13 (pid {} on ",
                std::process::id()
            )),
        "{stderr}"
    );
    let row = stdout.lines().find(|l| l.contains("mlp")).expect("a row");
    assert!(row.contains("2/3"), "{row}");
    for verdict in ["REPRODUCED", "INCONCLUSIVE", "NOT REPRODUCED"] {
        assert!(!row.contains(verdict), "no verdict on 2 of 3 seeds: {row}");
    }
}
