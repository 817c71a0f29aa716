//! Issue 11: one computation per key. Run keys carry the code identity of the binary (a digest
//! of its sources embedded at build time), not the git state of the directory it runs in; and
//! the intra-op threads a run trains with come from its spec, never from `--jobs`.

use std::path::Path;
use std::process::Command;

use super::util::{repro, text, walk};

const SPEC: &str = "\
id: ident
title: Code identity
version: 1
dataset: mnist1d
defaults:
  train: { lr: 1.0e-2, batch_size: 100, steps: 40, eval_every: 20 }
seeds: { count: 2, base: 1 }
arms:
  - id: logistic
    model: { kind: linear }
";

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.org"])
        .args(args)
        .output()
        .expect("git");
    assert!(out.status.success(), "git {args:?}: {}", text(&out).1);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `make run` writes tracked reports: the next `repro status` must still find every run (it
/// found none while the key hashed the working tree's diff).
#[test]
fn writing_tracked_reports_in_a_git_clone_keeps_every_run_done() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("ident.yaml"), SPEC).unwrap();
    std::fs::create_dir(root.join("reports")).unwrap();
    std::fs::write(root.join("reports/ident.md"), "placeholder\n").unwrap();
    std::fs::write(root.join(".gitignore"), "/store\n").unwrap();
    git(root, &["init", "-q"]);
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "spec and a kept report"]);

    let run = ["run", "ident.yaml", "--store", "store", "--out", "reports"];
    let out = repro(root, &run, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    assert!(
        git(root, &["status", "--porcelain"]).contains("reports/ident.md"),
        "the run rewrote the tracked report"
    );

    let status = repro(root, &["status", "ident.yaml", "--store", "store"], &[]);
    let (stdout, stderr) = text(&status);
    assert_eq!(status.status.code(), Some(0), "{stderr}");
    let row = stdout.lines().find(|l| l.contains("logistic")).unwrap();
    let cells: Vec<&str> = row
        .split('┆')
        .map(|c| c.trim_matches(|ch: char| ch == '│' || ch.is_whitespace()))
        .collect();
    assert_eq!(cells[..3], ["ident", "logistic", "2"], "{stdout}");

    let again = repro(root, &run, &[]);
    assert!(
        text(&again).1.contains("2 already done, 0 to train"),
        "{}",
        text(&again).1
    );
    // The record names the binary's code digest and, for people, the commit it ran in.
    let doctor = text(&repro(root, &["doctor"], &[])).0;
    let digest = doctor
        .lines()
        .find_map(|l| l.strip_prefix("code"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_string();
    assert_eq!(digest.len(), 64);
    let reports = std::fs::read_to_string(root.join("reports/ident.json")).unwrap();
    assert!(reports.contains(&digest[..12]), "{reports}");

    // And the commit the binary was built from: this repository's, not the clone's the run
    // started in (a pinned binary runs anywhere; the directory's commit says nothing of it).
    let built = doctor
        .lines()
        .find_map(|l| l.strip_prefix("built from"))
        .map(str::trim)
        .unwrap()
        .to_string();
    let source = super::util::root();
    let source_is_git = Command::new("git")
        .current_dir(&source)
        .args(["rev-parse", "--verify", "HEAD"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !source_is_git {
        assert!(built.starts_with("no git commit"), "{built}");
        return;
    }
    let commit = built.strip_suffix("+dirty").unwrap_or(&built);
    assert_eq!(commit.len(), 40, "{built}");
    git(
        &source,
        &["cat-file", "-e", &format!("{commit}^{{commit}}")],
    );
    assert_ne!(git(root, &["rev-parse", "HEAD"]).trim(), commit);
    let record = walk(&root.join("store"), "record.json").remove(0);
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(record).unwrap()).unwrap();
    assert_eq!(record["code"]["built_from"], built.as_str());
    let md = std::fs::read_to_string(root.join("reports/ident.md")).unwrap();
    assert!(
        md.contains(&format!("{} (built from {}", &digest[..12], &commit[..12])),
        "{md}"
    );
}

/// A worker whose binary was rebuilt since planning (a queued Slurm array, a stale binary)
/// refuses the run instead of filing results under a key that names other code.
#[test]
fn a_worker_refuses_a_run_planned_by_other_code() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("ident.yaml"), SPEC).unwrap();
    let out = repro(root, &["run", "ident.yaml", "--store", "store"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    let config_path = walk(&root.join("store"), "config.json")
        .pop()
        .expect("a run");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    let planned = "0".repeat(64);
    config["code"] = serde_json::Value::String(planned.clone());
    let other = root.join("store/other-run");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("config.json"), config.to_string()).unwrap();

    let out = repro(root, &["worker", other.to_str().unwrap()], &[]);
    let stderr = text(&out).1;
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("planned by a repro built from code 000000000000")
            && stderr.contains("plan it again with this binary"),
        "{stderr}"
    );
    assert!(!other.join("DONE").exists() && !other.join("record.json").exists());
}

const CNN: &str = "\
id: jobs
title: Threads from the spec
version: 1
dataset: mnist1d
defaults:
  train: { lr: 1.0e-2, batch_size: 100, steps: 60, eval_every: 30 }
seeds: { count: 2, base: 3 }
arms:
  - id: cnn
    model: { kind: cnn1d, channels: [16, 16], kernel: 5, stride: 2, padding: 2, head: gap }
  - id: cnn2
    model: { kind: cnn1d, channels: [16, 16], kernel: 5, stride: 2, padding: 2, head: gap }
    train: { threads: 2 }
";

/// (key, threads in provenance, accuracy bits, weights sha256) of every run in `store`.
fn runs(store: &Path) -> Vec<(String, i64, u64, String)> {
    let mut out: Vec<(String, i64, u64, String)> = walk(store, "record.json")
        .iter()
        .map(|p| {
            let read = |name: &str| -> serde_json::Value {
                let text = std::fs::read_to_string(p.with_file_name(name)).unwrap();
                serde_json::from_str(&text).unwrap()
            };
            let (r, prov) = (read("record.json"), read("provenance.json"));
            (
                r["key"].as_str().unwrap().to_string(),
                prov["threads"].as_i64().unwrap(),
                r["metrics"]["accuracy"].as_f64().unwrap().to_bits(),
                r["weights_sha256"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

/// The same key gave 0.9490 inside `make run` (2 jobs) and 0.9470 alone (1 job with 2
/// threads): `--jobs` must change neither the threads a run trains with nor its numbers.
#[test]
fn jobs_change_neither_threads_nor_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("jobs.yaml"), CNN).unwrap();
    for (store, jobs) in [("one", "1"), ("two", "2")] {
        let out = repro(
            root,
            &["run", "jobs.yaml", "--store", store, "--jobs", jobs],
            &[],
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    }
    let (one, two) = (runs(&root.join("one")), runs(&root.join("two")));
    assert_eq!(one.len(), 4);
    assert_eq!(
        one, two,
        "same keys, threads, values and weights under --jobs 1 and 2"
    );
    let mut threads: Vec<i64> = one.iter().map(|r| r.1).collect();
    threads.sort();
    assert_eq!(
        threads,
        [1, 1, 2, 2],
        "each run trains with its spec's threads"
    );
    // The thread count is part of the key: the two arms differ only in it.
    let keys: std::collections::HashSet<&String> = one.iter().map(|r| &r.0).collect();
    assert_eq!(keys.len(), 4);
}

/// `threads` is user input like any other key: out of range is an error with its position.
#[test]
fn threads_out_of_range_is_a_spec_error() {
    let dir = tempfile::tempdir().unwrap();
    let spec = SPEC.replace("eval_every: 20 }", "eval_every: 20, threads: 0 }");
    std::fs::write(dir.path().join("ident.yaml"), spec).unwrap();
    let out = repro(dir.path(), &["validate", "ident.yaml"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out)
            .1
            .contains("ident.yaml:6:77: `threads` must be between 1 and 256, found 0"),
        "{}",
        text(&out).1
    );
}
