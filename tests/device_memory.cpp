#include "device_memory.hpp"

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

namespace normgen::testing {
namespace {

// GPU memory through the CUDA driver API, loaded at run time: the tests
// then build without a CUDA toolkit and run with whatever driver the GPU
// machine has. Memory is allocated in the device's primary context, which
// is where cudaMalloc allocates too.
using CUresult = int;
using CUdeviceptr = unsigned long long;

struct Driver {
    std::string unavailable;  // empty where the GPU can be used
    CUresult (*cuInit)(unsigned);
    CUresult (*cuGetErrorName)(CUresult, const char **);
    CUresult (*cuDeviceGetCount)(int *);
    CUresult (*cuDeviceGet)(int *, int);
    CUresult (*cuDevicePrimaryCtxRetain)(void **, int);
    CUresult (*cuCtxSetCurrent)(void *);
    CUresult (*cuMemAlloc_v2)(CUdeviceptr *, size_t);
    CUresult (*cuMemFree_v2)(CUdeviceptr);
    CUresult (*cuMemcpyHtoD_v2)(CUdeviceptr, const void *, size_t);
    CUresult (*cuMemcpyDtoH_v2)(void *, CUdeviceptr, size_t);
    CUresult (*cuStreamCreate)(void **, unsigned);
    CUresult (*cuStreamDestroy_v2)(void *);
    CUresult (*cuStreamSynchronize)(void *);
};

template <typename Function>
void find(void *library, const char *name, Function &function, std::string &missing) {
    function = reinterpret_cast<Function>(dlsym(library, name));
    if (function == nullptr) missing += std::string(missing.empty() ? "" : ", ") + name;
}

const Driver &driver() {
    static const Driver loaded = [] {
        Driver d{};
        void *library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
        if (library == nullptr) {
            d.unavailable = "no CUDA driver (libcuda.so.1) here";
            return d;
        }
        std::string missing;
        find(library, "cuInit", d.cuInit, missing);
        find(library, "cuGetErrorName", d.cuGetErrorName, missing);
        find(library, "cuDeviceGetCount", d.cuDeviceGetCount, missing);
        find(library, "cuDeviceGet", d.cuDeviceGet, missing);
        find(library, "cuDevicePrimaryCtxRetain", d.cuDevicePrimaryCtxRetain, missing);
        find(library, "cuCtxSetCurrent", d.cuCtxSetCurrent, missing);
        find(library, "cuMemAlloc_v2", d.cuMemAlloc_v2, missing);
        find(library, "cuMemFree_v2", d.cuMemFree_v2, missing);
        find(library, "cuMemcpyHtoD_v2", d.cuMemcpyHtoD_v2, missing);
        find(library, "cuMemcpyDtoH_v2", d.cuMemcpyDtoH_v2, missing);
        find(library, "cuStreamCreate", d.cuStreamCreate, missing);
        find(library, "cuStreamDestroy_v2", d.cuStreamDestroy_v2, missing);
        find(library, "cuStreamSynchronize", d.cuStreamSynchronize, missing);
        if (!missing.empty()) {
            d.unavailable = "libcuda.so.1 lacks " + missing;
            return d;
        }
        int count = 0;
        void *context = nullptr;
        int device = 0;
        if (d.cuInit(0) != 0 || d.cuDeviceGetCount(&count) != 0 || count == 0) {
            d.unavailable = "the CUDA driver finds no GPU";
        } else if (d.cuDeviceGet(&device, 0) != 0 ||
                   d.cuDevicePrimaryCtxRetain(&context, device) != 0 ||
                   d.cuCtxSetCurrent(context) != 0) {
            d.unavailable = "the primary context of GPU 0 cannot be made current";
        }
        return d;
    }();
    return loaded;
}

void check(CUresult result, const char *call) {
    if (result == 0) return;
    const char *name = nullptr;
    driver().cuGetErrorName(result, &name);
    throw std::runtime_error(std::string(call) + " failed: " + (name ? name : "unknown error"));
}

}  // namespace

bool device_usable(Device device, std::string *reason) {
    if (device == Device::cpu) return true;
    if (!driver().unavailable.empty()) {
        *reason = driver().unavailable;
        return false;
    }
    return normgen::cuda_available(reason);
}

DeviceMemory::DeviceMemory(Device device, size_t bytes) : device_(device) {
    if (bytes == 0) bytes = 1;
    if (device == Device::cpu) {
        data_ = std::malloc(bytes);
        if (data_ == nullptr) throw std::bad_alloc();
        return;
    }
    CUdeviceptr pointer = 0;
    check(driver().cuMemAlloc_v2(&pointer, bytes), "cuMemAlloc");
    data_ = reinterpret_cast<void *>(pointer);
}

DeviceMemory::~DeviceMemory() {
    if (device_ == Device::cpu) {
        std::free(data_);
    } else {
        driver().cuMemFree_v2(reinterpret_cast<CUdeviceptr>(data_));
    }
}

void DeviceMemory::upload(const void *host, size_t bytes) {
    if (device_ == Device::cpu) {
        std::memcpy(data_, host, bytes);
        return;
    }
    check(driver().cuMemcpyHtoD_v2(reinterpret_cast<CUdeviceptr>(data_), host, bytes),
          "cuMemcpyHtoD");
}

void DeviceMemory::download(void *host, size_t bytes) const {
    if (device_ == Device::cpu) {
        std::memcpy(host, data_, bytes);
        return;
    }
    check(driver().cuMemcpyDtoH_v2(host, reinterpret_cast<CUdeviceptr>(data_), bytes),
          "cuMemcpyDtoH");
}

void synchronize(Device device, void *stream) {
    if (device == Device::cuda) check(driver().cuStreamSynchronize(stream), "cuStreamSynchronize");
}

TestStream::TestStream(Device device) : device_(device) {
    // A non-blocking stream: work on it is ordered with nothing else, so a
    // kernel that ran on another stream would race the copies back.
    constexpr unsigned non_blocking = 1;
    if (device == Device::cuda) check(driver().cuStreamCreate(&stream_, non_blocking), "cuStreamCreate");
}

TestStream::~TestStream() {
    if (device_ == Device::cuda) driver().cuStreamDestroy_v2(stream_);
}

}  // namespace normgen::testing
