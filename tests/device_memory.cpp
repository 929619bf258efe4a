#include "device_memory.hpp"

#include <cstdlib>
#include <cstring>
#include <stdexcept>

#ifdef NORMGEN_TESTS_HAVE_CUDART
#include <cuda_runtime_api.h>
#endif

namespace normgen::testing {

#ifdef NORMGEN_TESTS_HAVE_CUDART
namespace {
void check(cudaError_t status, const char *call) {
    if (status != cudaSuccess) {
        throw std::runtime_error(std::string(call) + " failed: " + cudaGetErrorString(status));
    }
}
}  // namespace
#endif

bool device_usable(Device device, std::string *reason) {
    if (device == Device::cpu) return true;
#ifndef NORMGEN_TESTS_HAVE_CUDART
    *reason = "the tests were built without the CUDA runtime library (CUDAToolkit not found "
              "when configuring), so they cannot allocate GPU memory";
    return false;
#else
    if (!normgen::cuda_available(reason)) return false;
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
        *reason = "the CUDA runtime API sees no GPU";
        return false;
    }
    return true;
#endif
}

DeviceMemory::DeviceMemory(Device device, size_t bytes) : device_(device) {
    if (bytes == 0) bytes = 1;
    if (device == Device::cpu) {
        data_ = std::malloc(bytes);
        if (data_ == nullptr) throw std::bad_alloc();
        return;
    }
#ifdef NORMGEN_TESTS_HAVE_CUDART
    check(cudaMalloc(&data_, bytes), "cudaMalloc");
#else
    throw std::logic_error("DeviceMemory on cuda without the CUDA runtime library");
#endif
}

DeviceMemory::~DeviceMemory() {
    if (device_ == Device::cpu) {
        std::free(data_);
        return;
    }
#ifdef NORMGEN_TESTS_HAVE_CUDART
    cudaFree(data_);
#endif
}

void DeviceMemory::upload(const void *host, size_t bytes) {
    if (device_ == Device::cpu) {
        std::memcpy(data_, host, bytes);
        return;
    }
#ifdef NORMGEN_TESTS_HAVE_CUDART
    check(cudaMemcpy(data_, host, bytes, cudaMemcpyHostToDevice), "cudaMemcpy to the GPU");
#endif
}

void DeviceMemory::download(void *host, size_t bytes) const {
    if (device_ == Device::cpu) {
        std::memcpy(host, data_, bytes);
        return;
    }
#ifdef NORMGEN_TESTS_HAVE_CUDART
    check(cudaMemcpy(host, data_, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy from the GPU");
#endif
}

void synchronize(Device device, void *stream) {
#ifdef NORMGEN_TESTS_HAVE_CUDART
    if (device == Device::cuda) {
        check(cudaStreamSynchronize(static_cast<cudaStream_t>(stream)), "cudaStreamSynchronize");
    }
#endif
}

TestStream::TestStream(Device device) : device_(device) {
#ifdef NORMGEN_TESTS_HAVE_CUDART
    if (device == Device::cuda) {
        cudaStream_t stream = nullptr;
        check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
        stream_ = stream;
    }
#endif
}

TestStream::~TestStream() {
#ifdef NORMGEN_TESTS_HAVE_CUDART
    if (device_ == Device::cuda) cudaStreamDestroy(static_cast<cudaStream_t>(stream_));
#endif
}

}  // namespace normgen::testing
