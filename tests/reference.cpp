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
