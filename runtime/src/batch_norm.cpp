// batch_norm: validation, then one generated kernel chosen by mode and
// memory layout, over a (spatial, channel, sample) or (channel, position)
// view of the input.
#include <algorithm>
#include <cmath>
#include <sstream>

#include "checks.hpp"
#include "kernels.hpp"
#include "normgen/normgen.hpp"

namespace normgen {
namespace {

using detail::fail;
using detail::format_shape;

using InferenceKernel = int (*)(halide_buffer_t *input, halide_buffer_t *weight,
                                halide_buffer_t *bias, halide_buffer_t *running_mean,
                                halide_buffer_t *running_var, float eps, halide_buffer_t *output);
using TrainingKernel = int (*)(halide_buffer_t *input, halide_buffer_t *weight,
                               halide_buffer_t *bias, halide_buffer_t *running_mean,
                               halide_buffer_t *running_var, float eps,
                               float running_average_factor, halide_buffer_t *output,
                               halide_buffer_t *saved_mean, halide_buffer_t *saved_invstd,
                               halide_buffer_t *running_mean_out, halide_buffer_t *running_var_out);

// [channels_first, channels_last][CPU variant]
constexpr InferenceKernel inference_kernels[2][NORMGEN_CPU_VARIANT_COUNT] = {
    NORMGEN_CPU_VARIANTS(batch_norm_forward_channels_first_inference),
    NORMGEN_CPU_VARIANTS(batch_norm_forward_channels_last_inference),
};
constexpr TrainingKernel training_kernels[2][NORMGEN_CPU_VARIANT_COUNT] = {
    NORMGEN_CPU_VARIANTS(batch_norm_forward_channels_first_training),
    NORMGEN_CPU_VARIANTS(batch_norm_forward_channels_last_training),
};

struct PerChannel {
    const TensorView *tensor;
    const char *name;
};

void check_per_channel(const PerChannel &parameter, const TensorView &input) {
    if (parameter.tensor == nullptr) {
        return;
    }
    const TensorView &tensor = *parameter.tensor;
    detail::check_cpu_float_tensor(tensor, parameter.name);
    const int64_t channels = input.shape[1];
    if (tensor.shape != std::vector<int64_t>{channels}) {
        fail("expected " + std::string(parameter.name) + " of shape [" + std::to_string(channels) +
             "] (one value per channel of the input " + format_shape(input.shape) +
             "), but got " + format_shape(tensor.shape));
    }
    if (tensor.shape[0] > 1 && tensor.strides[0] != 1) {
        fail(std::string(parameter.name) + " must be contiguous, got stride " +
             std::to_string(tensor.strides[0]));
    }
}

std::string format_number(double value) {
    std::ostringstream out;
    out << value;
    return out.str();
}

}  // namespace

void batch_norm(const TensorView &input, const TensorView *running_mean,
                const TensorView *running_var, const TensorView *weight, const TensorView *bias,
                bool training, std::optional<double> momentum, double eps,
                const TensorView &output, int64_t *num_batches_tracked,
                const TensorView *save_mean, const TensorView *save_invstd) {
    detail::check_cpu_float_tensor(input, "input");
    detail::check_cpu_float_tensor(output, "output");
    const size_t rank = input.shape.size();
    if (rank < 2 || rank > 5) {
        fail("batch_norm expects an input of rank 2 to 5 ((N, C), (N, C, L), (N, C, H, W) or "
             "(N, C, D, H, W)), but got rank " + std::to_string(rank) + " of shape " +
             format_shape(input.shape));
    }
    const bool channels_last = !input.is_contiguous() && input.is_channels_last();
    if (!input.is_contiguous() && !channels_last) {
        fail("batch_norm expects a contiguous or channels-last input, but got shape " +
             format_shape(input.shape) + " with strides " + format_shape(input.strides) +
             " (contiguous strides would be " +
             format_shape(TensorView::of(nullptr, input.shape).strides) +
             ", channels-last " +
             format_shape(TensorView::of(nullptr, input.shape, MemoryFormat::channels_last).strides) +
             ")");
    }
    detail::check_same_shape(output, input.shape, "output", "the input's shape");
    if (output.numel() > 1 && (output.is_contiguous() != input.is_contiguous() ||
                               output.is_channels_last() != input.is_channels_last())) {
        fail("expected output in the input's memory layout (strides " +
             format_shape(input.strides) + "), but got strides " + format_shape(output.strides));
    }
    const std::vector<PerChannel> per_channel = {
        {running_mean, "running_mean"}, {running_var, "running_var"}, {weight, "weight"},
        {bias, "bias"}, {save_mean, "save_mean"}, {save_invstd, "save_invstd"}};
    for (const PerChannel &parameter : per_channel) {
        check_per_channel(parameter, input);
    }
    if ((running_mean == nullptr) != (running_var == nullptr)) {
        fail(std::string("running_mean and running_var must be given together, but only ") +
             (running_mean ? "running_mean" : "running_var") + " was given");
    }
    const bool has_running_stats = running_mean != nullptr;
    const int64_t channels = input.shape[1];
    const int64_t values_per_channel = channels ? input.numel() / channels : 0;
    if (training) {
        if (values_per_channel <= 1) {
            fail("expected more than 1 value per channel when training, got input size " +
                 format_shape(input.shape));
        }
        if (has_running_stats) {
            if (momentum && !std::isfinite(*momentum)) {
                fail("momentum must be a finite number, got " + format_number(*momentum));
            }
            if (!momentum && num_batches_tracked == nullptr) {
                fail("momentum=None (a cumulative moving average) needs num_batches_tracked, "
                     "but it is null");
            }
        }
    } else if (!has_running_stats) {
        fail("batch_norm in evaluation mode needs running_mean and running_var, but they are "
             "null (use training mode for batch statistics)");
    }
    detail::check_eps(eps);
    detail::check_int32_indexable(input, "input");
    // The running statistics are read and written in place.
    detail::check_written_apart({{&output, "output"},
                                 {save_mean, "save_mean"},
                                 {save_invstd, "save_invstd"},
                                 {running_mean, "running_mean"},
                                 {running_var, "running_var"}},
                                {{&input, "input"}, {weight, "weight"}, {bias, "bias"}});
    const size_t variant = detail::prepare_cpu_kernels();
    if (input.numel() == 0) {
        return;
    }

    // affine=False is weight 1 and bias 0: the kernels fold both into one
    // scale and shift per channel, so this costs nothing per element.
    const size_t c = static_cast<size_t>(channels);
    std::vector<float> unit_weight, zero_bias;
    const void *weight_data = weight ? weight->data : (unit_weight.assign(c, 1.0f), unit_weight.data());
    const void *bias_data = bias ? bias->data : (zero_bias.assign(c, 0.0f), zero_bias.data());
    detail::KernelBuffer weight_buffer(weight_data, {{channels, 1}});
    detail::KernelBuffer bias_buffer(bias_data, {{channels, 1}});

    // Without running statistics, training still produces their update:
    // into scratch, with factor 0.
    std::vector<float> scratch_mean, scratch_var, scratch_saved_mean, scratch_saved_invstd;
    auto per_channel_data = [&](const TensorView *tensor, std::vector<float> &scratch) -> void * {
        if (tensor != nullptr) return tensor->data;
        scratch.assign(c, 0.0f);
        return scratch.data();
    };
    void *running_mean_data = per_channel_data(running_mean, scratch_mean);
    void *running_var_data = per_channel_data(running_var, scratch_var);
    detail::KernelBuffer running_mean_buffer(running_mean_data, {{channels, 1}});
    detail::KernelBuffer running_var_buffer(running_var_data, {{channels, 1}});

    // The kernels see channels_first as (spatial, channel, sample) and
    // channels_last as (channel, position). Rank 2 has no spatial dims:
    // (N, C) is channel-innermost, so it runs as channels_last.
    const int64_t samples = input.shape[0];
    const int64_t spatial = values_per_channel / std::max<int64_t>(samples, 1);
    const bool run_channels_last = channels_last || spatial == 1;
    const detail::KernelDims dims =
        run_channels_last
            ? detail::KernelDims{{channels, 1}, {values_per_channel, channels}}
            : detail::KernelDims{{spatial, 1}, {channels, spatial}, {samples, channels * spatial}};
    detail::KernelBuffer input_buffer(input.data, dims);
    detail::KernelBuffer output_buffer(output.data, dims);
    const float eps_f = static_cast<float>(eps);

    if (!training) {
        InferenceKernel kernel = inference_kernels[run_channels_last][variant];
        int status = kernel(input_buffer.get(), weight_buffer.get(), bias_buffer.get(),
                            running_mean_buffer.get(), running_var_buffer.get(), eps_f,
                            output_buffer.get());
        detail::check_kernel_status(status, "batch_norm_forward (inference)");
        return;
    }

    double factor = 0.0;
    if (has_running_stats) {
        factor = momentum ? *momentum : 1.0 / static_cast<double>(*num_batches_tracked + 1);
    }
    detail::KernelBuffer saved_mean_buffer(per_channel_data(save_mean, scratch_saved_mean),
                                           {{channels, 1}});
    detail::KernelBuffer saved_invstd_buffer(per_channel_data(save_invstd, scratch_saved_invstd),
                                             {{channels, 1}});
    // The running statistics are updated in place: the kernel reads each
    // channel's old value before it writes the new one.
    detail::KernelBuffer running_mean_out(running_mean_data, {{channels, 1}});
    detail::KernelBuffer running_var_out(running_var_data, {{channels, 1}});
    TrainingKernel kernel = training_kernels[run_channels_last][variant];
    int status = kernel(input_buffer.get(), weight_buffer.get(), bias_buffer.get(),
                        running_mean_buffer.get(), running_var_buffer.get(), eps_f,
                        static_cast<float>(factor), output_buffer.get(), saved_mean_buffer.get(),
                        saved_invstd_buffer.get(), running_mean_out.get(), running_var_out.get());
    detail::check_kernel_status(status, "batch_norm_forward (training)");
    if (has_running_stats && num_batches_tracked != nullptr) {
        ++*num_batches_tracked;
    }
}

BatchNorm::BatchNorm(const char *name, std::vector<int64_t> accepted_ranks, int64_t num_features,
                     double eps, std::optional<double> momentum, bool affine,
                     bool track_running_stats)
    : name_(name), accepted_ranks_(std::move(accepted_ranks)), num_features_(num_features),
      eps_(eps), momentum_(momentum) {
    if (num_features < 1) {
        fail(std::string(name) + " expects num_features >= 1, got " + std::to_string(num_features));
    }
    detail::check_eps(eps);
    if (momentum && !std::isfinite(*momentum)) {
        fail("momentum must be a finite number, got " + format_number(*momentum));
    }
    if (affine) {
        weight_ = Tensor({num_features}, 1.0f);
        bias_ = Tensor({num_features}, 0.0f);
    }
    if (track_running_stats) {
        running_mean_ = Tensor({num_features}, 0.0f);
        running_var_ = Tensor({num_features}, 1.0f);
    }
}

Tensor BatchNorm::forward(const TensorView &input) {
    detail::check_cpu_float_tensor(input, "input");
    MemoryFormat format = !input.is_contiguous() && input.is_channels_last()
                              ? MemoryFormat::channels_last
                              : MemoryFormat::contiguous;
    Tensor output(input.shape, 0.0f, format);
    forward(input, output.view());
    return output;
}

void BatchNorm::forward(const TensorView &input, const TensorView &output) {
    const int64_t rank = input.dim();
    if (std::find(accepted_ranks_.begin(), accepted_ranks_.end(), rank) == accepted_ranks_.end()) {
        std::string ranks;
        for (int64_t r : accepted_ranks_) ranks += (ranks.empty() ? "" : " or ") + std::to_string(r) + "D";
        fail(std::string(name_) + " expects " + ranks + " input, but got " + std::to_string(rank) +
             "D input of shape " + format_shape(input.shape));
    }
    if (input.shape[1] != num_features_) {
        fail(std::string(name_) + "(" + std::to_string(num_features_) + ") expects " +
             std::to_string(num_features_) + " channels (dimension 1), but got input of shape " +
             format_shape(input.shape));
    }
    // As torch: without running statistics, batch statistics in both modes.
    const bool tracks = running_mean_.defined();
    const bool use_batch_stats = training_ || !tracks;
    TensorView weight = weight_.view(), bias = bias_.view();
    TensorView running_mean = running_mean_.view(), running_var = running_var_.view();
    Tensor saved_mean({num_features_}), saved_invstd({num_features_});
    TensorView saved_mean_view = saved_mean.view(), saved_invstd_view = saved_invstd.view();
    batch_norm(input, tracks ? &running_mean : nullptr, tracks ? &running_var : nullptr,
               weight_.defined() ? &weight : nullptr, bias_.defined() ? &bias : nullptr,
               use_batch_stats, momentum_, eps_, output, &num_batches_tracked_,
               use_batch_stats ? &saved_mean_view : nullptr,
               use_batch_stats ? &saved_invstd_view : nullptr);
    if (use_batch_stats) {
        saved_mean_ = std::move(saved_mean);
        saved_invstd_ = std::move(saved_invstd);
    }
}

BatchNorm1d::BatchNorm1d(int64_t num_features, double eps, std::optional<double> momentum,
                         bool affine, bool track_running_stats)
    : BatchNorm("BatchNorm1d", {2, 3}, num_features, eps, momentum, affine, track_running_stats) {}

BatchNorm2d::BatchNorm2d(int64_t num_features, double eps, std::optional<double> momentum,
                         bool affine, bool track_running_stats)
    : BatchNorm("BatchNorm2d", {4}, num_features, eps, momentum, affine, track_running_stats) {}

BatchNorm3d::BatchNorm3d(int64_t num_features, double eps, std::optional<double> momentum,
                         bool affine, bool track_running_stats)
    : BatchNorm("BatchNorm3d", {5}, num_features, eps, momentum, affine, track_running_stats) {}

}  // namespace normgen
