// The seam between the runtime and the generated kernels: Halide buffers
// over caller memory, the CPU variant to run, and kernel status codes.
// kernel_variants.h (generated) declares every kernel of every variant.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "HalideRuntime.h"
#include "kernel_variants.h"
#include "normgen/normgen.hpp"

namespace normgen::detail {

// Dimensions innermost first, as {extent, stride} in elements.
using KernelDims = std::vector<std::pair<int64_t, int64_t>>;

// What scratch memory starts as: `unset` for outputs the kernel writes whole.
enum class Fill { unset, zeros, ones };

// Host scratch memory taken from, and given back to, a per-thread pool: a
// large unwanted output (say grad_input, when only the parameters'
// gradients are wanted) would otherwise cost a fresh allocation, its page
// faults and its zeroing on every call.
class ScratchMemory {
public:
    ScratchMemory() = default;
    explicit ScratchMemory(size_t bytes);
    ~ScratchMemory();
    ScratchMemory(ScratchMemory &&) = default;
    ScratchMemory &operator=(ScratchMemory &&) = default;
    uint8_t *data() { return block_.get(); }

private:
    std::unique_ptr<uint8_t[]> block_;
    size_t capacity_ = 0;
};

// A halide_buffer_t (at most 4 dimensions). Device::cuda buffers exist only
// inside a CudaCall.
class KernelBuffer {
public:
    // Over existing memory: host memory, or a wrapped device pointer.
    KernelBuffer(const void *data, const KernelDims &dims, DType dtype = DType::float32,
                 Device device = Device::cpu);
    // Over memory of its own, as `fill` says: for absent parameters (weight ones,
    // bias zeros) and unwanted outputs. On cuda, device memory from Halide's
    // allocation cache, filled asynchronously on the call's stream.
    KernelBuffer(const KernelDims &dims, DType dtype, Device device, Fill fill);
    ~KernelBuffer();
    KernelBuffer(const KernelBuffer &) = delete;
    KernelBuffer &operator=(const KernelBuffer &) = delete;
    halide_buffer_t *get() { return &buffer_; }
    // The memory: host memory, or on cuda the device address.
    const void *data() const;

private:
    void describe(const KernelDims &dims, DType dtype);

    std::array<halide_dimension_t, 4> dims_{};
    halide_buffer_t buffer_{};
    ScratchMemory owned_;   // host memory of a scratch buffer
    bool wrapped_ = false;  // buffer_.device is the caller's
};

// Sets every element of a contiguous tensor to zero, on its device (on
// cuda: inside a CudaCall, asynchronously on its stream).
void fill_with_zeros(const TensorView &tensor);

// Installs normgen's Halide error hook once and returns the index, in
// NORMGEN_CPU_VARIANTS order, of the CPU variant kernels run on now; throws
// normgen::Error if NORMGEN_CPU_VARIANT names one this machine cannot run.
size_t prepare_cpu_kernels();

// Throws if a kernel returned an error, with Halide's message.
void check_kernel_status(int status, const char *kernel);

}  // namespace normgen::detail
