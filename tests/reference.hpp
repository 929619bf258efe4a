// The float64 reference every kernel variant is checked against (by the
// tests and by the benchmark), and the helpers to feed it and compare with it.
//
// The reference is deliberately naive: plain loops over the logical
// (contiguous) order, two passes in double, so that nothing about it depends
// on a layout, a vector width or a summation order the kernels might share.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace normgen::reference {

struct LayerNormResult {
    std::vector<double> y;     // rows x row_length
    std::vector<double> mean;  // rows
    std::vector<double> rstd;  // rows
};

// torch.nn.functional.layer_norm over rows of `row_length` elements; weight
// and bias (nullptr: absent) have row_length elements.
LayerNormResult layer_norm_reference(const std::vector<double> &input, int64_t rows,
                                     int64_t row_length, const std::vector<double> *weight,
                                     const std::vector<double> *bias, double eps);

// The running statistics a BatchNorm carries from batch to batch.
struct RunningStatistics {
    std::vector<double> mean;
    std::vector<double> var;
    int64_t num_batches_tracked = 0;
};

struct BatchNormResult {
    std::vector<double> y;  // logical order, the input's shape
    // The statistics training normalized with (empty when not training).
    std::vector<double> save_mean;
    std::vector<double> save_invstd;
};

// torch.nn.functional.batch_norm on `input` in logical (N, C, ...) order.
// training: normalizes by the batch statistics and, when `running` is given,
// updates it (factor momentum, or 1 / num_batches_tracked for nullopt).
// Not training: normalizes by `running`, which must be given.
BatchNormResult batch_norm_reference(const std::vector<double> &input,
                                     const std::vector<int64_t> &shape,
                                     RunningStatistics *running,
                                     const std::vector<double> *weight,
                                     const std::vector<double> *bias, bool training,
                                     std::optional<double> momentum, double eps);

// ---- Backward ------------------------------------------------------------------
// PyTorch's formulas, in float64 from the input (the statistics recomputed
// here, not taken from a kernel).

struct LayerNormGradients {
    std::vector<double> grad_input;   // rows x row_length
    std::vector<double> grad_weight;  // row_length (also without a weight)
    std::vector<double> grad_bias;    // row_length
};

// Gradients of layer_norm_reference(input, ..., weight, bias, eps) given
// grad_output: with g = grad_output * weight and xhat = (x - mean) * rstd,
//   dx = rstd / N * (N * g - sum(g) - xhat * sum(g * xhat))   (per row)
//   dweight = sum over rows of grad_output * xhat, dbias = sum of grad_output.
LayerNormGradients layer_norm_backward_reference(const std::vector<double> &grad_output,
                                                 const std::vector<double> &input, int64_t rows,
                                                 int64_t row_length,
                                                 const std::vector<double> *weight, double eps);

struct BatchNormGradients {
    std::vector<double> grad_input;  // logical order, the input's shape
    std::vector<double> grad_weight, grad_bias;  // per channel
};

// Gradients of batch_norm_reference given grad_output (logical order).
// training: through the batch statistics,
//   dx = (dy - mean(dy) - xhat * mean(dy * xhat)) * invstd * weight
// evaluation: the running statistics are constants, dx = dy * invstd * weight.
// Either way dweight = sum(dy * xhat), dbias = sum(dy) per channel.
BatchNormGradients batch_norm_backward_reference(const std::vector<double> &grad_output,
                                                 const std::vector<double> &input,
                                                 const std::vector<int64_t> &shape,
                                                 const RunningStatistics *running,
                                                 const std::vector<double> *weight,
                                                 bool training, double eps);

// ---- Test data ---------------------------------------------------------------

// `count` samples of offset + N(0, 1) from std::mt19937 seeded with `seed`:
// the same values on every machine and every run.
std::vector<float> random_normal(int64_t count, uint32_t seed, float offset = 0.0f);

std::vector<double> to_double(const std::vector<float> &values);

int64_t element_count(const std::vector<int64_t> &shape);

// Between logical (N, C, spatial...) order and channels-last memory order
// (N, spatial..., C), for a tensor of `shape`.
// (Instantiated for float and double.)
template <typename T>
std::vector<T> logical_to_channels_last(const std::vector<T> &logical,
                                        const std::vector<int64_t> &shape);
template <typename T>
std::vector<T> channels_last_to_logical(const std::vector<T> &channels_last,
                                        const std::vector<int64_t> &shape);

// ---- Comparison --------------------------------------------------------------

// "" if every |got[i] - expected[i]| <= atol + rtol * |expected[i]| (NaN
// failing); otherwise how many differ, the first bad index and the largest
// error, with their values.
std::string mismatch(const std::vector<float> &got, const std::vector<double> &expected,
                     double atol, double rtol);

double max_abs(const std::vector<double> &values);

}  // namespace normgen::reference
