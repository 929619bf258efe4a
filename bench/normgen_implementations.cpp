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
};

std::function<void()> normgen_call(const Workload &workload, const WorkloadData &data,
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
    std::function<void()> call = normgen_call(workload, data, *buffers);
    auto run = [call, variant, buffers] {
        set_cpu_variant(variant);
        call();
    };
    auto output = [buffers] { return buffers->output; };
    out.push_back(std::make_unique<LocalImplementation>(name, run, output, &data));
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
