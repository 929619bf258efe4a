// The benchmark's shared vocabulary: what is computed (a Workload), its data
// and the float64 reference's answers, and an Implementation that can be
// checked against them and timed.
#pragma once

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

enum class Op { layer_norm, batch_norm };

// One computation, whatever the thread count.
struct Workload {
    Op op;
    std::vector<int64_t> shape;             // logical (N, C, ...) order
    std::vector<int64_t> normalized_shape;  // layer_norm: the trailing dims normalized
    std::string layout;  // "rows" (layer_norm), "nchw", "nhwc", "nc" (2-D batch_norm)
    std::string mode;    // "forward" (layer_norm), "training", "inference"

    const char *op_name() const { return op == Op::layer_norm ? "layer_norm" : "batch_norm"; }
    int64_t numel() const;
    int64_t channels() const { return shape.at(1); }
    // Elements of weight and bias: the normalized shape's, or one per channel.
    int64_t parameter_count() const;
    bool channels_last() const { return layout == "nhwc"; }
    // "layer_norm 64x(20x24x24)", "batch_norm 32x64x56x56 nhwc training".
    std::string label() const;
};

// Every tensor a workload reads, in memory order (channels-last for nhwc),
// and what the float64 reference says the results are.
struct WorkloadData {
    std::vector<float> input, weight, bias;
    std::vector<float> running_mean, running_var;  // batch_norm
    std::vector<double> expected_output;           // memory order
    // batch_norm training: the running statistics after one call.
    std::vector<double> expected_running_mean, expected_running_var;
};

WorkloadData make_workload_data(const Workload &workload);

// The bytes the figure of merit counts: the input read once and the output
// written once.
inline int64_t bytes_moved(const Workload &workload) { return 2 * workload.numel() * 4; }

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

// An implementation that runs in this process: `run` computes the result,
// `output` reads it back in memory order for the check (empty: nothing to
// check).
class LocalImplementation : public Implementation {
public:
    LocalImplementation(std::string name, std::function<void()> run,
                        std::function<std::vector<float>()> output,
                        const WorkloadData *expected);
    std::string name() const override { return name_; }
    std::string check() override;
    std::vector<double> time(int iterations, double warmup_seconds) override;

private:
    std::string name_;
    std::function<void()> run_;
    std::function<std::vector<float>()> output_;
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
