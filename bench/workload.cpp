// Workloads, their data, and the float64 reference's answers for them (the
// same reference the tests use, tests/reference.hpp); for backward, also the
// statistics normgen's forward call saves.
#include <normgen/normgen.hpp>

#include <chrono>
#include <cmath>
#include <numeric>
#include <sstream>

#include "bench.hpp"
#include "reference.hpp"

namespace normgen::bench {

namespace ref = normgen::reference;

int64_t Workload::numel() const { return ref::element_count(shape); }

int64_t Workload::parameter_count() const {
    return op == Op::layer_norm ? ref::element_count(normalized_shape) : channels();
}

std::string Workload::op_name() const {
    return std::string(op == Op::layer_norm ? "layer_norm" : "batch_norm") +
           (backward ? "_backward" : "");
}

std::string Workload::label() const {
    auto join = [](auto begin, auto end) {
        std::string text;
        for (auto it = begin; it != end; ++it) text += (text.empty() ? "" : "x") + std::to_string(*it);
        return text;
    };
    std::string text = op_name() + " ";
    if (op == Op::layer_norm) {
        const auto leading_end = shape.end() - static_cast<long>(normalized_shape.size());
        const std::string normalized = join(normalized_shape.begin(), normalized_shape.end());
        text += join(shape.begin(), leading_end) + "x" +
                (normalized_shape.size() > 1 ? "(" + normalized + ")" : normalized);
        return text;
    }
    return text + join(shape.begin(), shape.end()) + " " + layout + " " + mode;
}

namespace {

template <typename T>
std::vector<T> in_memory_order(std::vector<T> logical, const Workload &workload) {
    if (!workload.channels_last()) return logical;
    return ref::logical_to_channels_last(logical, workload.shape);
}

std::vector<int64_t> parameter_shape(const Workload &workload) {
    return workload.op == Op::layer_norm ? workload.normalized_shape
                                         : std::vector<int64_t>{workload.channels()};
}

// What backward starts from in a training step: the statistics normgen's
// forward call saved. (Evaluation-mode batch_norm takes none.)
void save_forward_statistics(const Workload &workload, WorkloadData &data) {
    const MemoryFormat format =
        workload.channels_last() ? MemoryFormat::channels_last : MemoryFormat::contiguous;
    std::vector<float> output(data.input.size());
    const TensorView input = TensorView::of(data.input.data(), workload.shape, format);
    const TensorView output_view = TensorView::of(output.data(), workload.shape, format);
    const TensorView weight = TensorView::of(data.weight.data(), parameter_shape(workload));
    const TensorView bias = TensorView::of(data.bias.data(), parameter_shape(workload));
    if (workload.op == Op::layer_norm) {
        const std::vector<int64_t> leading(
            workload.shape.begin(),
            workload.shape.end() - static_cast<long>(workload.normalized_shape.size()));
        data.saved_mean.resize(static_cast<size_t>(ref::element_count(leading)));
        data.saved_rstd.resize(data.saved_mean.size());
        const TensorView mean = TensorView::of(data.saved_mean.data(), leading);
        const TensorView rstd = TensorView::of(data.saved_rstd.data(), leading);
        layer_norm(input, workload.normalized_shape, &weight, &bias, kEps, output_view, &mean, &rstd);
        return;
    }
    if (workload.mode != "training") return;
    data.saved_mean.resize(static_cast<size_t>(workload.channels()));
    data.saved_rstd.resize(data.saved_mean.size());
    const TensorView save_mean = TensorView::of(data.saved_mean.data(), {workload.channels()});
    const TensorView save_invstd = TensorView::of(data.saved_rstd.data(), {workload.channels()});
    batch_norm(input, nullptr, nullptr, &weight, &bias, true, kMomentum, kEps, output_view,
               nullptr, &save_mean, &save_invstd);
}

void add_backward_data(const Workload &workload, const std::vector<float> &logical_input,
                       const ref::RunningStatistics *running, uint32_t seed, WorkloadData &data) {
    const std::vector<float> logical_grad_output = ref::random_normal(workload.numel(), seed);
    data.grad_output = in_memory_order(logical_grad_output, workload);
    save_forward_statistics(workload, data);
    const std::vector<double> weight = ref::to_double(data.weight);
    const double parameter_atol =
        sum_absolute_tolerance(workload.numel() / workload.parameter_count());
    if (workload.op == Op::layer_norm) {
        const int64_t row_length = workload.parameter_count();
        ref::LayerNormGradients gradients = ref::layer_norm_backward_reference(
            ref::to_double(logical_grad_output), ref::to_double(logical_input),
            workload.numel() / row_length, row_length, &weight, kEps);
        data.expected = {{"grad_input", std::move(gradients.grad_input)},
                         {"grad_weight", std::move(gradients.grad_weight), parameter_atol},
                         {"grad_bias", std::move(gradients.grad_bias), parameter_atol}};
        return;
    }
    ref::BatchNormGradients gradients = ref::batch_norm_backward_reference(
        ref::to_double(logical_grad_output), ref::to_double(logical_input), workload.shape,
        running, &weight, workload.mode == "training", kEps);
    data.expected = {{"grad_input", in_memory_order(std::move(gradients.grad_input), workload)},
                     {"grad_weight", std::move(gradients.grad_weight), parameter_atol},
                     {"grad_bias", std::move(gradients.grad_bias), parameter_atol}};
}

}  // namespace

WorkloadData make_workload_data(const Workload &workload) {
    WorkloadData data;
    const uint32_t seed = static_cast<uint32_t>(workload.numel());
    const std::vector<float> logical_input = ref::random_normal(workload.numel(), seed);
    data.input = in_memory_order(logical_input, workload);
    data.weight = ref::random_normal(workload.parameter_count(), seed + 1);
    data.bias = ref::random_normal(workload.parameter_count(), seed + 2);
    const std::vector<double> weight = ref::to_double(data.weight), bias = ref::to_double(data.bias);

    if (workload.op == Op::layer_norm) {
        if (workload.backward) {
            add_backward_data(workload, logical_input, nullptr, seed + 5, data);
            return data;
        }
        const int64_t row_length = workload.parameter_count();
        data.expected = {{"output", ref::layer_norm_reference(ref::to_double(logical_input),
                                                              workload.numel() / row_length,
                                                              row_length, &weight, &bias, kEps)
                                        .y}};
        return data;
    }

    // Running statistics such as a trained network carries: means near 0,
    // variances near 1.
    data.running_mean = ref::random_normal(workload.channels(), seed + 3);
    data.running_var = ref::random_normal(workload.channels(), seed + 4);
    for (float &var : data.running_var) var = 1.0f + 0.25f * std::abs(var);
    ref::RunningStatistics running{ref::to_double(data.running_mean),
                                   ref::to_double(data.running_var), 0};
    if (workload.backward) {
        add_backward_data(workload, logical_input, &running, seed + 5, data);
        return data;
    }
    const bool training = workload.mode == "training";
    data.expected = {{"output", in_memory_order(
                                    ref::batch_norm_reference(ref::to_double(logical_input),
                                                              workload.shape, &running, &weight,
                                                              &bias, training, kMomentum, kEps)
                                        .y,
                                    workload)}};
    if (training) {
        data.expected_running_mean = running.mean;
        data.expected_running_var = running.var;
    }
    return data;
}

LocalImplementation::LocalImplementation(std::string name, std::function<void()> run,
                                         Results results, const WorkloadData *expected)
    : name_(std::move(name)), run_(std::move(run)), results_(std::move(results)),
      expected_(expected) {}

std::string LocalImplementation::check() {
    run_();
    if (!results_) {
        return "";
    }
    const std::vector<std::vector<float>> results = results_();
    for (size_t i = 0; i < expected_->expected.size(); ++i) {
        const ExpectedResult &expected = expected_->expected[i];
        const std::string wrong =
            ref::mismatch(results.at(i), expected.values, expected.absolute_tolerance, kRelativeTolerance);
        if (!wrong.empty()) {
            return expected.name + ": " + wrong;
        }
    }
    return "";
}

std::vector<double> LocalImplementation::time(int iterations, double warmup_seconds) {
    using Clock = std::chrono::steady_clock;
    const Clock::time_point warmup_end =
        Clock::now() + std::chrono::duration_cast<Clock::duration>(
                           std::chrono::duration<double>(warmup_seconds));
    for (int calls = 0; calls < 2 || Clock::now() < warmup_end; ++calls) {
        run_();
    }
    std::vector<double> times_ms;
    times_ms.reserve(static_cast<size_t>(iterations));
    for (int i = 0; i < iterations; ++i) {
        const Clock::time_point start = Clock::now();
        run_();
        times_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    }
    return times_ms;
}

}  // namespace normgen::bench
