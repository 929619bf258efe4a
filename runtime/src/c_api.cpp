// The C ABI: converts C views to TensorView, calls the C++ API, and turns
// exceptions into status codes and a per-thread message.
#include <cmath>
#include <exception>
#include <new>
#include <optional>
#include <string>

#include "normgen/normgen.h"
#include "normgen/normgen.hpp"

namespace {

thread_local std::string last_error;

normgen::TensorView to_view(const normgen_tensor &tensor, const char *what) {
    if (tensor.rank < 0 || (tensor.rank > 0 && tensor.shape == nullptr)) {
        throw normgen::Error(std::string(what) + " has rank " + std::to_string(tensor.rank) +
                             " but " + (tensor.rank < 0 ? "a rank must be >= 0" : "no shape"));
    }
    normgen::TensorView view;
    view.data = tensor.data;
    view.dtype = static_cast<normgen::DType>(tensor.dtype);
    view.device = static_cast<normgen::Device>(tensor.device);
    view.shape.assign(tensor.shape, tensor.shape + tensor.rank);
    view.strides = tensor.strides ? std::vector<int64_t>(tensor.strides, tensor.strides + tensor.rank)
                                  : normgen::TensorView::of(nullptr, view.shape).strides;
    return view;
}

// An optional C tensor as an optional view that outlives the call.
struct OptionalView {
    OptionalView(const normgen_tensor *tensor, const char *what) {
        if (tensor != nullptr) view = to_view(*tensor, what);
    }
    const normgen::TensorView *get() const { return view ? &*view : nullptr; }
    std::optional<normgen::TensorView> view;
};

const normgen_tensor &required(const normgen_tensor *tensor, const char *what) {
    if (tensor == nullptr) {
        throw normgen::Error(std::string(what) + " is required, but got NULL");
    }
    return *tensor;
}

template <typename Call>
normgen_status guarded(Call &&call) {
    try {
        call();
        last_error.clear();
        return NORMGEN_OK;
    } catch (const normgen::Error &error) {
        last_error = error.what();
        return NORMGEN_INVALID_ARGUMENT;
    } catch (const normgen::CudaUnavailable &error) {
        last_error = error.what();
        return NORMGEN_CUDA_UNAVAILABLE;
    } catch (const std::bad_alloc &) {
        last_error = "out of memory";
        return NORMGEN_INTERNAL_ERROR;
    } catch (const std::runtime_error &error) {
        last_error = error.what();
        return NORMGEN_KERNEL_FAILED;
    } catch (const std::exception &error) {
        last_error = error.what();
        return NORMGEN_INTERNAL_ERROR;
    }
}

}  // namespace

extern "C" {

normgen_status normgen_layer_norm(const normgen_tensor *input, const int64_t *normalized_shape,
                                  int32_t normalized_rank, const normgen_tensor *weight,
                                  const normgen_tensor *bias, double eps,
                                  const normgen_tensor *output, const normgen_tensor *mean,
                                  const normgen_tensor *rstd) {
    return guarded([&] {
        if (normalized_rank < 0 || (normalized_rank > 0 && normalized_shape == nullptr)) {
            throw normgen::Error("normalized_shape has rank " + std::to_string(normalized_rank) +
                                 " but " + (normalized_rank < 0 ? "a rank must be >= 0" : "is NULL"));
        }
        std::vector<int64_t> shape(normalized_shape, normalized_shape + normalized_rank);
        OptionalView weight_view(weight, "weight"), bias_view(bias, "bias");
        OptionalView mean_view(mean, "mean"), rstd_view(rstd, "rstd");
        normgen::layer_norm(to_view(required(input, "input"), "input"), shape, weight_view.get(),
                            bias_view.get(), eps, to_view(required(output, "output"), "output"),
                            mean_view.get(), rstd_view.get());
    });
}

normgen_status normgen_batch_norm(const normgen_tensor *input, const normgen_tensor *running_mean,
                                  const normgen_tensor *running_var, const normgen_tensor *weight,
                                  const normgen_tensor *bias, int training, double momentum,
                                  double eps, const normgen_tensor *output,
                                  int64_t *num_batches_tracked, const normgen_tensor *save_mean,
                                  const normgen_tensor *save_invstd) {
    return guarded([&] {
        OptionalView running_mean_view(running_mean, "running_mean");
        OptionalView running_var_view(running_var, "running_var");
        OptionalView weight_view(weight, "weight"), bias_view(bias, "bias");
        OptionalView save_mean_view(save_mean, "save_mean");
        OptionalView save_invstd_view(save_invstd, "save_invstd");
        std::optional<double> momentum_or_cumulative;
        if (!std::isnan(momentum)) momentum_or_cumulative = momentum;
        normgen::batch_norm(to_view(required(input, "input"), "input"), running_mean_view.get(),
                            running_var_view.get(), weight_view.get(), bias_view.get(),
                            training != 0, momentum_or_cumulative, eps,
                            to_view(required(output, "output"), "output"), num_batches_tracked,
                            save_mean_view.get(), save_invstd_view.get());
    });
}

normgen_status normgen_layer_norm_backward(
    const normgen_tensor *grad_output, const normgen_tensor *input, const int64_t *normalized_shape,
    int32_t normalized_rank, const normgen_tensor *mean, const normgen_tensor *rstd,
    const normgen_tensor *weight, const normgen_tensor *grad_input,
    const normgen_tensor *grad_weight, const normgen_tensor *grad_bias) {
    return guarded([&] {
        if (normalized_rank < 0 || (normalized_rank > 0 && normalized_shape == nullptr)) {
            throw normgen::Error("normalized_shape has rank " + std::to_string(normalized_rank) +
                                 " but " + (normalized_rank < 0 ? "a rank must be >= 0" : "is NULL"));
        }
        std::vector<int64_t> shape(normalized_shape, normalized_shape + normalized_rank);
        OptionalView weight_view(weight, "weight"), grad_input_view(grad_input, "grad_input");
        OptionalView grad_weight_view(grad_weight, "grad_weight");
        OptionalView grad_bias_view(grad_bias, "grad_bias");
        normgen::layer_norm_backward(
            to_view(required(grad_output, "grad_output"), "grad_output"),
            to_view(required(input, "input"), "input"), shape,
            to_view(required(mean, "mean"), "mean"), to_view(required(rstd, "rstd"), "rstd"),
            weight_view.get(), grad_input_view.get(), grad_weight_view.get(), grad_bias_view.get());
    });
}

normgen_status normgen_batch_norm_backward(
    const normgen_tensor *grad_output, const normgen_tensor *input, const normgen_tensor *weight,
    const normgen_tensor *running_mean, const normgen_tensor *running_var,
    const normgen_tensor *save_mean, const normgen_tensor *save_invstd, int training, double eps,
    const normgen_tensor *grad_input, const normgen_tensor *grad_weight,
    const normgen_tensor *grad_bias) {
    return guarded([&] {
        OptionalView weight_view(weight, "weight");
        OptionalView running_mean_view(running_mean, "running_mean");
        OptionalView running_var_view(running_var, "running_var");
        OptionalView save_mean_view(save_mean, "save_mean");
        OptionalView save_invstd_view(save_invstd, "save_invstd");
        OptionalView grad_input_view(grad_input, "grad_input");
        OptionalView grad_weight_view(grad_weight, "grad_weight");
        OptionalView grad_bias_view(grad_bias, "grad_bias");
        normgen::batch_norm_backward(
            to_view(required(grad_output, "grad_output"), "grad_output"),
            to_view(required(input, "input"), "input"), weight_view.get(), running_mean_view.get(),
            running_var_view.get(), save_mean_view.get(), save_invstd_view.get(), training != 0,
            eps, grad_input_view.get(), grad_weight_view.get(), grad_bias_view.get());
    });
}

const char *normgen_last_error(void) { return last_error.c_str(); }

const char *normgen_cpu_variant(void) {
    // A query: it keeps the last error unless it fails itself.
    static thread_local std::string variant;
    try {
        variant = normgen::cpu_variant();
        return variant.c_str();
    } catch (const std::exception &error) {
        last_error = error.what();
        return "";
    }
}

normgen_status normgen_set_cpu_variant(const char *variant) {
    return guarded([&] {
        if (variant == nullptr) {
            throw normgen::Error("normgen_set_cpu_variant: variant is required, but got NULL (\"\" picks the best)");
        }
        normgen::set_cpu_variant(variant);
    });
}

void normgen_set_cuda_stream(void *stream) { normgen::set_cuda_stream(stream); }

void *normgen_cuda_stream(void) { return normgen::cuda_stream(); }

int normgen_cuda_available(void) {
    std::string reason;
    const bool available = normgen::cuda_available(&reason);
    last_error = reason;
    return available ? 1 : 0;
}

normgen_status normgen_set_num_threads(int n) {
    return guarded([&] { normgen::set_num_threads(n); });
}

}  // extern "C"
