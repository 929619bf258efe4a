// The limits: what streaming a workload's bytes costs on this machine with
// the same threads, whatever the arithmetic.
//
// "limit": y = a * x into a preallocated buffer, the input read once and the
// output written once, as every normalization must at least do; for
// backward, z = x + a * dy, the two inputs every backward reads (x and
// grad_output) and the one output it writes (grad_input). Timed as an OpenMP
// loop and as a Halide pipeline on normgen's thread pool ("limit:openmp",
// "limit:halide"), the limit being the faster.
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
#include "bench_axpy.h"
#include "bench_scale.h"

namespace normgen::bench {
namespace {

void scale(const float *x, float *y, int64_t count, float a) {
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < count; ++i) {
        y[i] = a * x[i];
    }
}

void axpy(const float *x, const float *dy, float *z, int64_t count, float a) {
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < count; ++i) {
        z[i] = x[i] + a * dy[i];
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

void add_forward_limits(const Workload &workload, const WorkloadData &data,
                        Implementations &out) {
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

void add_backward_limits(const Workload &workload, const WorkloadData &data,
                         Implementations &out) {
    const float *x = data.input.data(), *dy = data.grad_output.data();
    const int64_t count = workload.numel();
    auto z = std::make_shared<std::vector<float>>(data.input.size());
    out.push_back(std::make_unique<LocalImplementation>(
        "limit:openmp", [=] { axpy(x, dy, z->data(), count, 1.5f); }, nullptr, &data));
    auto buffer = [count](const float *values) {
        return std::make_shared<Halide::Runtime::Buffer<float>>(const_cast<float *>(values), count);
    };
    auto x_buffer = buffer(x), dy_buffer = buffer(dy), z_buffer = buffer(z->data());
    out.push_back(std::make_unique<LocalImplementation>(
        "limit:halide",
        [=] {
            if (bench_axpy(*x_buffer, *dy_buffer, 1.5f, *z_buffer) != 0) {
                throw std::runtime_error("bench_axpy failed");
            }
        },
        nullptr, &data));
}

}  // namespace

void add_limits(const Workload &workload, const WorkloadData &data, Implementations &out) {
    if (workload.backward) {
        add_backward_limits(workload, data, out);
    } else {
        add_forward_limits(workload, data, out);
    }
}

}  // namespace normgen::bench
