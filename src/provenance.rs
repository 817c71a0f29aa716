//! Everything a number's trustworthiness depends on, gathered in one place: code identity (git2,
//! the only caller of git in the crate), libtorch/CUDA/cuDNN versions, devices, threads, host,
//! numerics-relevant environment, and the seeding and determinism switches themselves.

#[cfg(torch)]
use std::ffi::CStr;
#[cfg(torch)]
use std::os::raw::{c_char, c_int, c_long};
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[cfg(torch)]
unsafe extern "C" {
    fn repro_torch_version() -> *const c_char;
    fn repro_set_deterministic(on: c_int) -> c_int;
    fn repro_determinism_flags() -> c_int;
    fn repro_cudnn_version() -> c_long;
    fn repro_cuda_runtime_version() -> c_long;
    fn repro_cuda_device_name(index: c_int, buf: *mut c_char, len: c_int) -> c_int;
    fn repro_tune_malloc(mmap_threshold: c_long, trim_threshold: c_long) -> c_int;
    fn repro_process_cpu_seconds() -> f64;
}

/// Environment variables that change numerics or threading, recorded when set.
const NUMERIC_ENV: &[&str] = &[
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "OPENBLAS_CORETYPE",
    "CUBLAS_WORKSPACE_CONFIG",
    "CUDA_VISIBLE_DEVICES",
    "ATEN_CPU_CAPABILITY",
    "MKL_CBWR",
    "MKL_ENABLE_INSTRUCTIONS",
    "ONEDNN_MAX_CPU_ISA",
    "DNNL_MAX_CPU_ISA",
    "TORCH_ALLOW_TF32_CUBLAS_OVERRIDE",
    "NVIDIA_TF32_OVERRIDE",
];

/// Seeds every generator libtorch uses (CPU and all CUDA devices).
#[cfg(torch)]
pub fn seed(seed: i64) {
    tch::manual_seed(seed);
}

/// The libtorch version this binary is built on (the front: `repro-torch`'s, asked once).
#[cfg(torch)]
pub fn torch_version() -> String {
    // SAFETY: the shim returns a pointer to a static NUL-terminated string literal.
    unsafe { CStr::from_ptr(repro_torch_version()) }
        .to_string_lossy()
        .into_owned()
}

/// The front's: `repro-torch`'s version ([`crate::front::facts`], loaded before planning).
#[cfg(not(torch))]
pub fn torch_version() -> String {
    crate::front::facts().map_or_else(|_| "unknown".into(), |f| f.libtorch.clone())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Determinism {
    pub deterministic_algorithms: bool,
    pub cudnn_deterministic: bool,
    pub cudnn_benchmark: bool,
}

#[cfg(torch)]
pub fn determinism() -> Determinism {
    // SAFETY: reads global flags from the ATen context.
    let flags = unsafe { repro_determinism_flags() };
    Determinism {
        deterministic_algorithms: flags & 1 != 0,
        cudnn_deterministic: flags & 2 != 0,
        cudnn_benchmark: flags & 4 != 0,
    }
}

/// Blocks up to this size come from the heap, not from fresh pages (glibc's upper limit for
/// `M_MMAP_THRESHOLD` on 64-bit systems).
#[cfg(torch)]
const MALLOC_MMAP_THRESHOLD: c_long = 32 << 20;
/// Freed heap kept by the process instead of handed back to the kernel at once.
#[cfg(torch)]
const MALLOC_TRIM_THRESHOLD: c_long = 512 << 20;

/// Keeps the CPU's large, short-lived tensors off the kernel's page-fault path. glibc serves a
/// block over its mmap threshold (128 KiB at start, raised as such blocks are freed) with fresh
/// pages and unmaps it on free, and hands the freed top of the heap back: a training step that
/// allocates the same few megabytes each time (oneDNN's LSTM workspace and gradients, 8-30 MiB
/// a layer at batch 100) then faults in and zeroes every page of them on every step, about 40%
/// of the MNIST-1D LSTM's step. Values only, never results: the same kernels run on the same
/// data. A user's own `MALLOC_*` variables or `GLIBC_TUNABLES` win.
#[cfg(torch)]
fn tune_malloc() {
    let user_set = [
        "MALLOC_MMAP_THRESHOLD_",
        "MALLOC_TRIM_THRESHOLD_",
        "GLIBC_TUNABLES",
    ]
    .iter()
    .any(|k| std::env::var_os(k).is_some());
    if !user_set {
        // SAFETY: mallopt on the process's allocator; returns a status, never fails otherwise.
        let _ = unsafe { repro_tune_malloc(MALLOC_MMAP_THRESHOLD, MALLOC_TRIM_THRESHOLD) };
    }
}

/// CPU seconds this process has used so far (user + system, all its threads), or `None` where
/// the C library cannot say. A worker's difference across a run is the run's `cpu_time_s`.
#[cfg(torch)]
pub fn process_cpu_seconds() -> Option<f64> {
    // SAFETY: no arguments; the shim calls getrusage on this process.
    let s = unsafe { repro_process_cpu_seconds() };
    (s >= 0.0).then_some(s)
}

/// The one place that sets threads and determinism for a training process (and the CPU
/// allocator's thresholds, once: [`tune_malloc`]).
///
/// Deterministic mode also sets `CUBLAS_WORKSPACE_CONFIG` (required for deterministic cuBLAS)
/// unless the user set it; it must happen before CUDA initialises, i.e. first thing.
#[cfg(torch)]
pub fn configure(threads: i32, deterministic: bool) -> Determinism {
    if deterministic && std::env::var_os("CUBLAS_WORKSPACE_CONFIG").is_none() {
        // SAFETY: called at process start, before any thread that reads the environment.
        unsafe { std::env::set_var("CUBLAS_WORKSPACE_CONFIG", ":4096:8") };
    }
    tch::set_num_threads(threads.max(1));
    // libtorch refuses a second call (and tch panics on the refusal): once per process.
    static INTEROP: std::sync::Once = std::sync::Once::new();
    INTEROP.call_once(|| {
        tch::set_num_interop_threads(1);
        tune_malloc();
    });
    // SAFETY: plain setter on the ATen context; errors are caught in C++.
    unsafe { repro_set_deterministic(c_int::from(deterministic)) };
    determinism()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Backend {
    pub libtorch: String,
    pub cuda_available: bool,
    pub cuda_runtime: Option<String>,
    pub cudnn: Option<String>,
    pub devices: Vec<String>,
}

#[cfg(torch)]
fn version_string(v: c_long, major_div: c_long, minor_div: c_long) -> Option<String> {
    (v > 0).then(|| {
        format!(
            "{}.{}.{}",
            v / major_div,
            (v % major_div) / minor_div,
            v % minor_div
        )
    })
}

#[cfg(torch)]
pub fn backend() -> Backend {
    let cuda_available = tch::Cuda::is_available();
    // SAFETY: shim functions catch C++ exceptions and return -1 when unavailable.
    let (cudart, cudnn) = unsafe { (repro_cuda_runtime_version(), repro_cudnn_version()) };
    let mut devices = Vec::new();
    if cuda_available {
        for i in 0..tch::Cuda::device_count() {
            let mut buf = [0 as c_char; 256];
            // SAFETY: `buf` outlives the call and its length is passed.
            let rc = unsafe { repro_cuda_device_name(i as c_int, buf.as_mut_ptr(), 256) };
            let name = if rc == 0 {
                // SAFETY: the shim NUL-terminates within `buf`.
                unsafe { CStr::from_ptr(buf.as_ptr()) }
                    .to_string_lossy()
                    .into_owned()
            } else {
                "unknown".to_string()
            };
            devices.push(format!("cuda:{i} {name}"));
        }
    }
    Backend {
        libtorch: torch_version(),
        cuda_available,
        // CUDART encodes 13000 as 13.0; cuDNN 91002 as 9.10.2.
        cuda_runtime: (cudart > 0).then(|| format!("{}.{}", cudart / 1000, (cudart % 1000) / 10)),
        cudnn: version_string(cudnn, 10000, 100),
        devices,
    }
}

/// The code identity of this binary: sha256 over the sources it was built from (`src/`,
/// `csrc/`, `build.rs`, `Cargo.toml`, `Cargo.lock`, `.cargo/config.toml`) and the rustc version,
/// computed by `build.rs`. This, not the git state of the working directory, goes into run keys.
pub fn code_digest() -> &'static str {
    env!("REPRO_CODE_DIGEST")
}

/// The git commit this binary's code was built from (`+dirty` when its code files differed
/// from that commit), computed by `build.rs` with the code digest; `None` when it was built
/// outside a git work tree. Never part of a key.
pub fn built_from() -> Option<&'static str> {
    Some(env!("REPRO_BUILT_FROM")).filter(|s| !s.is_empty())
}

/// What the code was: the binary's digest, and for people the commit it was built from and
/// the git state of the directory the run was started in (neither enters the key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodeIdentity {
    /// [`code_digest`] of the binary that trained (empty in records written before it existed).
    #[serde(default)]
    pub build: String,
    /// [`built_from`] of the binary that trained (absent in records written before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub built_from: Option<String>,
    /// Whether the directory is inside a git repository at all.
    pub repository: bool,
    pub commit: Option<String>,
    pub branch: Option<String>,
    pub dirty: bool,
    /// sha256 of the patch from HEAD to the working tree (tracked files), when dirty.
    pub diff_sha256: Option<String>,
    pub untracked: usize,
}

/// The binary's code digest and the git state of the work tree containing `dir` (without one,
/// everything but the digest is `None`).
pub fn code_identity(dir: &Path) -> CodeIdentity {
    let none = CodeIdentity {
        build: code_digest().to_string(),
        built_from: built_from().map(str::to_string),
        repository: false,
        commit: None,
        branch: None,
        dirty: false,
        diff_sha256: None,
        untracked: 0,
    };
    let Ok(repo) = git2::Repository::discover(dir) else {
        return none;
    };
    let head = repo.head().ok();
    let commit = head
        .as_ref()
        .and_then(|h| h.peel_to_commit().ok())
        .map(|c| c.id().to_string());
    let branch = head
        .as_ref()
        .filter(|h| h.is_branch())
        .and_then(|h| h.shorthand().map(str::to_string));
    let tree = head.as_ref().and_then(|h| h.peel_to_tree().ok());
    let mut hasher = Sha256::new();
    let mut changed = false;
    if let Ok(diff) = repo.diff_tree_to_workdir_with_index(tree.as_ref(), None) {
        let _ = diff.print(git2::DiffFormat::Patch, |_, _, line| {
            changed = true;
            hasher.update([line.origin() as u8]);
            hasher.update(line.content());
            true
        });
    }
    let mut opts = git2::StatusOptions::new();
    opts.include_untracked(true)
        .include_ignored(false)
        .recurse_untracked_dirs(true);
    let untracked = repo
        .statuses(Some(&mut opts))
        .map(|s| {
            s.iter()
                .filter(|e| e.status().contains(git2::Status::WT_NEW))
                .count()
        })
        .unwrap_or(0);
    CodeIdentity {
        build: code_digest().to_string(),
        built_from: built_from().map(str::to_string),
        repository: true,
        commit,
        branch,
        dirty: changed,
        diff_sha256: changed.then(|| hex::encode(hasher.finalize())),
        untracked,
    }
}

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown".to_string())
}

/// The CPU's model name (`/proc/cpuinfo`), for people: the key carries the numerics class.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

/// Numerics-relevant environment variables that are set, sorted by name.
pub fn numeric_env() -> Vec<(String, String)> {
    NUMERIC_ENV
        .iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
        .collect()
}

/// Written as `provenance.json` in every run directory before training starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    pub code: CodeIdentity,
    pub backend: Backend,
    pub device: String,
    pub threads: i32,
    pub determinism: Determinism,
    pub hostname: String,
    pub env: Vec<(String, String)>,
    pub repro_version: String,
    /// The numerics mode and the class of the kernels that computed (also in the key).
    #[serde(default)]
    pub numerics: crate::numerics::Numerics,
    #[serde(default)]
    pub cpu_model: String,
    /// `model.kind: torchscript`: the module file trained, with its sha256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<crate::record::ModuleFile>,
}

#[cfg(torch)]
pub fn collect(
    dir: &Path,
    device: &str,
    determinism: Determinism,
    numerics: crate::numerics::Numerics,
) -> Provenance {
    Provenance {
        code: code_identity(dir),
        backend: backend(),
        device: device.to_string(),
        threads: tch::get_num_threads(),
        determinism,
        hostname: hostname(),
        env: numeric_env(),
        repro_version: env!("CARGO_PKG_VERSION").to_string(),
        numerics,
        cpu_model: cpu_model(),
        module: None,
    }
}
