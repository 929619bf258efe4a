// Checks that an installed normgen links and computes: LayerNorm of a row
// with known statistics, through the C++ API and through the C ABI.
#include <cmath>
#include <cstdio>

#include "normgen/normgen.h"
#include "normgen/normgen.hpp"

int main() {
    // x = [1, 2, 3, 4]: mean 2.5, variance 1.25.
    const float x[4] = {1, 2, 3, 4};
    float y[4] = {0, 0, 0, 0};
    normgen::layer_norm(normgen::TensorView::of(x, {1, 4}), {4}, nullptr, nullptr, 0.0,
                        normgen::TensorView::of(y, {1, 4}));
    const double rstd = 1.0 / std::sqrt(1.25);
    for (int i = 0; i < 4; ++i) {
        if (std::fabs(y[i] - (x[i] - 2.5) * rstd) > 1e-5) {
            std::printf("C++ API: y[%d] = %f, expected %f\n", i, y[i], (x[i] - 2.5) * rstd);
            return 1;
        }
    }

    float y_from_c[4] = {0, 0, 0, 0};
    const int64_t shape[2] = {1, 4};
    const int64_t normalized_shape[1] = {4};
    normgen_tensor input = {const_cast<float *>(x), NORMGEN_FLOAT32, NORMGEN_CPU, 2, shape, nullptr};
    normgen_tensor output = {y_from_c, NORMGEN_FLOAT32, NORMGEN_CPU, 2, shape, nullptr};
    if (normgen_layer_norm(&input, normalized_shape, 1, nullptr, nullptr, 0.0, &output, nullptr,
                           nullptr) != NORMGEN_OK) {
        std::printf("C ABI: %s\n", normgen_last_error());
        return 1;
    }
    for (int i = 0; i < 4; ++i) {
        if (y_from_c[i] != y[i]) {
            std::printf("C ABI: y[%d] = %f, C++ API gave %f\n", i, y_from_c[i], y[i]);
            return 1;
        }
    }
    std::printf("installed normgen works (CPU variant %s)\n", normgen_cpu_variant());
    return 0;
}
