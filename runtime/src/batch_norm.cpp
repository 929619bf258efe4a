// batch_norm: validation, then one generated kernel chosen by mode and
// memory layout, over a (spatial, channel, sample) or (channel, position)
// view of the input.
#include <algorithm>
#include <cmath>
#include <optional>
#include <sstream>

#include "checks.hpp"
#include "cuda.hpp"
#include "kernels.hpp"
#include "layout.hpp"
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

// [dtype][channels_first, channels_last][CPU variant]
#define CPU_LAYOUTS(mode, dtype)                                                    \
    {NORMGEN_CPU_VARIANTS(batch_norm_forward_channels_first_##mode##_##dtype),        \
     NORMGEN_CPU_VARIANTS(batch_norm_forward_channels_last_##mode##_##dtype)}
constexpr InferenceKernel cpu_inference_kernels[3][2][NORMGEN_CPU_VARIANT_COUNT] = {
    CPU_LAYOUTS(inference, float32), CPU_LAYOUTS(inference, float16),
    CPU_LAYOUTS(inference, bfloat16)};
constexpr TrainingKernel cpu_training_kernels[3][2][NORMGEN_CPU_VARIANT_COUNT] = {
    CPU_LAYOUTS(training, float32), CPU_LAYOUTS(training, float16),
    CPU_LAYOUTS(training, bfloat16)};

// [dtype][channels_first, channels_last]
#define CUDA_LAYOUTS(mode, dtype)                                   \
    {normgen_batch_norm_forward_channels_first_##mode##_##dtype##_cuda, \
     normgen_batch_norm_forward_channels_last_##mode##_##dtype##_cuda}
constexpr InferenceKernel cuda_inference_kernels[3][2] = {
    CUDA_LAYOUTS(inference, float32), CUDA_LAYOUTS(inference, float16),
    CUDA_LAYOUTS(inference, bfloat16)};
constexpr TrainingKernel cuda_training_kernels[3][2] = {
    CUDA_LAYOUTS(training, float32), CUDA_LAYOUTS(training, float16),
    CUDA_LAYOUTS(training, bfloat16)};

using BackwardKernel = int (*)(halide_buffer_t *grad_output, halide_buffer_t *input,
                                halide_buffer_t *weight, halide_buffer_t *mean,
                                halide_buffer_t *invstd_or_var, float eps,
                                halide_buffer_t *grad_input, halide_buffer_t *grad_weight,
                                halide_buffer_t *grad_bias);
// [dtype][training, evaluation][channels_first, channels_last][CPU variant]
#define CPU_BACKWARD_MODES(dtype) \
    {CPU_LAYOUTS_OF(batch_norm_backward, training, dtype), \
     CPU_LAYOUTS_OF(batch_norm_backward, inference, dtype)}
#define CPU_LAYOUTS_OF(kernel, mode, dtype)                                        \
    {NORMGEN_CPU_VARIANTS(kernel##_channels_first_##mode##_##dtype),                 \
     NORMGEN_CPU_VARIANTS(kernel##_channels_last_##mode##_##dtype)}
constexpr BackwardKernel cpu_backward_kernels[3][2][2][NORMGEN_CPU_VARIANT_COUNT] = {
    CPU_BACKWARD_MODES(float32), CPU_BACKWARD_MODES(float16), CPU_BACKWARD_MODES(bfloat16)};
#define CUDA_BACKWARD_MODES(dtype)                                                 \
    {{normgen_batch_norm_backward_channels_first_training_##dtype##_cuda,            \
      normgen_batch_norm_backward_channels_last_training_##dtype##_cuda},            \
     {normgen_batch_norm_backward_channels_first_inference_##dtype##_cuda,           \
      normgen_batch_norm_backward_channels_last_inference_##dtype##_cuda}}
constexpr BackwardKernel cuda_backward_kernels[3][2][2] = {
    CUDA_BACKWARD_MODES(float32), CUDA_BACKWARD_MODES(float16), CUDA_BACKWARD_MODES(bfloat16)};

struct PerChannel {
    const TensorView *tensor;
    const char *name;
    bool statistics;  // float32 whatever the input's dtype
};

void check_per_channel(const PerChannel &parameter, const TensorView &input) {
    if (parameter.tensor == nullptr) {
        return;
    }
    const TensorView &tensor = *parameter.tensor;
    if (parameter.statistics) {
        detail::check_placed(tensor, parameter.name, input.device, DType::float32,
                             "statistics are float32, on the input's device");
    } else {
        detail::check_placed(tensor, parameter.name, input.device, input.dtype, "like the input");
    }
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

// A rank 2-5 input, contiguous or channels-last, that the kernels can
// address. Returns whether it is channels-last (and not also contiguous).
bool check_batch_norm_input(const TensorView &input, const char *call) {
    detail::check_tensor(input, "input");
    const size_t rank = input.shape.size();
    if (rank < 2 || rank > 5) {
        fail(std::string(call) + " expects an input of rank 2 to 5 ((N, C), (N, C, L), "
             "(N, C, H, W) or (N, C, D, H, W)), but got rank " + std::to_string(rank) +
             " of shape " + format_shape(input.shape));
    }
    const bool channels_last = !input.is_contiguous() && input.is_channels_last();
    if (!input.is_contiguous() && !channels_last) {
        fail(std::string(call) + " expects a contiguous or channels-last input, but got shape " +
             format_shape(input.shape) + " with strides " + format_shape(input.strides) +
             " (contiguous strides would be " +
             format_shape(TensorView::of(nullptr, input.shape).strides) + ", channels-last " +
             format_shape(TensorView::of(nullptr, input.shape, MemoryFormat::channels_last).strides) +
             ")");
    }
    detail::check_int32_indexable(input, "input");
    detail::check_cuda_addressable(input, "input");
    // The CUDA kernels give each channel a row of blocks (grid y).
    constexpr int64_t cuda_channel_limit = 65535;
    if (input.device == Device::cuda && input.shape[1] > cuda_channel_limit) {
        fail(std::string(call) + " on cuda takes at most " + std::to_string(cuda_channel_limit) +
             " channels, got input of shape " + format_shape(input.shape));
    }
    return channels_last;
}

// A tensor of the input's shape, memory layout, dtype and device.
void check_same_layout(const TensorView &tensor, const char *what, const TensorView &input) {
    detail::check_placed(tensor, what, input.device, input.dtype, "like the input");
    detail::check_same_shape(tensor, input.shape, what, "the input's shape");
    if (tensor.numel() > 1 && (tensor.is_contiguous() != input.is_contiguous() ||
                               tensor.is_channels_last() != input.is_channels_last())) {
        fail("expected " + std::string(what) + " in the input's memory layout (strides " +
             format_shape(input.strides) + "), but got strides " + format_shape(tensor.strides));
    }
}

// How the kernels see the input: channels_first as (spatial, channel,
// sample), channels_last as (channel, position). Rank 2 has no spatial
// dims: (N, C) is channel-innermost, so it runs as channels_last.
struct KernelView {
    bool channels_last;
    detail::KernelDims dims;
};

KernelView kernel_view(const TensorView &input, bool channels_last) {
    const int64_t channels = input.shape[1], samples = input.shape[0];
    const int64_t values_per_channel = channels ? input.numel() / channels : 0;
    const int64_t spatial = values_per_channel / std::max<int64_t>(samples, 1);
    if (channels_last || spatial == 1) {
        return {true, {{channels, 1}, {values_per_channel, channels}}};
    }
    return {false, {{spatial, 1}, {channels, spatial}, {samples, channels * spatial}}};
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
    const bool channels_last = check_batch_norm_input(input, "batch_norm");
    check_same_layout(output, "output", input);
    const std::vector<PerChannel> per_channel = {
        {running_mean, "running_mean", true}, {running_var, "running_var", true},
        {weight, "weight", false}, {bias, "bias", false},
        {save_mean, "save_mean", true}, {save_invstd, "save_invstd", true}};
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

    const Device device = input.device;
    const DType dtype = input.dtype;
    std::optional<detail::CudaCall> cuda;
    if (device == Device::cuda) {
        cuda.emplace(detail::NamedTensors{
            {&input, "input"}, {&output, "output"}, {weight, "weight"}, {bias, "bias"},
            {running_mean, "running_mean"}, {running_var, "running_var"},
            {save_mean, "save_mean"}, {save_invstd, "save_invstd"}});
    }
    using detail::Fill;
    using detail::KernelBuffer;
    const detail::KernelDims channel_dims{{channels, 1}};
    // A per-channel tensor, or where it is absent, scratch filled with
    // `fill` (affine=False is weight 1 and bias 0: the kernels fold both into
    // one scale and shift per channel, so this costs nothing per element).
    auto per_channel_buffer = [&](std::optional<KernelBuffer> &buffer, const TensorView *tensor,
                                  DType type, Fill fill) -> KernelBuffer & {
        if (tensor != nullptr) {
            buffer.emplace(tensor->data, channel_dims, type, device);
        } else {
            buffer.emplace(channel_dims, type, device, fill);
        }
        return *buffer;
    };
    std::optional<KernelBuffer> weight_buffer, bias_buffer, running_mean_buffer,
        running_var_buffer, saved_mean_buffer, saved_invstd_buffer;
    per_channel_buffer(weight_buffer, weight, dtype, Fill::ones);
    per_channel_buffer(bias_buffer, bias, dtype, Fill::zeros);
    // Without running statistics, training still produces their update:
    // into scratch, with factor 0.
    per_channel_buffer(running_mean_buffer, running_mean, DType::float32, Fill::zeros);
    per_channel_buffer(running_var_buffer, running_var, DType::float32, Fill::zeros);

    const KernelView view = kernel_view(input, channels_last);
    const bool run_channels_last = view.channels_last;
    const detail::KernelDims &dims = view.dims;
    KernelBuffer input_buffer(input.data, dims, dtype, device);
    KernelBuffer output_buffer(output.data, dims, dtype, device);
    const float eps_f = static_cast<float>(eps);
    const auto type = static_cast<size_t>(dtype);

    if (!training) {
        InferenceKernel kernel = device == Device::cuda
                                     ? cuda_inference_kernels[type][run_channels_last]
                                     : cpu_inference_kernels[type][run_channels_last][variant];
        int status = kernel(input_buffer.get(), weight_buffer->get(), bias_buffer->get(),
                            running_mean_buffer->get(), running_var_buffer->get(), eps_f,
                            output_buffer.get());
        detail::check_kernel_status(status, "batch_norm_forward (inference)");
        return;
    }

    double factor = 0.0;
    if (has_running_stats) {
        factor = momentum ? *momentum : 1.0 / static_cast<double>(*num_batches_tracked + 1);
    }
    per_channel_buffer(saved_mean_buffer, save_mean, DType::float32, Fill::unset);
    per_channel_buffer(saved_invstd_buffer, save_invstd, DType::float32, Fill::unset);
    // The running statistics are updated in place: the kernel reads each
    // channel's old value before it writes the new one.
    KernelBuffer running_mean_out(running_mean_buffer->data(), channel_dims, DType::float32, device);
    KernelBuffer running_var_out(running_var_buffer->data(), channel_dims, DType::float32, device);
    TrainingKernel kernel = device == Device::cuda
                                ? cuda_training_kernels[type][run_channels_last]
                                : cpu_training_kernels[type][run_channels_last][variant];
    int status = kernel(input_buffer.get(), weight_buffer->get(), bias_buffer->get(),
                        running_mean_buffer->get(), running_var_buffer->get(), eps_f,
                        static_cast<float>(factor), output_buffer.get(), saved_mean_buffer->get(),
                        saved_invstd_buffer->get(), running_mean_out.get(), running_var_out.get());
    detail::check_kernel_status(status, "batch_norm_forward (training)");
    if (has_running_stats && num_batches_tracked != nullptr) {
        ++*num_batches_tracked;
    }
}

void batch_norm_backward(const TensorView &grad_output, const TensorView &input,
                         const TensorView *weight, const TensorView *running_mean,
                         const TensorView *running_var, const TensorView *save_mean,
                         const TensorView *save_invstd, bool training, double eps,
                         const TensorView *grad_input, const TensorView *grad_weight,
                         const TensorView *grad_bias) {
    const bool channels_last = check_batch_norm_input(input, "batch_norm_backward");
    check_same_layout(grad_output, "grad_output", input);
    if (grad_input != nullptr) check_same_layout(*grad_input, "grad_input", input);
    const std::vector<PerChannel> per_channel = {
        {weight, "weight", false}, {grad_weight, "grad_weight", false},
        {grad_bias, "grad_bias", false}, {running_mean, "running_mean", true},
        {running_var, "running_var", true}, {save_mean, "save_mean", true},
        {save_invstd, "save_invstd", true}};
    for (const PerChannel &parameter : per_channel) {
        check_per_channel(parameter, input);
    }
    // The statistics forward normalized with.
    const TensorView *mean = training ? save_mean : running_mean;
    const TensorView *invstd_or_var = training ? save_invstd : running_var;
    if (mean == nullptr || invstd_or_var == nullptr) {
        fail(training ? "batch_norm_backward in training mode needs save_mean and save_invstd "
                        "(the batch statistics of the forward call), but got null"
                      : "batch_norm_backward in evaluation mode needs running_mean and "
                        "running_var, but got null");
    }
    detail::check_eps(eps);
    detail::check_written_apart(
        {{grad_input, "grad_input"}, {grad_weight, "grad_weight"}, {grad_bias, "grad_bias"}},
        {{&grad_output, "grad_output"}, {&input, "input"}, {weight, "weight"},
         {mean, training ? "save_mean" : "running_mean"},
         {invstd_or_var, training ? "save_invstd" : "running_var"}});
    const size_t variant = detail::prepare_cpu_kernels();
    if (grad_input == nullptr && grad_weight == nullptr && grad_bias == nullptr) {
        return;
    }

    const Device device = input.device;
    const DType dtype = input.dtype;
    std::optional<detail::CudaCall> cuda;
    if (device == Device::cuda) {
        cuda.emplace(detail::NamedTensors{
            {&grad_output, "grad_output"}, {&input, "input"}, {weight, "weight"},
            {mean, "mean"}, {invstd_or_var, "invstd_or_var"}, {grad_input, "grad_input"},
            {grad_weight, "grad_weight"}, {grad_bias, "grad_bias"}});
    }
    if (input.numel() == 0) {
        // Sums over no elements.
        for (const TensorView *gradient : {grad_weight, grad_bias}) {
            if (gradient != nullptr) detail::fill_with_zeros(*gradient);
        }
        return;
    }
    using detail::Fill;
    using detail::KernelBuffer;
    const detail::KernelDims channel_dims{{input.shape[1], 1}};
    const KernelView view = kernel_view(input, channels_last);
    KernelBuffer grad_output_buffer(grad_output.data, view.dims, dtype, device);
    KernelBuffer input_buffer(input.data, view.dims, dtype, device);
    // Without affine parameters the weight is 1.
    std::optional<KernelBuffer> weight_buffer, grad_input_buffer, grad_weight_buffer,
        grad_bias_buffer;
    if (weight != nullptr) {
        weight_buffer.emplace(weight->data, channel_dims, dtype, device);
    } else {
        weight_buffer.emplace(channel_dims, dtype, device, Fill::ones);
    }
    // The kernel writes every gradient: unwanted ones go to scratch.
    if (grad_input != nullptr) {
        grad_input_buffer.emplace(grad_input->data, view.dims, dtype, device);
    } else {
        grad_input_buffer.emplace(view.dims, dtype, device, Fill::unset);
    }
    for (auto [gradient, buffer] : {std::pair{grad_weight, &grad_weight_buffer},
                                    std::pair{grad_bias, &grad_bias_buffer}}) {
        if (gradient != nullptr) {
            buffer->emplace(gradient->data, channel_dims, dtype, device);
        } else {
            buffer->emplace(channel_dims, dtype, device, Fill::unset);
        }
    }
    KernelBuffer mean_buffer(mean->data, channel_dims, DType::float32, device);
    KernelBuffer invstd_or_var_buffer(invstd_or_var->data, channel_dims, DType::float32, device);
    const auto type = static_cast<size_t>(dtype);
    const size_t mode = training ? 0 : 1;
    BackwardKernel kernel = device == Device::cuda
                                ? cuda_backward_kernels[type][mode][view.channels_last]
                                : cpu_backward_kernels[type][mode][view.channels_last][variant];
    detail::check_kernel_status(
        kernel(grad_output_buffer.get(), input_buffer.get(), weight_buffer->get(),
               mean_buffer.get(), invstd_or_var_buffer.get(), static_cast<float>(eps),
               grad_input_buffer->get(), grad_weight_buffer->get(), grad_bias_buffer->get()),
        "batch_norm_backward");
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
        weight_grad_ = Tensor({num_features}, 0.0f);
        bias_grad_ = Tensor({num_features}, 0.0f);
    }
    if (track_running_stats) {
        running_mean_ = Tensor({num_features}, 0.0f);
        running_var_ = Tensor({num_features}, 1.0f);
    }
}

Tensor BatchNorm::forward(const TensorView &input) {
    detail::check_placed(input, "input", Device::cpu, DType::float32,
                         "the BatchNorm module holds float32 CPU parameters; "
                         "normgen::batch_norm takes the other tensors");
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
    last_forward_used_batch_stats_ = use_batch_stats;
}

Tensor BatchNorm::backward(const TensorView &input, const TensorView &grad_output) {
    detail::check_placed(input, "input", Device::cpu, DType::float32,
                         "the BatchNorm module holds float32 CPU parameters; "
                         "normgen::batch_norm_backward takes the other tensors");
    if (last_forward_used_batch_stats_ && !saved_mean_.defined()) {
        fail(std::string(name_) + ".backward needs the batch statistics of a forward call in "
             "training mode, but forward has not run");
    }
    if (input.shape.size() < 2 || input.shape[1] != num_features_) {
        fail(std::string(name_) + ".backward expects the input of the last forward call, with " +
             std::to_string(num_features_) + " channels, but got input of shape " +
             format_shape(input.shape));
    }
    const MemoryFormat format = !input.is_contiguous() && input.is_channels_last()
                                    ? MemoryFormat::channels_last
                                    : MemoryFormat::contiguous;
    Tensor grad_input(input.shape, 0.0f, format);
    Tensor grad_weight, grad_bias;
    if (weight_.defined()) {
        grad_weight = Tensor({num_features_});
        grad_bias = Tensor({num_features_});
    }
    TensorView weight = weight_.view(), grad_input_view = grad_input.view();
    TensorView grad_weight_view = grad_weight.view(), grad_bias_view = grad_bias.view();
    TensorView running_mean = running_mean_.view(), running_var = running_var_.view();
    TensorView saved_mean = saved_mean_.view(), saved_invstd = saved_invstd_.view();
    const bool batch_stats = last_forward_used_batch_stats_;
    batch_norm_backward(grad_output, input, weight_.defined() ? &weight : nullptr,
                        batch_stats ? nullptr : &running_mean, batch_stats ? nullptr : &running_var,
                        batch_stats ? &saved_mean : nullptr, batch_stats ? &saved_invstd : nullptr,
                        batch_stats, eps_, &grad_input_view,
                        grad_weight.defined() ? &grad_weight_view : nullptr,
                        grad_bias.defined() ? &grad_bias_view : nullptr);
    // As torch accumulates .grad across backward calls.
    detail::accumulate(weight_grad_, grad_weight);
    detail::accumulate(bias_grad_, grad_bias);
    return grad_input;
}

void BatchNorm::zero_grad() {
    detail::fill_zeros(weight_grad_);
    detail::fill_zeros(bias_grad_);
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
