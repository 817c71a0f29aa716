// The few libtorch calls tch does not expose: determinism switches, version/backend facts, and
// the multi-tensor optimizer ops (`_foreach_*`, `_fused_adam_`) that tch 0.24 does not bind.
// Every function is noexcept from Rust's point of view: C++ exceptions are caught here.
#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <c10/core/GradMode.h>
#include <ATen/Version.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/version.h>

#include <dlfcn.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <sys/resource.h>

#include <cstring>
#include <string>
#include <vector>

namespace {

// tch's tensor handles are `at::Tensor*` (torch-sys's `C_tensor`); these are shallow copies,
// sharing storage, so in-place ops on them change the caller's tensors.
std::vector<at::Tensor> tensors(at::Tensor* const* ts, int n) {
  std::vector<at::Tensor> out;
  out.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) out.push_back(*ts[i]);
  return out;
}

void copy_error(const char* what, char* err, int len) {
  if (err == nullptr || len <= 0) return;
  std::strncpy(err, what, static_cast<size_t>(len - 1));
  err[len - 1] = 0;
}

}  // namespace

extern "C" {

const char* repro_torch_version() { return TORCH_VERSION; }

// Deterministic algorithms on (errors on ops that have none), cuDNN deterministic, benchmark off.
int repro_set_deterministic(int on) {
  try {
    auto& ctx = at::globalContext();
    ctx.setDeterministicAlgorithms(on != 0, /*warn_only=*/false);
    ctx.setDeterministicCuDNN(on != 0);
    ctx.setBenchmarkCuDNN(on == 0 ? ctx.benchmarkCuDNN() : false);
    return 0;
  } catch (...) {
    return -1;
  }
}

// Bit 0: deterministic algorithms, bit 1: cuDNN deterministic, bit 2: cuDNN benchmark.
int repro_determinism_flags() {
  auto& ctx = at::globalContext();
  return (ctx.deterministicAlgorithms() ? 1 : 0) | (ctx.deterministicCuDNN() ? 2 : 0) |
         (ctx.benchmarkCuDNN() ? 4 : 0);
}

// cuDNN version the CUDA backend was built with, or -1 when there is no CUDA backend.
long repro_cudnn_version() {
  try {
    const auto& hooks = at::detail::getCUDAHooks();
    if (!hooks.compiledWithCuDNN()) return -1;
    return hooks.versionCuDNN();
  } catch (...) {
    return -1;
  }
}

// CUDA runtime version of the CUDA backend, or -1 when there is none or no driver.
long repro_cuda_runtime_version() {
  try {
    const auto& hooks = at::detail::getCUDAHooks();
    if (!hooks.hasCUDART()) return -1;
    return hooks.versionCUDART();
  } catch (...) {
    return -1;
  }
}

// Name of CUDA device `index` through the driver API (libcuda is loaded only if present);
// returns 0 on success. tch exposes device counts but not names.
int repro_cuda_device_name(int index, char* buf, int len) {
  if (len <= 0) return -1;
  void* lib = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
  if (!lib) return -1;
  using InitFn = int (*)(unsigned int);
  using GetFn = int (*)(int*, int);
  using NameFn = int (*)(char*, int, int);
  auto init = reinterpret_cast<InitFn>(dlsym(lib, "cuInit"));
  auto get = reinterpret_cast<GetFn>(dlsym(lib, "cuDeviceGet"));
  auto name = reinterpret_cast<NameFn>(dlsym(lib, "cuDeviceGetName"));
  int device = 0;
  int rc = -1;
  if (init && get && name && init(0) == 0 && get(&device, index) == 0 &&
      name(buf, len, device) == 0) {
    buf[len - 1] = 0;
    rc = 0;
  }
  dlclose(lib);
  return rc;
}

// The ATen CPU capability in use ("DEFAULT", "AVX2", "AVX512", ...), copied into `buf`.
int repro_cpu_capability(char* buf, int len) {
  if (len <= 0) return -1;
  try {
    std::string cap = at::get_cpu_capability();
    std::strncpy(buf, cap.c_str(), static_cast<size_t>(len - 1));
    buf[len - 1] = 0;
    return 0;
  } catch (...) {
    return -1;
  }
}

// MKL's conditional-numerical-reproducibility branch: `current` 1 for the branch in force,
// 0 for the one MKL picks on this CPU when nothing is pinned. -1 when libtorch has no MKL.
int repro_mkl_cbwr_branch(int current) {
  using GetFn = int (*)(int);
  using AutoFn = int (*)();
  if (current) {
    auto get = reinterpret_cast<GetFn>(dlsym(RTLD_DEFAULT, "mkl_serv_cbwr_get"));
    return get ? get(1) : -1;
  }
  auto get_auto = reinterpret_cast<AutoFn>(dlsym(RTLD_DEFAULT, "mkl_serv_cbwr_get_auto_branch"));
  return get_auto ? get_auto() : -1;
}

// oneDNN (mkldnn) kernels on or off for this process (`torch.backends.mkldnn.enabled`).
void repro_set_mkldnn(int on) { at::globalContext().setUserEnabledMkldnn(on != 0); }
int repro_mkldnn_enabled() { return at::globalContext().userEnabledMkldnn() ? 1 : 0; }

// Bit 0: TF32 allowed in cuBLAS matmuls, bit 1: TF32 allowed in cuDNN convolutions.
int repro_tf32_flags() {
  try {
    auto& ctx = at::globalContext();
    return (ctx.allowTF32CuBLAS() ? 1 : 0) | (ctx.allowTF32CuDNN() ? 2 : 0);
  } catch (...) {
    return -1;
  }
}

// glibc's malloc: serve blocks up to `mmap_threshold` bytes from the heap instead of fresh
// mmap'd pages, and keep up to `trim_threshold` bytes of freed heap instead of returning them.
// Returns 1 when both were set, 0 when glibc refused one, -1 where the C library is not glibc.
int repro_tune_malloc(long mmap_threshold, long trim_threshold) {
#if defined(__GLIBC__)
  int a = mallopt(M_MMAP_THRESHOLD, static_cast<int>(mmap_threshold));
  int b = mallopt(M_TRIM_THRESHOLD, static_cast<int>(trim_threshold));
  return (a == 1 && b == 1) ? 1 : 0;
#else
  (void)mmap_threshold;
  (void)trim_threshold;
  return -1;
#endif
}

// `torch.nn.utils.clip_grad_norm_(grads, max_norm)` as PyTorch 2.11 computes it on CPU and CUDA
// (its foreach path): per-tensor norms with `_foreach_norm`, the norm of their stack, the
// coefficient `max_norm / (total + 1e-6)` clamped at 1 (Python's `float / Tensor` is
// `reciprocal() * float`), and one `_foreach_mul_` by it. Nothing is read back to the host.
// Returns 0, or -1 with the exception's text in `err`.
int repro_clip_grad_norm(at::Tensor* const* grads, int n, double max_norm, char* err, int len) {
  try {
    if (n <= 0) return 0;
    c10::NoGradGuard no_grad;
    auto gs = tensors(grads, n);
    auto norms = at::_foreach_norm(gs, 2.0);
    auto total = at::linalg_vector_norm(at::stack(norms), 2.0);
    auto coef = at::clamp_max(at::reciprocal(total + 1e-6) * max_norm, 1.0);
    at::_foreach_mul_(gs, coef);
    return 0;
  } catch (const std::exception& e) {
    copy_error(e.what(), err, len);
    return -1;
  }
}

// One step of `torch.optim.Adam(..., fused=True)` (`decoupled` 0) or `AdamW(..., fused=True)`
// (`decoupled` 1) over `n` parameters, as `torch.optim.adam._fused_adam` takes it: every
// `steps[i]` (a float32 scalar on the parameter's device) incremented by one with
// `_foreach_add_`, then one `_fused_adam_`/`_fused_adamw_` call, no AMSGrad, no grad scaling.
// Returns 0, or -1 with the exception's text in `err`.
int repro_fused_adam(at::Tensor* const* params, at::Tensor* const* grads,
                     at::Tensor* const* exp_avgs, at::Tensor* const* exp_avg_sqs,
                     at::Tensor* const* steps, int n, double lr, double beta1, double beta2,
                     double weight_decay, double eps, int decoupled, char* err, int len) {
  try {
    if (n <= 0) return 0;
    c10::NoGradGuard no_grad;
    auto ps = tensors(params, n);
    auto gs = tensors(grads, n);
    auto ms = tensors(exp_avgs, n);
    auto vs = tensors(exp_avg_sqs, n);
    auto ss = tensors(steps, n);
    std::vector<at::Tensor> max_exp_avg_sqs;
    at::_foreach_add_(ss, 1);
    if (decoupled) {
      at::_fused_adamw_(ps, gs, ms, vs, max_exp_avg_sqs, ss, lr, beta1, beta2, weight_decay, eps,
                        /*amsgrad=*/false, /*maximize=*/false);
    } else {
      at::_fused_adam_(ps, gs, ms, vs, max_exp_avg_sqs, ss, lr, beta1, beta2, weight_decay, eps,
                       /*amsgrad=*/false, /*maximize=*/false);
    }
    return 0;
  } catch (const std::exception& e) {
    copy_error(e.what(), err, len);
    return -1;
  }
}

// CPU seconds this process has used so far, user plus system, every thread counted
// (`getrusage(RUSAGE_SELF)`); -1 when the call fails.
double repro_process_cpu_seconds() {
  struct rusage u;
  if (getrusage(RUSAGE_SELF, &u) != 0) return -1.0;
  auto s = [](const struct timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6;
  };
  return s(u.ru_utime) + s(u.ru_stime);
}
}
