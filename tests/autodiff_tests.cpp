// The hand-written backward kernels against Halide's automatic
// differentiation of the forward algorithms (autodiff_generators.cpp): two
// independent derivations of the same gradients, both in float32, must
// agree. CTest runs this once per CPU variant of the kernels.

#include <catch2/catch.hpp>
#include <normgen/normgen.hpp>

#include "HalideBuffer.h"
#include "expect_close.hpp"
#include "batch_norm_autodiff.h"
#include "layer_norm_autodiff.h"

#include <array>
#include <vector>

namespace {

using normgen::MemoryFormat;
using normgen::TensorView;
namespace ref = normgen::reference;

constexpr float kEps = 1e-5f;

using Gradients = std::array<std::vector<float>, 3>;  // grad_input, grad_weight, grad_bias
using AutodiffGradients = std::array<Halide::Runtime::Buffer<float>, 3>;

// The kernels' gradients against autodiff's, in the same (logical) order.
// Both are float32 computations: PyTorch's float32 tolerance, with room for
// sums over up to 1023 elements in a different order.
void expect_gradients_agree(const Gradients &kernels, const AutodiffGradients &autodiff) {
    const char *names[] = {"grad_input", "grad_weight", "grad_bias"};
    for (size_t i = 0; i < kernels.size(); ++i) {
        INFO(names[i]);
        const Halide::Runtime::Buffer<float> &expected = autodiff[i];
        ref::expect_close(kernels[i],
                          std::vector<double>(expected.data(),
                                              expected.data() + expected.number_of_elements()),
                          1e-4, 1e-3);
    }
}

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

    expect_gradients_agree({grad_input, grad_weight, grad_bias},
                           {autodiff_grad_input, autodiff_grad_weight, autodiff_grad_bias});
}

TEST_CASE("BatchNorm training backward kernels agree with Halide's autodiff of the forward "
          "algorithm") {
    const std::vector<int64_t> shape = GENERATE(std::vector<int64_t>{7, 3, 1},
                                                std::vector<int64_t>{4, 5, 9},
                                                std::vector<int64_t>{3, 4, 50});
    const MemoryFormat format = GENERATE(MemoryFormat::contiguous, MemoryFormat::channels_last);
    INFO("shape " << shape[0] << "x" << shape[1] << "x" << shape[2]);
    const int64_t samples = shape[0], channels = shape[1], spatial = shape[2];
    const int64_t count = samples * channels * spatial;
    const auto seed = static_cast<uint32_t>(count);
    std::vector<float> input = ref::random_normal(count, seed);
    std::vector<float> grad_output = ref::random_normal(count, seed + 1);
    std::vector<float> weight = ref::random_normal(channels, seed + 2);
    std::vector<float> bias = ref::random_normal(channels, seed + 3);

    const int s = static_cast<int>(spatial), c = static_cast<int>(channels),
              n = static_cast<int>(samples);
    Halide::Runtime::Buffer<float> input_buffer(input.data(), s, c, n);
    Halide::Runtime::Buffer<float> grad_output_buffer(grad_output.data(), s, c, n);
    Halide::Runtime::Buffer<float> weight_buffer(weight.data(), c), bias_buffer(bias.data(), c);
    Halide::Runtime::Buffer<float> autodiff_grad_input(s, c, n), autodiff_grad_weight(c),
        autodiff_grad_bias(c);
    REQUIRE(batch_norm_autodiff(input_buffer, weight_buffer, bias_buffer, kEps,
                                grad_output_buffer, autodiff_grad_input, autodiff_grad_weight,
                                autodiff_grad_bias) == 0);

    // The kernels, in either layout, from the statistics forward saved.
    const std::vector<float> input_memory = format == MemoryFormat::channels_last
                                                ? ref::logical_to_channels_last(input, shape)
                                                : input;
    const std::vector<float> grad_output_memory =
        format == MemoryFormat::channels_last ? ref::logical_to_channels_last(grad_output, shape)
                                              : grad_output;
    std::vector<float> output(count), save_mean(channels), save_invstd(channels);
    const TensorView input_view = TensorView::of(input_memory.data(), shape, format);
    const TensorView weight_view = TensorView::of(weight.data(), {channels});
    const TensorView bias_view = TensorView::of(bias.data(), {channels});
    const TensorView save_mean_view = TensorView::of(save_mean.data(), {channels});
    const TensorView save_invstd_view = TensorView::of(save_invstd.data(), {channels});
    normgen::batch_norm(input_view, nullptr, nullptr, &weight_view, &bias_view, true, 0.1, kEps,
                        TensorView::of(output.data(), shape, format), nullptr, &save_mean_view,
                        &save_invstd_view);
    std::vector<float> grad_input(count), grad_weight(channels), grad_bias(channels);
    const TensorView grad_input_view = TensorView::of(grad_input.data(), shape, format);
    const TensorView grad_weight_view = TensorView::of(grad_weight.data(), {channels});
    const TensorView grad_bias_view = TensorView::of(grad_bias.data(), {channels});
    normgen::batch_norm_backward(TensorView::of(grad_output_memory.data(), shape, format),
                                 input_view, &weight_view, nullptr, nullptr, &save_mean_view,
                                 &save_invstd_view, true, kEps, &grad_input_view,
                                 &grad_weight_view, &grad_bias_view);
    if (format == MemoryFormat::channels_last) {
        grad_input = ref::channels_last_to_logical(grad_input, shape);
    }

    expect_gradients_agree({grad_input, grad_weight, grad_bias},
                           {autodiff_grad_input, autodiff_grad_weight, autodiff_grad_bias});
}

}  // namespace
