// normgen as a user calls it: "normgen" is the default dispatch, and
// "normgen:<variant>" each CPU variant this machine runs, forced through
// set_cpu_variant() for each call.
#include <normgen/normgen.hpp>

#include <algorithm>

#include "bench.hpp"

namespace normgen::bench {
namespace {

// The buffers one normgen implementation writes.
struct NormgenBuffers {
    std::vector<float> output, mean, rstd;  // layer_norm: mean and rstd per row
    std::vector<float> running_mean, running_var, save_mean, save_invstd;  // batch_norm
    std::vector<float> grad_input, grad_weight, grad_bias;                 // backward
};

std::function<void()> backward_call(const Workload &workload, const WorkloadData &data,
                                    NormgenBuffers &buffers) {
    const MemoryFormat format =
        workload.channels_last() ? MemoryFormat::channels_last : MemoryFormat::contiguous;
    buffers.grad_input.assign(data.input.size(), 0.0f);
    buffers.grad_weight.assign(static_cast<size_t>(workload.parameter_count()), 0.0f);
    buffers.grad_bias.assign(buffers.grad_weight.size(), 0.0f);
    const TensorView input = TensorView::of(data.input.data(), workload.shape, format);
    const TensorView grad_output = TensorView::of(data.grad_output.data(), workload.shape, format);
    const TensorView grad_input = TensorView::of(buffers.grad_input.data(), workload.shape, format);

    if (workload.op == Op::layer_norm) {
        const std::vector<int64_t> leading(workload.shape.begin(),
                                           workload.shape.end() -
                                               static_cast<long>(workload.normalized_shape.size()));
        const TensorView weight = TensorView::of(data.weight.data(), workload.normalized_shape);
        const TensorView grad_weight = TensorView::of(buffers.grad_weight.data(), workload.normalized_shape);
        const TensorView grad_bias = TensorView::of(buffers.grad_bias.data(), workload.normalized_shape);
        const TensorView mean = TensorView::of(data.saved_mean.data(), leading);
        const TensorView rstd = TensorView::of(data.saved_rstd.data(), leading);
        return [=, &workload] {
            layer_norm_backward(grad_output, input, workload.normalized_shape, mean, rstd, &weight,
                                &grad_input, &grad_weight, &grad_bias);
        };
    }

    const std::vector<int64_t> per_channel{workload.channels()};
    const TensorView weight = TensorView::of(data.weight.data(), per_channel);
    const TensorView grad_weight = TensorView::of(buffers.grad_weight.data(), per_channel);
    const TensorView grad_bias = TensorView::of(buffers.grad_bias.data(), per_channel);
    const bool training = workload.mode == "training";
    if (training) {
        const TensorView save_mean = TensorView::of(data.saved_mean.data(), per_channel);
        const TensorView save_invstd = TensorView::of(data.saved_rstd.data(), per_channel);
        return [=] {
            batch_norm_backward(grad_output, input, &weight, nullptr, nullptr, &save_mean,
                                &save_invstd, true, kEps, &grad_input, &grad_weight, &grad_bias);
        };
    }
    const TensorView running_mean = TensorView::of(data.running_mean.data(), per_channel);
    const TensorView running_var = TensorView::of(data.running_var.data(), per_channel);
    return [=] {
        batch_norm_backward(grad_output, input, &weight, &running_mean, &running_var, nullptr,
                            nullptr, false, kEps, &grad_input, &grad_weight, &grad_bias);
    };
}

std::function<void()> forward_call(const Workload &workload, const WorkloadData &data,
                                   NormgenBuffers &buffers) {
    const MemoryFormat format =
        workload.channels_last() ? MemoryFormat::channels_last : MemoryFormat::contiguous;
    buffers.output.assign(data.input.size(), 0.0f);
    TensorView input = TensorView::of(const_cast<float *>(data.input.data()), workload.shape, format);
    TensorView output = TensorView::of(buffers.output.data(), workload.shape, format);

    if (workload.op == Op::layer_norm) {
        const std::vector<int64_t> leading(workload.shape.begin(),
                                           workload.shape.end() -
                                               static_cast<long>(workload.normalized_shape.size()));
        const int64_t rows = workload.numel() / workload.parameter_count();
        buffers.mean.assign(static_cast<size_t>(rows), 0.0f);
        buffers.rstd.assign(static_cast<size_t>(rows), 0.0f);
        TensorView weight = TensorView::of(const_cast<float *>(data.weight.data()), workload.normalized_shape);
        TensorView bias = TensorView::of(const_cast<float *>(data.bias.data()), workload.normalized_shape);
        TensorView mean = TensorView::of(buffers.mean.data(), leading);
        TensorView rstd = TensorView::of(buffers.rstd.data(), leading);
        return [=, &workload] {
            layer_norm(input, workload.normalized_shape, &weight, &bias, kEps, output, &mean, &rstd);
        };
    }

    const std::vector<int64_t> per_channel{workload.channels()};
    buffers.running_mean = data.running_mean;
    buffers.running_var = data.running_var;
    buffers.save_mean.assign(per_channel[0], 0.0f);
    buffers.save_invstd.assign(per_channel[0], 0.0f);
    auto view = [&](const std::vector<float> &values) {
        return TensorView::of(const_cast<float *>(values.data()), per_channel);
    };
    TensorView weight = view(data.weight), bias = view(data.bias);
    TensorView running_mean = view(buffers.running_mean), running_var = view(buffers.running_var);
    TensorView save_mean = view(buffers.save_mean), save_invstd = view(buffers.save_invstd);
    const bool training = workload.mode == "training";
    return [=]() mutable {
        batch_norm(input, &running_mean, &running_var, &weight, &bias, training, kMomentum, kEps,
                   output, nullptr, training ? &save_mean : nullptr,
                   training ? &save_invstd : nullptr);
    };
}

void add_variant(const std::string &name, const std::string &variant, const Workload &workload,
                 const WorkloadData &data, Implementations &out) {
    auto buffers = std::make_shared<NormgenBuffers>();
    std::function<void()> call = workload.backward ? backward_call(workload, data, *buffers)
                                                   : forward_call(workload, data, *buffers);
    auto run = [call, variant, buffers] {
        set_cpu_variant(variant);
        call();
    };
    auto results = [buffers, backward = workload.backward]() -> std::vector<std::vector<float>> {
        if (backward) return {buffers->grad_input, buffers->grad_weight, buffers->grad_bias};
        return {buffers->output};
    };
    out.push_back(std::make_unique<LocalImplementation>(name, run, results, &data));
}

}  // namespace

void add_normgen(const Workload &workload, const WorkloadData &data, Implementations &out,
                 Notes &notes) {
    add_variant("normgen", "", workload, data, out);
    const std::vector<std::string> supported = supported_cpu_variants();
    for (const std::string variant : {"avx512", "avx2", "sse41"}) {
        if (std::find(supported.begin(), supported.end(), variant) != supported.end()) {
            add_variant("normgen:" + variant, variant, workload, data, out);
        } else {
            notes.push_back("normgen:" + variant + ": this CPU cannot run it");
        }
    }
}

}  // namespace normgen::bench
