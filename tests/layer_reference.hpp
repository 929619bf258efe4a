// The float64 reference of the LeNet layers (demo/layers.hpp): straight
// loops over torch's contiguous layouts, written for clarity. The layer
// tests compare every CPU variant's kernels against these forward passes,
// and the backward kernels against their central finite differences.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace normgen::reference {

// input (n, ci, h, w), weight (co, ci, k, k), bias (co) -> (n, co, h-k+1, w-k+1)
inline std::vector<double> convolution(const std::vector<double> &input,
                                       const std::vector<double> &weight,
                                       const std::vector<double> &bias, int64_t n, int64_t ci,
                                       int64_t h, int64_t w, int64_t co, int64_t k) {
    const int64_t oh = h - k + 1, ow = w - k + 1;
    std::vector<double> out(n * co * oh * ow);
    for (int64_t s = 0; s < n; s++)
        for (int64_t o = 0; o < co; o++)
            for (int64_t y = 0; y < oh; y++)
                for (int64_t x = 0; x < ow; x++) {
                    double total = bias[o];
                    for (int64_t i = 0; i < ci; i++)
                        for (int64_t ky = 0; ky < k; ky++)
                            for (int64_t kx = 0; kx < k; kx++)
                                total += weight[((o * ci + i) * k + ky) * k + kx] *
                                         input[((s * ci + i) * h + y + ky) * w + x + kx];
                    out[((s * co + o) * oh + y) * ow + x] = total;
                }
    return out;
}

// ReLU then 2x2 max pooling, stride 2: (n, c, h, w) -> (n, c, h/2, w/2)
inline std::vector<double> relu_max_pool(const std::vector<double> &input, int64_t n,
                                         int64_t c, int64_t h, int64_t w) {
    const int64_t oh = h / 2, ow = w / 2;
    std::vector<double> out(n * c * oh * ow);
    for (int64_t plane = 0; plane < n * c; plane++)
        for (int64_t y = 0; y < oh; y++)
            for (int64_t x = 0; x < ow; x++) {
                double best = 0;  // the ReLU
                for (int64_t dy = 0; dy < 2; dy++)
                    for (int64_t dx = 0; dx < 2; dx++)
                        best = std::max(best, input[(plane * h + 2 * y + dy) * w + 2 * x + dx]);
                out[(plane * oh + y) * ow + x] = best;
            }
    return out;
}

// input (n, in), weight (out, in), bias (out) -> (n, out), optionally ReLU'd
inline std::vector<double> linear(const std::vector<double> &input,
                                  const std::vector<double> &weight,
                                  const std::vector<double> &bias, int64_t n, int64_t in,
                                  int64_t out, bool relu) {
    std::vector<double> result(n * out);
    for (int64_t s = 0; s < n; s++)
        for (int64_t o = 0; o < out; o++) {
            double total = bias[o];
            for (int64_t i = 0; i < in; i++) total += weight[o * in + i] * input[s * in + i];
            result[s * out + o] = relu ? std::max(0.0, total) : total;
        }
    return result;
}

// Per-sample softmax cross-entropy of logits (n, classes).
inline std::vector<double> cross_entropy(const std::vector<double> &logits,
                                         const std::vector<int32_t> &labels, int64_t classes) {
    const int64_t n = static_cast<int64_t>(labels.size());
    std::vector<double> loss(n);
    for (int64_t s = 0; s < n; s++) {
        const double *row = &logits[s * classes];
        const double top = *std::max_element(row, row + classes);
        double total = 0;
        for (int64_t k = 0; k < classes; k++) total += std::exp(row[k] - top);
        loss[s] = std::log(total) + top - row[labels[s]];
    }
    return loss;
}

}  // namespace normgen::reference
