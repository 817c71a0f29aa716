//! Links the binary to the libtorch inside `.venv` (via `$LIBTORCH`, set in `.cargo/config.toml`)
//! and compiles the small C++ shim for what `tch` does not expose (determinism switches, versions).
//!
//! Two things torch-sys leaves out and this script adds: an rpath to torch's `lib/`, so the binary
//! runs without `LD_LIBRARY_PATH`, and `libtorch_cuda` kept linked (`--no-as-needed`), without which
//! the linker drops it, the CUDA backend never registers, and CUDA silently disappears on GPU hosts.

use std::env;
use std::path::{Path, PathBuf};

const EXPECTED_TORCH: &str = "2.11.0";

fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-changed=csrc/shim.cpp");
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
    if lib.join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
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
    println!("cargo:rustc-link-lib=dylib=c10");
    println!("cargo:rustc-link-lib=dylib=torch_cpu");
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
