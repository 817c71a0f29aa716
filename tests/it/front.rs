//! The two binaries (issue #15, item 4): `repro`, the front, loads no libtorch; it plans the same
//! keys as `repro-torch`, whose workers train and record them; it hands the commands that need
//! libtorch to `repro-torch` with the same arguments, output and exit codes.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::util::{self, repro, text, walk};

const TINY: &str = "\
id: tiny
title: Tiny end-to-end audit
version: 1
dataset: mnist1d
defaults:
  init: torch
  train: { optimizer: adam, lr: 1.0e-2, batch_size: 100, steps: 20, order: sequential, eval_every: 10, weight_decay: 0 }
seeds: { count: 2, base: 5 }
arms:
  - id: logistic
    model: { kind: linear }
  - id: mlp
    model: { kind: mlp, hidden: [16] }
    sweep: { train.lr: [1.0e-2, 1.0e-3] }
";

fn torch_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_repro-torch"))
}

/// Runs the torch binary itself, like [`repro`] runs the front.
fn repro_torch(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(torch_binary());
    cmd.current_dir(cwd).args(args).env_remove("REPRO_STORE");
    cmd.env("REPRO_DATA", util::data_dir());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run repro-torch")
}

/// The shared libraries `binary` names (`DT_NEEDED`), as `readelf -d` lists them.
fn needed(binary: &Path) -> Vec<String> {
    let out = Command::new("readelf")
        .arg("-d")
        .arg(binary)
        .output()
        .expect("readelf (binutils)");
    assert!(out.status.success(), "{}", text(&out).1);
    text(&out)
        .0
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| l.split('[').nth(1)?.split(']').next().map(str::to_string))
        .collect()
}

#[test]
fn the_front_binary_needs_no_torch_library_and_repro_torch_keeps_cuda_linked() {
    let front = needed(Path::new(env!("CARGO_BIN_EXE_repro")));
    assert!(front.iter().any(|l| l.starts_with("libc.so")), "{front:?}");
    let torchy = |l: &&String| l.contains("torch") || l.contains("c10") || l.contains("cuda");
    assert_eq!(front.iter().filter(torchy).count(), 0, "{front:?}");

    let torch = needed(&torch_binary());
    assert!(torch.contains(&"libtorch_cpu.so".to_string()), "{torch:?}");
    assert!(torch.contains(&"libc10.so".to_string()), "{torch:?}");
    if util::root().join(".torch/lib/libtorch_cuda.so").exists() {
        assert!(torch.contains(&"libtorch_cuda.so".to_string()), "{torch:?}");
    }
}

#[test]
fn front_plans_the_keys_repro_torch_plans_and_its_workers_record() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tiny.yaml"), TINY).unwrap();
    let cache = dir.path().join("cache");
    let env = [("XDG_CACHE_HOME", cache.to_str().unwrap())];
    let store = dir.path().join("store");
    let store_arg = store.to_str().unwrap();
    for extra in [&[][..], &["--portable"][..], &["--quick"][..]] {
        let args: Vec<&str> = ["plan", "tiny.yaml", "--store", store_arg]
            .into_iter()
            .chain(extra.iter().copied())
            .collect();
        let front = repro(dir.path(), &args, &env);
        let torch = repro_torch(dir.path(), &args, &env);
        assert_eq!(front.status.code(), Some(0), "{}", text(&front).1);
        assert_eq!(text(&front), text(&torch), "{extra:?}");
        assert!(text(&front).0.contains("missing"));
    }
    // The facts came from `repro-torch facts` once and are kept for the next planner.
    let cached: Vec<_> = std::fs::read_dir(cache.join("repro")).unwrap().collect();
    assert_eq!(cached.len(), 1);

    // The front's pool trains with `repro-torch worker`: every planned key is recorded, and
    // the torch binary reads the front's store as done.
    let run = repro(
        dir.path(),
        &["run", "tiny.yaml", "--store", store_arg, "--jobs", "2"],
        &env,
    );
    assert_eq!(run.status.code(), Some(0), "{}", text(&run).1);
    let records = walk(&store, "record.json");
    assert_eq!(records.len(), 6);
    let planned = text(&repro_torch(
        dir.path(),
        &["plan", "tiny.yaml", "--store", store_arg],
        &env,
    ))
    .0;
    assert_eq!(planned.matches(" done ").count(), 6, "{planned}");
    for path in &records {
        let r: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let key = r["key"].as_str().unwrap();
        assert!(planned.contains(&key[..16]), "{key} not in {planned}");
        let prov: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(path.with_file_name("provenance.json")).unwrap(),
        )
        .unwrap();
        // The front planned with its code digest; the worker trained as the same code.
        let config: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(path.with_file_name("config.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(config["code"], prov["code"]["build"]);
        assert_eq!(config["code"].as_str().unwrap().len(), 64);
    }
}

#[test]
fn commands_that_need_libtorch_run_in_repro_torch_with_the_same_output_and_exit_code() {
    let root = util::root();
    let front = repro(&root, &["--version"], &[]);
    assert_eq!(text(&front), text(&repro_torch(&root, &["--version"], &[])));

    // `doctor` prints libtorch's versions: only repro-torch can.
    let doctor = repro(&root, &["doctor"], &[]);
    assert_eq!(doctor.status.code(), Some(0));
    assert!(text(&doctor).0.contains("libtorch     2.11.0"));

    // A bad input to a handed-over command: repro-torch's message and exit code, unchanged.
    let args = ["sanity", "no-such-spec.yaml"];
    let front = repro(&root, &args, &[]);
    let torch = repro_torch(&root, &args, &[]);
    assert_eq!(front.status.code(), Some(2));
    assert_eq!(text(&front), text(&torch));
}

#[test]
fn without_repro_torch_the_front_still_validates_and_names_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tiny.yaml"), TINY).unwrap();
    let missing = dir.path().join("bin/repro-torch");
    let env = [
        ("REPRO_TORCH", missing.to_str().unwrap()),
        ("XDG_CACHE_HOME", dir.path().to_str().unwrap()),
    ];
    let ok = repro(dir.path(), &["validate", "tiny.yaml"], &env);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok).1);
    for args in [&["plan", "tiny.yaml"][..], &["doctor"][..]] {
        let out = repro(dir.path(), args, &env);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let (_, stderr) = text(&out);
        assert!(stderr.contains(missing.to_str().unwrap()), "{stderr}");
        assert!(stderr.contains("make build"), "{stderr}");
    }
}

#[test]
fn a_torch_binary_built_from_other_code_is_refused_before_planning() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tiny.yaml"), TINY).unwrap();
    // A stand-in `repro-torch` that answers `facts` for other sources.
    let real = text(&repro_torch(dir.path(), &["facts"], &[])).0;
    let mut facts: serde_json::Value = serde_json::from_str(&real).unwrap();
    facts["code"] = "0".repeat(64).into();
    let fake = dir.path().join("repro-torch");
    std::fs::write(&fake, format!("#!/bin/sh\necho '{facts}'\n")).unwrap();
    std::process::Command::new("chmod")
        .args(["+x", fake.to_str().unwrap()])
        .status()
        .unwrap();
    let env = [
        ("REPRO_TORCH", fake.to_str().unwrap()),
        ("XDG_CACHE_HOME", dir.path().to_str().unwrap()),
    ];
    let out = repro(dir.path(), &["status", "tiny.yaml"], &env);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(stderr.contains("built from other sources"), "{stderr}");
    assert!(stderr.contains(&"0".repeat(64)), "{stderr}");
}

/// A guard, not a new behaviour: the planner now serialises each arm once for all its seeds,
/// and the text a key hashes must stay byte for byte what `run_key` hashed before.
#[test]
fn run_keys_hash_the_text_they_hashed_before_arms_were_serialised_once() {
    use sha2::{Digest, Sha256};
    let arm = util::mnist1d_arm("cnn", 100, 50);
    let data = repro::data::verify_named("mnist1d", None, &util::data_dir()).unwrap();
    let numerics = repro::numerics::Numerics {
        mode: repro::numerics::Mode::Portable,
        class: "cpu x86_64 aten=DEFAULT mkl=COMPATIBLE onednn=off".into(),
    };
    let device = repro::device::DeviceKind::Cpu;
    for seed in [0, 7, -3, 1 << 40] {
        let before = serde_json::json!({
            "arm": serde_json::to_value(&arm).unwrap(),
            "seed": seed,
            "data": data,
            "code": "c0de",
            "libtorch": "2.11.0",
            "device": device.name(),
            "numerics": numerics,
        });
        let expected = hex::encode(Sha256::digest(before.to_string().as_bytes()));
        let key = repro::runner::run_key(&arm, seed, &data, "c0de", "2.11.0", device, &numerics);
        assert_eq!(key, expected, "seed {seed}");
    }
}
