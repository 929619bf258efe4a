// The limits: what streaming a workload's bytes costs on this machine with
// the same threads, whatever the arithmetic.
//
// "limit": y = a * x into a preallocated buffer, the input read once and the
// output written once, as every normalization must at least do; timed as
// an OpenMP loop and as a Halide pipeline on normgen's thread pool
// ("limit:openmp", "limit:halide"), the limit being the faster.
// "limit:read_twice" (batch_norm training): a sum over x, then y = a * x
// with `a` depending on the sum. Training cannot write any output before its
// channel's statistics over the whole batch are known, so it reads the
// input twice unless the input stays in cache between the passes.
//
// Plain OpenMP loops, built with -O3 -march=native: the compiler's best
// vector code for this CPU, with ordinary (cached) stores as the kernels use.
#include <omp.h>

#include <stdexcept>

#include "HalideBuffer.h"
#include "bench.hpp"
#include "bench_scale.h"

namespace normgen::bench {
namespace {

void scale(const float *x, float *y, int64_t count, float a) {
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < count; ++i) {
        y[i] = a * x[i];
    }
}

float sum(const float *x, int64_t count) {
    float total = 0.0f;
#pragma omp parallel for simd schedule(static) reduction(+ : total)
    for (int64_t i = 0; i < count; ++i) {
        total += x[i];
    }
    return total;
}

}  // namespace

void add_limits(const Workload &workload, const WorkloadData &data, Implementations &out) {
    const float *x = data.input.data();
    const int64_t count = workload.numel();
    auto y = std::make_shared<std::vector<float>>(data.input.size());
    out.push_back(std::make_unique<LocalImplementation>(
        "limit:openmp", [=] { scale(x, y->data(), count, 1.5f); }, nullptr, &data));
    auto x_buffer = std::make_shared<Halide::Runtime::Buffer<float>>(const_cast<float *>(x), count);
    auto y_buffer = std::make_shared<Halide::Runtime::Buffer<float>>(y->data(), count);
    out.push_back(std::make_unique<LocalImplementation>(
        "limit:halide",
        [=] {
            if (bench_scale(*x_buffer, 1.5f, *y_buffer) != 0) {
                throw std::runtime_error("bench_scale failed");
            }
        },
        nullptr, &data));
    if (workload.mode == "training") {
        out.push_back(std::make_unique<LocalImplementation>(
            "limit:read_twice",
            [=] { scale(x, y->data(), count, 1.0f + 1e-30f * sum(x, count)); }, nullptr, &data));
    }
}

}  // namespace normgen::bench
