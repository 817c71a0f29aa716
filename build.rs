//! Links the binary to the libtorch inside `.venv` (via `$LIBTORCH`, set in `.cargo/config.toml`)
//! and compiles the small C++ shim for what `tch` does not expose (determinism switches, versions).
//!
//! Two things torch-sys leaves out and this script adds: an rpath to torch's `lib/`, so the binary
//! runs without `LD_LIBRARY_PATH`, and `libtorch_cuda` kept linked (`--no-as-needed`), without which
//! the linker drops it, the CUDA backend never registers, and CUDA silently disappears on GPU hosts.
//!
//! The same script builds the `repro-front` package (`front/`: the library without libtorch, for
//! the `repro` front binary): there it only embeds the code digest, computed over the same files
//! (the root's, not `front/`'s), so both binaries put the same code identity into run keys; the
//! libtorch build also sets `cfg(torch)`, which gates everything that calls libtorch.
//!
//! It also embeds the code identity (`REPRO_CODE_DIGEST`): a sha256 over everything that can
//! change a number — `src/`, `csrc/`, `build.rs`, `Cargo.toml`, `Cargo.lock`,
//! `.cargo/config.toml` and the rustc version — so run keys name the binary's code, not the git
//! state of whatever directory it runs in (specs, reports and blessed tables are not code).

use std::env;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

const EXPECTED_TORCH: &str = "2.11.0";

/// What the code digest covers (directories are walked; every file counts).
const CODE: &[&str] = &[
    "src",
    "csrc",
    "build.rs",
    "Cargo.toml",
    "Cargo.lock",
    ".cargo/config.toml",
];

fn main() {
    println!("cargo::rustc-check-cfg=cfg(torch)");
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into()));
    let front = env::var("CARGO_PKG_NAME").is_ok_and(|name| name == "repro-front");
    // The front package lives in `front/`; the code it is built from is the root's.
    let root = if front { manifest.join("..") } else { manifest };
    for path in CODE {
        println!("cargo:rerun-if-changed={}", root.join(path).display());
    }
    println!("cargo:rustc-env=REPRO_CODE_DIGEST={}", code_digest(&root));
    println!("cargo:rustc-env=REPRO_BUILT_FROM={}", built_from(&root));
    if front {
        return;
    }
    println!("cargo:rustc-cfg=torch");
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    let torch = match env::var("LIBTORCH") {
        Ok(dir) => PathBuf::from(dir),
        Err(_) => {
            fail("LIBTORCH is not set: run `make setup` (it creates .venv and the .torch link)")
        }
    };
    let torch = torch.canonicalize().unwrap_or_else(|e| {
        fail(&format!(
            "LIBTORCH={} cannot be resolved ({e}): run `make setup`",
            torch.display()
        ))
    });
    check_version(&torch);

    let lib = torch.join("lib");
    println!("cargo:rustc-link-search=native={}", lib.display());
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    // For the targets that link libtorch, never the `repro` front (it must load no torch
    // library). The library's own unit tests, which run on CPU, go without it.
    if lib.join("libtorch_cuda.so").exists() {
        let keep = "-Wl,--no-as-needed,-ltorch_cuda,--as-needed";
        println!("cargo:rustc-link-arg-bin=repro-torch={keep}");
        for kind in ["tests", "benches"] {
            println!("cargo:rustc-link-arg-{kind}={keep}");
        }
    }

    compile_shim(&torch);
    println!("cargo:rustc-link-lib=dylib=c10");
    println!("cargo:rustc-link-lib=dylib=torch_cpu");
}

/// Compiles `csrc/shim.cpp`, unless the archive from an earlier run of this script was built from
/// the same source against the same torch (the script reruns on every `src/` edit for the code
/// digest; recompiling the shim against torch's headers each time would cost seconds).
fn compile_shim(torch: &Path) {
    let out = PathBuf::from(env::var("OUT_DIR").unwrap_or_else(|_| fail("OUT_DIR is not set")));
    let archive = out.join("librepro_shim.a");
    let stamp_path = out.join("repro_shim.stamp");
    let source = std::fs::read("csrc/shim.cpp").unwrap_or_default();
    let stamp = format!("{}\n{}", torch.display(), hex(&Sha256::digest(&source)));
    let fresh =
        archive.exists() && std::fs::read_to_string(&stamp_path).ok() == Some(stamp.clone());
    if fresh {
        println!("cargo:rustc-link-search=native={}", out.display());
        println!("cargo:rustc-link-lib=static=repro_shim");
        println!("cargo:rustc-link-lib=stdc++");
        return;
    }
    cc::Build::new()
        .cpp(true)
        .file("csrc/shim.cpp")
        .include(torch.join("include"))
        .include(torch.join("include/torch/csrc/api/include"))
        .flag("-std=c++17")
        .define("_GLIBCXX_USE_CXX11_ABI", "1")
        .warnings(false)
        .compile("repro_shim");
    let _ = std::fs::write(&stamp_path, stamp);
}

/// sha256 over the files under [`CODE`] in `root` (sorted by path relative to `root`; each as
/// that path, length, bytes) and the compiler's version.
fn code_digest(root: &Path) -> String {
    let mut files = Vec::new();
    for path in CODE {
        collect(root, Path::new(path), &mut files);
    }
    files.sort();
    let mut hasher = Sha256::new();
    for file in &files {
        let bytes = std::fs::read(root.join(file))
            .unwrap_or_else(|e| fail(&format!("{}: {e}", file.display())));
        hasher.update(file.to_string_lossy().as_bytes());
        hasher.update([0]);
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = std::process::Command::new(&rustc)
        .arg("-vV")
        .output()
        .map(|o| o.stdout)
        .unwrap_or_else(|e| fail(&format!("{rustc} -vV: {e}")));
    hasher.update(&version);
    hex(&hasher.finalize())
}

/// The git commit checked out when the code digest was computed, with `+dirty` when a file
/// under [`CODE`] differed from it (untracked ones included); empty outside a git work tree or
/// without git. For people reading a report (a pinned binary runs anywhere, so the git state of
/// the directory a run starts in says nothing about its code); never part of a key. It is
/// recomputed when the code changes, not on every commit: a commit that leaves [`CODE`] alone
/// keeps the binary, and its code is that commit's too.
fn built_from(root: &Path) -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let Some(head) = git(&["rev-parse", "--verify", "HEAD"]).filter(|h| h.len() == 40) else {
        return String::new();
    };
    let mut status = vec!["status", "--porcelain", "--untracked-files=all", "--"];
    status.extend(CODE);
    let dirty = git(&status).is_some_and(|s| !s.is_empty());
    format!("{head}{}", if dirty { "+dirty" } else { "" })
}

/// The files under `path` (relative to `root`), as paths relative to `root`.
fn collect(root: &Path, path: &Path, out: &mut Vec<PathBuf>) {
    let full = root.join(path);
    if full.is_dir() {
        let entries =
            std::fs::read_dir(&full).unwrap_or_else(|e| fail(&format!("{}: {e}", path.display())));
        for entry in entries.flatten() {
            collect(root, &path.join(entry.file_name()), out);
        }
    } else if full.is_file() {
        out.push(path.to_path_buf());
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// tch 0.24 pairs with exactly one PyTorch release; a mismatch fails later with obscure link errors.
fn check_version(torch: &Path) {
    let version_py = torch.join("version.py");
    let Ok(text) = std::fs::read_to_string(&version_py) else {
        return; // a plain libtorch download has no version.py; torch-sys checks build-version there
    };
    let found = text
        .lines()
        .find_map(|l| l.strip_prefix("__version__ = "))
        .map(|v| v.trim().trim_matches('\'').trim_matches('"').to_string())
        .unwrap_or_default();
    let base = found.split('+').next().unwrap_or_default();
    if base != EXPECTED_TORCH {
        fail(&format!(
            "{} says torch {found}, but tch 0.24 needs torch=={EXPECTED_TORCH}: run `make setup`",
            version_py.display()
        ));
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(1);
}
