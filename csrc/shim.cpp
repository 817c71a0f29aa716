// The few libtorch calls tch does not expose: determinism switches and version/backend facts.
// Every function is noexcept from Rust's point of view: C++ exceptions are caught here.
#include <ATen/Context.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/version.h>

#include <dlfcn.h>

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
}
