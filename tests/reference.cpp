#include "reference.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>
#include <stdexcept>

namespace normgen::reference {

LayerNormResult layer_norm_reference(const std::vector<double> &input, int64_t rows,
                                     int64_t row_length, const std::vector<double> *weight,
                                     const std::vector<double> *bias, double eps) {
    LayerNormResult result;
    result.y.resize(input.size());
    result.mean.resize(rows);
    result.rstd.resize(rows);
    for (int64_t r = 0; r < rows; ++r) {
        const double *x = input.data() + r * row_length;
        double sum = 0.0;
        for (int64_t i = 0; i < row_length; ++i) {
            sum += x[i];
        }
        const double mean = sum / row_length;
        double sum_of_squares = 0.0;
        for (int64_t i = 0; i < row_length; ++i) {
            sum_of_squares += (x[i] - mean) * (x[i] - mean);
        }
        const double rstd = 1.0 / std::sqrt(sum_of_squares / row_length + eps);
        for (int64_t i = 0; i < row_length; ++i) {
            double y = (x[i] - mean) * rstd;
            if (weight) {
                y *= (*weight)[i];
            }
            if (bias) {
                y += (*bias)[i];
            }
            result.y[r * row_length + i] = y;
        }
        result.mean[r] = mean;
        result.rstd[r] = rstd;
    }
    return result;
}

BatchNormResult batch_norm_reference(const std::vector<double> &input,
                                     const std::vector<int64_t> &shape,
                                     RunningStatistics *running,
                                     const std::vector<double> *weight,
                                     const std::vector<double> *bias, bool training,
                                     std::optional<double> momentum, double eps) {
    if (!training && !running) {
        throw std::logic_error("batch_norm_reference: inference needs running statistics");
    }
    const int64_t samples = shape[0], channels = shape[1];
    const int64_t spatial = element_count(shape) / (samples * channels);
    const int64_t count = samples * spatial;
    auto at = [&](int64_t n, int64_t c, int64_t s) {
        return (n * channels + c) * spatial + s;
    };

    if (training && running) {
        running->num_batches_tracked += 1;
    }
    BatchNormResult result;
    result.y.resize(input.size());
    for (int64_t c = 0; c < channels; ++c) {
        double mean, invstd;
        if (training) {
            double sum = 0.0;
            for (int64_t n = 0; n < samples; ++n) {
                for (int64_t s = 0; s < spatial; ++s) {
                    sum += input[at(n, c, s)];
                }
            }
            mean = sum / count;
            double sum_of_squares = 0.0;
            for (int64_t n = 0; n < samples; ++n) {
                for (int64_t s = 0; s < spatial; ++s) {
                    const double deviation = input[at(n, c, s)] - mean;
                    sum_of_squares += deviation * deviation;
                }
            }
            const double var = sum_of_squares / count;
            invstd = 1.0 / std::sqrt(var + eps);
            result.save_mean.push_back(mean);
            result.save_invstd.push_back(invstd);
            if (running) {
                const double factor =
                    momentum ? *momentum : 1.0 / static_cast<double>(running->num_batches_tracked);
                const double unbiased_var = sum_of_squares / (count - 1);
                running->mean[c] = (1.0 - factor) * running->mean[c] + factor * mean;
                running->var[c] = (1.0 - factor) * running->var[c] + factor * unbiased_var;
            }
        } else {
            mean = running->mean[c];
            invstd = 1.0 / std::sqrt(running->var[c] + eps);
        }
        const double scale = weight ? (*weight)[c] : 1.0;
        const double shift = bias ? (*bias)[c] : 0.0;
        for (int64_t n = 0; n < samples; ++n) {
            for (int64_t s = 0; s < spatial; ++s) {
                result.y[at(n, c, s)] = (input[at(n, c, s)] - mean) * invstd * scale + shift;
            }
        }
    }
    return result;
}

LayerNormGradients layer_norm_backward_reference(const std::vector<double> &grad_output,
                                                 const std::vector<double> &input, int64_t rows,
                                                 int64_t row_length,
                                                 const std::vector<double> *weight, double eps) {
    const LayerNormResult forward =
        layer_norm_reference(input, rows, row_length, nullptr, nullptr, eps);
    LayerNormGradients result;
    result.grad_input.resize(input.size());
    result.grad_weight.assign(row_length, 0.0);
    result.grad_bias.assign(row_length, 0.0);
    const auto n = static_cast<double>(row_length);
    for (int64_t r = 0; r < rows; ++r) {
        const double *dy = grad_output.data() + r * row_length;
        const double *xhat = forward.y.data() + r * row_length;  // y without affine
        double sum_g = 0.0, sum_g_xhat = 0.0;
        for (int64_t i = 0; i < row_length; ++i) {
            const double g = dy[i] * (weight ? (*weight)[i] : 1.0);
            sum_g += g;
            sum_g_xhat += g * xhat[i];
            result.grad_weight[i] += dy[i] * xhat[i];
            result.grad_bias[i] += dy[i];
        }
        for (int64_t i = 0; i < row_length; ++i) {
            const double g = dy[i] * (weight ? (*weight)[i] : 1.0);
            result.grad_input[r * row_length + i] =
                forward.rstd[r] / n * (n * g - sum_g - xhat[i] * sum_g_xhat);
        }
    }
    return result;
}

BatchNormGradients batch_norm_backward_reference(const std::vector<double> &grad_output,
                                                 const std::vector<double> &input,
                                                 const std::vector<int64_t> &shape,
                                                 const RunningStatistics *running,
                                                 const std::vector<double> *weight,
                                                 bool training, double eps) {
    if (!training && !running) {
        throw std::logic_error("batch_norm_backward_reference: evaluation needs running statistics");
    }
    const int64_t samples = shape[0], channels = shape[1];
    const int64_t spatial = element_count(shape) / (samples * channels);
    const auto count = static_cast<double>(samples * spatial);
    auto at = [&](int64_t n, int64_t c, int64_t s) { return (n * channels + c) * spatial + s; };
    // The statistics the forward pass normalized with.
    std::vector<double> mean(channels), invstd(channels);
    if (training) {
        const BatchNormResult forward =
            batch_norm_reference(input, shape, nullptr, nullptr, nullptr, true, 0.1, eps);
        mean = forward.save_mean;
        invstd = forward.save_invstd;
    } else {
        for (int64_t c = 0; c < channels; ++c) {
            mean[c] = running->mean[c];
            invstd[c] = 1.0 / std::sqrt(running->var[c] + eps);
        }
    }
    BatchNormGradients result;
    result.grad_input.resize(input.size());
    result.grad_weight.assign(channels, 0.0);
    result.grad_bias.assign(channels, 0.0);
    for (int64_t c = 0; c < channels; ++c) {
        double sum_dy = 0.0, sum_dy_xhat = 0.0;
        for (int64_t n = 0; n < samples; ++n) {
            for (int64_t s = 0; s < spatial; ++s) {
                const double xhat = (input[at(n, c, s)] - mean[c]) * invstd[c];
                sum_dy += grad_output[at(n, c, s)];
                sum_dy_xhat += grad_output[at(n, c, s)] * xhat;
            }
        }
        result.grad_weight[c] = sum_dy_xhat;
        result.grad_bias[c] = sum_dy;
        const double scale = invstd[c] * (weight ? (*weight)[c] : 1.0);
        for (int64_t n = 0; n < samples; ++n) {
            for (int64_t s = 0; s < spatial; ++s) {
                const double dy = grad_output[at(n, c, s)];
                const double xhat = (input[at(n, c, s)] - mean[c]) * invstd[c];
                result.grad_input[at(n, c, s)] =
                    training ? (dy - sum_dy / count - xhat * sum_dy_xhat / count) * scale
                             : dy * scale;
            }
        }
    }
    return result;
}

std::vector<float> random_normal(int64_t count, uint32_t seed, float offset) {
    std::mt19937 generator(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> values(count);
    for (float &value : values) {
        value = offset + normal(generator);
    }
    return values;
}

std::vector<double> to_double(const std::vector<float> &values) {
    return std::vector<double>(values.begin(), values.end());
}

int64_t element_count(const std::vector<int64_t> &shape) {
    int64_t count = 1;
    for (int64_t extent : shape) {
        count *= extent;
    }
    return count;
}

namespace {

// Calls visit(logical index, channels-last index) for every element.
template <typename Visit>
void for_each_channels_last_pair(const std::vector<int64_t> &shape, Visit visit) {
    const int64_t samples = shape[0], channels = shape[1];
    const int64_t spatial = element_count(shape) / (samples * channels);
    for (int64_t n = 0; n < samples; ++n) {
        for (int64_t c = 0; c < channels; ++c) {
            for (int64_t s = 0; s < spatial; ++s) {
                visit((n * channels + c) * spatial + s, (n * spatial + s) * channels + c);
            }
        }
    }
}

}  // namespace

template <typename T>
std::vector<T> logical_to_channels_last(const std::vector<T> &logical,
                                        const std::vector<int64_t> &shape) {
    std::vector<T> channels_last(logical.size());
    for_each_channels_last_pair(shape, [&](int64_t logical_index, int64_t memory_index) {
        channels_last[memory_index] = logical[logical_index];
    });
    return channels_last;
}

template <typename T>
std::vector<T> channels_last_to_logical(const std::vector<T> &channels_last,
                                        const std::vector<int64_t> &shape) {
    std::vector<T> logical(channels_last.size());
    for_each_channels_last_pair(shape, [&](int64_t logical_index, int64_t memory_index) {
        logical[logical_index] = channels_last[memory_index];
    });
    return logical;
}

template std::vector<float> logical_to_channels_last(const std::vector<float> &,
                                                     const std::vector<int64_t> &);
template std::vector<double> logical_to_channels_last(const std::vector<double> &,
                                                      const std::vector<int64_t> &);
template std::vector<float> channels_last_to_logical(const std::vector<float> &,
                                                     const std::vector<int64_t> &);
template std::vector<double> channels_last_to_logical(const std::vector<double> &,
                                                      const std::vector<int64_t> &);

std::string mismatch(const std::vector<float> &got, const std::vector<double> &expected,
                     double atol, double rtol) {
    std::ostringstream report;
    report.precision(9);
    if (got.size() != expected.size()) {
        report << "got " << got.size() << " elements, expected " << expected.size();
        return report.str();
    }
    int64_t bad_count = 0, first_bad = -1, largest_at = -1;
    double largest_error = 0.0;
    for (size_t i = 0; i < got.size(); ++i) {
        const double error = std::abs(static_cast<double>(got[i]) - expected[i]);
        // Written so that a NaN error is not <= and counts as bad.
        const bool close = error <= atol + rtol * std::abs(expected[i]);
        if (!close) {
            ++bad_count;
            if (first_bad < 0) {
                first_bad = static_cast<int64_t>(i);
            }
        }
        if (!(error <= largest_error)) {
            largest_error = error;
            largest_at = static_cast<int64_t>(i);
        }
    }
    if (bad_count == 0) {
        return "";
    }
    report << bad_count << " of " << got.size() << " elements differ by more than " << atol
           << " + " << rtol << " * |expected|; first at index " << first_bad << ": got "
           << got[first_bad] << ", expected " << expected[first_bad] << "; largest error "
           << largest_error << " at index " << largest_at << ": got " << got[largest_at]
           << ", expected " << expected[largest_at];
    return report.str();
}

double max_abs(const std::vector<double> &values) {
    double largest = 0.0;
    for (double value : values) {
        largest = std::max(largest, std::abs(value));
    }
    return largest;
}

}  // namespace normgen::reference
