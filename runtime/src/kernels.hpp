// The seam between the runtime and the generated kernels: Halide buffers
// over caller memory, the Halide runtime's hooks, and kernel status codes.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <utility>

#include "HalideRuntime.h"

namespace normgen::detail {

// A float32 halide_buffer_t over existing memory. Dimensions are given
// innermost first as {extent, stride} in elements.
class KernelBuffer {
public:
    KernelBuffer(const void *data, std::initializer_list<std::pair<int64_t, int64_t>> dims);
    KernelBuffer(const KernelBuffer &) = delete;
    KernelBuffer &operator=(const KernelBuffer &) = delete;
    halide_buffer_t *get() { return &buffer_; }

private:
    std::array<halide_dimension_t, 4> dims_{};
    halide_buffer_t buffer_{};
};

// Installs normgen's Halide hooks (error capture, CPU variant choice) once,
// before any kernel runs; throws normgen::Error if NORMGEN_CPU_VARIANT is
// invalid for this machine.
void prepare_cpu_kernels();

// Throws if a kernel returned an error, with Halide's message.
void check_kernel_status(int status, const char *kernel);

}  // namespace normgen::detail
