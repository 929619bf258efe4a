// The seam between the runtime and the generated kernels: Halide buffers
// over caller memory, the CPU variant to run, and kernel status codes.
// kernel_variants.h (generated) declares every kernel of every variant.
#pragma once

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include "HalideRuntime.h"
#include "kernel_variants.h"

namespace normgen::detail {

// Dimensions innermost first, as {extent, stride} in elements.
using KernelDims = std::vector<std::pair<int64_t, int64_t>>;

// A float32 halide_buffer_t over existing memory (at most 4 dimensions).
class KernelBuffer {
public:
    KernelBuffer(const void *data, const KernelDims &dims);
    KernelBuffer(const KernelBuffer &) = delete;
    KernelBuffer &operator=(const KernelBuffer &) = delete;
    halide_buffer_t *get() { return &buffer_; }

private:
    std::array<halide_dimension_t, 4> dims_{};
    halide_buffer_t buffer_{};
};

// Installs normgen's Halide error hook once and returns the index, in
// NORMGEN_CPU_VARIANTS order, of the CPU variant kernels run on now; throws
// normgen::Error if NORMGEN_CPU_VARIANT names one this machine cannot run.
size_t prepare_cpu_kernels();

// Throws if a kernel returned an error, with Halide's message.
void check_kernel_status(int status, const char *kernel);

}  // namespace normgen::detail
