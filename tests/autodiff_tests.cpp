// The hand-written LayerNorm backward kernels against Halide's automatic
// differentiation of the forward algorithm (autodiff_generators.cpp): two
// independent derivations of the same gradients, both in float32, must
// agree. CTest runs this once per CPU variant of the kernels.

#include <catch2/catch.hpp>
#include <normgen/normgen.hpp>

#include "HalideBuffer.h"
#include "expect_close.hpp"
#include "layer_norm_autodiff.h"

#include <vector>

namespace {

using normgen::TensorView;
namespace ref = normgen::reference;

constexpr float kEps = 1e-5f;

TEST_CASE("LayerNorm backward kernels agree with Halide's autodiff of the forward algorithm") {
    const int64_t rows = GENERATE(1, 5);
    const int64_t row_length = GENERATE(3, 17, 100, 1023);
    INFO("rows " << rows << " x " << row_length);
    const auto seed = static_cast<uint32_t>(rows * 1000 + row_length);
    std::vector<float> input = ref::random_normal(rows * row_length, seed);
    std::vector<float> grad_output = ref::random_normal(rows * row_length, seed + 1);
    std::vector<float> weight = ref::random_normal(row_length, seed + 2);
    std::vector<float> bias = ref::random_normal(row_length, seed + 3);

    // Autodiff, from the input alone.
    const int r = static_cast<int>(rows), n = static_cast<int>(row_length);
    Halide::Runtime::Buffer<float> input_buffer(input.data(), n, r);
    Halide::Runtime::Buffer<float> grad_output_buffer(grad_output.data(), n, r);
    Halide::Runtime::Buffer<float> weight_buffer(weight.data(), n), bias_buffer(bias.data(), n);
    Halide::Runtime::Buffer<float> autodiff_grad_input(n, r), autodiff_grad_weight(n),
        autodiff_grad_bias(n);
    REQUIRE(layer_norm_autodiff(input_buffer, weight_buffer, bias_buffer, kEps,
                                grad_output_buffer, autodiff_grad_input, autodiff_grad_weight,
                                autodiff_grad_bias) == 0);

    // The kernels, from the statistics the forward kernel saved.
    std::vector<float> output(input.size()), mean(rows), rstd(rows);
    const TensorView input_view = TensorView::of(input.data(), {rows, row_length});
    const TensorView weight_view = TensorView::of(weight.data(), {row_length});
    const TensorView bias_view = TensorView::of(bias.data(), {row_length});
    const TensorView mean_view = TensorView::of(mean.data(), {rows});
    const TensorView rstd_view = TensorView::of(rstd.data(), {rows});
    normgen::layer_norm(input_view, {row_length}, &weight_view, &bias_view, kEps,
                        TensorView::of(output.data(), {rows, row_length}), &mean_view, &rstd_view);
    std::vector<float> grad_input(input.size()), grad_weight(row_length), grad_bias(row_length);
    const TensorView grad_input_view = TensorView::of(grad_input.data(), {rows, row_length});
    const TensorView grad_weight_view = TensorView::of(grad_weight.data(), {row_length});
    const TensorView grad_bias_view = TensorView::of(grad_bias.data(), {row_length});
    normgen::layer_norm_backward(TensorView::of(grad_output.data(), {rows, row_length}),
                                 input_view, {row_length}, mean_view, rstd_view, &weight_view,
                                 &grad_input_view, &grad_weight_view, &grad_bias_view);

    auto as_double = [](const Halide::Runtime::Buffer<float> &buffer) {
        return std::vector<double>(buffer.data(), buffer.data() + buffer.number_of_elements());
    };
    // Both are float32 computations: PyTorch's float32 tolerance, with room
    // for sums over 1023 elements in a different order.
    const double atol = 1e-4, rtol = 1e-3;
    {
        INFO("grad_input");
        ref::expect_close(grad_input, as_double(autodiff_grad_input), atol, rtol);
    }
    {
        INFO("grad_weight and grad_bias");
        ref::expect_close(grad_weight, as_double(autodiff_grad_weight), atol, rtol);
        ref::expect_close(grad_bias, as_double(autodiff_grad_bias), atol, rtol);
    }
}

}  // namespace
