//! What a command costs as a whole process (issue #15, item 4): `repro` (the front, no
//! libtorch) against `repro-torch` (the whole harness, which every command was before the
//! split), each run several times, alternating: wall time min/median/max and peak RSS.
//!
//! Commands: `--help`, `validate` of the bundled specs, `plan` of a 1,000-run sweep
//! (`benches/fixtures/sweep1000.yaml`), `status` over a store of 10,000 finished records (the
//! same sweep with 100 seeds), `report` over 1,000 finished runs, `data verify ACSF1`. The
//! stores are synthetic, written here in a temporary directory: every planned run gets its
//! `config.json`, a `record.json` (one real 20-step run's record, with the run's key, seed,
//! arm and a made-up accuracy) and `DONE`, so the commands read what a real store holds.
//!
//! `cargo bench --bench front_overhead` (`REPEAT=N` repetitions, default 7;
//! `FRONT_OVERHEAD_DIR=DIR` keeps the stores in DIR); peak RSS comes from `/usr/bin/time -f %M`
//! when it exists.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use repro::runner::{self, SeedCounts, WorkerOptions};
use repro::session::{Options, Session};

const FRONT: &str = env!("CARGO_BIN_EXE_repro");
const TORCH: &str = env!("CARGO_BIN_EXE_repro-torch");

/// A store for `spec` (a copy of the 1,000-run sweep with `seeds` seeds per point) with every
/// planned run finished; returns the spec's path.
fn synthetic_store(dir: &Path, store: &Path, seeds: u32) -> PathBuf {
    let text = std::fs::read_to_string("benches/fixtures/sweep1000.yaml").expect("fixture");
    let text = text.replace("count: 10,", &format!("count: {seeds},"));
    let path = dir.join(format!("sweep{seeds}.yaml"));
    std::fs::write(&path, text).expect("write spec");
    let specs = repro::spec::load_all(std::slice::from_ref(&path)).expect("spec");
    let session = Session::new(
        specs,
        &Options {
            quick: false,
            portable: false,
            store: Some(store.to_path_buf()),
            device: repro::device::DeviceKind::Cpu,
            data_dir: PathBuf::from("data"),
        },
    );
    let runs = session.plan(&SeedCounts::new()).expect("plan");
    // One real run gives a record of the right shape; the others are copies of it.
    let first = &runs[0];
    let opts = WorkerOptions {
        gpu: 0,
        progress: false,
    };
    runner::worker(
        first.dir.path(),
        Some(first.config.clone()),
        opts,
        Path::new("data"),
        false,
    )
    .expect("train the template run");
    let record: serde_json::Value = serde_json::from_slice(
        &std::fs::read(first.dir.path().join("record.json")).expect("template record"),
    )
    .expect("record json");
    for (i, run) in runs.iter().enumerate().skip(1) {
        let dir = run.dir.path();
        std::fs::create_dir_all(dir).expect("run dir");
        let mut r = record.clone();
        r["key"] = run.config.key.clone().into();
        r["seed"] = run.seed.into();
        r["config"] = serde_json::to_value(&run.config.arm).expect("arm");
        r["metrics"]["accuracy"] = (0.5 + (i % 97) as f64 / 400.0).into();
        let config = serde_json::to_vec(&run.config).expect("config");
        std::fs::write(dir.join("config.json"), config).expect("config.json");
        std::fs::write(dir.join("record.json"), r.to_string()).expect("record.json");
        std::fs::write(dir.join("DONE"), b"").expect("DONE");
    }
    path
}

/// Wall seconds and peak RSS (KiB, when `/usr/bin/time` exists) of one run of `exe args`.
fn once(exe: &str, args: &[String]) -> (f64, Option<u64>) {
    let timer = Path::new("/usr/bin/time").exists();
    let mut cmd = if timer {
        let mut c = Command::new("/usr/bin/time");
        c.args(["-f", "maxrss=%M", exe]);
        c
    } else {
        Command::new(exe)
    };
    cmd.args(args).env("REPRO_DATA", "data");
    let start = Instant::now();
    let out = cmd.output().expect("run");
    let wall = start.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{exe} {args:?}: {stderr}");
    let rss = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("maxrss="))
        .next_back()
        .and_then(|v| v.trim().parse().ok());
    (wall, rss)
}

fn summary(mut walls: Vec<f64>) -> String {
    walls.sort_by(f64::total_cmp);
    let ms = |s: f64| s * 1000.0;
    format!(
        "{:>8.1} {:>8.1} {:>8.1}",
        ms(walls[0]),
        ms(walls[walls.len() / 2]),
        ms(walls[walls.len() - 1])
    )
}

fn main() {
    let repeat: usize = std::env::var("REPEAT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let tmp = tempfile::tempdir().expect("tempdir");
    // `FRONT_OVERHEAD_DIR`: build the stores there and keep them (to profile a command).
    let base =
        std::env::var_os("FRONT_OVERHEAD_DIR").map_or(tmp.path().to_path_buf(), PathBuf::from);
    let (store1k, store10k) = (base.join("store1k"), base.join("store10k"));
    eprintln!("building the synthetic stores (1,000 and 10,000 records)...");
    let spec1k = synthetic_store(&base, &store1k, 10);
    let spec10k = synthetic_store(&base, &store10k, 100);
    let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<String>>();
    let p = |p: &Path| p.to_str().expect("utf-8 path").to_string();
    let fixture = "benches/fixtures/sweep1000.yaml";
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("--help", s(&["--help"])),
        ("validate (bundled specs)", s(&["validate"])),
        (
            "plan (1,000-run sweep)",
            s(&["plan", fixture, "--store", &p(&base.join("empty"))]),
        ),
        (
            "status (10,000 records)",
            s(&["status", &p(&spec10k), "--store", &p(&store10k)]),
        ),
        (
            "report (1,000 runs)",
            s(&["report", &p(&spec1k), "--store", &p(&store1k)]),
        ),
        ("data verify ACSF1", s(&["data", "verify", "ACSF1"])),
    ];
    // The front's facts are cached by its first planning command; warm every case once.
    for (_, args) in &cases {
        once(FRONT, args);
        once(TORCH, args);
    }
    println!(
        "{:<26} {:<12} {:>8} {:>8} {:>8} {:>10}",
        "command", "binary", "min ms", "med ms", "max ms", "max RSS MB"
    );
    for (name, args) in &cases {
        let mut front = (Vec::new(), 0u64);
        let mut torch = (Vec::new(), 0u64);
        for _ in 0..repeat {
            for (exe, acc) in [(FRONT, &mut front), (TORCH, &mut torch)] {
                let (wall, rss) = once(exe, args);
                acc.0.push(wall);
                acc.1 = acc.1.max(rss.unwrap_or(0));
            }
        }
        for (label, (walls, rss)) in [("repro", front), ("repro-torch", torch)] {
            println!(
                "{name:<26} {label:<12} {} {:>10.1}",
                summary(walls),
                rss as f64 / 1024.0
            );
        }
    }
}
