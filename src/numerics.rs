//! The numerics class of a run: which kernels computed its numbers. The same key must mean the
//! same bits, and the bits depend on more than the code and the seed: on CPU, on the instruction
//! set ATen's kernels, MKL's BLAS and oneDNN's convolutions dispatch to; on CUDA, on the GPU model
//! and the TF32 and cuDNN settings. The class is part of every run key.
//!
//! Two modes:
//! - `native`: the kernels this machine picks by itself (fastest). The class names them, e.g.
//!   `cpu x86_64 aten=AVX512 mkl=AVX512 onednn=on`, so a result computed on another kind of CPU
//!   is a different key, never silently mixed with this one.
//! - `portable`: CPU kernels pinned to what every x86-64 machine runs: ATen's `DEFAULT`
//!   capability, MKL's `COMPATIBLE` branch (conditional numerical reproducibility) and oneDNN
//!   off (convolutions fall back to ATen's own kernels, over the pinned BLAS). Two x86-64
//!   machines give the same bits, at a measured cost (README, "Numerics").
//!
//! The pins are environment variables read once by libtorch when it first dispatches, so a
//! worker calls [`pin`] before any tensor exists, and the local pool also sets them on the
//! worker's command line ([`pinned_env`]).

#[cfg(torch)]
use std::ffi::CStr;
use std::fmt;
#[cfg(torch)]
use std::os::raw::{c_char, c_int};

use serde::{Deserialize, Serialize};

#[cfg(torch)]
unsafe extern "C" {
    fn repro_cpu_capability(buf: *mut c_char, len: c_int) -> c_int;
    fn repro_mkl_cbwr_branch(current: c_int) -> c_int;
    fn repro_set_mkldnn(on: c_int);
    fn repro_mkldnn_enabled() -> c_int;
    fn repro_tf32_flags() -> c_int;
}

/// `numerics:` in a spec, or `--portable` on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Native,
    Portable,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Native => "native",
            Mode::Portable => "portable",
        }
    }
}

/// The mode and the class it gives on the machine that computes: part of the run key.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Numerics {
    pub mode: Mode,
    pub class: String,
}

impl fmt::Display for Numerics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.class, self.mode.name())
    }
}

/// The class a planner that cannot see the device (a CUDA store read on a login node) gives
/// its runs: the runner then adopts the class of the results already in the store.
pub const UNOBSERVED: &str = "unobserved";

/// MKL's branch codes (`mkl_cbwr_get`), as names.
#[cfg(torch)]
fn mkl_branch_name(code: c_int) -> String {
    match code {
        -1 => "none".into(),
        0 | 1 => "off".into(),
        2 => "auto".into(),
        3 => "COMPATIBLE".into(),
        4 => "SSE2".into(),
        6 => "SSSE3".into(),
        7 => "SSE4_1".into(),
        8 => "SSE4_2".into(),
        9 => "AVX".into(),
        10 => "AVX2".into(),
        11 => "AVX512_MIC".into(),
        12 => "AVX512".into(),
        13 => "AVX512_MIC_E1".into(),
        14 => "AVX512_E1".into(),
        c => format!("branch{}", c & 0xffff),
    }
}

/// The environment that pins `portable` kernels (nothing for `native`). ATen reads
/// `ATEN_CPU_CAPABILITY` and MKL `MKL_CBWR` once, at first use; `ONEDNN_MAX_CPU_ISA` only
/// matters if oneDNN ran, which [`pin`] also switches off.
pub fn pinned_env(mode: Mode) -> &'static [(&'static str, &'static str)] {
    match mode {
        Mode::Native => &[],
        Mode::Portable => &[
            ("ATEN_CPU_CAPABILITY", "default"),
            ("MKL_CBWR", "COMPATIBLE"),
            ("ONEDNN_MAX_CPU_ISA", "SSE41"),
        ],
    }
}

/// Pins this process's kernels for `mode`; must run before the first tensor operation (a
/// worker calls it first thing). `native` leaves everything as the machine and user set it.
#[cfg(torch)]
pub fn pin(mode: Mode) {
    if mode == Mode::Portable {
        for (k, v) in pinned_env(mode) {
            // SAFETY: called at process start, before any thread that reads the environment.
            unsafe { std::env::set_var(k, v) };
        }
        // SAFETY: plain setter on the ATen context.
        unsafe { repro_set_mkldnn(0) };
    }
}

/// The ATen CPU capability in use, e.g. `AVX512`.
#[cfg(torch)]
pub fn cpu_capability() -> String {
    let mut buf = [0 as c_char; 64];
    // SAFETY: `buf` outlives the call and its length is passed; the shim NUL-terminates.
    let rc = unsafe { repro_cpu_capability(buf.as_mut_ptr(), 64) };
    if rc != 0 {
        return "unknown".into();
    }
    // SAFETY: NUL-terminated within `buf`.
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

/// MKL's branch in force (`COMPATIBLE` when pinned, else the one it picks on this CPU).
#[cfg(torch)]
pub fn mkl_branch() -> String {
    // SAFETY: the shim looks the MKL functions up and returns -1 without them.
    let current = unsafe { repro_mkl_cbwr_branch(1) };
    if current == 2 || current == 0 || current == 1 {
        // Auto: the branch MKL dispatches to on this CPU.
        let auto = unsafe { repro_mkl_cbwr_branch(0) };
        return mkl_branch_name(auto);
    }
    mkl_branch_name(current)
}

/// Switches oneDNN on or off in this process (what [`pin`] does for `portable`); for tests that
/// train in-process with portable numerics.
#[cfg(torch)]
pub fn set_onednn(on: bool) {
    // SAFETY: plain setter on the ATen context.
    unsafe { repro_set_mkldnn(c_int::from(on)) };
}

#[cfg(torch)]
pub fn onednn_enabled() -> bool {
    // SAFETY: plain getter on the ATen context.
    unsafe { repro_mkldnn_enabled() != 0 }
}

/// Variables that move MKL's or oneDNN's dispatch without showing in what they report.
#[cfg(torch)]
const DISPATCH_ENV: &[&str] = &[
    "MKL_ENABLE_INSTRUCTIONS",
    "MKL_DEBUG_CPU_TYPE",
    "ONEDNN_MAX_CPU_ISA",
    "DNNL_MAX_CPU_ISA",
];

/// The CPU vendor (`GenuineIntel`, `AuthenticAMD`, ...): MKL takes other paths on other vendors.
#[cfg(torch)]
fn cpu_vendor() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("vendor_id"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

/// The class of this process's CPU kernels, as they are now: architecture, ATen capability,
/// MKL branch (with the vendor when MKL picks by itself), oneDNN on or off and the dispatch
/// variables that are set.
#[cfg(torch)]
pub fn cpu_class() -> String {
    let mkl = mkl_branch();
    let onednn = onednn_enabled();
    // SAFETY: the shim returns -1 without MKL; 2 is MKL's AUTO (nothing pinned).
    let current = unsafe { repro_mkl_cbwr_branch(1) };
    let mkl_pinned = !(current == 2 || current == 0 || current == 1 || current == -1);
    let mut class = format!(
        "cpu {} aten={} mkl={}{} onednn={}",
        std::env::consts::ARCH,
        cpu_capability(),
        mkl,
        // MKL takes other paths on other vendors unless its branch is pinned.
        if current >= 0 && !mkl_pinned {
            format!("/{}", cpu_vendor())
        } else {
            String::new()
        },
        if onednn { "on" } else { "off" }
    );
    for k in DISPATCH_ENV {
        // A pinned MKL branch overrides MKL's variables; oneDNN off ignores its own.
        if (k.contains("ISA") && !onednn) || (k.starts_with("MKL") && mkl_pinned) {
            continue;
        }
        if let Ok(v) = std::env::var(k) {
            class.push_str(&format!(" {k}={v}"));
        }
    }
    class
}

/// The class of CUDA device `ordinal`'s kernels: model, TF32 switches and cuDNN version
/// (workers always run cuDNN deterministic, without benchmarking; provenance records it).
#[cfg(torch)]
pub fn cuda_class(ordinal: usize) -> String {
    let backend = crate::provenance::backend();
    let model = backend
        .devices
        .get(ordinal)
        .and_then(|d| d.split_once(' ').map(|(_, m)| m.to_string()))
        .unwrap_or_else(|| "unknown".into());
    // SAFETY: plain getters on the ATen context; -1 when the CUDA backend is absent.
    let tf32 = unsafe { repro_tf32_flags() };
    let on = |bit: c_int| {
        if tf32 >= 0 && tf32 & bit != 0 {
            "on"
        } else {
            "off"
        }
    };
    format!(
        "cuda {model} tf32-matmul={} tf32-cudnn={} cudnn={}",
        on(1),
        on(2),
        backend.cudnn.as_deref().unwrap_or("none"),
    )
}

/// The class a planner puts in the keys of runs on `device` in `mode`: what a worker on this
/// machine will observe. Portable CPU kernels are the same everywhere, so that class is
/// fixed; a CUDA plan made where no GPU is visible is [`UNOBSERVED`].
#[cfg(torch)]
pub fn planned(mode: Mode, device: crate::device::DeviceKind) -> Numerics {
    let class = match (device, mode) {
        (crate::device::DeviceKind::Cpu, Mode::Portable) => {
            // SAFETY: the shim returns -1 when libtorch has no MKL.
            let mkl = unsafe { repro_mkl_cbwr_branch(1) } >= 0;
            format!(
                "cpu {} aten=DEFAULT mkl={} onednn=off",
                std::env::consts::ARCH,
                if mkl { "COMPATIBLE" } else { "none" }
            )
        }
        (crate::device::DeviceKind::Cpu, Mode::Native) => cpu_class(),
        (crate::device::DeviceKind::Cuda, _) if tch::Cuda::is_available() => cuda_class(0),
        (crate::device::DeviceKind::Cuda, _) => UNOBSERVED.to_string(),
    };
    Numerics { mode, class }
}

/// The front's [`planned`]: the same classes, as `repro-torch` reports them on this machine
/// ([`crate::front::facts`], loaded before planning).
#[cfg(not(torch))]
pub fn planned(mode: Mode, device: crate::device::DeviceKind) -> Numerics {
    let class = match crate::front::facts() {
        Ok(facts) => match (device, mode) {
            (crate::device::DeviceKind::Cpu, Mode::Portable) => facts.cpu_portable.clone(),
            (crate::device::DeviceKind::Cpu, Mode::Native) => facts.cpu_native.clone(),
            (crate::device::DeviceKind::Cuda, _) => facts.cuda.clone(),
        },
        Err(_) => UNOBSERVED.to_string(),
    };
    Numerics { mode, class }
}

/// What this process computes with for `mode` on `device` (`gpu`: the CUDA ordinal), after
/// [`pin`] and [`crate::provenance::configure`].
#[cfg(torch)]
pub fn observe(mode: Mode, device: crate::device::DeviceKind, gpu: usize) -> Numerics {
    let class = match device {
        crate::device::DeviceKind::Cpu => cpu_class(),
        crate::device::DeviceKind::Cuda => cuda_class(gpu),
    };
    Numerics { mode, class }
}
