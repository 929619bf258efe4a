// normgen_floors: how near hand-written code gets to the limit on the
// shapes where normgen misses its target by most (README, "Where the
// targets are not met"), so that the claim "out of reach" rests on a
// measurement anyone can repeat.
//
// One thread, one process. Each experiment times, call by call in turn
// (the order rotating each round, so that a slow moment of the shared
// machine falls on all alike): the limit over the same data (y = a*x; for
// backward z = x + a*dy, the two tensors it reads and the one it writes),
// one or two hand-written AVX2+FMA kernels, and normgen forced to its avx2
// variant (the same instruction set). It prints each median call and its
// ratio to the limit's. The hand-written kernels are checked against
// normgen's outputs first (within the benchmark's kAbsoluteTolerance, 1e-4;
// parameter gradients, sums over the rows, within
// sum_absolute_tolerance); a difference over it stops the run.
//
// Usage: normgen_floors [rounds]   (default 300)
#include <immintrin.h>

#include <normgen/normgen.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <tuple>
#include <vector>

#include "bench.hpp"

namespace {

using normgen::TensorView;
using normgen::bench::median;

// PyTorch's defaults, as the benchmark's.
constexpr float kEps = static_cast<float>(normgen::bench::kEps);

float horizontal_sum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// 1 / sqrt(variance + eps) of values whose mean deviation from a rough mean
// is `offset` and whose mean squared deviation is `spread`.
float inverse_std(float offset, float spread) {
    return 1.f / std::sqrt(std::max(spread - offset * offset, 0.f) + kEps);
}

void scale(const float *x, float *y, long count) {
    const __m256 a = _mm256_set1_ps(1.5f);
    for (long i = 0; i < count; i += 8)
        _mm256_storeu_ps(y + i, _mm256_mul_ps(a, _mm256_loadu_ps(x + i)));
}

// Rows of 16: row by row, each row's two sums added across lanes.
void rows_of_16_one_by_one(const float *x, const float *w, const float *b, float *y, long rows) {
    const __m256 w0 = _mm256_loadu_ps(w), w1 = _mm256_loadu_ps(w + 8);
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
    for (long r = 0; r < rows; ++r) {
        const __m256 x0 = _mm256_loadu_ps(x + 16 * r), x1 = _mm256_loadu_ps(x + 16 * r + 8);
        const __m256 mean = _mm256_set1_ps(horizontal_sum(_mm256_add_ps(x0, x1)) / 16);
        const __m256 d0 = _mm256_sub_ps(x0, mean), d1 = _mm256_sub_ps(x1, mean);
        const float variance = horizontal_sum(_mm256_fmadd_ps(d0, d0, _mm256_mul_ps(d1, d1))) / 16;
        const __m256 rstd = _mm256_set1_ps(1.f / std::sqrt(variance + kEps));
        _mm256_storeu_ps(y + 16 * r, _mm256_fmadd_ps(_mm256_mul_ps(d0, rstd), w0, b0));
        _mm256_storeu_ps(y + 16 * r + 8, _mm256_fmadd_ps(_mm256_mul_ps(d1, rstd), w1, b1));
    }
}

// The totals of eight vectors, one per lane: v[i]'s sum in lane i.
__m256 transposed_sums(const __m256 *v) {
    const __m256 ab = _mm256_hadd_ps(_mm256_hadd_ps(v[0], v[1]), _mm256_hadd_ps(v[2], v[3]));
    const __m256 cd = _mm256_hadd_ps(_mm256_hadd_ps(v[4], v[5]), _mm256_hadd_ps(v[6], v[7]));
    return _mm256_add_ps(_mm256_permute2f128_ps(ab, cd, 0x20),
                         _mm256_permute2f128_ps(ab, cd, 0x31));
}

// Rows of 16, eight at a time: their sums transposed into one vector, their
// square roots and divisions one vector operation each. (rows: a multiple of 8.)
void rows_of_16_eight_at_once(const float *x, const float *w, const float *b, float *y, long rows) {
    const __m256 w0 = _mm256_loadu_ps(w), w1 = _mm256_loadu_ps(w + 8);
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
    const __m256 sixteenth = _mm256_set1_ps(1.f / 16), eps = _mm256_set1_ps(kEps);
    for (long r = 0; r < rows; r += 8) {
        __m256 lo[8], hi[8], sums[8];
        for (int i = 0; i < 8; ++i) {
            lo[i] = _mm256_loadu_ps(x + 16 * (r + i));
            hi[i] = _mm256_loadu_ps(x + 16 * (r + i) + 8);
            sums[i] = _mm256_add_ps(lo[i], hi[i]);
        }
        const __m256 means = _mm256_mul_ps(transposed_sums(sums), sixteenth);
        for (int i = 0; i < 8; ++i) {
            const __m256 mean = _mm256_permutevar8x32_ps(means, _mm256_set1_epi32(i));
            lo[i] = _mm256_sub_ps(lo[i], mean);
            hi[i] = _mm256_sub_ps(hi[i], mean);
            sums[i] = _mm256_fmadd_ps(lo[i], lo[i], _mm256_mul_ps(hi[i], hi[i]));
        }
        const __m256 variances = _mm256_mul_ps(transposed_sums(sums), sixteenth);
        const __m256 rstds =
            _mm256_div_ps(_mm256_set1_ps(1.f), _mm256_sqrt_ps(_mm256_add_ps(variances, eps)));
        for (int i = 0; i < 8; ++i) {
            const __m256 rstd = _mm256_permutevar8x32_ps(rstds, _mm256_set1_epi32(i));
            _mm256_storeu_ps(y + 16 * (r + i), _mm256_fmadd_ps(_mm256_mul_ps(lo[i], rstd), w0, b0));
            _mm256_storeu_ps(y + 16 * (r + i) + 8,
                             _mm256_fmadd_ps(_mm256_mul_ps(hi[i], rstd), w1, b1));
        }
    }
}

// The deviations from `rough` of values[0, count) (count a multiple of 16)
// and their squares, added into two pairs of accumulators.
struct DeviationSums {
    __m256 sum0 = _mm256_setzero_ps(), sum1 = sum0, squares0 = sum0, squares1 = sum0;
    void add(const float *values, long count, __m256 rough) {
        for (long j = 0; j < count; j += 16) {
            const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(values + j), rough);
            const __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(values + j + 8), rough);
            sum0 = _mm256_add_ps(sum0, d0);
            sum1 = _mm256_add_ps(sum1, d1);
            squares0 = _mm256_fmadd_ps(d0, d0, squares0);
            squares1 = _mm256_fmadd_ps(d1, d1, squares1);
        }
    }
};

// Long rows (a multiple of 16 values, at least 64), as normgen computes them: a
// rough mean from the first 64 values, one pass of the deviations' sum and sum
// of squares in four accumulators, then the output while the row is in L1.
void long_rows(const float *x, const float *w, const float *b, float *y, long rows, long length) {
    for (long r = 0; r < rows; ++r) {
        const float *row = x + r * length;
        float *out = y + r * length;
        __m256 pilot = _mm256_setzero_ps();
        for (long j = 0; j < 64; j += 8) pilot = _mm256_add_ps(pilot, _mm256_loadu_ps(row + j));
        const float rough_mean = horizontal_sum(pilot) / 64;
        const __m256 rough = _mm256_set1_ps(rough_mean);
        DeviationSums sums;
        sums.add(row, length, rough);
        const float offset = horizontal_sum(_mm256_add_ps(sums.sum0, sums.sum1)) / length;
        const float spread = horizontal_sum(_mm256_add_ps(sums.squares0, sums.squares1)) / length;
        const __m256 mean = _mm256_set1_ps(rough_mean + offset);
        const __m256 rstd = _mm256_set1_ps(inverse_std(offset, spread));
        for (long j = 0; j < length; j += 8) {
            const __m256 normalized =
                _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(row + j), mean), rstd);
            _mm256_storeu_ps(out + j, _mm256_fmadd_ps(normalized, _mm256_loadu_ps(w + j),
                                                      _mm256_loadu_ps(b + j)));
        }
    }
}

// A workload: rows x length values (LayerNorm's rows; BatchNorm's samples
// x channels, or x channels x plane where `channels` is set), a weight and
// a bias per column (per channel), BatchNorm's running statistics, which
// its calls update, and for backward the gradient of the output and the
// rows' mean and rstd from normgen's forward call.
struct Data {
    long rows, length, channels = 0;
    std::vector<float> x, weight, bias;
    std::vector<float> running_mean, running_var;
    std::vector<float> grad_output, mean, rstd;
};

Data workload(long rows, long length, long channels = 0) {
    const long parameters = channels > 0 ? channels : length;
    Data data{rows,
              length,
              channels,
              std::vector<float>(rows * length),
              std::vector<float>(parameters, 1.5f),
              std::vector<float>(parameters, 0.5f),
              std::vector<float>(parameters, 0.f),
              std::vector<float>(parameters, 1.f)};
    for (long i = 0; i < rows * length; ++i)
        data.x[i] = static_cast<float>(i * 7919 % 1000) * 0.001f;
    return data;
}

struct Timed {
    std::string name;
    std::function<void(Data &, float *)> run;  // writes its output there
};

const Timed scale_limit{"y = a*x (the limit)",
                        [](Data &d, float *y) { scale(d.x.data(), y, d.rows * d.length); }};

// The limit, the hand-written kernels, then normgen's, on `data`: each
// output (rows x length values, then `parameter_outputs` values of
// parameter gradients) checked against normgen's (the last), then all timed
// in turn writing into one buffer (as a burst of calls of one kernel would),
// and the medians printed against the limit's, and, where streaming_row_us
// > 0, per row against that time per row of a limit streaming from memory.
// Returns the limit's median time per row.
double experiment(const std::string &title, Data data, const std::vector<Timed> &hand_written,
                  const Timed &normgen_kernel, int rounds, double streaming_row_us = 0,
                  const Timed &limit = scale_limit, long parameter_outputs = 0) {
    const long values = data.rows * data.length;
    std::vector<Timed> kernels{limit};
    kernels.insert(kernels.end(), hand_written.begin(), hand_written.end());
    kernels.push_back(normgen_kernel);

    std::vector<std::vector<float>> outputs(kernels.size(),
                                            std::vector<float>(values + parameter_outputs));
    for (size_t k = 0; k < kernels.size(); ++k) kernels[k].run(data, outputs[k].data());
    const std::vector<float> &expected = outputs.back();
    const double parameter_tolerance = normgen::bench::sum_absolute_tolerance(data.rows);
    for (size_t k = 1; k + 1 < kernels.size(); ++k) {
        for (long i = 0; i < values + parameter_outputs; ++i) {
            const double tolerance =
                i < values ? normgen::bench::kAbsoluteTolerance : parameter_tolerance;
            const double difference = std::fabs(outputs[k][i] - expected[i]);
            if (!(difference <= tolerance)) {
                std::fprintf(stderr,
                             "normgen_floors: %s: \"%s\" differs from normgen by %g at output "
                             "value %ld (expected <= %g)\n",
                             title.c_str(), kernels[k].name.c_str(), difference, i, tolerance);
                std::exit(1);
            }
        }
    }

    std::vector<std::vector<double>> times(kernels.size());
    for (int round = -3; round < rounds; ++round) {  // three rounds of warm-up
        for (size_t i = 0; i < kernels.size(); ++i) {
            const size_t k = (i + static_cast<size_t>(round + 3)) % kernels.size();
            const auto start = std::chrono::steady_clock::now();
            kernels[k].run(data, outputs[0].data());
            const double us =
                std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
                    .count();
            if (round >= 0) times[k].push_back(us);
        }
    }
    const double limit_us = median(times[0]);
    std::printf("%s:\n", title.c_str());
    for (size_t k = 0; k < kernels.size(); ++k) {
        std::printf("  %-46s %9.1f us  %5.2fx the limit", kernels[k].name.c_str(), median(times[k]),
                    median(times[k]) / limit_us);
        if (streaming_row_us > 0) {
            std::printf(", %5.2fx it streaming", median(times[k]) / data.rows / streaming_row_us);
        }
        std::printf("\n");
    }
    return limit_us / data.rows;
}

TensorView view(std::vector<float> &values, std::vector<int64_t> shape) {
    return TensorView::of(values.data(), std::move(shape));
}

const Timed normgen_layer_norm{
    "normgen layer_norm (avx2)", [](Data &d, float *y) {
        const TensorView weight = view(d.weight, {d.length}), bias = view(d.bias, {d.length});
        normgen::layer_norm(view(d.x, {d.rows, d.length}), {d.length}, &weight, &bias, kEps,
                            TensorView::of(y, {d.rows, d.length}));
    }};

const Timed normgen_batch_norm_training{
    "normgen batch_norm, training (avx2)", [](Data &d, float *y) {
        const long channels = d.channels > 0 ? d.channels : d.length;
        const std::vector<int64_t> shape =
            d.channels > 0 ? std::vector<int64_t>{d.rows, channels, d.length / channels}
                           : std::vector<int64_t>{d.rows, d.length};
        const TensorView weight = view(d.weight, {channels}), bias = view(d.bias, {channels});
        const TensorView running_mean = view(d.running_mean, {channels});
        const TensorView running_var = view(d.running_var, {channels});
        normgen::batch_norm(view(d.x, shape), &running_mean, &running_var, &weight, &bias, true,
                            normgen::bench::kMomentum, kEps, TensorView::of(y, shape));
    }};

// LayerNorm backward's output: grad_input (rows x length), then grad_weight
// and grad_bias (length each).
const Timed normgen_layer_norm_backward{
    "normgen layer_norm_backward (avx2)", [](Data &d, float *out) {
        const TensorView weight = view(d.weight, {d.length});
        const TensorView grad_input = TensorView::of(out, {d.rows, d.length});
        const TensorView grad_weight = TensorView::of(out + d.rows * d.length, {d.length});
        const TensorView grad_bias = TensorView::of(out + (d.rows + 1) * d.length, {d.length});
        normgen::layer_norm_backward(view(d.grad_output, {d.rows, d.length}),
                                     view(d.x, {d.rows, d.length}), {d.length},
                                     view(d.mean, {d.rows}), view(d.rstd, {d.rows}), &weight,
                                     &grad_input, &grad_weight, &grad_bias);
    }};

// Backward's limit: z = x + a*dy, the two tensors backward reads and the one
// it writes.
const Timed backward_limit{
    "z = x + a*dy (the limit)", [](Data &d, float *z) {
        const __m256 a = _mm256_set1_ps(1.5f);
        const float *x = d.x.data(), *dy = d.grad_output.data();
        for (long i = 0; i < d.rows * d.length; i += 8) {
            _mm256_storeu_ps(z + i,
                             _mm256_fmadd_ps(a, _mm256_loadu_ps(dy + i), _mm256_loadu_ps(x + i)));
        }
    }};

// A LayerNorm backward workload: `data` with a gradient of the output and
// the statistics of normgen's forward call.
Data with_backward_inputs(Data data) {
    const long values = data.rows * data.length;
    data.grad_output.resize(values);
    for (long i = 0; i < values; ++i)
        data.grad_output[i] = static_cast<float>(i * 104729 % 997) * 0.001f - 0.5f;
    data.mean.resize(data.rows);
    data.rstd.resize(data.rows);
    std::vector<float> output(values);
    const TensorView weight = view(data.weight, {data.length});
    const TensorView bias = view(data.bias, {data.length});
    const TensorView mean = view(data.mean, {data.rows}), rstd = view(data.rstd, {data.rows});
    normgen::layer_norm(view(data.x, {data.rows, data.length}), {data.length}, &weight, &bias, kEps,
                        TensorView::of(output.data(), {data.rows, data.length}), &mean, &rstd);
    return data;
}

// LayerNorm backward on long rows (a multiple of 16 values), as normgen
// computes it: per row, its two sums (of g = dy * w and of g * xhat) in four
// accumulators, then grad_input while the row is in L1; then, per block of
// 64 rows, grad_weight's and grad_bias's partial sums over the block, four
// rows at a time, from L2. fuse_parameter_sums: the partial sums instead
// inside each row's grad_input loop (one read less, a load and a store of
// the partial sums per row).
void layer_norm_backward(const Data &d, float *out, bool fuse_parameter_sums) {
    const long rows = d.rows, length = d.length, block = 64;
    const float *w = d.weight.data();
    float *grad_weight = out + rows * length, *grad_bias = grad_weight + length;
    std::fill(grad_weight, grad_weight + 2 * length, 0.f);
    const __m256 n = _mm256_set1_ps(static_cast<float>(length));
    for (long first = 0; first < rows; first += block) {
        const long last = std::min(rows, first + block);
        for (long r = first; r < last; ++r) {
            const float *x = d.x.data() + r * length, *dy = d.grad_output.data() + r * length;
            float *dx = out + r * length;
            const __m256 mean = _mm256_set1_ps(d.mean[r]), rstd = _mm256_set1_ps(d.rstd[r]);
            __m256 g0 = _mm256_setzero_ps(), g1 = g0, gx0 = g0, gx1 = g0;
            for (long j = 0; j < length; j += 16) {
                const __m256 a = _mm256_mul_ps(_mm256_loadu_ps(dy + j), _mm256_loadu_ps(w + j));
                const __m256 b =
                    _mm256_mul_ps(_mm256_loadu_ps(dy + j + 8), _mm256_loadu_ps(w + j + 8));
                g0 = _mm256_add_ps(g0, a);
                g1 = _mm256_add_ps(g1, b);
                gx0 = _mm256_fmadd_ps(
                    a, _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + j), mean), rstd), gx0);
                gx1 = _mm256_fmadd_ps(
                    b, _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + j + 8), mean), rstd), gx1);
            }
            const __m256 sum_g = _mm256_set1_ps(horizontal_sum(_mm256_add_ps(g0, g1)));
            const __m256 sum_gx = _mm256_set1_ps(horizontal_sum(_mm256_add_ps(gx0, gx1)));
            const __m256 factor = _mm256_div_ps(rstd, n);
            for (long j = 0; j < length; j += 8) {
                const __m256 dyj = _mm256_loadu_ps(dy + j);
                const __m256 xhat =
                    _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + j), mean), rstd);
                const __m256 g = _mm256_mul_ps(dyj, _mm256_loadu_ps(w + j));
                _mm256_storeu_ps(
                    dx + j, _mm256_mul_ps(factor, _mm256_fnmadd_ps(xhat, sum_gx,
                                                                   _mm256_fmsub_ps(n, g, sum_g))));
                if (fuse_parameter_sums) {
                    _mm256_storeu_ps(grad_weight + j,
                                     _mm256_fmadd_ps(dyj, xhat, _mm256_loadu_ps(grad_weight + j)));
                    _mm256_storeu_ps(grad_bias + j,
                                     _mm256_add_ps(dyj, _mm256_loadu_ps(grad_bias + j)));
                }
            }
        }
        if (fuse_parameter_sums) continue;
        for (long r = first; r < last; r += 4) {
            const long step = std::min(4L, last - r);
            __m256 means[4], rstds[4];
            for (long i = 0; i < step; ++i) {
                means[i] = _mm256_set1_ps(d.mean[r + i]);
                rstds[i] = _mm256_set1_ps(d.rstd[r + i]);
            }
            for (long j = 0; j < length; j += 8) {
                __m256 sum_w = _mm256_loadu_ps(grad_weight + j),
                       sum_b = _mm256_loadu_ps(grad_bias + j);
                for (long i = 0; i < step; ++i) {
                    const long at = (r + i) * length + j;
                    const __m256 dyj = _mm256_loadu_ps(d.grad_output.data() + at);
                    const __m256 xhat = _mm256_mul_ps(
                        _mm256_sub_ps(_mm256_loadu_ps(d.x.data() + at), means[i]), rstds[i]);
                    sum_w = _mm256_fmadd_ps(dyj, xhat, sum_w);
                    sum_b = _mm256_add_ps(sum_b, dyj);
                }
                _mm256_storeu_ps(grad_weight + j, sum_w);
                _mm256_storeu_ps(grad_bias + j, sum_b);
            }
        }
    }
}

// BatchNorm training on samples x channels x plane (channels-first), the
// algorithm normgen computes with two simplifications: one rough mean per
// channel, from the first 64 values of its first plane (normgen: one per
// chunk, from its first 16th), and a plane's short last vector masked
// (normgen: its last step moved back to end with the plane). The planes in
// storage order, each summed (deviations and their squares) in two pairs of
// accumulators, then added into its channel's partial sums; then the output,
// plane by plane, one multiply-add per value (the last vector of a plane
// shifted inwards to end with it).
void batch_norm_training_planes(const Data &d, float *y) {
    const long samples = d.rows, channels = d.channels, plane = d.length / channels;
    const float *x = d.x.data();
    alignas(32) static const int mask_bits[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                                  0,  0,  0,  0,  0,  0,  0,  0};
    const long tail = plane % 8;
    const __m256i mask =
        _mm256_loadu_si256(reinterpret_cast<const __m256i *>(mask_bits + 8 - tail));
    std::vector<float> rough(channels), partial(16 * channels, 0.f), scale(channels),
        shift(channels);
    for (long c = 0; c < channels; ++c) {
        const long count = std::min(plane, 64L);
        float sum = 0;
        for (long i = 0; i < count; ++i) sum += x[c * plane + i];
        rough[c] = sum / count;
    }
    for (long n = 0; n < samples; ++n) {
        for (long c = 0; c < channels; ++c) {
            const float *values = x + (n * channels + c) * plane;
            const __m256 rough_mean = _mm256_set1_ps(rough[c]);
            DeviationSums sums;
            long i = plane / 16 * 16;
            sums.add(values, i, rough_mean);
            if (i + 8 <= plane) {
                const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(values + i), rough_mean);
                sums.sum0 = _mm256_add_ps(sums.sum0, d0);
                sums.squares0 = _mm256_fmadd_ps(d0, d0, sums.squares0);
                i += 8;
            }
            if (tail > 0) {
                const __m256 d1 =
                    _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(values + i, mask), rough_mean),
                                  _mm256_castsi256_ps(mask));
                sums.sum1 = _mm256_add_ps(sums.sum1, d1);
                sums.squares1 = _mm256_fmadd_ps(d1, d1, sums.squares1);
            }
            float *channel_sums = partial.data() + 16 * c;
            _mm256_storeu_ps(channel_sums, _mm256_add_ps(_mm256_loadu_ps(channel_sums),
                                                         _mm256_add_ps(sums.sum0, sums.sum1)));
            _mm256_storeu_ps(channel_sums + 8,
                             _mm256_add_ps(_mm256_loadu_ps(channel_sums + 8),
                                           _mm256_add_ps(sums.squares0, sums.squares1)));
        }
    }
    const float count = static_cast<float>(samples * plane);
    for (long c = 0; c < channels; ++c) {
        const float offset = horizontal_sum(_mm256_loadu_ps(partial.data() + 16 * c)) / count;
        const float spread = horizontal_sum(_mm256_loadu_ps(partial.data() + 16 * c + 8)) / count;
        const float invstd = inverse_std(offset, spread);
        scale[c] = invstd * d.weight[c];
        shift[c] = d.bias[c] - (rough[c] + offset) * scale[c];
    }
    for (long n = 0; n < samples; ++n) {
        for (long c = 0; c < channels; ++c) {
            const float *values = x + (n * channels + c) * plane;
            float *out = y + (n * channels + c) * plane;
            const __m256 a = _mm256_set1_ps(scale[c]), b = _mm256_set1_ps(shift[c]);
            for (long i = 0; i < plane; i += 8) {
                const long at = std::min(i, plane - 8);
                _mm256_storeu_ps(out + at, _mm256_fmadd_ps(_mm256_loadu_ps(values + at), a, b));
            }
        }
    }
}

// BatchNorm1d training on samples x channels (channels a multiple of 32):
// each block of 32 channels summed over all samples in registers (the
// deviations from the first sample, and their squares), then the output
// as one multiply-add per value, streaming.
void batch_norm_training(const float *x, const float *w, const float *b, float *y, long samples,
                         long channels) {
    std::vector<float> scale(channels), shift(channels);
    for (long c = 0; c < channels; c += 32) {
        __m256 first[4], sums[4], squares[4];
        for (int v = 0; v < 4; ++v) {
            first[v] = _mm256_loadu_ps(x + c + 8 * v);
            sums[v] = squares[v] = _mm256_setzero_ps();
        }
        for (long n = 0; n < samples; ++n) {
            for (int v = 0; v < 4; ++v) {
                const __m256 d =
                    _mm256_sub_ps(_mm256_loadu_ps(x + n * channels + c + 8 * v), first[v]);
                sums[v] = _mm256_add_ps(sums[v], d);
                squares[v] = _mm256_fmadd_ps(d, d, squares[v]);
            }
        }
        for (int v = 0; v < 4; ++v) {
            alignas(32) float s[8], q[8], f[8];
            _mm256_store_ps(s, sums[v]);
            _mm256_store_ps(q, squares[v]);
            _mm256_store_ps(f, first[v]);
            for (int lane = 0; lane < 8; ++lane) {
                const long channel = c + 8 * v + lane;
                const float offset = s[lane] / samples;
                const float invstd = inverse_std(offset, q[lane] / samples);
                scale[channel] = invstd * w[channel];
                shift[channel] = b[channel] - (f[lane] + offset) * scale[channel];
            }
        }
    }
    for (long n = 0; n < samples; ++n) {
        for (long c = 0; c < channels; c += 8) {
            const __m256 value = _mm256_loadu_ps(x + n * channels + c);
            _mm256_storeu_ps(y + n * channels + c,
                             _mm256_fmadd_ps(value, _mm256_loadu_ps(scale.data() + c),
                                             _mm256_loadu_ps(shift.data() + c)));
        }
    }
}

}  // namespace

int main(int argc, char **argv) {
    const int rounds = argc > 1 ? std::atoi(argv[1]) : 300;
    if (rounds < 1) {
        std::fprintf(stderr, "normgen_floors: rounds must be >= 1, got %s\n", argv[1]);
        return 2;
    }
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
        std::printf(
            "normgen_floors: not run: the hand-written kernels need AVX2 and FMA, which this CPU "
            "lacks\n");
        return 0;
    }
    normgen::set_num_threads(1);
    normgen::set_cpu_variant("avx2");
    std::printf("One thread, median of %d calls each, interleaved.\n", rounds);

    auto rows_of_16 = [](auto kernel) {
        return [kernel](Data &d, float *y) {
            kernel(d.x.data(), d.weight.data(), d.bias.data(), y, d.rows);
        };
    };
    experiment(
        "LayerNorm 65536x16", workload(65536, 16),
        {{"hand-written, row by row", rows_of_16(rows_of_16_one_by_one)},
         {"hand-written, 8 rows at once, sums transposed", rows_of_16(rows_of_16_eight_at_once)}},
        normgen_layer_norm, rounds);
    const Timed long_rows_by_hand{"hand-written, row by row", [](Data &d, float *y) {
                                      long_rows(d.x.data(), d.weight.data(), d.bias.data(), y,
                                                d.rows, d.length);
                                  }};
    for (long length : {768L, 1024L}) {
        // 4096 rows stream through memory; 64 rows (192-256 KiB) stay in L2:
        // what the arithmetic alone costs against the scale.
        const double streaming_row_us =
            experiment("LayerNorm 4096x" + std::to_string(length), workload(4096, length),
                       {long_rows_by_hand}, normgen_layer_norm, rounds);
        experiment("LayerNorm 64x" + std::to_string(length) +
                       ", in L2 (per row against the scale of 4096 rows)",
                   workload(64, length), {long_rows_by_hand}, normgen_layer_norm, rounds,
                   streaming_row_us);
    }
    for (long length : {768L, 1024L}) {
        experiment("LayerNorm backward 4096x" + std::to_string(length),
                   with_backward_inputs(workload(4096, length)),
                   {{"hand-written, parameter sums per block of rows",
                     [](Data &d, float *out) { layer_norm_backward(d, out, false); }},
                    {"hand-written, parameter sums per row",
                     [](Data &d, float *out) { layer_norm_backward(d, out, true); }}},
                   normgen_layer_norm_backward, rounds, 0, backward_limit, 2 * length);
    }
    experiment("BatchNorm1d 1024x512, training", workload(1024, 512),
               {{"hand-written, channel blocks in registers",
                 [](Data &d, float *y) {
                     batch_norm_training(d.x.data(), d.weight.data(), d.bias.data(), y, d.rows,
                                         d.length);
                 }}},
               normgen_batch_norm_training, rounds);
    const Timed planes_by_hand{"hand-written, planes in storage order",
                               [](Data &d, float *y) { batch_norm_training_planes(d, y); }};
    for (const auto &[samples, channels, plane] :
         {std::tuple{128L, 256L, 196L}, std::tuple{32L, 64L, 3136L}}) {
        experiment("BatchNorm2d " + std::to_string(samples) + "x" + std::to_string(channels) + "x" +
                       std::to_string(plane) + " (NCHW), training",
                   workload(samples, channels * plane, channels), {planes_by_hand},
                   normgen_batch_norm_training, rounds);
    }
    return 0;
}
