//! The two binaries (ARCHITECTURE.md, "Two binaries"): `repro`, the front, is this library
//! built without libtorch (`front/`), and `repro-torch` the whole of it on libtorch, installed
//! beside the front. Loading libtorch costs ~1 s and ~470 MB before `main`, so the commands that
//! do not train (`validate`, `plan`, `status`, `report`, `table`, the gate's comparison) run in
//! the front, whose pool starts `repro-torch worker` processes, and every command that needs
//! libtorch in this process (`doctor`, `sanity`, `inspect`, `--verify-determinism`, a
//! TorchScript arm's probe) is handed to `repro-torch` whole ([`delegate`]): same arguments,
//! standard streams, exit code.
//!
//! A run key holds what only libtorch can say: its version and the numerics class of the
//! kernels a worker will compute with (MKL's branch, ATen's capability, the GPU model). The
//! front asks `repro-torch facts` for them ([`Facts`]) and keeps the answer in the user's cache
//! directory under a name that digests everything it depends on (the torch binary, the code
//! digest, this host and boot, the environment variables libtorch, MKL, oneDNN and CUDA read),
//! so a front planning 1,000 runs starts no libtorch at all once the answer is cached. Both
//! binaries compute keys with the same functions over the same facts: the keys are equal.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// What a planner needs from libtorch, as `repro-torch facts` reports it on this machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    /// The torch binary's code digest (must be the front's: same sources, same keys).
    pub code: String,
    /// `provenance::torch_version`.
    pub libtorch: String,
    /// CUDA devices visible (`DeviceKind::Cuda.gpus()`).
    pub gpus: usize,
    /// `numerics::planned` for CPU runs: `native` and `portable`.
    pub cpu_native: String,
    pub cpu_portable: String,
    /// `numerics::planned` for CUDA runs (either mode): the class, or `unobserved`.
    pub cuda: String,
}

/// This process's facts (the torch binary answering `repro-torch facts`).
#[cfg(torch)]
pub fn observe() -> Facts {
    use crate::device::DeviceKind;
    use crate::numerics::{planned, Mode};
    Facts {
        code: crate::provenance::code_digest().to_string(),
        libtorch: crate::provenance::torch_version(),
        gpus: DeviceKind::Cuda.gpus(),
        cpu_native: planned(Mode::Native, DeviceKind::Cpu).class,
        cpu_portable: planned(Mode::Portable, DeviceKind::Cpu).class,
        cuda: planned(Mode::Native, DeviceKind::Cuda).class,
    }
}

/// The torch binary's file name, beside the front.
pub const TORCH_BINARY: &str = "repro-torch";

/// Why the front cannot go on without the torch binary.
#[derive(Debug, thiserror::Error)]
pub enum FrontError {
    #[error("{path}: cannot run the libtorch binary ({source}); build both with `make build`")]
    Spawn {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} facts: {message}")]
    Facts { path: PathBuf, message: String },
    #[error(
        "{path} was built from other sources (code {theirs}) than this `repro` (code {mine}); \
         rebuild both with `make build`"
    )]
    CodeMismatch {
        path: PathBuf,
        theirs: String,
        mine: String,
    },
}

/// `repro-torch` beside the running binary (`REPRO_TORCH` names another).
pub fn torch_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("REPRO_TORCH") {
        return PathBuf::from(path);
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(TORCH_BINARY)))
        .unwrap_or_else(|| PathBuf::from(TORCH_BINARY))
}

/// Replaces this process with `repro-torch` run with this process's arguments (and `argv[0]`,
/// so usage lines read the same); returns only if that cannot start.
#[cfg(not(torch))]
pub fn delegate() -> FrontError {
    use std::os::unix::process::CommandExt;
    let path = torch_binary();
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_else(|| "repro".into());
    let source = std::process::Command::new(&path)
        .arg0(arg0)
        .args(args)
        .exec();
    FrontError::Spawn { path, source }
}

/// The facts of this machine for planning, asked of `repro-torch` once per cache key (see the
/// module's doc); the first call decides, later calls return the same.
#[cfg(not(torch))]
pub fn facts() -> Result<&'static Facts, &'static FrontError> {
    static FACTS: std::sync::OnceLock<Result<Facts, FrontError>> = std::sync::OnceLock::new();
    FACTS.get_or_init(load).as_ref()
}

#[cfg(not(torch))]
fn load() -> Result<Facts, FrontError> {
    let path = torch_binary();
    let meta = std::fs::metadata(&path).map_err(|source| FrontError::Spawn {
        path: path.clone(),
        source,
    })?;
    let cached = cache_file(&path, &meta);
    let facts = match cached.as_ref().and_then(|f| std::fs::read(f).ok()) {
        Some(bytes) => serde_json::from_slice(&bytes).ok(),
        None => None,
    };
    let facts = match facts {
        Some(facts) => facts,
        None => {
            let facts = ask(&path)?;
            if let Some(file) = &cached {
                store_cache(file, &facts);
            }
            facts
        }
    };
    let mine = crate::provenance::code_digest();
    if facts.code != mine {
        return Err(FrontError::CodeMismatch {
            path,
            theirs: facts.code,
            mine: mine.to_string(),
        });
    }
    Ok(facts)
}

/// Runs `repro-torch facts` (standard error passes through: a libtorch warning stays visible).
#[cfg(not(torch))]
fn ask(path: &std::path::Path) -> Result<Facts, FrontError> {
    let out = std::process::Command::new(path)
        .arg("facts")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|source| FrontError::Spawn {
            path: path.to_path_buf(),
            source,
        })?;
    if !out.status.success() {
        return Err(FrontError::Facts {
            path: path.to_path_buf(),
            message: format!("exited with {}", out.status),
        });
    }
    serde_json::from_slice(&out.stdout).map_err(|e| FrontError::Facts {
        path: path.to_path_buf(),
        message: format!("unreadable answer: {e}"),
    })
}

/// Prefixes of the environment variables that can change what `repro-torch facts` says: the
/// ones ATen, MKL, oneDNN, OpenMP, CUDA and the dynamic loader read.
#[cfg(not(torch))]
const FACT_ENV: &[&str] = &[
    "ATEN_", "MKL_", "ONEDNN_", "DNNL_", "OMP_", "KMP_", "CUDA_", "CUBLAS_", "NVIDIA_", "TORCH_",
    "LD_",
];

/// `<cache>/repro/facts-<key>.json`, the key a sha256 over the torch binary (path, size,
/// modification time), the code digest, host name and boot id, and [`FACT_ENV`]'s variables;
/// `None` without a cache directory (`XDG_CACHE_HOME`, else `HOME/.cache`).
#[cfg(not(torch))]
fn cache_file(torch: &std::path::Path, meta: &std::fs::Metadata) -> Option<PathBuf> {
    use sha2::{Digest, Sha256};
    use std::os::unix::fs::MetadataExt;
    let dir = match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").filter(|v| !v.is_empty())?).join(".cache"),
    };
    let mut hasher = Sha256::new();
    let mut field = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    };
    field(torch.as_os_str().as_encoded_bytes());
    field(&meta.len().to_le_bytes());
    field(&meta.mtime().to_le_bytes());
    field(&meta.mtime_nsec().to_le_bytes());
    field(&meta.ino().to_le_bytes());
    field(crate::provenance::code_digest().as_bytes());
    field(crate::provenance::hostname().as_bytes());
    let boot = std::fs::read("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    field(&boot);
    let mut env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| FACT_ENV.iter().any(|p| k.starts_with(p)))
        .collect();
    env.sort();
    for (k, v) in &env {
        field(k.as_bytes());
        field(v.as_bytes());
    }
    let key = hex::encode(hasher.finalize());
    Some(dir.join("repro").join(format!("facts-{}.json", &key[..32])))
}

/// Writes the cache file atomically; a cache that cannot be written is only slower.
#[cfg(not(torch))]
fn store_cache(file: &std::path::Path, facts: &Facts) {
    let Some(dir) = file.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let Ok(bytes) = serde_json::to_vec(facts) else {
        return;
    };
    let Ok(mut tmp) = tempfile::NamedTempFile::new_in(dir) else {
        return;
    };
    if std::io::Write::write_all(&mut tmp, &bytes).is_ok() {
        let _ = tmp.persist(file);
    }
}
