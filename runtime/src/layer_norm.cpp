// layer_norm: validation, then one generated kernel over a (row, element)
// view of the input, chosen by affine mode and row length.
#include <numeric>
#include <optional>

#include "checks.hpp"
#include "cuda.hpp"
#include "kernels.hpp"
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
#define CPU_ROW_CLASSES(dtype) \
    {CPU_AFFINES(long_rows, dtype), CPU_AFFINES(short_rows, dtype), CPU_AFFINES(split_rows, dtype)}
constexpr LayerNormKernel cpu_kernels[3][3][3][NORMGEN_CPU_VARIANT_COUNT] = {
    CPU_ROW_CLASSES(float32), CPU_ROW_CLASSES(float16), CPU_ROW_CLASSES(bfloat16)};

// [dtype][row class: warp_per_row, block_per_row][affine]
#define CUDA_AFFINES(row_class, dtype)                          \
    {normgen_layer_norm_forward_##row_class##_none_##dtype##_cuda, \
     normgen_layer_norm_forward_##row_class##_weight_##dtype##_cuda, \
     normgen_layer_norm_forward_##row_class##_weight_and_bias_##dtype##_cuda}
#define CUDA_ROW_CLASSES(dtype) {CUDA_AFFINES(warp_per_row, dtype), CUDA_AFFINES(block_per_row, dtype)}
constexpr LayerNormKernel cuda_kernels[3][2][3] = {
    CUDA_ROW_CLASSES(float32), CUDA_ROW_CLASSES(float16), CUDA_ROW_CLASSES(bfloat16)};

// Below this many elements a row fills too few vector lanes on its own.
constexpr int64_t short_row_limit = 64;
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

}  // namespace

LayerNormRowClass layer_norm_row_class(int64_t row_length, Device device) {
    if (forced_row_class && runs_on(*forced_row_class, device)) {
        return *forced_row_class;
    }
    if (device == Device::cuda) {
        return row_length <= warp_row_limit ? LayerNormRowClass::warp_per_row
                                            : LayerNormRowClass::block_per_row;
    }
    if (row_length < short_row_limit) return LayerNormRowClass::short_rows;
    if (row_length >= split_row_limit) return LayerNormRowClass::split_rows;
    return LayerNormRowClass::long_rows;
}

namespace testing {
void force_layer_norm_row_class(std::optional<LayerNormRowClass> row_class) {
    forced_row_class = row_class;
}
}  // namespace testing

void layer_norm(const TensorView &input, const std::vector<int64_t> &normalized_shape,
                const TensorView *weight, const TensorView *bias, double eps,
                const TensorView &output, const TensorView *mean, const TensorView *rstd) {
    using detail::fail;
    using detail::format_shape;
    detail::check_tensor(input, "input");
    const Device device = input.device;
    const DType dtype = input.dtype;
    detail::check_placed(output, "output", device, dtype, "like the input");
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
    const size_t input_rank = input.shape.size();
    if (input_rank < normalized_rank ||
        !std::equal(normalized_shape.begin(), normalized_shape.end(),
                    input.shape.end() - normalized_rank)) {
        std::string expected = "[*";
        for (int64_t size : normalized_shape) expected += ", " + std::to_string(size);
        fail("given normalized_shape=" + format_shape(normalized_shape) +
             ", expected input with shape " + expected + "], but got input of size " +
             format_shape(input.shape));
    }
    for (auto [parameter, name] : {std::pair{weight, "weight"}, std::pair{bias, "bias"}}) {
        if (parameter != nullptr) {
            detail::check_placed(*parameter, name, device, dtype, "like the input");
            detail::check_same_shape(*parameter, normalized_shape, name, "normalized_shape");
            if (!parameter->is_contiguous()) {
                fail(std::string(name) + " must be contiguous, got strides " +
                     format_shape(parameter->strides));
            }
        }
    }
    detail::check_same_shape(output, input.shape, "output", "the input's shape");
    if (!input.is_contiguous()) {
        fail("layer_norm needs a contiguous input, but got shape " + format_shape(input.shape) +
             " with strides " + format_shape(input.strides) + " (expected strides " +
             format_shape(TensorView::of(nullptr, input.shape).strides) + ")");
    }
    if (!output.is_contiguous()) {
        fail("layer_norm needs a contiguous output, but got strides " +
             format_shape(output.strides) + " for shape " + format_shape(output.shape));
    }
    const std::vector<int64_t> leading_shape(input.shape.begin(), input.shape.end() - normalized_rank);
    check_row_statistics(mean, "mean", device, leading_shape, normalized_rank);
    check_row_statistics(rstd, "rstd", device, leading_shape, normalized_rank);
    detail::check_cuda_addressable(input, "input");
    detail::check_cuda_addressable(output, "output");
    detail::check_eps(eps);

    const int64_t row_length = std::accumulate(normalized_shape.begin(), normalized_shape.end(),
                                               int64_t{1}, std::multiplies<>());
    const int64_t rows = std::accumulate(leading_shape.begin(), leading_shape.end(), int64_t{1},
                                         std::multiplies<>());
    TensorView flat = TensorView::of(nullptr, {rows, row_length});
    detail::check_int32_indexable(flat, "the input viewed as (rows, normalized elements)");
    detail::check_written_apart({{&output, "output"}, {mean, "mean"}, {rstd, "rstd"}},
                                {{&input, "input"}, {weight, "weight"}, {bias, "bias"}});
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
    const auto row_class = static_cast<size_t>(layer_norm_row_class(row_length, device));
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

LayerNorm::LayerNorm(std::vector<int64_t> normalized_shape, double eps, bool elementwise_affine,
                     bool bias)
    : normalized_shape_(std::move(normalized_shape)), eps_(eps) {
    if (normalized_shape_.empty()) {
        detail::fail("expected normalized_shape to have at least one dimension, but got []");
    }
    detail::check_eps(eps);
    if (elementwise_affine) {
        weight_ = Tensor(normalized_shape_, 1.0f);
        if (bias) {
            bias_ = Tensor(normalized_shape_, 0.0f);
        }
    }
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
