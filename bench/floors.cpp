// normgen_floors: how near hand-written code gets to the limit on the
// shapes where normgen misses its target by most (README, "Where the
// targets are not met"), so that the claim "out of reach" rests on a
// measurement anyone can repeat.
//
// One thread, one process. Each experiment times, call by call in turn
// (the order rotating each round, so that a slow moment of the shared
// machine falls on all alike): y = a*x over the same data (the limit), one
// or two hand-written AVX2+FMA kernels, and normgen forced to its avx2
// variant (the same instruction set). It prints each median call and its
// ratio to the scale's. The hand-written kernels are checked against
// normgen's output first (within the benchmark's kAbsoluteTolerance,
// 1e-4); a difference over it stops the run.
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
        __m256 s0 = _mm256_setzero_ps(), s1 = s0, q0 = s0, q1 = s0;
        for (long j = 0; j < length; j += 16) {
            const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(row + j), rough);
            const __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(row + j + 8), rough);
            s0 = _mm256_add_ps(s0, d0);
            s1 = _mm256_add_ps(s1, d1);
            q0 = _mm256_fmadd_ps(d0, d0, q0);
            q1 = _mm256_fmadd_ps(d1, d1, q1);
        }
        const float offset = horizontal_sum(_mm256_add_ps(s0, s1)) / length;
        const float spread = horizontal_sum(_mm256_add_ps(q0, q1)) / length;
        const __m256 mean = _mm256_set1_ps(rough_mean + offset);
        const __m256 rstd =
            _mm256_set1_ps(1.f / std::sqrt(std::max(spread - offset * offset, 0.f) + kEps));
        for (long j = 0; j < length; j += 8) {
            const __m256 normalized =
                _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(row + j), mean), rstd);
            _mm256_storeu_ps(out + j, _mm256_fmadd_ps(normalized, _mm256_loadu_ps(w + j),
                                                      _mm256_loadu_ps(b + j)));
        }
    }
}

// A workload: rows x length values (LayerNorm's rows; BatchNorm1d's
// samples x channels), a weight and a bias per column, and BatchNorm's
// running statistics, which its calls update.
struct Data {
    long rows, length;
    std::vector<float> x, weight, bias;
    std::vector<float> running_mean, running_var;
};

struct Timed {
    std::string name;
    std::function<void(Data &, float *)> run;  // writes its output there
};

// The scale, the hand-written kernels, then normgen's, on rows x length:
// each output checked against normgen's (the last), then all timed in turn
// writing into one buffer (as a burst of calls of one kernel would), and
// the medians printed against the scale's, and, where streaming_row_us > 0,
// per row against that time per row of a scale streaming from memory.
// Returns the scale's median time per row.
double experiment(const std::string &title, long rows, long length,
                  const std::vector<Timed> &hand_written, const Timed &normgen_kernel, int rounds,
                  double streaming_row_us = 0) {
    Data data{rows,
              length,
              std::vector<float>(rows * length),
              std::vector<float>(length, 1.5f),
              std::vector<float>(length, 0.5f),
              std::vector<float>(length, 0.f),
              std::vector<float>(length, 1.f)};
    for (long i = 0; i < rows * length; ++i)
        data.x[i] = static_cast<float>(i * 7919 % 1000) * 0.001f;
    std::vector<Timed> kernels{{"y = a*x (the limit)", [](Data &d, float *y) {
                                    scale(d.x.data(), y, d.rows * d.length);
                                }}};
    kernels.insert(kernels.end(), hand_written.begin(), hand_written.end());
    kernels.push_back(normgen_kernel);

    std::vector<std::vector<float>> outputs(kernels.size(), std::vector<float>(rows * length));
    for (size_t k = 0; k < kernels.size(); ++k) kernels[k].run(data, outputs[k].data());
    const std::vector<float> &expected = outputs.back();
    for (size_t k = 1; k + 1 < kernels.size(); ++k) {
        double worst = 0;
        for (long i = 0; i < rows * length; ++i)
            worst = std::max(worst, double(std::fabs(outputs[k][i] - expected[i])));
        if (!(worst <= normgen::bench::kAbsoluteTolerance)) {
            std::fprintf(
                stderr, "normgen_floors: %s: \"%s\" differs from normgen by %g (expected <= %g)\n",
                title.c_str(), kernels[k].name.c_str(), worst, normgen::bench::kAbsoluteTolerance);
            std::exit(1);
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
    const double limit = median(times[0]);
    std::printf("%s:\n", title.c_str());
    for (size_t k = 0; k < kernels.size(); ++k) {
        std::printf("  %-46s %9.1f us  %5.2fx the scale", kernels[k].name.c_str(), median(times[k]),
                    median(times[k]) / limit);
        if (streaming_row_us > 0) {
            std::printf(", %5.2fx it streaming", median(times[k]) / rows / streaming_row_us);
        }
        std::printf("\n");
    }
    return limit / rows;
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
        const TensorView weight = view(d.weight, {d.length}), bias = view(d.bias, {d.length});
        const TensorView running_mean = view(d.running_mean, {d.length});
        const TensorView running_var = view(d.running_var, {d.length});
        normgen::batch_norm(view(d.x, {d.rows, d.length}), &running_mean, &running_var, &weight,
                            &bias, true, normgen::bench::kMomentum, kEps,
                            TensorView::of(y, {d.rows, d.length}));
    }};

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
                const float invstd =
                    1.f / std::sqrt(std::max(q[lane] / samples - offset * offset, 0.f) + kEps);
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
        "LayerNorm 65536x16", 65536, 16,
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
            experiment("LayerNorm 4096x" + std::to_string(length), 4096, length,
                       {long_rows_by_hand}, normgen_layer_norm, rounds);
        experiment("LayerNorm 64x" + std::to_string(length) +
                       ", in L2 (per row against the scale of 4096 rows)",
                   64, length, {long_rows_by_hand}, normgen_layer_norm, rounds, streaming_row_us);
    }
    experiment("BatchNorm1d 1024x512, training", 1024, 512,
               {{"hand-written, channel blocks in registers",
                 [](Data &d, float *y) {
                     batch_norm_training(d.x.data(), d.weight.data(), d.bias.data(), y, d.rows,
                                         d.length);
                 }}},
               normgen_batch_norm_training, rounds);
    return 0;
}
