// Workloads, their data, and the float64 reference's answers for them (the
// same reference the tests use, tests/reference.hpp).
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

std::string Workload::label() const {
    auto join = [](auto begin, auto end) {
        std::string text;
        for (auto it = begin; it != end; ++it) text += (text.empty() ? "" : "x") + std::to_string(*it);
        return text;
    };
    std::string text = std::string(op_name()) + " ";
    if (op == Op::layer_norm) {
        const auto leading_end = shape.end() - static_cast<long>(normalized_shape.size());
        const std::string normalized = join(normalized_shape.begin(), normalized_shape.end());
        text += join(shape.begin(), leading_end) + "x" +
                (normalized_shape.size() > 1 ? "(" + normalized + ")" : normalized);
        return text;
    }
    return text + join(shape.begin(), shape.end()) + " " + layout + " " + mode;
}

WorkloadData make_workload_data(const Workload &workload) {
    WorkloadData data;
    const uint32_t seed = static_cast<uint32_t>(workload.numel());
    const std::vector<float> logical_input = ref::random_normal(workload.numel(), seed);
    data.weight = ref::random_normal(workload.parameter_count(), seed + 1);
    data.bias = ref::random_normal(workload.parameter_count(), seed + 2);
    const std::vector<double> weight = ref::to_double(data.weight), bias = ref::to_double(data.bias);

    if (workload.op == Op::layer_norm) {
        data.input = logical_input;
        const int64_t row_length = workload.parameter_count();
        data.expected_output = ref::layer_norm_reference(ref::to_double(logical_input),
                                                         workload.numel() / row_length,
                                                         row_length, &weight, &bias, kEps)
                                   .y;
        return data;
    }

    // Running statistics such as a trained network carries: means near 0,
    // variances near 1.
    data.running_mean = ref::random_normal(workload.channels(), seed + 3);
    data.running_var = ref::random_normal(workload.channels(), seed + 4);
    for (float &var : data.running_var) var = 1.0f + 0.25f * std::abs(var);
    ref::RunningStatistics running{ref::to_double(data.running_mean),
                                   ref::to_double(data.running_var), 0};
    const bool training = workload.mode == "training";
    std::vector<double> logical_output =
        ref::batch_norm_reference(ref::to_double(logical_input), workload.shape, &running,
                                  &weight, &bias, training, kMomentum, kEps)
            .y;
    if (training) {
        data.expected_running_mean = running.mean;
        data.expected_running_var = running.var;
    }
    if (workload.channels_last()) {
        data.input = ref::logical_to_channels_last(logical_input, workload.shape);
        data.expected_output = ref::logical_to_channels_last(logical_output, workload.shape);
    } else {
        data.input = logical_input;
        data.expected_output = std::move(logical_output);
    }
    return data;
}

LocalImplementation::LocalImplementation(std::string name, std::function<void()> run,
                                         std::function<std::vector<float>()> output,
                                         const WorkloadData *expected)
    : name_(std::move(name)), run_(std::move(run)), output_(std::move(output)),
      expected_(expected) {}

std::string LocalImplementation::check() {
    run_();
    if (!output_) {
        return "";
    }
    return ref::mismatch(output_(), expected_->expected_output, kAbsoluteTolerance,
                         kRelativeTolerance);
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
