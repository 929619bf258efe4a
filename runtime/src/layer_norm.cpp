// layer_norm: validation, then one generated kernel over a (row, element)
// view of the input, chosen by affine mode and row length.
#include <numeric>
#include <algorithm>
#include <optional>

#include "checks.hpp"
#include "cuda.hpp"
#include "kernels.hpp"
#include "layout.hpp"
#include "normgen/normgen.hpp"

namespace normgen {
namespace {

using LayerNormKernel = int (*)(halide_buffer_t *input, halide_buffer_t *weight,
                                halide_buffer_t *bias, float eps, halide_buffer_t *output,
                                halide_buffer_t *mean, halide_buffer_t *rstd);

// [dtype][row class][affine: none, weight, weight and bias][CPU variant]
#define CPU_AFFINES(row_class, dtype)                                                  \
    {NORMGEN_CPU_VARIANTS(layer_norm_forward_##row_class##_none_##dtype),              \
     NORMGEN_CPU_VARIANTS(layer_norm_forward_##row_class##_weight_##dtype),            \
     NORMGEN_CPU_VARIANTS(layer_norm_forward_##row_class##_weight_and_bias_##dtype)}
#define CPU_ROW_CLASSES(dtype)                                                    \
    {CPU_AFFINES(long_rows, dtype), CPU_AFFINES(short_rows, dtype),               \
     CPU_AFFINES(split_rows, dtype), CPU_AFFINES(wide_rows, dtype),               \
     CPU_AFFINES(vector_rows, dtype)}
constexpr LayerNormKernel cpu_kernels[3][5][3][NORMGEN_CPU_VARIANT_COUNT] = {
    CPU_ROW_CLASSES(float32), CPU_ROW_CLASSES(float16), CPU_ROW_CLASSES(bfloat16)};

// [dtype][row class: warp_per_row, block_per_row][affine]
#define CUDA_AFFINES(row_class, dtype)                          \
    {normgen_layer_norm_forward_##row_class##_none_##dtype##_cuda, \
     normgen_layer_norm_forward_##row_class##_weight_##dtype##_cuda, \
     normgen_layer_norm_forward_##row_class##_weight_and_bias_##dtype##_cuda}
#define CUDA_ROW_CLASSES(dtype) {CUDA_AFFINES(warp_per_row, dtype), CUDA_AFFINES(block_per_row, dtype)}
constexpr LayerNormKernel cuda_kernels[3][2][3] = {
    CUDA_ROW_CLASSES(float32), CUDA_ROW_CLASSES(float16), CUDA_ROW_CLASSES(bfloat16)};

using BackwardKernel = int (*)(halide_buffer_t *grad_output, halide_buffer_t *input,
                                halide_buffer_t *mean, halide_buffer_t *rstd,
                                halide_buffer_t *weight, halide_buffer_t *grad_input,
                                halide_buffer_t *grad_weight, halide_buffer_t *grad_bias);
using BackwardParameterKernel = int (*)(halide_buffer_t *grad_output, halide_buffer_t *input,
                                        halide_buffer_t *mean, halide_buffer_t *rstd,
                                        halide_buffer_t *grad_weight, halide_buffer_t *grad_bias);

// All three gradients: [dtype][row class: long_rows, short_rows, split_rows, wide_rows]
// [affine: none, weight][CPU variant] (no vector_rows: see cpu_backward_row_class).
#define CPU_BACKWARD_AFFINES(row_class, dtype)                                        \
    {NORMGEN_CPU_VARIANTS(layer_norm_backward_##row_class##_none_##dtype),              \
     NORMGEN_CPU_VARIANTS(layer_norm_backward_##row_class##_weight_##dtype)}
#define CPU_BACKWARD_ROW_CLASSES(dtype)                                            \
    {CPU_BACKWARD_AFFINES(long_rows, dtype), CPU_BACKWARD_AFFINES(short_rows, dtype), \
     CPU_BACKWARD_AFFINES(split_rows, dtype), CPU_BACKWARD_AFFINES(wide_rows, dtype)}
constexpr BackwardKernel cpu_backward_kernels[3][4][2][NORMGEN_CPU_VARIANT_COUNT] = {
    CPU_BACKWARD_ROW_CLASSES(float32), CPU_BACKWARD_ROW_CLASSES(float16),
    CPU_BACKWARD_ROW_CLASSES(bfloat16)};
// [dtype][row class: warp_per_row, block_per_row][affine]
#define CUDA_BACKWARD_AFFINES(row_class, dtype)                                  \
    {normgen_layer_norm_backward_##row_class##_none_##dtype##_cuda,               \
     normgen_layer_norm_backward_##row_class##_weight_##dtype##_cuda}
#define CUDA_BACKWARD_ROW_CLASSES(dtype) \
    {CUDA_BACKWARD_AFFINES(warp_per_row, dtype), CUDA_BACKWARD_AFFINES(block_per_row, dtype)}
constexpr BackwardKernel cuda_backward_kernels[3][2][2] = {
    CUDA_BACKWARD_ROW_CLASSES(float32), CUDA_BACKWARD_ROW_CLASSES(float16),
    CUDA_BACKWARD_ROW_CLASSES(bfloat16)};
// Only grad_weight and grad_bias: [dtype][CPU variant], and [dtype] on CUDA
constexpr BackwardParameterKernel cpu_backward_parameter_kernels[3][NORMGEN_CPU_VARIANT_COUNT] = {
    NORMGEN_CPU_VARIANTS(layer_norm_backward_parameters_float32),
    NORMGEN_CPU_VARIANTS(layer_norm_backward_parameters_float16),
    NORMGEN_CPU_VARIANTS(layer_norm_backward_parameters_bfloat16)};
constexpr BackwardParameterKernel cuda_backward_parameter_kernels[3] = {
    normgen_layer_norm_backward_parameters_float32_cuda,
    normgen_layer_norm_backward_parameters_float16_cuda,
    normgen_layer_norm_backward_parameters_bfloat16_cuda};

// Below this many elements a row fills too few vector lanes on its own.
constexpr int64_t short_row_limit = 64;
// Rows of whole vectors of every CPU variant (8 values: one AVX2 vector, two
// SSE4.1 ones), up to this many, are summed row by row in trees of vector
// adds (vector_rows): 2 threads, against short_rows, 65536x16 0.65x the
// time, 32768x32 0.54x, 131072x8 0.88x, rows of 24-56 values 0.57-0.82x;
// against long_rows, 16384x64 0.68x. Other short lengths leave lanes of the
// tree empty (rows of 12 values: 3.4x short_rows' time). float32 only: in
// float16 and bfloat16, 65536x16 took 1.22x and 1.28x the time of
// short_rows, 32768x32 0.84x and 1.13x.
constexpr int64_t vector_row_limit = 64;
constexpr int64_t vector_row_multiple = 8;
// From this many elements (8 KiB of float32) a row, the weight, the bias
// and the output row fill a 32 KiB L1 cache, and the weight and bias no
// longer stay there from row to row (schedules/x86/layer_norm_forward.cpp,
// wide_rows; 2048 itself measured the same either way).
constexpr int64_t wide_row_limit = 2048;
// From this many elements (256 KiB) a row outgrows half a core's L2: read
// three times by the whole-row kernel, twice by the chunked one, which also
// lets threads share it.
constexpr int64_t split_row_limit = 65536;
// Up to this many elements a warp takes a row (32 per thread at most);
// longer rows get a block each.
constexpr int64_t warp_row_limit = 1024;

bool runs_on(LayerNormRowClass row_class, Device device) {
    const bool cuda_class = row_class == LayerNormRowClass::warp_per_row ||
                            row_class == LayerNormRowClass::block_per_row;
    return cuda_class == (device == Device::cuda);
}

std::optional<LayerNormRowClass> forced_row_class;

// The CPU class of a row length, vector_rows aside.
LayerNormRowClass cpu_row_class_by_length(int64_t row_length) {
    if (row_length < short_row_limit) return LayerNormRowClass::short_rows;
    if (row_length >= split_row_limit) return LayerNormRowClass::split_rows;
    if (row_length >= wide_row_limit) return LayerNormRowClass::wide_rows;
    return LayerNormRowClass::long_rows;
}

// The backward kernels' CPU row class: the forward's, but backward has no
// vector_rows kernel: those rows take their class by length (short_rows
// already sums each row as one vector there).
LayerNormRowClass cpu_backward_row_class(int64_t row_length) {
    const LayerNormRowClass forward = layer_norm_row_class(row_length, Device::cpu);
    return forward == LayerNormRowClass::vector_rows ? cpu_row_class_by_length(row_length)
                                                     : forward;
}

void check_row_statistics(const TensorView *stats, const char *what, Device device,
                          const std::vector<int64_t> &leading_shape, size_t normalized_rank) {
    if (stats == nullptr) {
        return;
    }
    detail::check_placed(*stats, what, device, DType::float32,
                         "statistics are float32, on the input's device");
    std::vector<int64_t> keepdim_shape = leading_shape;
    keepdim_shape.resize(leading_shape.size() + normalized_rank, 1);
    if (stats->shape != leading_shape && stats->shape != keepdim_shape) {
        detail::fail("expected " + std::string(what) + " of shape " +
                     detail::format_shape(leading_shape) + " or " +
                     detail::format_shape(keepdim_shape) +
                     " (one value per row of the input), but got " +
                     detail::format_shape(stats->shape));
    }
    if (!stats->is_contiguous()) {
        detail::fail(std::string(what) + " must be contiguous, got strides " +
                     detail::format_shape(stats->strides));
    }
}

// The input viewed as rows of normalized elements.
struct Rows {
    int64_t rows, row_length;
    std::vector<int64_t> leading_shape;  // the input's shape before normalized_shape
};

// A contiguous input whose shape ends in a valid normalized_shape.
Rows check_rows(const TensorView &input, const std::vector<int64_t> &normalized_shape,
                const char *call) {
    using detail::fail;
    using detail::format_shape;
    detail::check_tensor(input, "input");
    if (normalized_shape.empty()) {
        fail("expected normalized_shape to have at least one dimension, but got []");
    }
    for (int64_t size : normalized_shape) {
        if (size <= 0) {
            fail("expected normalized_shape of positive sizes, but got " +
                 format_shape(normalized_shape));
        }
    }
    const size_t normalized_rank = normalized_shape.size();
    if (input.shape.size() < normalized_rank ||
        !std::equal(normalized_shape.begin(), normalized_shape.end(),
                    input.shape.end() - normalized_rank)) {
        std::string expected = "[*";
        for (int64_t size : normalized_shape) expected += ", " + std::to_string(size);
        fail("given normalized_shape=" + format_shape(normalized_shape) +
             ", expected input with shape " + expected + "], but got input of size " +
             format_shape(input.shape));
    }
    if (!input.is_contiguous()) {
        fail(std::string(call) + " needs a contiguous input, but got shape " +
             format_shape(input.shape) + " with strides " + format_shape(input.strides) +
             " (expected strides " + format_shape(TensorView::of(nullptr, input.shape).strides) +
             ")");
    }
    detail::check_cuda_addressable(input, "input");
    Rows shape;
    shape.leading_shape.assign(input.shape.begin(), input.shape.end() - normalized_rank);
    shape.row_length = std::accumulate(normalized_shape.begin(), normalized_shape.end(),
                                       int64_t{1}, std::multiplies<>());
    shape.rows = std::accumulate(shape.leading_shape.begin(), shape.leading_shape.end(),
                                 int64_t{1}, std::multiplies<>());
    detail::check_int32_indexable(TensorView::of(nullptr, {shape.rows, shape.row_length}),
                                  "the input viewed as (rows, normalized elements)");
    return shape;
}

// A tensor of the input's shape, dtype and device, contiguous (absent: fine).
void check_like_input(const TensorView *tensor, const char *what, const TensorView &input,
                      const char *call) {
    if (tensor == nullptr) return;
    detail::check_placed(*tensor, what, input.device, input.dtype, "like the input");
    detail::check_same_shape(*tensor, input.shape, what, "the input's shape");
    if (!tensor->is_contiguous()) {
        detail::fail(std::string(call) + " needs a contiguous " + what + ", but got strides " +
                     detail::format_shape(tensor->strides) + " for shape " +
                     detail::format_shape(tensor->shape));
    }
    detail::check_cuda_addressable(*tensor, what);
}

// A parameter (or its gradient) of normalized_shape, like the input.
void check_per_element(const TensorView *tensor, const char *what, const TensorView &input,
                       const std::vector<int64_t> &normalized_shape) {
    if (tensor == nullptr) return;
    detail::check_placed(*tensor, what, input.device, input.dtype, "like the input");
    detail::check_same_shape(*tensor, normalized_shape, what, "normalized_shape");
    if (!tensor->is_contiguous()) {
        detail::fail(std::string(what) + " must be contiguous, got strides " +
                     detail::format_shape(tensor->strides));
    }
}

}  // namespace

LayerNormRowClass layer_norm_row_class(int64_t row_length, Device device, DType dtype) {
    if (forced_row_class && runs_on(*forced_row_class, device)) {
        return *forced_row_class;
    }
    if (device == Device::cuda) {
        return row_length <= warp_row_limit ? LayerNormRowClass::warp_per_row
                                            : LayerNormRowClass::block_per_row;
    }
    if (dtype == DType::float32 && row_length <= vector_row_limit &&
        row_length % vector_row_multiple == 0) {
        return LayerNormRowClass::vector_rows;
    }
    return cpu_row_class_by_length(row_length);
}

namespace testing {
void force_layer_norm_row_class(std::optional<LayerNormRowClass> row_class) {
    forced_row_class = row_class;
}
}  // namespace testing

void layer_norm(const TensorView &input, const std::vector<int64_t> &normalized_shape,
                const TensorView *weight, const TensorView *bias, double eps,
                const TensorView &output, const TensorView *mean, const TensorView *rstd) {
    const Rows shape = check_rows(input, normalized_shape, "layer_norm");
    const Device device = input.device;
    const DType dtype = input.dtype;
    check_per_element(weight, "weight", input, normalized_shape);
    check_per_element(bias, "bias", input, normalized_shape);
    check_like_input(&output, "output", input, "layer_norm");
    check_row_statistics(mean, "mean", device, shape.leading_shape, normalized_shape.size());
    check_row_statistics(rstd, "rstd", device, shape.leading_shape, normalized_shape.size());
    detail::check_eps(eps);
    detail::check_written_apart({{&output, "output"}, {mean, "mean"}, {rstd, "rstd"}},
                                {{&input, "input"}, {weight, "weight"}, {bias, "bias"}});
    const int64_t rows = shape.rows, row_length = shape.row_length;
    const size_t variant = detail::prepare_cpu_kernels();
    if (rows == 0) {
        return;
    }

    std::optional<detail::CudaCall> cuda;
    if (device == Device::cuda) {
        cuda.emplace(detail::NamedTensors{{&input, "input"}, {&output, "output"},
                                          {weight, "weight"}, {bias, "bias"},
                                          {mean, "mean"}, {rstd, "rstd"}});
    }
    using detail::Fill;
    using detail::KernelBuffer;
    const detail::KernelDims matrix{{row_length, 1}, {rows, row_length}};
    const detail::KernelDims per_element{{row_length, 1}}, per_row{{rows, 1}};
    std::optional<KernelBuffer> weight_buffer, bias_buffer, mean_buffer, rstd_buffer;
    // torch allows a bias without a weight; the kernels scale before they
    // shift, so that case runs the weight-and-bias kernel with weight 1.
    // An input the affine mode does not read still needs a buffer: one
    // element of the input stands in.
    const detail::KernelDims unread{{1, 1}};
    if (weight != nullptr) {
        weight_buffer.emplace(weight->data, per_element, dtype, device);
    } else if (bias != nullptr) {
        weight_buffer.emplace(per_element, dtype, device, Fill::ones);
    } else {
        weight_buffer.emplace(input.data, unread, dtype, device);
    }
    if (bias != nullptr) {
        bias_buffer.emplace(bias->data, per_element, dtype, device);
    } else {
        bias_buffer.emplace(input.data, unread, dtype, device);
    }
    for (auto [stats, buffer] : {std::pair{mean, &mean_buffer}, std::pair{rstd, &rstd_buffer}}) {
        if (stats != nullptr) {
            buffer->emplace(stats->data, per_row, DType::float32, device);
        } else {
            buffer->emplace(per_row, DType::float32, device, Fill::unset);
        }
    }
    KernelBuffer input_buffer(input.data, matrix, dtype, device);
    KernelBuffer output_buffer(output.data, matrix, dtype, device);

    const int affine = bias != nullptr ? 2 : weight != nullptr ? 1 : 0;
    const auto row_class = static_cast<size_t>(layer_norm_row_class(row_length, device, dtype));
    const auto type = static_cast<size_t>(dtype);
    LayerNormKernel kernel =
        device == Device::cuda
            ? cuda_kernels[type][row_class - static_cast<size_t>(LayerNormRowClass::warp_per_row)]
                          [affine]
            : cpu_kernels[type][row_class][affine][variant];
    int status = kernel(input_buffer.get(), weight_buffer->get(), bias_buffer->get(),
                        static_cast<float>(eps), output_buffer.get(), mean_buffer->get(),
                        rstd_buffer->get());
    detail::check_kernel_status(status, "layer_norm_forward");
}

void layer_norm_backward(const TensorView &grad_output, const TensorView &input,
                         const std::vector<int64_t> &normalized_shape, const TensorView &mean,
                         const TensorView &rstd, const TensorView *weight,
                         const TensorView *grad_input, const TensorView *grad_weight,
                         const TensorView *grad_bias) {
    const Rows shape = check_rows(input, normalized_shape, "layer_norm_backward");
    const Device device = input.device;
    const DType dtype = input.dtype;
    check_like_input(&grad_output, "grad_output", input, "layer_norm_backward");
    check_like_input(grad_input, "grad_input", input, "layer_norm_backward");
    check_per_element(weight, "weight", input, normalized_shape);
    check_per_element(grad_weight, "grad_weight", input, normalized_shape);
    check_per_element(grad_bias, "grad_bias", input, normalized_shape);
    for (auto [stats, what] : {std::pair{&mean, "mean"}, std::pair{&rstd, "rstd"}}) {
        check_row_statistics(stats, what, device, shape.leading_shape, normalized_shape.size());
    }
    detail::check_written_apart(
        {{grad_input, "grad_input"}, {grad_weight, "grad_weight"}, {grad_bias, "grad_bias"}},
        {{&grad_output, "grad_output"}, {&input, "input"}, {&mean, "mean"}, {&rstd, "rstd"},
         {weight, "weight"}});
    const size_t variant = detail::prepare_cpu_kernels();
    const bool wants_parameters = grad_weight != nullptr || grad_bias != nullptr;
    if ((grad_input == nullptr || shape.rows == 0) && !wants_parameters) {
        return;
    }

    std::optional<detail::CudaCall> cuda;
    if (device == Device::cuda) {
        cuda.emplace(detail::NamedTensors{
            {&grad_output, "grad_output"}, {&input, "input"}, {&mean, "mean"}, {&rstd, "rstd"},
            {weight, "weight"}, {grad_input, "grad_input"}, {grad_weight, "grad_weight"},
            {grad_bias, "grad_bias"}});
    }
    if (shape.rows == 0) {
        // A sum over no rows.
        for (const TensorView *gradient : {grad_weight, grad_bias}) {
            if (gradient != nullptr) detail::fill_with_zeros(*gradient);
        }
        return;
    }
    using detail::Fill;
    using detail::KernelBuffer;
    const int64_t rows = shape.rows, row_length = shape.row_length;
    const detail::KernelDims matrix{{row_length, 1}, {rows, row_length}};
    const detail::KernelDims per_element{{row_length, 1}}, per_row{{rows, 1}};
    KernelBuffer grad_output_buffer(grad_output.data, matrix, dtype, device);
    KernelBuffer input_buffer(input.data, matrix, dtype, device);
    KernelBuffer mean_buffer(mean.data, per_row, DType::float32, device);
    KernelBuffer rstd_buffer(rstd.data, per_row, DType::float32, device);
    const auto type = static_cast<size_t>(dtype);

    // Gradients not wanted go to scratch.
    std::optional<KernelBuffer> grad_weight_buffer, grad_bias_buffer;
    for (auto [gradient, buffer] : {std::pair{grad_weight, &grad_weight_buffer},
                                    std::pair{grad_bias, &grad_bias_buffer}}) {
        if (gradient != nullptr) {
            buffer->emplace(gradient->data, per_element, dtype, device);
        } else {
            buffer->emplace(per_element, dtype, device, Fill::unset);
        }
    }
    if (grad_input == nullptr) {
        BackwardParameterKernel kernel = device == Device::cuda
                                             ? cuda_backward_parameter_kernels[type]
                                             : cpu_backward_parameter_kernels[type][variant];
        detail::check_kernel_status(
            kernel(grad_output_buffer.get(), input_buffer.get(), mean_buffer.get(),
                   rstd_buffer.get(), grad_weight_buffer->get(), grad_bias_buffer->get()),
            "layer_norm_backward_parameters");
        return;
    }
    // Without a weight, one element of the input stands in (unread).
    KernelBuffer weight_buffer(weight ? weight->data : input.data,
                               weight ? per_element : detail::KernelDims{{1, 1}}, dtype, device);
    KernelBuffer grad_input_buffer(grad_input->data, matrix, dtype, device);
    const int affine = weight != nullptr ? 1 : 0;
    // The forward kernels' row classes (their order in the tables).
    const size_t cuda_row_class =
        layer_norm_row_class(row_length, Device::cuda) == LayerNormRowClass::warp_per_row ? 0 : 1;
    const auto cpu_row_class = static_cast<size_t>(cpu_backward_row_class(row_length));
    BackwardKernel kernel = device == Device::cuda
                                ? cuda_backward_kernels[type][cuda_row_class][affine]
                                : cpu_backward_kernels[type][cpu_row_class][affine][variant];
    detail::check_kernel_status(
        kernel(grad_output_buffer.get(), input_buffer.get(), mean_buffer.get(), rstd_buffer.get(),
               weight_buffer.get(), grad_input_buffer.get(), grad_weight_buffer->get(),
               grad_bias_buffer->get()),
        "layer_norm_backward");
}

LayerNorm::LayerNorm(std::vector<int64_t> normalized_shape, double eps, bool elementwise_affine,
                     bool bias)
    : normalized_shape_(std::move(normalized_shape)), eps_(eps) {
    if (normalized_shape_.empty()) {
        detail::fail("expected normalized_shape to have at least one dimension, but got []");
    }
    detail::check_eps(eps);
    if (elementwise_affine) {
        weight_ = Tensor(normalized_shape_, 1.0f);
        weight_grad_ = Tensor(normalized_shape_, 0.0f);
        if (bias) {
            bias_ = Tensor(normalized_shape_, 0.0f);
            bias_grad_ = Tensor(normalized_shape_, 0.0f);
        }
    }
}

Tensor LayerNorm::backward(const TensorView &input, const TensorView &grad_output) {
    detail::check_placed(input, "input", Device::cpu, DType::float32,
                         "the LayerNorm module holds float32 CPU parameters; "
                         "normgen::layer_norm_backward takes the other tensors");
    if (!saved_mean_.defined()) {
        detail::fail("LayerNorm.backward needs the statistics of a forward call, but forward "
                     "has not run");
    }
    if (saved_mean_.numel() * detail::element_count(normalized_shape_) != input.numel()) {
        detail::fail("LayerNorm.backward expects the input of the last forward call, whose "
                     "statistics cover " + std::to_string(saved_mean_.numel()) + " rows, but got "
                     "input of shape " + detail::format_shape(input.shape));
    }
    Tensor grad_input(input.shape);
    Tensor grad_weight, grad_bias;
    if (weight_.defined()) grad_weight = Tensor(normalized_shape_);
    if (bias_.defined()) grad_bias = Tensor(normalized_shape_);
    TensorView weight = weight_.view(), grad_input_view = grad_input.view();
    TensorView grad_weight_view = grad_weight.view(), grad_bias_view = grad_bias.view();
    layer_norm_backward(grad_output, input, normalized_shape_, saved_mean_.view(),
                        saved_rstd_.view(), weight_.defined() ? &weight : nullptr,
                        &grad_input_view, grad_weight.defined() ? &grad_weight_view : nullptr,
                        grad_bias.defined() ? &grad_bias_view : nullptr);
    // As torch accumulates .grad across backward calls.
    detail::accumulate(weight_grad_, grad_weight);
    detail::accumulate(bias_grad_, grad_bias);
    return grad_input;
}

void LayerNorm::zero_grad() {
    detail::fill_zeros(weight_grad_);
    detail::fill_zeros(bias_grad_);
}

Tensor LayerNorm::forward(const TensorView &input) {
    detail::check_placed(input, "input", Device::cpu, DType::float32,
                         "the LayerNorm module holds float32 CPU parameters; "
                         "normgen::layer_norm takes the other tensors");
    Tensor output(input.shape);
    forward(input, output.view());
    return output;
}

void LayerNorm::forward(const TensorView &input, const TensorView &output) {
    std::vector<int64_t> leading_shape = input.shape;
    leading_shape.resize(input.shape.size() >= normalized_shape_.size()
                             ? input.shape.size() - normalized_shape_.size()
                             : 0);
    Tensor mean(leading_shape), rstd(leading_shape);
    TensorView weight = weight_.view(), bias = bias_.view();
    TensorView mean_view = mean.view(), rstd_view = rstd.view();
    layer_norm(input, normalized_shape_, weight_.defined() ? &weight : nullptr,
               bias_.defined() ? &bias : nullptr, eps_, output, &mean_view, &rstd_view);
    saved_mean_ = std::move(mean);
    saved_rstd_ = std::move(rstd);
}

}  // namespace normgen
