// How a call on cuda tensors reaches the GPU: the driver, loaded on first use,
// the primary context of the tensors' device, and the caller's stream, handed
// to Halide's CUDA runtime for the duration of one call.
#pragma once

#include <cstdint>
#include <vector>

#include "checks.hpp"

namespace normgen::detail {

// While alive, the Halide runtime on this thread runs in the primary context
// of the device holding `tensors` and on the thread's normgen stream.
// Throws CudaUnavailable without a driver or device, and Error where a
// tensor's pointer is not device memory or the tensors span devices.
class CudaCall {
public:
    explicit CudaCall(const NamedTensors &tensors);
    ~CudaCall();
    CudaCall(const CudaCall &) = delete;
    CudaCall &operator=(const CudaCall &) = delete;
};

// Sets `count` elements of `dtype` at device address `device_memory` to
// `bits`, asynchronously on the thread's stream (inside a CudaCall).
void fill_device_memory(uint64_t device_memory, size_t count, DType dtype, uint32_t bits);

}  // namespace normgen::detail
