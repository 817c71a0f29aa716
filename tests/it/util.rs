//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};

/// libtorch's generator and thread count are process-global: tests that train hold this lock.
static TORCH: Mutex<()> = Mutex::new(());

pub fn torch_lock() -> MutexGuard<'static, ()> {
    let guard = TORCH.lock().unwrap_or_else(|e| e.into_inner());
    repro::provenance::configure(1, true);
    guard
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn data_dir() -> PathBuf {
    root().join("data")
}

/// Runs the `repro` binary in `cwd` with `args`.
pub fn repro(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_repro"));
    cmd.current_dir(cwd).args(args).env_remove("REPRO_STORE");
    cmd.env("REPRO_DATA", data_dir());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run repro")
}

pub fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Loads `papers/mnist1d.yaml` and returns the resolved arm `id` with `steps` and `eval_every`.
pub fn mnist1d_arm(id: &str, steps: i64, eval_every: i64) -> repro::spec::ResolvedArm {
    let spec = repro::spec::load(&root().join("papers/mnist1d.yaml")).expect("bundled spec");
    let arm = spec.arms.iter().find(|a| a.id == id).expect("arm");
    let mut resolved = arm.resolved.clone();
    resolved.train.steps = Some(steps);
    resolved.train.epochs = None;
    resolved.train.eval_every = eval_every;
    resolved
}

/// Every file called `name` under `dir`, sorted.
pub fn walk(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p, name));
            } else if p.file_name().and_then(|n| n.to_str()) == Some(name) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// `data::prep::prepare` on a spec that cannot fail (no `data.classes`).
pub fn prepared(
    ds: &repro::data::Dataset,
    spec: &repro::spec::DataSpec,
    seed: i64,
) -> repro::data::prep::Prepared {
    repro::data::prep::prepare(ds, spec, seed).expect("no class split")
}
