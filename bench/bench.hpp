// The benchmark's shared vocabulary: what is computed (a Workload), its data
// and the float64 reference's answers, and an Implementation that can be
// checked against them and timed.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace normgen::bench {

// PyTorch's defaults, used by every implementation.
constexpr double kEps = 1e-5;
constexpr double kMomentum = 0.1;
// Outputs are O(1) (N(0, 1) data, N(0, 1) weight and bias); fp32 kernels
// land within a few ulps of the float64 reference.
constexpr double kAbsoluteTolerance = 1e-4;
constexpr double kRelativeTolerance = 1e-4;
// A parameter gradient is a float32 sum of `terms` products (rows, or the
// elements of a channel: up to 100352 here), whose rounding error grows as
// the square root of their count (PyTorch's sums miss the float64
// reference's by 2e-3 at 65536 terms), so its absolute tolerance does too.
inline double sum_absolute_tolerance(int64_t terms) {
    return kAbsoluteTolerance * std::sqrt(static_cast<double>(terms));
}

// The median of timed calls.
inline double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    const size_t middle = values.size() / 2;
    return values.size() % 2 ? values[middle] : 0.5 * (values[middle - 1] + values[middle]);
}

enum class Op { layer_norm, batch_norm };

// One computation, whatever the thread count.
struct Workload {
    Op op;
    std::vector<int64_t> shape;             // logical (N, C, ...) order
    std::vector<int64_t> normalized_shape;  // layer_norm: the trailing dims normalized
    std::string layout;  // "rows" (layer_norm), "nchw", "nhwc", "nc" (2-D batch_norm)
    // "forward" or "backward" (layer_norm); "training", "inference" (batch_norm,
    // either direction: backward in inference mode takes the running
    // statistics as constants, as evaluation-mode autograd does).
    std::string mode;
    // The gradients of the op (all three: input, weight, bias) given
    // grad_output, instead of the op itself.
    bool backward = false;

    // "layer_norm", "batch_norm_backward", ...: the op of the JSON records.
    std::string op_name() const;
    int64_t numel() const;
    int64_t channels() const { return shape.at(1); }
    // Elements of weight and bias: the normalized shape's, or one per channel.
    int64_t parameter_count() const;
    bool channels_last() const { return layout == "nhwc"; }
    // "layer_norm 64x(20x24x24)", "batch_norm_backward 32x64x56x56 nhwc training".
    std::string label() const;
};

// One result a workload's implementations compute, as the float64 reference
// has it, in memory order.
struct ExpectedResult {
    std::string name;  // "output", or "grad_input", "grad_weight", "grad_bias"
    std::vector<double> values;
    // |got - expected| <= absolute_tolerance + kRelativeTolerance * |expected|
    double absolute_tolerance = kAbsoluteTolerance;
};

// Every tensor a workload reads, in memory order (channels-last for nhwc),
// and what the float64 reference says the results are.
struct WorkloadData {
    std::vector<float> input, weight, bias;
    std::vector<float> running_mean, running_var;  // batch_norm
    // backward: the gradient of the forward output, and the statistics that
    // normgen's forward call on `input` saved for backward (layer_norm: mean
    // and rstd per row; batch_norm training: save_mean and save_invstd).
    std::vector<float> grad_output, saved_mean, saved_rstd;
    // What an implementation's results are checked against, in the order it
    // returns them: forward's output, or backward's grad_input, grad_weight
    // and grad_bias.
    std::vector<ExpectedResult> expected;
    // batch_norm training forward: the running statistics after one call.
    std::vector<double> expected_running_mean, expected_running_var;
};

WorkloadData make_workload_data(const Workload &workload);

// The bytes the figure of merit counts: the input read once and the output
// written once; backward reads x and grad_output and writes grad_input (the
// parameter gradients are too small to count).
inline int64_t bytes_moved(const Workload &workload) {
    return (workload.backward ? 3 : 2) * workload.numel() * 4;
}

// An implementation set up for one workload and thread count.
class Implementation {
public:
    virtual ~Implementation() = default;
    // "normgen", "normgen:avx2", "onednn", "torch", "onnxruntime", "limit", ...
    virtual std::string name() const = 0;
    // Runs once and compares with the reference: "" when right, otherwise
    // what is wrong. Implementations that compute nothing checkable (the
    // limits) return "".
    virtual std::string check() = 0;
    // Calls it until warmup_seconds have passed (at least twice), then times
    // `iterations` calls one by one; milliseconds.
    virtual std::vector<double> time(int iterations, double warmup_seconds) = 0;
};

// An implementation that runs in this process: `run` computes the results,
// `results` reads them back in memory order for the check, in the order of
// WorkloadData::expected (empty: nothing to check).
class LocalImplementation : public Implementation {
public:
    using Results = std::function<std::vector<std::vector<float>>()>;
    LocalImplementation(std::string name, std::function<void()> run, Results results,
                        const WorkloadData *expected);
    std::string name() const override { return name_; }
    std::string check() override;
    std::vector<double> time(int iterations, double warmup_seconds) override;

private:
    std::string name_;
    std::function<void()> run_;
    Results results_;
    const WorkloadData *expected_;
};

using Implementations = std::vector<std::unique_ptr<Implementation>>;

// Notes the run prints and records: why a column is absent.
using Notes = std::vector<std::string>;

// Each family adds its implementations of a workload to `out`, or a note
// saying why it has none. They read `data`, which must outlive them, and run
// with the thread counts last set for normgen's pool and for OpenMP's.
void add_normgen(const Workload &workload, const WorkloadData &data, Implementations &out,
                 Notes &notes);
void add_onednn(const Workload &workload, const WorkloadData &data, Implementations &out,
                Notes &notes);
void add_limits(const Workload &workload, const WorkloadData &data, Implementations &out);


}  // namespace normgen::bench
