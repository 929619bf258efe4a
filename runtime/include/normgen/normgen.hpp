// normgen: LayerNorm and BatchNorm kernels generated with Halide, with the
// semantics of torch.nn.LayerNorm and torch.nn.BatchNorm1d/2d/3d.
//
// Tensors are non-owning views (TensorView) with shapes and strides in
// elements, outermost dimension first, as in PyTorch. Every call validates
// all of its arguments before it touches memory: on a bad argument it throws
// normgen::Error and writes nothing.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace normgen {

enum class DType : int32_t { float32 = 0, float16 = 1, bfloat16 = 2 };
enum class Device : int32_t { cpu = 0, cuda = 1 };
enum class MemoryFormat : int32_t {
    contiguous = 0,     // row-major: NCHW, NCDHW, ...
    channels_last = 1,  // channel innermost: NHWC, NDHWC, (N, L, C) for rank 3
};

const char *to_string(DType dtype);
const char *to_string(Device device);

// Thrown for every invalid argument; what() says what was expected and what
// was given.
class Error : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

// Thrown by a call on cuda tensors where CUDA cannot run: no driver, no
// device. what() starts with "CUDA unavailable: " and says why. CPU calls
// are unaffected.
class CudaUnavailable : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A tensor's memory: CPU memory, or (Device::cuda) a device pointer from the
// CUDA runtime API (cudaMalloc, PyTorch, ...). float16 and bfloat16 are
// 16-bit storage (IEEE half, and the upper half of a float32).
struct TensorView {
    void *data = nullptr;
    DType dtype = DType::float32;
    std::vector<int64_t> shape;
    std::vector<int64_t> strides;  // in elements
    Device device = Device::cpu;

    // Strides for `shape` in the given format. Inputs are never written, so
    // a const pointer may be viewed.
    static TensorView of(const float *data, std::vector<int64_t> shape,
                         MemoryFormat format = MemoryFormat::contiguous);
    // Any dtype and device: `data` points at elements of `dtype`.
    static TensorView of(const void *data, DType dtype, Device device, std::vector<int64_t> shape,
                         MemoryFormat format = MemoryFormat::contiguous);

    int64_t dim() const { return static_cast<int64_t>(shape.size()); }
    int64_t numel() const;
    bool is_contiguous() const;
    // Channel (dimension 1) innermost, the other dimensions row-major.
    bool is_channels_last() const;
};

// An owning float32 CPU tensor, for module parameters and outputs.
class Tensor {
public:
    Tensor() = default;
    explicit Tensor(std::vector<int64_t> shape, float fill = 0.0f,
                    MemoryFormat format = MemoryFormat::contiguous);

    TensorView view() const;
    float *data() { return values_.data(); }
    const float *data() const { return values_.data(); }
    // Elements in memory order.
    std::vector<float> &values() { return values_; }
    const std::vector<float> &values() const { return values_; }
    const std::vector<int64_t> &shape() const { return shape_; }
    MemoryFormat format() const { return format_; }
    int64_t numel() const { return static_cast<int64_t>(values_.size()); }
    // False only for a default-constructed Tensor (an absent parameter).
    bool defined() const { return defined_; }

private:
    bool defined_ = false;
    std::vector<int64_t> shape_;
    MemoryFormat format_ = MemoryFormat::contiguous;
    std::vector<float> values_;
};

// ---- Functional API (torch.nn.functional) ----------------------------------

// Every call takes tensors on one device, the input's. input, output, weight
// and bias share the input's dtype (float32, float16 or bfloat16); the
// statistics (mean, rstd, running and saved statistics) are float32 whatever
// it is, and are computed in float32. On cuda tensors a call only enqueues
// its kernels on the thread's CUDA stream (set_cuda_stream) and returns.

// torch.nn.functional.layer_norm. `input` is (*, normalized_shape...) and its
// normalized dimensions must be contiguous. weight and bias (nullptr: absent)
// have shape normalized_shape. `output` has the input's shape and layout.
// mean and rstd (nullptr: not wanted) receive the per-row statistics that
// backward needs, shape (*) or (*, 1, ..., 1) as torch's native_layer_norm.
void layer_norm(const TensorView &input, const std::vector<int64_t> &normalized_shape,
                const TensorView *weight, const TensorView *bias, double eps,
                const TensorView &output, const TensorView *mean = nullptr,
                const TensorView *rstd = nullptr);

// torch.nn.functional.batch_norm, for inputs (N, C), (N, C, L), (N, C, H, W)
// or (N, C, D, H, W), contiguous or channels-last; `output` has the input's
// shape and layout. Per-channel tensors have shape (C).
//  training: normalizes by the batch statistics; when running_mean and
//    running_var are given they are updated in place:
//      running = (1 - f) * running + f * batch   (variance unbiased)
//    with f = momentum, or, for momentum = nullopt, f = 1 / num_batches_tracked
//    (a cumulative average, as torch). *num_batches_tracked, when given, is
//    incremented first. save_mean and save_invstd receive the batch mean and
//    1/sqrt(var + eps) for backward.
//  not training: normalizes by running_mean and running_var (required).
void batch_norm(const TensorView &input, const TensorView *running_mean,
                const TensorView *running_var, const TensorView *weight, const TensorView *bias,
                bool training, std::optional<double> momentum, double eps,
                const TensorView &output, int64_t *num_batches_tracked = nullptr,
                const TensorView *save_mean = nullptr, const TensorView *save_invstd = nullptr);

// ---- Backward (torch's native_*_backward) -----------------------------------
// Gradients given grad_output (the gradient of the loss with respect to the
// forward output), for a training loop. Each grad_* argument is optional
// (nullptr: not wanted, as torch's output_mask); it has the shape, dtype and
// device of what it is the gradient of, and is overwritten, not accumulated.
// Sums accumulate in float32.

// Gradients of layer_norm(input, normalized_shape, weight, bias, eps) from the
// mean and rstd that forward call produced (float32, shape (*) or
// (*, 1, ..., 1)). grad_output and grad_input are contiguous like input;
// grad_weight and grad_bias have normalized_shape (a bias's gradient does
// not depend on the bias, so none is passed).
void layer_norm_backward(const TensorView &grad_output, const TensorView &input,
                         const std::vector<int64_t> &normalized_shape, const TensorView &mean,
                         const TensorView &rstd, const TensorView *weight,
                         const TensorView *grad_input, const TensorView *grad_weight = nullptr,
                         const TensorView *grad_bias = nullptr);

// Gradients of batch_norm. training: through the batch statistics, given
// the save_mean and save_invstd the forward call produced. Not training
// (evaluation mode): running_mean and running_var are constants, as they
// were in forward. grad_output and grad_input have the input's shape and
// layout; grad_weight and grad_bias are per channel.
void batch_norm_backward(const TensorView &grad_output, const TensorView &input,
                         const TensorView *weight, const TensorView *running_mean,
                         const TensorView *running_var, const TensorView *save_mean,
                         const TensorView *save_invstd, bool training, double eps,
                         const TensorView *grad_input, const TensorView *grad_weight = nullptr,
                         const TensorView *grad_bias = nullptr);

// ---- Modules (torch.nn) -----------------------------------------------------
// The modules hold float32 CPU parameters and run on float32 CPU tensors; the
// functional calls above take every dtype and device.

class LayerNorm {
public:
    explicit LayerNorm(std::vector<int64_t> normalized_shape, double eps = 1e-5,
                       bool elementwise_affine = true, bool bias = true);

    // Returns a new contiguous tensor of the input's shape.
    Tensor forward(const TensorView &input);
    Tensor operator()(const TensorView &input) { return forward(input); }
    void forward(const TensorView &input, const TensorView &output);

    // The gradient with respect to the input of the last forward, which is
    // passed again (the module keeps its statistics, not a copy of it); adds
    // the parameters' gradients to weight_grad() and bias_grad(), as torch
    // accumulates .grad.
    Tensor backward(const TensorView &input, const TensorView &grad_output);
    // Sets the accumulated parameter gradients to zero.
    void zero_grad();

    const std::vector<int64_t> &normalized_shape() const { return normalized_shape_; }
    double eps() const { return eps_; }
    Tensor &weight() { return weight_; }  // undefined without elementwise_affine
    Tensor &bias() { return bias_; }      // undefined without elementwise_affine or bias
    Tensor &weight_grad() { return weight_grad_; }  // defined with weight(), zeros at first
    Tensor &bias_grad() { return bias_grad_; }
    // Per-row statistics of the last forward, for backward.
    const Tensor &saved_mean() const { return saved_mean_; }
    const Tensor &saved_rstd() const { return saved_rstd_; }

private:
    std::vector<int64_t> normalized_shape_;
    double eps_;
    Tensor weight_, bias_, weight_grad_, bias_grad_, saved_mean_, saved_rstd_;
};

// torch.nn.BatchNorm*d: owns weight, bias, running statistics; starts in
// training mode.
class BatchNorm {
public:
    Tensor forward(const TensorView &input);
    Tensor operator()(const TensorView &input) { return forward(input); }
    void forward(const TensorView &input, const TensorView &output);

    // The gradient with respect to the input of the last forward, which is
    // passed again; through the batch statistics if that forward used them,
    // else the running statistics as constants. Adds the parameters'
    // gradients to weight_grad() and bias_grad().
    Tensor backward(const TensorView &input, const TensorView &grad_output);
    void zero_grad();

    void train(bool on = true) { training_ = on; }
    void eval() { training_ = false; }
    bool is_training() const { return training_; }

    int64_t num_features() const { return num_features_; }
    double eps() const { return eps_; }
    std::optional<double> momentum() const { return momentum_; }
    Tensor &weight() { return weight_; }              // undefined without affine
    Tensor &bias() { return bias_; }                  // undefined without affine
    Tensor &weight_grad() { return weight_grad_; }    // defined with affine, zeros at first
    Tensor &bias_grad() { return bias_grad_; }
    Tensor &running_mean() { return running_mean_; }  // undefined without track_running_stats
    Tensor &running_var() { return running_var_; }
    int64_t num_batches_tracked() const { return num_batches_tracked_; }
    const Tensor &saved_mean() const { return saved_mean_; }
    const Tensor &saved_invstd() const { return saved_invstd_; }

protected:
    BatchNorm(const char *name, std::vector<int64_t> accepted_ranks, int64_t num_features,
              double eps, std::optional<double> momentum, bool affine, bool track_running_stats);

private:
    const char *name_;
    std::vector<int64_t> accepted_ranks_;
    int64_t num_features_;
    double eps_;
    std::optional<double> momentum_;
    bool training_ = true;
    bool last_forward_used_batch_stats_ = true;
    Tensor weight_, bias_, weight_grad_, bias_grad_, running_mean_, running_var_, saved_mean_,
        saved_invstd_;
    int64_t num_batches_tracked_ = 0;
};

// (N, C) or (N, C, L)
class BatchNorm1d : public BatchNorm {
public:
    explicit BatchNorm1d(int64_t num_features, double eps = 1e-5,
                         std::optional<double> momentum = 0.1, bool affine = true,
                         bool track_running_stats = true);
};

// (N, C, H, W)
class BatchNorm2d : public BatchNorm {
public:
    explicit BatchNorm2d(int64_t num_features, double eps = 1e-5,
                         std::optional<double> momentum = 0.1, bool affine = true,
                         bool track_running_stats = true);
};

// (N, C, D, H, W)
class BatchNorm3d : public BatchNorm {
public:
    explicit BatchNorm3d(int64_t num_features, double eps = 1e-5,
                         std::optional<double> momentum = 0.1, bool affine = true,
                         bool track_running_stats = true);
};

// ---- Execution ---------------------------------------------------------------

// Threads of the CPU kernels' pool, the calling thread included (default:
// one per core). n >= 1. A new count restarts the pool once a parallel loop
// that another thread's kernel runs on it has ended. Idle workers poll for
// the next loop for 0.2 ms before they sleep (runtime/src/thread_pool.cpp).
void set_num_threads(int n);

// The CPU variant every kernel runs now: "avx512", "avx2" or "sse41". By
// default the best this CPU supports; the environment variable
// NORMGEN_CPU_VARIANT, read before the first kernel call, or
// set_cpu_variant() forces one.
std::string cpu_variant();
// Forces every later kernel call onto `variant`, which this CPU must
// support; "" returns to the best supported one.
void set_cpu_variant(const std::string &variant);
// The variants this CPU can run, best first.
std::vector<std::string> supported_cpu_variants();

// ---- CUDA -------------------------------------------------------------------
// normgen loads the CUDA driver (libcuda.so.1) itself on the first call on
// cuda tensors, and runs in the primary context of the device that holds the
// tensors: the context the CUDA runtime API uses, so that its pointers just
// work. It never synchronizes.

// The stream (a cudaStream_t) this thread's later calls run on; nullptr is
// the legacy default stream, as for the CUDA runtime API.
void set_cuda_stream(void *stream);
void *cuda_stream();

// Sets this thread's stream while alive, then restores the previous one.
class CudaStreamGuard {
public:
    explicit CudaStreamGuard(void *stream) : previous_(cuda_stream()) { set_cuda_stream(stream); }
    ~CudaStreamGuard() { set_cuda_stream(previous_); }
    CudaStreamGuard(const CudaStreamGuard &) = delete;
    CudaStreamGuard &operator=(const CudaStreamGuard &) = delete;

private:
    void *previous_;
};

// Whether calls on cuda tensors can run here; if not, `reason` (when given)
// receives what CudaUnavailable would say.
bool cuda_available(std::string *reason = nullptr);

// The shape classes of the LayerNorm kernels, chosen by row length (and, for
// vector_rows, float32 data): the first five on the CPU, the last two on CUDA.
enum class LayerNormRowClass {
    long_rows,
    short_rows,
    split_rows,
    wide_rows,
    vector_rows,
    warp_per_row,
    block_per_row
};
LayerNormRowClass layer_norm_row_class(int64_t row_length, Device device = Device::cpu,
                                       DType dtype = DType::float32);

namespace testing {
// Forces the LayerNorm row class of its device for every row length
// (nullopt: by length), so that tests can run each variant on every shape.
void force_layer_norm_row_class(std::optional<LayerNormRowClass> row_class);
}  // namespace testing

}  // namespace normgen
