// layer_norm: validation, then one generated kernel over a (row, element)
// view of the input, chosen by affine mode and row length.
#include <numeric>

#include "checks.hpp"
#include "kernels.hpp"
#include "normgen/normgen.hpp"

namespace normgen {
namespace {

using LayerNormKernel = int (*)(halide_buffer_t *input, halide_buffer_t *weight,
                                halide_buffer_t *bias, float eps, halide_buffer_t *output,
                                halide_buffer_t *mean, halide_buffer_t *rstd);

// [row class][affine: none, weight, weight and bias][CPU variant]
constexpr LayerNormKernel layer_norm_kernels[3][3][NORMGEN_CPU_VARIANT_COUNT] = {
    {NORMGEN_CPU_VARIANTS(layer_norm_forward_long_rows_none),
     NORMGEN_CPU_VARIANTS(layer_norm_forward_long_rows_weight),
     NORMGEN_CPU_VARIANTS(layer_norm_forward_long_rows_weight_and_bias)},
    {NORMGEN_CPU_VARIANTS(layer_norm_forward_short_rows_none),
     NORMGEN_CPU_VARIANTS(layer_norm_forward_short_rows_weight),
     NORMGEN_CPU_VARIANTS(layer_norm_forward_short_rows_weight_and_bias)},
    {NORMGEN_CPU_VARIANTS(layer_norm_forward_split_rows_none),
     NORMGEN_CPU_VARIANTS(layer_norm_forward_split_rows_weight),
     NORMGEN_CPU_VARIANTS(layer_norm_forward_split_rows_weight_and_bias)},
};

// Below this many elements a row fills too few vector lanes on its own.
constexpr int64_t short_row_limit = 64;
// From this many elements (256 KiB) a row outgrows half a core's L2: read
// three times by the whole-row kernel, twice by the chunked one, which also
// lets threads share it.
constexpr int64_t split_row_limit = 65536;

std::optional<LayerNormRowClass> forced_row_class;

void check_row_statistics(const TensorView *stats, const char *what,
                          const std::vector<int64_t> &leading_shape, size_t normalized_rank) {
    if (stats == nullptr) {
        return;
    }
    detail::check_cpu_float_tensor(*stats, what);
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

LayerNormRowClass layer_norm_row_class(int64_t row_length) {
    if (forced_row_class) {
        return *forced_row_class;
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
    detail::check_cpu_float_tensor(input, "input");
    detail::check_cpu_float_tensor(output, "output");
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
            detail::check_cpu_float_tensor(*parameter, name);
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
    check_row_statistics(mean, "mean", leading_shape, normalized_rank);
    check_row_statistics(rstd, "rstd", leading_shape, normalized_rank);
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

    // torch allows a bias without a weight; the kernels scale before they
    // shift, so that case runs the weight-and-bias kernel with weight 1.
    std::vector<float> unit_weight;
    const void *weight_data = weight ? weight->data : nullptr;
    if (weight == nullptr && bias != nullptr) {
        unit_weight.assign(static_cast<size_t>(row_length), 1.0f);
        weight_data = unit_weight.data();
    }
    const int affine = bias != nullptr ? 2 : weight != nullptr ? 1 : 0;
    // Unread inputs still need a valid buffer; any float does.
    float unused = 0.0f;
    std::vector<float> mean_scratch, rstd_scratch;
    auto row_output = [&](const TensorView *stats, std::vector<float> &scratch) -> void * {
        if (stats != nullptr) return stats->data;
        scratch.resize(static_cast<size_t>(rows));
        return scratch.data();
    };
    detail::KernelBuffer input_buffer(input.data, {{row_length, 1}, {rows, row_length}});
    detail::KernelBuffer weight_buffer(weight_data ? weight_data : &unused,
                                       {{weight_data ? row_length : 1, 1}});
    detail::KernelBuffer bias_buffer(bias ? bias->data : &unused, {{bias ? row_length : 1, 1}});
    detail::KernelBuffer output_buffer(output.data, {{row_length, 1}, {rows, row_length}});
    detail::KernelBuffer mean_buffer(row_output(mean, mean_scratch), {{rows, 1}});
    detail::KernelBuffer rstd_buffer(row_output(rstd, rstd_scratch), {{rows, 1}});

    const auto row_class = static_cast<size_t>(layer_norm_row_class(row_length));
    int status = layer_norm_kernels[row_class][affine][variant](
        input_buffer.get(), weight_buffer.get(), bias_buffer.get(), static_cast<float>(eps),
        output_buffer.get(), mean_buffer.get(), rstd_buffer.get());
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
    detail::check_cpu_float_tensor(input, "input");
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
