// oneDNN (Debian's libdnnl, CPU engine, OpenMP threads) as its users call
// it: one primitive created ahead of time, executed on the caller's memory.
//
// LayerNorm is layer_normalization over a (rows, normalized) view, in
// forward_inference (no statistics written, the least it can do for y).
// BatchNorm is batch_normalization in nchw / nhwc / nc: forward_training
// computes the batch statistics (oneDNN writes mean and variance but leaves
// the running statistics to its user, a per-channel cost that is left out
// here); inference uses the running statistics (use_global_stats).
#include <oneapi/dnnl/dnnl.hpp>

#include "bench.hpp"

namespace normgen::bench {
namespace {

using dnnl::memory;
using dnnl::normalization_flags;
using dnnl::prop_kind;

struct OnednnState {
    dnnl::engine engine{dnnl::engine::kind::cpu, 0};
    dnnl::stream stream{engine};
    dnnl::primitive primitive;
    std::unordered_map<int, memory> arguments;
    std::vector<float> output, mean, variance;
};

memory::desc data_desc(const Workload &workload) {
    if (workload.op == Op::layer_norm) {
        const int64_t row_length = workload.parameter_count();
        return {{workload.numel() / row_length, row_length}, memory::data_type::f32,
                memory::format_tag::ab};
    }
    const memory::dims dims(workload.shape.begin(), workload.shape.end());
    if (workload.layout == "nc") return {dims, memory::data_type::f32, memory::format_tag::nc};
    if (workload.layout == "nhwc") return {dims, memory::data_type::f32, memory::format_tag::nhwc};
    return {dims, memory::data_type::f32, memory::format_tag::nchw};
}

void set_up(const Workload &workload, const WorkloadData &data, OnednnState &state) {
    const memory::desc md = data_desc(workload);
    const auto affine = normalization_flags::use_scale | normalization_flags::use_shift;
    auto user_memory = [&](const memory::desc &desc, const std::vector<float> &values) {
        return memory(desc, state.engine, const_cast<float *>(values.data()));
    };
    state.output.assign(data.input.size(), 0.0f);
    state.arguments = {{DNNL_ARG_SRC, user_memory(md, data.input)},
                       {DNNL_ARG_DST, user_memory(md, state.output)}};
    const memory::desc parameter_md({workload.parameter_count()}, memory::data_type::f32,
                                    memory::format_tag::a);
    state.arguments[DNNL_ARG_SCALE] = user_memory(parameter_md, data.weight);
    state.arguments[DNNL_ARG_SHIFT] = user_memory(parameter_md, data.bias);

    if (workload.op == Op::layer_norm) {
        dnnl::layer_normalization_forward::desc desc(prop_kind::forward_inference, md,
                                                     static_cast<float>(kEps), affine);
        state.primitive = dnnl::layer_normalization_forward(
            dnnl::layer_normalization_forward::primitive_desc(desc, state.engine));
        return;
    }
    const bool training = workload.mode == "training";
    dnnl::batch_normalization_forward::desc desc(
        training ? prop_kind::forward_training : prop_kind::forward_inference, md,
        static_cast<float>(kEps), training ? affine : affine | normalization_flags::use_global_stats);
    dnnl::batch_normalization_forward::primitive_desc primitive_desc(desc, state.engine);
    state.primitive = dnnl::batch_normalization_forward(primitive_desc);
    if (training) {
        state.mean.assign(static_cast<size_t>(workload.channels()), 0.0f);
        state.variance.assign(static_cast<size_t>(workload.channels()), 0.0f);
        state.arguments[DNNL_ARG_MEAN] = user_memory(primitive_desc.mean_desc(), state.mean);
        state.arguments[DNNL_ARG_VARIANCE] =
            user_memory(primitive_desc.variance_desc(), state.variance);
    } else {
        state.arguments[DNNL_ARG_MEAN] = user_memory(parameter_md, data.running_mean);
        state.arguments[DNNL_ARG_VARIANCE] = user_memory(parameter_md, data.running_var);
    }
}

}  // namespace

void add_onednn(const Workload &workload, const WorkloadData &data, Implementations &out,
                Notes &notes) {
    if (workload.backward) {
        notes.push_back("onednn: backward not benchmarked (its backward primitives are not wired "
                        "up here)");
        return;
    }
    auto state = std::make_shared<OnednnState>();
    try {
        set_up(workload, data, *state);
    } catch (const dnnl::error &error) {
        notes.push_back("onednn: " + workload.label() + ": " + error.what());
        return;
    }
    auto run = [state] {
        state->primitive.execute(state->stream, state->arguments);
        state->stream.wait();
    };
    auto results = [state] { return std::vector<std::vector<float>>{state->output}; };
    out.push_back(std::make_unique<LocalImplementation>("onednn", run, results, &data));
}

}  // namespace normgen::bench
