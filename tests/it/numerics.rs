//! Issue 11: the numerics class in the key. The instruction set the CPU kernels dispatch to
//! changes the numbers (a run ended at loss 0.3859 instead of 0.4179 with ATen pinned to AVX2
//! on an AVX-512 machine), so the class is part of every key; portable mode pins the kernels
//! so that machines with other instruction sets give the same bits.

use std::path::Path;

use super::util::{repro, text, walk};

const SPEC: &str = "\
id: numerics
title: Numerics class
version: 1
dataset: mnist1d
defaults:
  train: { lr: 1.0e-2, batch_size: 100, steps: 30, eval_every: 15 }
seeds: { count: 1, base: 7 }
arms:
  - id: cnn
    model: { kind: cnn1d, channels: [16, 16], kernel: 5, stride: 2, padding: 2, head: gap }
  - id: mlp
    model: { kind: mlp, hidden: [64] }
";

/// (arm, key, numerics class, weights sha256, final train loss bits) of every run in `store`.
fn runs(store: &Path) -> Vec<(String, String, String, String, u64)> {
    let mut out: Vec<_> = walk(store, "record.json")
        .iter()
        .map(|p| {
            let r: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
            let last = r["curve"].as_array().unwrap().last().unwrap().clone();
            (
                r["arm_id"].as_str().unwrap().to_string(),
                r["key"].as_str().unwrap().to_string(),
                r["numerics"]["class"].as_str().unwrap().to_string(),
                r["weights_sha256"].as_str().unwrap().to_string(),
                last["train_loss"].as_f64().unwrap().to_bits(),
            )
        })
        .collect();
    out.sort();
    out
}

/// The done count `repro status` shows for each arm, in row order.
fn done(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter(|l| l.contains("┆"))
        .map(|row| {
            let cells: Vec<&str> = row
                .split('┆')
                .map(|c| c.trim_matches(|ch: char| ch == '│' || ch.is_whitespace()))
                .collect();
            (cells[1].to_string(), cells[2].to_string())
        })
        .filter(|(arm, _)| arm != "arm")
        .collect()
}

const BOTH_DONE: [(&str, &str); 2] = [("cnn", "1"), ("mlp", "1")];

fn run(root: &Path, store: &str, extra: &[&str], env: &[(&str, &str)]) {
    let mut args = vec!["run", "numerics.yaml", "--store", store];
    args.extend_from_slice(extra);
    let out = repro(root, &args, env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
}

/// What another x86-64 machine would dispatch to by itself: ATen's AVX2 kernels, MKL's AVX2
/// path, oneDNN at AVX2 (on this AVX-512 machine each of these changes the bits natively).
const OTHER_MACHINE: &[(&str, &str)] = &[
    ("ATEN_CPU_CAPABILITY", "avx2"),
    ("MKL_ENABLE_INSTRUCTIONS", "AVX2"),
    ("ONEDNN_MAX_CPU_ISA", "AVX2"),
];

#[cfg(target_arch = "x86_64")]
#[test]
fn portable_runs_give_the_same_bits_whatever_the_cpu_dispatches_to() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("numerics.yaml"), SPEC).unwrap();
    run(root, "here", &["--portable"], &[]);
    run(root, "there", &["--portable"], OTHER_MACHINE);
    let (here, there) = (runs(&root.join("here")), runs(&root.join("there")));
    assert_eq!(here.len(), 2);
    assert_eq!(here, there, "same keys, class and bits");
    for r in &here {
        assert_eq!(r.2, "cpu x86_64 aten=DEFAULT mkl=COMPATIBLE onednn=off");
    }

    // `numerics: portable` in the spec is the same computation as `--portable`.
    let spec = SPEC.replace("version: 1\n", "version: 1\nnumerics: portable\n");
    std::fs::write(root.join("numerics.yaml"), spec).unwrap();
    let out = repro(root, &["status", "numerics.yaml", "--store", "here"], &[]);
    assert_eq!(
        done(&text(&out).0),
        BOTH_DONE.map(|(a, n)| (a.into(), n.into()))
    );
}

/// Natively, another instruction set is another key: results computed by other kernels are
/// never mixed into this machine's, and the record says which kernels computed it.
#[cfg(target_arch = "x86_64")]
#[test]
fn native_runs_on_other_kernels_are_other_keys() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("numerics.yaml"), SPEC).unwrap();
    run(root, "native", &[], &[]);
    run(root, "scalar", &[], &[("ATEN_CPU_CAPABILITY", "default")]);
    let (native, scalar) = (runs(&root.join("native")), runs(&root.join("scalar")));
    assert_eq!(native.len(), 2);
    let doctor = text(&repro(root, &["doctor"], &[])).0;
    for (a, b) in native.iter().zip(&scalar) {
        assert!(
            doctor.contains(&a.2),
            "the record's class is doctor's: {doctor}"
        );
        assert!(b.2.contains("aten=DEFAULT"), "{}", b.2);
        assert_ne!(a.2, b.2);
        assert_ne!(a.1, b.1, "another class, another key");
    }
    // The report names the class next to the code and device.
    let out = repro(
        root,
        &[
            "report",
            "numerics.yaml",
            "--store",
            "native",
            "--out",
            "rep",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    let md = std::fs::read_to_string(root.join("rep/numerics.md")).unwrap();
    assert!(
        md.contains(&format!("{} (native)", native[0].2)),
        "numerics row: {md}"
    );
}

/// A worker whose kernels are not the planned ones (a Slurm node of another kind) refuses the
/// run instead of filing other bits under the key.
#[test]
fn a_worker_refuses_a_run_planned_for_other_kernels() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("numerics.yaml"), SPEC).unwrap();
    let out = repro(root, &["plan", "numerics.yaml", "--store", "store"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    run(root, "store", &[], &[]);
    let config_path = walk(&root.join("store"), "config.json").pop().unwrap();
    let other = root.join("store/numerics/other-run");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::copy(&config_path, other.join("config.json")).unwrap();

    let out = repro(
        root,
        &["worker", other.to_str().unwrap()],
        &[("ATEN_CPU_CAPABILITY", "default")],
    );
    let stderr = text(&out).1;
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("planned for numerics class `cpu ")
            && stderr.contains("but this process computes with `cpu ")
            && stderr.contains("aten=DEFAULT"),
        "{stderr}"
    );
    assert!(!other.join("DONE").exists() && !other.join("record.json").exists());
}

/// A CUDA store read where there is no CUDA (a Slurm login node): `status`, `plan` and
/// `report` find the runs by the class the store holds, instead of refusing the device.
#[test]
fn a_cuda_store_reads_on_a_machine_without_cuda() {
    if tch::Cuda::is_available() {
        return; // the planner sees the GPU itself there; this is the login-node case
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("numerics.yaml"), SPEC).unwrap();
    run(root, "store", &[], &[]);
    // Make the CPU results look as if an H100 had computed them: device, class, key, directory.
    let class = "cuda NVIDIA H100 80GB HBM3 tf32-matmul=off tf32-cudnn=on cudnn=9.19.0";
    for config_path in walk(&root.join("store"), "config.json") {
        let read = |p: &Path| -> serde_json::Value {
            serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
        };
        let mut config: repro::record::RunConfig =
            serde_json::from_value(read(&config_path)).unwrap();
        config.device = repro::device::DeviceKind::Cuda;
        config.numerics.class = class.to_string();
        config.key = repro::runner::run_key(
            &config.arm,
            config.seed,
            &config.data,
            &config.code,
            &config.libtorch,
            config.device,
            &config.numerics,
        );
        let old = config_path.parent().unwrap();
        let new = old.with_file_name(&config.key);
        std::fs::rename(old, &new).unwrap();
        std::fs::write(
            new.join("config.json"),
            serde_json::to_string(&config).unwrap(),
        )
        .unwrap();
        let mut record = read(&new.join("record.json"));
        record["key"] = config.key.clone().into();
        record["numerics"]["class"] = class.into();
        std::fs::write(new.join("record.json"), record.to_string()).unwrap();
    }
    let cuda = ["--store", "store", "--device", "cuda"];
    let status = repro(
        root,
        &[&["status", "numerics.yaml"][..], &cuda].concat(),
        &[],
    );
    let (stdout, stderr) = text(&status);
    assert_eq!(status.status.code(), Some(0), "{stderr}");
    assert_eq!(
        done(&stdout),
        BOTH_DONE.map(|(a, n)| (a.into(), n.into())),
        "{stdout}"
    );
    let report = repro(
        root,
        &[&["report", "numerics.yaml", "--out", "rep"][..], &cuda].concat(),
        &[],
    );
    assert_eq!(report.status.code(), Some(0), "{}", text(&report).1);
    let md = std::fs::read_to_string(root.join("rep/numerics.md")).unwrap();
    assert!(md.contains("NVIDIA H100"), "{md}");
    // Training still needs the device.
    let train = repro(
        root,
        &[&["run", "numerics.yaml", "--force"][..], &cuda].concat(),
        &[],
    );
    assert_eq!(train.status.code(), Some(2), "{}", text(&train).1);
}
