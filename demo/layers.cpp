#include "layers.hpp"

#include <cmath>
#include <string>
#include <utility>

#include "support/error.hpp"
#include "checks.hpp"
#include "kernels.hpp"
#include "layer_kernels.h"

namespace lenet {

namespace {

using normgen::detail::KernelBuffer;
using normgen::detail::KernelDims;

using normgen::detail::format_shape;

void expect_shape(const Tensor &tensor, const std::vector<int64_t> &expected, const char *what) {
    if (tensor.shape() != expected) {
        throw Error(std::string(what) + ": expected shape " + format_shape(expected) +
                    ", given " + format_shape(tensor.shape()));
    }
}

void expect_rank(const Tensor &tensor, size_t rank, const char *what) {
    if (tensor.shape().size() != rank) {
        throw Error(std::string(what) + ": expected a rank-" + std::to_string(rank) +
                    " tensor, given shape " + format_shape(tensor.shape()));
    }
}

// A dense tensor's dimensions for a kernel, innermost first.
KernelDims dims_of(const std::vector<int64_t> &shape) {
    KernelDims dims;
    int64_t stride = 1;
    for (auto size = shape.rbegin(); size != shape.rend(); ++size) {
        dims.emplace_back(*size, stride);
        stride *= *size;
    }
    return dims;
}

// (N, ...) seen as (features, N).
KernelDims matrix_dims(const Tensor &tensor) {
    const int64_t samples = tensor.shape().at(0);
    const int64_t features = samples ? tensor.numel() / samples : 0;
    return {{features, 1}, {samples, features}};
}

struct Buffer : KernelBuffer {
    Buffer(const Tensor &tensor) : KernelBuffer(tensor.data(), dims_of(tensor.shape())) {}
    Buffer(const Tensor &tensor, const KernelDims &dims) : KernelBuffer(tensor.data(), dims) {}
};

// Runs the kernel of the CPU variant chosen here; a failure throws with
// Halide's message.
template <typename Kernel, size_t count, typename... Arguments>
void run(Kernel const (&variants)[count], const char *name, Arguments &&...arguments) {
    normgen::detail::check_kernel_status(
        variants[normgen::detail::prepare_cpu_kernels()](std::forward<Arguments>(arguments)...),
        name);
}

}  // namespace

void convolution_forward(const Tensor &input, const Tensor &weight, const Tensor &bias,
                         Tensor &output) {
    expect_rank(input, 4, "convolution input");
    expect_rank(weight, 4, "convolution weight");
    const auto &in = input.shape(), &w = weight.shape();
    expect_shape(bias, {w[0]}, "convolution bias");
    if (w[1] != in[1] || in[2] < w[2] || in[3] < w[3]) {
        throw Error("convolution: weight " + format_shape(w) + " does not fit input " +
                    format_shape(in));
    }
    expect_shape(output, {in[0], w[0], in[2] - w[2] + 1, in[3] - w[3] + 1}, "convolution output");
    static const decltype(&normgen_convolution_forward_avx2) variants[] =
        LENET_LAYER_VARIANTS(convolution_forward);
    run(variants, "convolution_forward", Buffer(input).get(), Buffer(weight).get(),
        Buffer(bias).get(), Buffer(output).get());
}

void convolution_backward(const Tensor &grad_output, const Tensor &input, const Tensor &weight,
                          Tensor *grad_input, Tensor &grad_weight, Tensor &grad_bias) {
    expect_rank(input, 4, "convolution input");
    const auto &in = input.shape(), &w = weight.shape();
    expect_shape(grad_output, {in[0], w[0], in[2] - w[2] + 1, in[3] - w[3] + 1},
                 "convolution grad_output");
    expect_shape(grad_weight, w, "convolution grad_weight");
    expect_shape(grad_bias, {w[0]}, "convolution grad_bias");
    static const decltype(&normgen_convolution_backward_weight_avx2) weight_variants[] =
        LENET_LAYER_VARIANTS(convolution_backward_weight);
    run(weight_variants, "convolution_backward_weight", Buffer(grad_output).get(),
        Buffer(input).get(), Buffer(grad_weight).get(), Buffer(grad_bias).get());
    if (grad_input) {
        expect_shape(*grad_input, in, "convolution grad_input");
        static const decltype(&normgen_convolution_backward_input_avx2) input_variants[] =
            LENET_LAYER_VARIANTS(convolution_backward_input);
        run(input_variants, "convolution_backward_input", Buffer(grad_output).get(),
            Buffer(weight).get(), Buffer(*grad_input).get());
    }
}

void expect_even_plane(const Tensor &input) {
    const auto &in = input.shape();
    if (in[2] % 2 || in[3] % 2) {
        throw Error("pooling: expected an even height and width, given input " +
                    format_shape(in));
    }
}

void relu_max_pool_forward(const Tensor &input, Tensor &output) {
    expect_rank(input, 4, "pooling input");
    expect_even_plane(input);
    const auto &in = input.shape();
    expect_shape(output, {in[0], in[1], in[2] / 2, in[3] / 2}, "pooling output");
    static const decltype(&normgen_relu_max_pool_forward_avx2) variants[] =
        LENET_LAYER_VARIANTS(relu_max_pool_forward);
    run(variants, "relu_max_pool_forward", Buffer(input).get(), Buffer(output).get());
}

void relu_max_pool_backward(const Tensor &grad_output, const Tensor &input, Tensor &grad_input) {
    expect_rank(input, 4, "pooling input");
    expect_even_plane(input);
    const auto &in = input.shape();
    expect_shape(grad_output, {in[0], in[1], in[2] / 2, in[3] / 2}, "pooling grad_output");
    expect_shape(grad_input, in, "pooling grad_input");
    static const decltype(&normgen_relu_max_pool_backward_avx2) variants[] =
        LENET_LAYER_VARIANTS(relu_max_pool_backward);
    run(variants, "relu_max_pool_backward", Buffer(grad_output).get(), Buffer(input).get(),
        Buffer(grad_input).get());
}

void linear_forward(const Tensor &input, const Tensor &weight, const Tensor &bias, bool relu,
                    Tensor &output) {
    expect_rank(weight, 2, "linear weight");
    const int64_t samples = input.shape().at(0), out = weight.shape()[0], in = weight.shape()[1];
    if (input.numel() != samples * in) {
        throw Error("linear: input " + format_shape(input.shape()) + " does not hold " +
                    std::to_string(in) + " features per sample");
    }
    expect_shape(bias, {out}, "linear bias");
    expect_shape(output, {samples, out}, "linear output");
    static const decltype(&normgen_linear_forward_none_avx2) plain[] =
        LENET_LAYER_VARIANTS(linear_forward_none);
    static const decltype(&normgen_linear_forward_relu_avx2) with_relu[] =
        LENET_LAYER_VARIANTS(linear_forward_relu);
    run(relu ? with_relu : plain, "linear_forward", Buffer(input, matrix_dims(input)).get(),
        Buffer(weight).get(), Buffer(bias).get(), Buffer(output).get());
}

void linear_backward(const Tensor &grad_output, const Tensor &output, const Tensor &input,
                     const Tensor &weight, bool relu, Tensor &grad_input, Tensor &grad_weight,
                     Tensor &grad_bias) {
    expect_rank(weight, 2, "linear weight");
    const int64_t samples = input.shape().at(0), out = weight.shape()[0], in = weight.shape()[1];
    expect_shape(grad_output, {samples, out}, "linear grad_output");
    expect_shape(output, {samples, out}, "linear output");
    if (grad_input.shape() != input.shape()) {
        throw Error("linear grad_input: expected shape " + format_shape(input.shape()) +
                    ", given " + format_shape(grad_input.shape()));
    }
    expect_shape(grad_weight, {out, in}, "linear grad_weight");
    expect_shape(grad_bias, {out}, "linear grad_bias");
    static const decltype(&normgen_linear_backward_none_avx2) plain[] =
        LENET_LAYER_VARIANTS(linear_backward_none);
    static const decltype(&normgen_linear_backward_relu_avx2) with_relu[] =
        LENET_LAYER_VARIANTS(linear_backward_relu);
    run(relu ? with_relu : plain, "linear_backward", Buffer(grad_output).get(),
        Buffer(output).get(), Buffer(input, matrix_dims(input)).get(), Buffer(weight).get(),
        Buffer(grad_input, matrix_dims(grad_input)).get(), Buffer(grad_weight).get(),
        Buffer(grad_bias).get());
}

double softmax_cross_entropy(const Tensor &logits, const std::vector<int32_t> &labels,
                             float grad_scale, std::vector<float> &losses, Tensor &grad_logits) {
    expect_rank(logits, 2, "logits");
    const int64_t samples = logits.shape()[0], classes = logits.shape()[1];
    if (static_cast<int64_t>(labels.size()) != samples) {
        throw Error("softmax_cross_entropy: expected " + std::to_string(samples) +
                    " labels, given " + std::to_string(labels.size()));
    }
    for (size_t n = 0; n < labels.size(); n++) {
        if (labels[n] < 0 || labels[n] >= classes) {
            throw Error("softmax_cross_entropy: label " + std::to_string(n) + " is " +
                        std::to_string(labels[n]) + ", expected one in [0, " +
                        std::to_string(classes) + ")");
        }
    }
    expect_shape(grad_logits, logits.shape(), "grad_logits");
    losses.resize(samples);
    static const decltype(&normgen_softmax_cross_entropy_avx2) variants[] =
        LENET_LAYER_VARIANTS(softmax_cross_entropy);
    KernelBuffer label_buffer(labels.data(), {{samples, 1}});
    label_buffer.get()->type = halide_type_t(halide_type_int, 32);
    KernelBuffer loss_buffer(losses.data(), {{samples, 1}});
    run(variants, "softmax_cross_entropy", Buffer(logits).get(), label_buffer.get(), grad_scale,
        loss_buffer.get(), Buffer(grad_logits).get());
    double total = 0;
    for (float loss : losses) total += loss;
    return samples ? total / samples : 0.0;
}

void sgd_step(Tensor &value, const Tensor &grad, Tensor &momentum_buffer, float learning_rate,
              float momentum, float weight_decay) {
    expect_shape(grad, value.shape(), "sgd_step grad");
    expect_shape(momentum_buffer, value.shape(), "sgd_step momentum buffer");
    const KernelDims flat{{value.numel(), 1}};
    static const decltype(&normgen_sgd_step_avx2) variants[] = LENET_LAYER_VARIANTS(sgd_step);
    run(variants, "sgd_step", Buffer(value, flat).get(), Buffer(grad, flat).get(),
        Buffer(momentum_buffer, flat).get(), learning_rate, momentum, weight_decay,
        Buffer(value, flat).get(), Buffer(momentum_buffer, flat).get());
}

void adam_step(Tensor &value, const Tensor &grad, Tensor &first_moment, Tensor &second_moment,
               float learning_rate, float beta1, float beta2, float eps, float weight_decay,
               int64_t step) {
    expect_shape(grad, value.shape(), "adam_step grad");
    expect_shape(first_moment, value.shape(), "adam_step first moment");
    expect_shape(second_moment, value.shape(), "adam_step second moment");
    if (step < 1) throw Error("adam_step: expected a step number from 1, given " +
                              std::to_string(step));
    const double t = static_cast<double>(step);
    const auto bias_correction1 = static_cast<float>(1 - std::pow(double(beta1), t));
    const auto sqrt_bias_correction2 =
        static_cast<float>(std::sqrt(1 - std::pow(double(beta2), t)));
    const KernelDims flat{{value.numel(), 1}};
    static const decltype(&normgen_adam_step_avx2) variants[] = LENET_LAYER_VARIANTS(adam_step);
    run(variants, "adam_step", Buffer(value, flat).get(), Buffer(grad, flat).get(),
        Buffer(first_moment, flat).get(), Buffer(second_moment, flat).get(), learning_rate, beta1,
        beta2, eps, weight_decay, bias_correction1, sqrt_bias_correction2,
        Buffer(value, flat).get(), Buffer(first_moment, flat).get(),
        Buffer(second_moment, flat).get());
}

}  // namespace lenet
