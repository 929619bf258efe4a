#include "cuda.hpp"

#include <dlfcn.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>

#include "HalideRuntime.h"
#include "HalideRuntimeCuda.h"
#include "normgen/normgen.hpp"

namespace normgen::detail {
namespace {

// The few driver API declarations used here (cuda.h's values), so that
// building normgen needs no CUDA toolkit.
using CUresult = int;
using CUdevice = int;
using CUcontext = void *;
using CUdeviceptr = unsigned long long;
constexpr CUresult CUDA_SUCCESS = 0;
constexpr int CU_POINTER_ATTRIBUTE_MEMORY_TYPE = 2;
constexpr int CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL = 9;
constexpr unsigned CU_MEMORYTYPE_DEVICE = 2;
constexpr unsigned CU_MEMORYTYPE_UNIFIED = 4;

struct Driver {
    void *library = nullptr;
    std::string unavailable;  // why CUDA cannot run here; empty if it can
    CUresult (*cuInit)(unsigned) = nullptr;
    CUresult (*cuGetErrorName)(CUresult, const char **) = nullptr;
    CUresult (*cuDeviceGet)(CUdevice *, int) = nullptr;
    CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice) = nullptr;
    CUresult (*cuPointerGetAttribute)(void *, int, CUdeviceptr) = nullptr;
    CUresult (*cuMemsetD32Async)(CUdeviceptr, unsigned, size_t, void *) = nullptr;
    CUresult (*cuMemsetD16Async)(CUdeviceptr, unsigned short, size_t, void *) = nullptr;

    std::string error_name(CUresult result) const {
        const char *name = nullptr;
        if (cuGetErrorName && cuGetErrorName(result, &name) == CUDA_SUCCESS && name) return name;
        return "CUresult " + std::to_string(result);
    }
};

thread_local void *thread_stream = nullptr;
thread_local CUcontext call_context = nullptr;  // set by CudaCall

int acquire_context(void *, void **context, bool create) {
    // Outside a call (Halide's own clean-up at exit) there is nothing to
    // release: the primary contexts belong to the driver.
    if (call_context == nullptr && create) return halide_error_code_gpu_device_error;
    *context = call_context;
    return 0;
}

int get_stream(void *, void *, void **stream) {
    *stream = thread_stream;
    return 0;
}

template <typename Function>
bool find(void *library, const char *name, Function &function) {
    function = reinterpret_cast<Function>(dlsym(library, name));
    return function != nullptr;
}

// Loaded once per process. The CUDA runtime API uses libcuda.so.1 (the name
// the driver installs); Halide's runtime would look for libcuda.so, which
// only a toolkit provides, so it is pointed at this handle instead.
const Driver &driver() {
    static const Driver loaded = [] {
        Driver d;
        d.library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
        if (d.library == nullptr) {
            const char *why = dlerror();
            d.unavailable = std::string("CUDA unavailable: the CUDA driver (libcuda.so.1) could "
                                        "not be loaded: ") + (why ? why : "unknown reason");
            return d;
        }
        if (!find(d.library, "cuInit", d.cuInit) ||
            !find(d.library, "cuGetErrorName", d.cuGetErrorName) ||
            !find(d.library, "cuDeviceGet", d.cuDeviceGet) ||
            !find(d.library, "cuDevicePrimaryCtxRetain", d.cuDevicePrimaryCtxRetain) ||
            !find(d.library, "cuPointerGetAttribute", d.cuPointerGetAttribute) ||
            !find(d.library, "cuMemsetD32Async", d.cuMemsetD32Async) ||
            !find(d.library, "cuMemsetD16Async", d.cuMemsetD16Async)) {
            d.unavailable = "CUDA unavailable: libcuda.so.1 lacks the driver API normgen needs";
            return d;
        }
        if (CUresult result = d.cuInit(0); result != CUDA_SUCCESS) {
            d.unavailable = "CUDA unavailable: cuInit failed with " + d.error_name(result) +
                            " (no GPU, or the driver does not match it)";
            return d;
        }
        halide_set_custom_load_library([](const char *name) -> void * {
            if (std::string(name) == "libcuda.so") return driver().library;
            return dlopen(name, RTLD_LAZY);
        });
        halide_set_cuda_acquire_context(acquire_context);
        halide_set_cuda_release_context([](void *) { return 0; });
        halide_set_cuda_get_stream(get_stream);
        // Intermediate buffers go back to a per-stream cache instead of
        // cuMemFree, which would synchronize the device on every call.
        halide_reuse_device_allocations(nullptr, true);
        return d;
    }();
    return loaded;
}

// The primary context of each device, retained once and kept for the
// process: the CUDA runtime API shares it.
CUcontext primary_context(int ordinal) {
    static std::mutex mutex;
    static std::map<int, CUcontext> contexts;
    std::lock_guard<std::mutex> lock(mutex);
    auto found = contexts.find(ordinal);
    if (found != contexts.end()) return found->second;
    const Driver &d = driver();
    CUdevice device = 0;
    CUcontext context = nullptr;
    CUresult result = d.cuDeviceGet(&device, ordinal);
    if (result == CUDA_SUCCESS) result = d.cuDevicePrimaryCtxRetain(&context, device);
    if (result != CUDA_SUCCESS) {
        throw CudaUnavailable("CUDA unavailable: cannot retain the primary context of device " +
                              std::to_string(ordinal) + ": " + d.error_name(result));
    }
    contexts.emplace(ordinal, context);
    return context;
}

// The device that holds tensor's memory; fails unless it is device memory.
int device_of(const TensorView &tensor, const char *what) {
    const Driver &d = driver();
    auto pointer = static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(tensor.data));
    unsigned memory_type = 0;
    int ordinal = -1;
    CUresult result =
        d.cuPointerGetAttribute(&memory_type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, pointer);
    if (result == CUDA_SUCCESS) {
        result = d.cuPointerGetAttribute(&ordinal, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, pointer);
    }
    if (result != CUDA_SUCCESS ||
        (memory_type != CU_MEMORYTYPE_DEVICE && memory_type != CU_MEMORYTYPE_UNIFIED)) {
        fail(std::string(what) + " is a cuda tensor, but its data pointer is not CUDA device "
             "memory (expected memory from cudaMalloc or another CUDA allocator)");
    }
    return ordinal;
}

}  // namespace

CudaCall::CudaCall(const NamedTensors &tensors) {
    const Driver &d = driver();
    if (!d.unavailable.empty()) throw CudaUnavailable(d.unavailable);
    int ordinal = -1;
    const char *first = nullptr;
    for (auto [tensor, what] : tensors) {
        if (tensor == nullptr || tensor->numel() == 0) continue;
        int device = device_of(*tensor, what);
        if (first != nullptr && device != ordinal) {
            fail(std::string(what) + " is on cuda device " + std::to_string(device) + ", but " +
                 first + " is on cuda device " + std::to_string(ordinal) +
                 ": expected every tensor on one device");
        }
        ordinal = device;
        first = what;
    }
    call_context = primary_context(ordinal < 0 ? 0 : ordinal);
}

CudaCall::~CudaCall() { call_context = nullptr; }

void fill_device_memory(uint64_t device_memory, size_t count, DType dtype, uint32_t bits) {
    const Driver &d = driver();
    CUresult result = element_size(dtype) == 4
                          ? d.cuMemsetD32Async(device_memory, bits, count, thread_stream)
                          : d.cuMemsetD16Async(device_memory, static_cast<unsigned short>(bits),
                                               count, thread_stream);
    if (result != CUDA_SUCCESS) {
        throw std::runtime_error("normgen: filling a scratch buffer on the GPU failed: " +
                                 d.error_name(result));
    }
}

}  // namespace normgen::detail

namespace normgen {

void set_cuda_stream(void *stream) { detail::thread_stream = stream; }

void *cuda_stream() { return detail::thread_stream; }

bool cuda_available(std::string *reason) {
    const std::string &unavailable = detail::driver().unavailable;
    if (reason != nullptr) *reason = unavailable;
    return unavailable.empty();
}

}  // namespace normgen
