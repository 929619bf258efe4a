// Every generated kernel variant against the float64 reference
// (reference.hpp). CTest runs this program once per CPU variant, forced
// through NORMGEN_CPU_VARIANT, and the LayerNorm tests force each row class
// in turn, so every variant of every kernel sees every shape below.
//
// Data is N(0, 1) and the tolerances are PyTorch's for float32 (atol 1e-5,
// rtol 1e-3) unless a test says why not. Sizes are odd (3, 17, 7 x 5, ...)
// so that vector tails run, and small so that the suite stays fast; one
// larger case per kernel family spreads over several threads and blocks.

#include <catch2/catch.hpp>
#include <normgen/normgen.hpp>

#include "expect_close.hpp"
#include "forced_row_class.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using normgen::LayerNormRowClass;
using normgen::MemoryFormat;
using normgen::TensorView;
using normgen::testing::ForcedRowClass;
namespace ref = normgen::reference;

constexpr double kAtol = 1e-5;
constexpr double kRtol = 1e-3;
constexpr double kEps = 1e-5;

// Outputs start as this value, so that an element a kernel skipped can
// never pass for a correct one.
constexpr float kSentinel = 12345.0f;

// On data of 1e4 + N(0, 1) a float32 holds the mean only to half an ulp of
// 1e4 (about 5e-4), and every normalized value inherits that error times
// rstd times |weight|. The tests therefore measure y's error in units of
// max|weight| * rstd (per row or channel): the error of the mean in
// standard deviations of the data. 5e-3 leaves ten times the float32 limit
// and still fails statistics that cancel (E[x^2] - E[x]^2 loses all digits).
constexpr float kLargeOffset = 1e4f;
constexpr double kLargeOffsetError = 5e-3;

// max |got[i] - expected[i]| / (max_weight * rstd[group_of(i)]), the error
// measure of kLargeOffset.
template <typename GroupOf>
double largest_error_in_deviations(const std::vector<float> &got,
                                   const std::vector<double> &expected, double max_weight,
                                   const std::vector<double> &rstd, GroupOf group_of) {
    REQUIRE(got.size() == expected.size());
    double largest = 0.0;
    for (size_t i = 0; i < got.size(); ++i) {
        const double error = std::abs(static_cast<double>(got[i]) - expected[i]) /
                             (max_weight * rstd[group_of(static_cast<int64_t>(i))]);
        if (!(error <= largest)) {
            largest = error;
        }
    }
    return largest;
}

struct Affine {
    const char *name;
    bool has_weight;
    bool has_bias;
};

const char *name_of(LayerNormRowClass row_class) {
    switch (row_class) {
        case LayerNormRowClass::long_rows: return "long_rows";
        case LayerNormRowClass::short_rows: return "short_rows";
        case LayerNormRowClass::split_rows: return "split_rows";
        case LayerNormRowClass::wide_rows: return "wide_rows";
        case LayerNormRowClass::vector_rows: return "vector_rows";
    }
    return "?";
}

const char *name_of(MemoryFormat format) {
    return format == MemoryFormat::contiguous ? "contiguous" : "channels_last";
}

std::string describe(const std::vector<int64_t> &shape) {
    std::ostringstream text;
    text << "[";
    for (size_t i = 0; i < shape.size(); ++i) {
        text << (i ? ", " : "") << shape[i];
    }
    text << "]";
    return text.str();
}

// Sets the kernels' thread count while alive, then restores the default of
// one thread per core.
class ThreadCount {
public:
    explicit ThreadCount(int threads) { normgen::set_num_threads(threads); }
    ~ThreadCount() {
        normgen::set_num_threads(static_cast<int>(std::thread::hardware_concurrency()));
    }
    ThreadCount(const ThreadCount &) = delete;
    ThreadCount &operator=(const ThreadCount &) = delete;
};

std::vector<float> in_memory_order(const std::vector<float> &logical,
                                   const std::vector<int64_t> &shape, MemoryFormat format) {
    return format == MemoryFormat::channels_last ? ref::logical_to_channels_last(logical, shape)
                                                 : logical;
}

std::vector<float> in_logical_order(const std::vector<float> &memory,
                                    const std::vector<int64_t> &shape, MemoryFormat format) {
    return format == MemoryFormat::channels_last ? ref::channels_last_to_logical(memory, shape)
                                                 : memory;
}

// ---- LayerNorm -----------------------------------------------------------------

struct LayerNormOutputs {
    std::vector<float> y, mean, rstd;
};

// One call of the functional layer_norm; mean and rstd have stats_shape.
LayerNormOutputs run_layer_norm(const std::vector<float> &input,
                                const std::vector<int64_t> &input_shape,
                                const std::vector<int64_t> &normalized_shape,
                                const std::vector<float> *weight, const std::vector<float> *bias,
                                const std::vector<int64_t> &stats_shape) {
    const int64_t rows = ref::element_count(stats_shape);
    LayerNormOutputs outputs{std::vector<float>(input.size(), kSentinel),
                             std::vector<float>(rows, kSentinel),
                             std::vector<float>(rows, kSentinel)};
    TensorView weight_view, bias_view;
    if (weight) {
        weight_view = TensorView::of(weight->data(), normalized_shape);
    }
    if (bias) {
        bias_view = TensorView::of(bias->data(), normalized_shape);
    }
    const TensorView mean_view = TensorView::of(outputs.mean.data(), stats_shape);
    const TensorView rstd_view = TensorView::of(outputs.rstd.data(), stats_shape);
    normgen::layer_norm(TensorView::of(input.data(), input_shape), normalized_shape,
                        weight ? &weight_view : nullptr, bias ? &bias_view : nullptr, kEps,
                        TensorView::of(outputs.y.data(), input_shape), &mean_view, &rstd_view);
    return outputs;
}

// Normalizes N(0, 1) data over normalized_shape with random affine
// parameters and checks y, mean and rstd against the reference.
void check_layer_norm(const std::vector<int64_t> &input_shape,
                      const std::vector<int64_t> &normalized_shape,
                      const std::vector<int64_t> &stats_shape, const Affine &affine,
                      uint32_t seed) {
    INFO("input " << describe(input_shape) << " normalized over "
                  << describe(normalized_shape) << ", " << affine.name);
    const int64_t row_length = ref::element_count(normalized_shape);
    const int64_t rows = ref::element_count(stats_shape);
    const std::vector<float> input = ref::random_normal(ref::element_count(input_shape), seed);
    const std::vector<float> weight = ref::random_normal(row_length, seed + 1);
    const std::vector<float> bias = ref::random_normal(row_length, seed + 2);

    const LayerNormOutputs got =
        run_layer_norm(input, input_shape, normalized_shape, affine.has_weight ? &weight : nullptr,
                       affine.has_bias ? &bias : nullptr, stats_shape);

    const std::vector<double> weight64 = ref::to_double(weight), bias64 = ref::to_double(bias);
    const ref::LayerNormResult expected = ref::layer_norm_reference(
        ref::to_double(input), rows, row_length, affine.has_weight ? &weight64 : nullptr,
        affine.has_bias ? &bias64 : nullptr, kEps);
    {
        INFO("y");
        ref::expect_close(got.y, expected.y, kAtol, kRtol);
    }
    {
        INFO("mean");
        ref::expect_close(got.mean, expected.mean, kAtol, kRtol);
    }
    {
        INFO("rstd");
        ref::expect_close(got.rstd, expected.rstd, kAtol, kRtol);
    }
}

// Each CPU row class in turn (a Catch2 generator).
LayerNormRowClass generate_cpu_row_class() {
    return GENERATE(from_range(normgen::testing::cpu_row_classes));
}

const Affine &generate_layer_norm_affine() {
    // torch's functional form also takes a bias without a weight.
    static const Affine modes[] = {{"weight and bias", true, true},
                                   {"weight only", true, false},
                                   {"bias only", false, true},
                                   {"no affine", false, false}};
    return modes[GENERATE(0, 1, 2, 3)];
}

// Short rows come many to a test, so that short_rows spans more than one
// 64-row task and ends on a partial vector of rows; long rows come few, to
// keep the suite fast.
int64_t rows_for(int64_t row_length) {
    if (row_length <= 31) {
        return 67;
    }
    return row_length <= 4097 ? 5 : 3;
}

void check_every_row_length(LayerNormRowClass row_class) {
    const ForcedRowClass forced(row_class);
    const int64_t row_length = GENERATE(1, 3, 17, 31, 1023, 4097, 65537);
    const Affine &affine = generate_layer_norm_affine();
    const int64_t rows = rows_for(row_length);
    check_layer_norm({rows, row_length}, {row_length}, {rows}, affine,
                     static_cast<uint32_t>(row_length));
}

TEST_CASE("LayerNorm over the last dimension: the NLP example of the PyTorch docs") {
    // torch's native_layer_norm returns the statistics as (*, 1).
    check_layer_norm({20, 5, 10}, {10}, {20, 5, 1}, generate_layer_norm_affine(), 1);
}

TEST_CASE("LayerNorm over C H W: the image example of the PyTorch docs") {
    check_layer_norm({20, 5, 10, 10}, {5, 10, 10}, {20, 1, 1, 1}, generate_layer_norm_affine(),
                     2);
}

TEST_CASE("LayerNorm long_rows kernels match the reference for every row length") {
    check_every_row_length(LayerNormRowClass::long_rows);
}

TEST_CASE("LayerNorm short_rows kernels match the reference for every row length") {
    check_every_row_length(LayerNormRowClass::short_rows);
}

TEST_CASE("LayerNorm split_rows kernels match the reference for every row length") {
    check_every_row_length(LayerNormRowClass::split_rows);
}

TEST_CASE("LayerNorm wide_rows kernels match the reference for every row length") {
    check_every_row_length(LayerNormRowClass::wide_rows);
}

TEST_CASE("LayerNorm vector_rows kernels match the reference for every row length") {
    check_every_row_length(LayerNormRowClass::vector_rows);
}

TEST_CASE("LayerNorm vector_rows kernels span several tasks and a partial last one") {
    // Tasks of 512 rows (schedules/x86/knobs.cmake): 1100 rows make two
    // whole tasks and one of 76 rows, in the lengths dispatch sends there.
    const ForcedRowClass forced(LayerNormRowClass::vector_rows);
    const int64_t row_length = GENERATE(8, 16, 24, 64);
    check_layer_norm({1100, row_length}, {row_length}, {1100}, generate_layer_norm_affine(),
                     static_cast<uint32_t>(row_length));
}

TEST_CASE("LayerNorm matches the reference on every row length up to 160 and odd row counts") {
    // Every vector-tail and task-tail combination of both row classes: row
    // lengths across several vector widths, row counts around the tasks.
    const LayerNormRowClass row_class = generate_cpu_row_class();
    const ForcedRowClass forced(row_class);
    INFO(name_of(row_class));
    for (int64_t row_length = 1; row_length <= 160; ++row_length) {
        for (int64_t rows : {1, 6, 65}) {
            check_layer_norm({rows, row_length}, {row_length}, {rows},
                             {"weight and bias", true, true},
                             static_cast<uint32_t>(1000 * row_length + rows));
        }
    }
}

TEST_CASE("LayerNorm keeps its accuracy on rows far from zero") {
    const LayerNormRowClass row_class = generate_cpu_row_class();
    const ForcedRowClass forced(row_class);
    const int64_t row_length = GENERATE(3, 16, 31, 1023, 4097, 65537);
    INFO(name_of(row_class) << ", rows of " << row_length << " values 1e4 + N(0, 1)");
    const int64_t rows = rows_for(row_length);
    const auto seed = static_cast<uint32_t>(row_length);
    const std::vector<float> input = ref::random_normal(rows * row_length, seed, kLargeOffset);
    const std::vector<float> weight = ref::random_normal(row_length, seed + 1);
    const std::vector<float> bias = ref::random_normal(row_length, seed + 2);

    const LayerNormOutputs got =
        run_layer_norm(input, {rows, row_length}, {row_length}, &weight, &bias, {rows});

    const std::vector<double> weight64 = ref::to_double(weight), bias64 = ref::to_double(bias);
    const ref::LayerNormResult expected = ref::layer_norm_reference(
        ref::to_double(input), rows, row_length, &weight64, &bias64, kEps);
    CHECK(largest_error_in_deviations(got.y, expected.y, ref::max_abs(weight64), expected.rstd,
                                      [&](int64_t i) { return i / row_length; }) <=
          kLargeOffsetError);
    // The mean is as good as a float near 1e4 allows (see kLargeOffset);
    // rstd = 1 / std does not see the offset at all.
    {
        INFO("mean");
        ref::expect_close(got.mean, expected.mean, kLargeOffsetError, 0.0);
    }
    {
        INFO("rstd");
        ref::expect_close(got.rstd, expected.rstd, kAtol, kRtol);
    }
}

// A statistic that subtracts a guess of the mean before summing (such as the
// group's first element) cancels when the guess is far off; the kernels
// centre their sums on the mean of the start of each row (statistics.h),
// which must not care where the outliers sit: one leading outlier, or a
// start of the row unlike the rest (64 values, the shortest pilot of long
// rows, or half the row).
constexpr float kOutlier = 300.0f;

TEST_CASE("LayerNorm statistics do not depend on the start of a row being typical") {
    const LayerNormRowClass row_class = generate_cpu_row_class();
    const ForcedRowClass forced(row_class);
    const int64_t row_length = GENERATE(16, 17, 4097);
    const int64_t leading_outliers = std::min<int64_t>(GENERATE(1, 64), row_length / 2);
    INFO(name_of(row_class) << ", rows of " << row_length << " N(0, 1) values led by "
                            << leading_outliers << " of " << kOutlier);
    const int64_t rows = rows_for(row_length);
    std::vector<float> input = ref::random_normal(rows * row_length, 60);
    for (int64_t row = 0; row < rows; ++row) {
        std::fill_n(input.begin() + row * row_length, leading_outliers, kOutlier);
    }
    const LayerNormOutputs got =
        run_layer_norm(input, {rows, row_length}, {row_length}, nullptr, nullptr, {rows});
    const ref::LayerNormResult expected =
        ref::layer_norm_reference(ref::to_double(input), rows, row_length, nullptr, nullptr, kEps);
    ref::expect_close(got.y, expected.y, kAtol, kRtol);
    ref::expect_close(got.mean, expected.mean, kAtol, kRtol);
    ref::expect_close(got.rstd, expected.rstd, kAtol, kRtol);
}

TEST_CASE("LayerNorm of zero rows succeeds and writes nothing") {
    const LayerNormRowClass row_class = generate_cpu_row_class();
    INFO(name_of(row_class));
    const ForcedRowClass forced(row_class);
    const int64_t row_length = 17;
    const std::vector<float> weight = ref::random_normal(row_length, 3);
    const std::vector<float> bias = ref::random_normal(row_length, 4);
    // Views of no elements, each over one sentinel that a stray write would
    // overwrite.
    float input = 1.0f, output = kSentinel, mean = kSentinel, rstd = kSentinel;
    const TensorView weight_view = TensorView::of(weight.data(), {row_length});
    const TensorView bias_view = TensorView::of(bias.data(), {row_length});
    const TensorView mean_view = TensorView::of(&mean, {0});
    const TensorView rstd_view = TensorView::of(&rstd, {0});
    normgen::layer_norm(TensorView::of(&input, {0, row_length}), {row_length}, &weight_view,
                        &bias_view, kEps, TensorView::of(&output, {0, row_length}), &mean_view,
                        &rstd_view);
    CHECK(output == kSentinel);
    CHECK(mean == kSentinel);
    CHECK(rstd == kSentinel);
}

TEST_CASE("LayerNorm module starts with weight one and bias zero and forwards as the functional") {
    const std::vector<int64_t> input_shape{20, 5, 10, 10}, normalized_shape{5, 10, 10};
    const int64_t row_length = 500, rows = 20;
    normgen::LayerNorm layer_norm(normalized_shape);
    REQUIRE(layer_norm.weight().shape() == normalized_shape);
    REQUIRE(layer_norm.bias().shape() == normalized_shape);
    CHECK(layer_norm.weight().values() == std::vector<float>(row_length, 1.0f));
    CHECK(layer_norm.bias().values() == std::vector<float>(row_length, 0.0f));
    CHECK(layer_norm.eps() == kEps);

    const std::vector<float> input = ref::random_normal(rows * row_length, 5);
    const TensorView input_view = TensorView::of(input.data(), input_shape);
    const LayerNormOutputs functional_with_defaults =
        run_layer_norm(input, input_shape, normalized_shape, &layer_norm.weight().values(),
                       &layer_norm.bias().values(), {rows});
    const normgen::Tensor y = layer_norm.forward(input_view);
    CHECK(y.shape() == input_shape);
    CHECK(y.format() == MemoryFormat::contiguous);
    // The same kernel on the same data: equal to the last bit.
    CHECK(y.values() == functional_with_defaults.y);
    CHECK(layer_norm.saved_mean().values() == functional_with_defaults.mean);
    CHECK(layer_norm.saved_rstd().values() == functional_with_defaults.rstd);
    const ref::LayerNormResult expected =
        ref::layer_norm_reference(ref::to_double(input), rows, row_length, nullptr, nullptr, kEps);
    ref::expect_close(y.values(), expected.y, kAtol, kRtol);

    // Parameters set after construction are the ones forward uses.
    layer_norm.weight().values() = ref::random_normal(row_length, 6);
    layer_norm.bias().values() = ref::random_normal(row_length, 7);
    const std::vector<double> weight64 = ref::to_double(layer_norm.weight().values());
    const std::vector<double> bias64 = ref::to_double(layer_norm.bias().values());
    const ref::LayerNormResult expected_affine = ref::layer_norm_reference(
        ref::to_double(input), rows, row_length, &weight64, &bias64, kEps);
    ref::expect_close(layer_norm(input_view).values(), expected_affine.y, kAtol, kRtol);

    normgen::Tensor output(input_shape, kSentinel);
    layer_norm.forward(input_view, output.view());
    ref::expect_close(output.values(), expected_affine.y, kAtol, kRtol);
}

TEST_CASE("LayerNorm module without affine parameters has none and only normalizes") {
    const bool keeps_weight = GENERATE(false, true);
    INFO((keeps_weight ? "elementwise_affine, bias=false" : "elementwise_affine=false"));
    normgen::LayerNorm layer_norm({31}, kEps, keeps_weight, false);
    CHECK(layer_norm.weight().defined() == keeps_weight);
    CHECK_FALSE(layer_norm.bias().defined());
    const std::vector<float> input = ref::random_normal(7 * 31, 8);
    std::vector<double> weight64;
    if (keeps_weight) {
        layer_norm.weight().values() = ref::random_normal(31, 9);
        weight64 = ref::to_double(layer_norm.weight().values());
    }
    const ref::LayerNormResult expected = ref::layer_norm_reference(
        ref::to_double(input), 7, 31, keeps_weight ? &weight64 : nullptr, nullptr, kEps);
    ref::expect_close(layer_norm(TensorView::of(input.data(), {7, 31})).values(), expected.y,
                      kAtol, kRtol);
}

// ---- BatchNorm -----------------------------------------------------------------

// Odd channel counts and spatial sizes, so that vector tails run in both
// layouts: one shape per accepted rank.
const std::vector<int64_t> &generate_batch_norm_shape() {
    static const std::vector<std::vector<int64_t>> shapes{
        {7, 3}, {5, 20, 9}, {3, 20, 7, 5}, {2, 3, 5, 7, 3}};
    return shapes[GENERATE(0, 1, 2, 3)];
}

MemoryFormat generate_memory_format() {
    return GENERATE(MemoryFormat::contiguous, MemoryFormat::channels_last);
}

std::optional<double> generate_momentum() {
    static const std::optional<double> momenta[] = {0.1, 0.5, std::nullopt};
    return momenta[GENERATE(0, 1, 2)];
}

// What a BatchNorm carries from call to call, in the kernel's float32 and in
// the reference's float64. Empty vectors mean absent.
struct BatchNormState {
    std::vector<float> weight, bias;
    std::vector<float> running_mean, running_var;
    int64_t num_batches_tracked = 0;
    ref::RunningStatistics reference;

    BatchNormState(int64_t channels, bool affine, bool track_running_stats, uint32_t seed) {
        if (affine) {
            weight = ref::random_normal(channels, seed);
            bias = ref::random_normal(channels, seed + 1);
        }
        if (track_running_stats) {
            // Not torch's zeros and ones, so that an update that drops the
            // old value is caught.
            running_mean = ref::random_normal(channels, seed + 2);
            running_var = ref::random_normal(channels, seed + 3);
            for (float &var : running_var) {
                var = 0.5f + var * var;
            }
            num_batches_tracked = 2;
            reference = {ref::to_double(running_mean), ref::to_double(running_var),
                         num_batches_tracked};
        }
    }
    bool tracks_running_stats() const { return !running_mean.empty(); }
};

// One functional batch_norm on offset + N(0, 1) data in `format`, beside the
// reference; checks every output and the running statistics.
void check_batch_norm_step(const std::vector<int64_t> &shape, MemoryFormat format,
                           BatchNormState &state, bool training,
                           std::optional<double> momentum, uint32_t seed,
                           float offset = 0.0f) {
    INFO((training ? "training" : "inference") << " step with seed " << seed);
    const int64_t channels = shape[1];
    const std::vector<float> input = ref::random_normal(ref::element_count(shape), seed, offset);
    const std::vector<float> input_memory = in_memory_order(input, shape, format);
    std::vector<float> output(input.size(), kSentinel);
    std::vector<float> save_mean(channels, kSentinel), save_invstd(channels, kSentinel);
    const std::vector<float> running_mean_before = state.running_mean;
    const std::vector<float> running_var_before = state.running_var;
    const int64_t num_batches_tracked_before = state.num_batches_tracked;

    const bool tracked = state.tracks_running_stats();
    const bool affine = !state.weight.empty();
    const TensorView running_mean = TensorView::of(state.running_mean.data(), {channels});
    const TensorView running_var = TensorView::of(state.running_var.data(), {channels});
    const TensorView weight = TensorView::of(state.weight.data(), {channels});
    const TensorView bias = TensorView::of(state.bias.data(), {channels});
    const TensorView save_mean_view = TensorView::of(save_mean.data(), {channels});
    const TensorView save_invstd_view = TensorView::of(save_invstd.data(), {channels});
    normgen::batch_norm(TensorView::of(input_memory.data(), shape, format),
                        tracked ? &running_mean : nullptr, tracked ? &running_var : nullptr,
                        affine ? &weight : nullptr, affine ? &bias : nullptr, training, momentum,
                        kEps, TensorView::of(output.data(), shape, format),
                        tracked ? &state.num_batches_tracked : nullptr,
                        training ? &save_mean_view : nullptr,
                        training ? &save_invstd_view : nullptr);

    const std::vector<double> weight64 = ref::to_double(state.weight);
    const std::vector<double> bias64 = ref::to_double(state.bias);
    const ref::BatchNormResult expected = ref::batch_norm_reference(
        ref::to_double(input), shape, tracked ? &state.reference : nullptr,
        affine ? &weight64 : nullptr, affine ? &bias64 : nullptr, training, momentum, kEps);
    const std::vector<float> y = in_logical_order(output, shape, format);
    if (offset == 0.0f) {
        INFO("y");
        ref::expect_close(y, expected.y, kAtol, kRtol);
    } else {
        INFO("y, on data far from zero");
        REQUIRE(training);
        const int64_t spatial = ref::element_count(shape) / (shape[0] * channels);
        CHECK(largest_error_in_deviations(y, expected.y, affine ? ref::max_abs(weight64) : 1.0,
                                          expected.save_invstd,
                                          [&](int64_t i) { return (i / spatial) % channels; }) <=
              kLargeOffsetError);
    }
    // Far from zero a relative bound on the mean would allow nonsense (1e-3
    // of 1e4); it gets the absolute bound its float32 storage permits.
    const double mean_atol = offset == 0.0f ? kAtol : kLargeOffsetError;
    const double mean_rtol = offset == 0.0f ? kRtol : 0.0;
    if (training) {
        INFO("save_mean and save_invstd");
        ref::expect_close(save_mean, expected.save_mean, mean_atol, mean_rtol);
        ref::expect_close(save_invstd, expected.save_invstd, kAtol, kRtol);
    }
    if (tracked && training) {
        INFO("running statistics, momentum "
             << (momentum ? std::to_string(*momentum) : "None (cumulative average)"));
        ref::expect_close(state.running_mean, state.reference.mean, mean_atol, mean_rtol);
        ref::expect_close(state.running_var, state.reference.var, kAtol, kRtol);
        CHECK(state.num_batches_tracked == state.reference.num_batches_tracked);
    } else {
        INFO("running statistics are left alone");
        CHECK(state.running_mean == running_mean_before);
        CHECK(state.running_var == running_var_before);
        CHECK(state.num_batches_tracked == num_batches_tracked_before);
    }
}

TEST_CASE("BatchNorm training over three batches matches the reference for every rank and layout") {
    const std::vector<int64_t> &shape = generate_batch_norm_shape();
    const MemoryFormat format = generate_memory_format();
    const bool affine = GENERATE(true, false);
    const bool track_running_stats = GENERATE(true, false);
    const std::optional<double> momentum = generate_momentum();
    INFO(describe(shape) << " " << name_of(format) << (affine ? ", affine" : ", no affine")
                         << (track_running_stats ? ", tracking" : ", not tracking")
                         << " running statistics");
    BatchNormState state(shape[1], affine, track_running_stats, 10);
    for (uint32_t step = 0; step < 3; ++step) {
        check_batch_norm_step(shape, format, state, true, momentum, 20 + step);
    }
    if (track_running_stats) {
        check_batch_norm_step(shape, format, state, false, momentum, 30);
    }
}

TEST_CASE("BatchNorm inference normalizes by the running statistics for every rank and layout") {
    const std::vector<int64_t> &shape = generate_batch_norm_shape();
    const MemoryFormat format = generate_memory_format();
    const bool affine = GENERATE(true, false);
    INFO(describe(shape) << " " << name_of(format) << (affine ? ", affine" : ", no affine"));
    BatchNormState state(shape[1], affine, true, 40);
    check_batch_norm_step(shape, format, state, false, 0.1, 50);
}

TEST_CASE("BatchNorm on a batch that spans many threads and blocks matches the reference") {
    const std::vector<int64_t> shape{8, 32, 17, 19};
    const MemoryFormat format = generate_memory_format();
    const int threads = GENERATE(1, 3);
    INFO(describe(shape) << " " << name_of(format) << " on " << threads << " threads");
    const ThreadCount thread_count(threads);
    BatchNormState state(shape[1], true, true, 60);
    check_batch_norm_step(shape, format, state, true, 0.1, 70);
    check_batch_norm_step(shape, format, state, true, 0.1, 71);
    check_batch_norm_step(shape, format, state, false, 0.1, 72);
}

TEST_CASE("BatchNorm matches the reference on every channel count up to 64") {
    // Channel counts across several vector widths (channels_last vectorizes
    // across channels, in loops of their own up to twice a block of
    // channel_vectors vectors), position counts on both sides of the
    // statistics' 64-position chunks, and a plane shorter than a vector
    // (channels_first).
    const MemoryFormat format = generate_memory_format();
    INFO(name_of(format));
    for (int64_t channels = 1; channels <= 64; ++channels) {
        for (const std::vector<int64_t> &shape : std::vector<std::vector<int64_t>>{
                 {2, channels, 7, 9}, {3, channels, 5}, {65, channels}}) {
            INFO(describe(shape));
            const auto seed = static_cast<uint32_t>(100 * channels + shape.size());
            BatchNormState state(channels, true, true, seed);
            check_batch_norm_step(shape, format, state, true, 0.1, seed + 10);
            check_batch_norm_step(shape, format, state, false, 0.1, seed + 11);
        }
    }
}

TEST_CASE("BatchNorm statistics stay accurate over many values per channel") {
    // 65392 values per channel, as many as the longest LayerNorm rows: the
    // statistics' float32 sums must keep PyTorch's tolerances over that
    // length too.
    const std::vector<int64_t> shape{16, 3, 61, 67};
    const MemoryFormat format = generate_memory_format();
    INFO(describe(shape) << " " << name_of(format));
    BatchNormState state(shape[1], true, true, 75);
    check_batch_norm_step(shape, format, state, true, 0.1, 76);
}

TEST_CASE("BatchNorm keeps its accuracy on data far from zero") {
    // y is held to kLargeOffsetError and the means to as much absolutely;
    // invstd and the variances, which do not see the offset, to PyTorch's
    // tolerances.
    const std::vector<int64_t> shape{6, 5, 9, 11};
    const MemoryFormat format = generate_memory_format();
    INFO(describe(shape) << " " << name_of(format) << " of 1e4 + N(0, 1)");
    BatchNormState state(shape[1], true, true, 80);
    state.running_mean.assign(shape[1], kLargeOffset);
    state.reference.mean.assign(shape[1], kLargeOffset);
    check_batch_norm_step(shape, format, state, true, 0.1, 90, kLargeOffset);
    check_batch_norm_step(shape, format, state, true, 0.1, 91, kLargeOffset);
}

// ---- BatchNorm modules -----------------------------------------------------------

// Runs three training forwards and then one in eval mode through `module`,
// beside the reference, checking the output, the saved statistics and the
// running statistics after each.
void check_batch_norm_module(normgen::BatchNorm &module, const std::vector<int64_t> &shape,
                             MemoryFormat format, uint32_t seed) {
    INFO(describe(shape) << " " << name_of(format));
    const int64_t channels = shape[1];
    const bool affine = module.weight().defined();
    const bool tracked = module.running_mean().defined();
    if (affine) {
        module.weight().values() = ref::random_normal(channels, seed);
        module.bias().values() = ref::random_normal(channels, seed + 1);
    }
    const std::vector<double> weight64 = affine ? ref::to_double(module.weight().values())
                                                : std::vector<double>{};
    const std::vector<double> bias64 = affine ? ref::to_double(module.bias().values())
                                              : std::vector<double>{};
    ref::RunningStatistics reference{std::vector<double>(channels, 0.0),
                                     std::vector<double>(channels, 1.0), 0};

    for (uint32_t step = 0; step < 4; ++step) {
        const bool training = step < 3;
        module.train(training);
        INFO((training ? "training" : "eval") << " step " << step);
        const std::vector<float> input =
            ref::random_normal(ref::element_count(shape), seed + 10 + step);
        const std::vector<float> input_memory = in_memory_order(input, shape, format);
        const normgen::Tensor output =
            module.forward(TensorView::of(input_memory.data(), shape, format));
        REQUIRE(output.shape() == shape);

        // Without running statistics torch normalizes by the batch in eval
        // mode too.
        const ref::BatchNormResult expected = ref::batch_norm_reference(
            ref::to_double(input), shape, tracked ? &reference : nullptr,
            affine ? &weight64 : nullptr, affine ? &bias64 : nullptr, training || !tracked,
            module.momentum(), module.eps());
        {
            INFO("y");
            ref::expect_close(in_logical_order(output.values(), shape, output.format()),
                              expected.y, kAtol, kRtol);
        }
        if (training) {
            INFO("saved_mean and saved_invstd");
            ref::expect_close(module.saved_mean().values(), expected.save_mean, kAtol, kRtol);
            ref::expect_close(module.saved_invstd().values(), expected.save_invstd, kAtol, kRtol);
        }
        if (tracked) {
            INFO("running statistics");
            ref::expect_close(module.running_mean().values(), reference.mean, kAtol, kRtol);
            ref::expect_close(module.running_var().values(), reference.var, kAtol, kRtol);
            CHECK(module.num_batches_tracked() == reference.num_batches_tracked);
        }
    }
}

TEST_CASE("BatchNorm statistics do not depend on the first elements being typical") {
    const MemoryFormat format = generate_memory_format();
    const std::vector<int64_t> shape{16, 3, 33, 31};
    const int64_t leading_outliers = GENERATE(1, 64);
    INFO(name_of(format) << " " << ref::element_count(shape) / 3
                         << " N(0, 1) values per channel led by " << leading_outliers << " of "
                         << kOutlier);
    const int64_t channels = shape[1], plane = 33 * 31;
    std::vector<float> input = ref::random_normal(ref::element_count(shape), 61);
    for (int64_t channel = 0; channel < channels; ++channel) {
        // sample 0, the first sites
        std::fill_n(input.begin() + channel * plane, leading_outliers, kOutlier);
    }
    const std::vector<float> input_memory = in_memory_order(input, shape, format);
    std::vector<float> output(input.size(), kSentinel);
    std::vector<float> save_mean(channels, kSentinel), save_invstd(channels, kSentinel);
    const TensorView save_mean_view = TensorView::of(save_mean.data(), {channels});
    const TensorView save_invstd_view = TensorView::of(save_invstd.data(), {channels});
    normgen::batch_norm(TensorView::of(input_memory.data(), shape, format), nullptr, nullptr,
                        nullptr, nullptr, true, 0.1, kEps,
                        TensorView::of(output.data(), shape, format), nullptr, &save_mean_view,
                        &save_invstd_view);
    const ref::BatchNormResult expected = ref::batch_norm_reference(
        ref::to_double(input), shape, nullptr, nullptr, nullptr, true, 0.1, kEps);
    ref::expect_close(in_logical_order(output, shape, format), expected.y, kAtol, kRtol);
    ref::expect_close(save_mean, expected.save_mean, kAtol, kRtol);
    ref::expect_close(save_invstd, expected.save_invstd, kAtol, kRtol);
}

TEST_CASE("BatchNorm modules start with torch's parameters and running statistics") {
    normgen::BatchNorm2d batch_norm(20);
    CHECK(batch_norm.num_features() == 20);
    CHECK(batch_norm.is_training());
    CHECK(batch_norm.eps() == kEps);
    CHECK(batch_norm.momentum() == std::optional<double>(0.1));
    CHECK(batch_norm.num_batches_tracked() == 0);
    CHECK(batch_norm.weight().values() == std::vector<float>(20, 1.0f));
    CHECK(batch_norm.bias().values() == std::vector<float>(20, 0.0f));
    CHECK(batch_norm.running_mean().values() == std::vector<float>(20, 0.0f));
    CHECK(batch_norm.running_var().values() == std::vector<float>(20, 1.0f));

    normgen::BatchNorm1d bare(20, kEps, 0.1, false, false);
    CHECK_FALSE(bare.weight().defined());
    CHECK_FALSE(bare.bias().defined());
    CHECK_FALSE(bare.running_mean().defined());
    CHECK_FALSE(bare.running_var().defined());
}

TEST_CASE("BatchNorm1d trains on (N C) and (N C L) then evaluates as the reference") {
    const MemoryFormat format = generate_memory_format();
    normgen::BatchNorm1d two_dimensional(3);
    check_batch_norm_module(two_dimensional, {7, 3}, format, 100);
    normgen::BatchNorm1d three_dimensional(20, kEps, 0.5);
    check_batch_norm_module(three_dimensional, {5, 20, 9}, format, 110);
}

TEST_CASE("BatchNorm2d and BatchNorm3d with a cumulative average count their batches") {
    const MemoryFormat format = generate_memory_format();
    normgen::BatchNorm2d two_d(20, kEps, std::nullopt);
    check_batch_norm_module(two_d, {3, 20, 7, 5}, format, 120);
    CHECK(two_d.num_batches_tracked() == 3);
    normgen::BatchNorm3d three_d(3, kEps, std::nullopt);
    check_batch_norm_module(three_d, {2, 3, 5, 7, 3}, format, 130);
    CHECK(three_d.num_batches_tracked() == 3);
}

TEST_CASE("BatchNorm modules without running statistics normalize by the batch in eval mode too") {
    const MemoryFormat format = generate_memory_format();
    const bool affine = GENERATE(true, false);
    INFO((affine ? "affine" : "no affine"));
    normgen::BatchNorm2d batch_norm(20, kEps, 0.1, affine, false);
    check_batch_norm_module(batch_norm, {3, 20, 7, 5}, format, 140);
}

TEST_CASE("BatchNorm module forward into a given output equals forward returning a tensor") {
    const std::vector<int64_t> shape{3, 20, 7, 5};
    const MemoryFormat format = generate_memory_format();
    INFO(name_of(format));
    normgen::BatchNorm2d returning(20), writing(20);
    const std::vector<float> input =
        in_memory_order(ref::random_normal(ref::element_count(shape), 150), shape, format);
    const TensorView input_view = TensorView::of(input.data(), shape, format);
    const normgen::Tensor returned = returning(input_view);
    normgen::Tensor written(shape, kSentinel, format);
    writing.forward(input_view, written.view());
    CHECK(in_logical_order(written.values(), shape, format) ==
          in_logical_order(returned.values(), shape, returned.format()));
    CHECK(writing.running_mean().values() == returning.running_mean().values());
    CHECK(writing.running_var().values() == returning.running_var().values());
    CHECK(writing.num_batches_tracked() == 1);
}

// ---- Dispatch --------------------------------------------------------------------

TEST_CASE("cpu_variant is the variant NORMGEN_CPU_VARIANT forces and one the CPU supports") {
    const std::vector<std::string> supported = normgen::supported_cpu_variants();
    REQUIRE_FALSE(supported.empty());
    // Best first, from the variants the build holds.
    const std::vector<std::string> every_variant{"avx512", "avx2", "sse41"};
    auto rank_of = [&](const std::string &variant) {
        return std::find(every_variant.begin(), every_variant.end(), variant) -
               every_variant.begin();
    };
    for (size_t i = 0; i < supported.size(); ++i) {
        INFO("supported variant " << i << ": " << supported[i]);
        CHECK(rank_of(supported[i]) < static_cast<long>(every_variant.size()));
        if (i > 0) {
            CHECK(rank_of(supported[i - 1]) < rank_of(supported[i]));
        }
    }

    const std::string variant = normgen::cpu_variant();
    CHECK(std::find(supported.begin(), supported.end(), variant) != supported.end());
    const char *forced = std::getenv("NORMGEN_CPU_VARIANT");
    if (forced && *forced) {
        CHECK(variant == forced);
    } else {
        CHECK(variant == supported.front());
    }
}

// ---- Backward against finite differences ----------------------------------------
//
// The gradient of the loss L = sum(y * grad_output), whose gradient with
// respect to y is grad_output, estimated by central differences of the
// float64 reference forward: (L(v + h) - L(v - h)) / 2h for each input
// value v. This checks the kernels against the definition of a gradient,
// not against a formula they might share with the reference.

constexpr double kStep = 1e-5;

template <typename Loss>
std::vector<double> finite_differences(std::vector<double> values, Loss loss) {
    std::vector<double> gradient(values.size());
    for (size_t i = 0; i < values.size(); ++i) {
        const double kept = values[i];
        values[i] = kept + kStep;
        const double up = loss(values);
        values[i] = kept - kStep;
        const double down = loss(values);
        values[i] = kept;
        gradient[i] = (up - down) / (2 * kStep);
    }
    return gradient;
}

double dot(const std::vector<double> &a, const std::vector<double> &b) {
    double sum = 0.0;
    for (size_t i = 0; i < a.size(); ++i) sum += a[i] * b[i];
    return sum;
}

TEST_CASE("LayerNorm backward matches central finite differences of the forward pass") {
    const int64_t rows = 3, row_length = 7;
    const std::vector<float> input = ref::random_normal(rows * row_length, 90);
    const std::vector<float> grad_output = ref::random_normal(rows * row_length, 91);
    const std::vector<float> weight = ref::random_normal(row_length, 92);
    const std::vector<float> bias = ref::random_normal(row_length, 93);
    const std::vector<double> x64 = ref::to_double(input), dy64 = ref::to_double(grad_output);
    const std::vector<double> w64 = ref::to_double(weight), b64 = ref::to_double(bias);
    const LayerNormOutputs forward =
        run_layer_norm(input, {rows, row_length}, {row_length}, &weight, &bias, {rows});

    std::vector<float> grad_input(input.size(), kSentinel), grad_weight(row_length, kSentinel),
        grad_bias(row_length, kSentinel);
    const TensorView weight_view = TensorView::of(weight.data(), {row_length});
    const TensorView grad_input_view = TensorView::of(grad_input.data(), {rows, row_length});
    const TensorView grad_weight_view = TensorView::of(grad_weight.data(), {row_length});
    const TensorView grad_bias_view = TensorView::of(grad_bias.data(), {row_length});
    normgen::layer_norm_backward(TensorView::of(grad_output.data(), {rows, row_length}),
                                 TensorView::of(input.data(), {rows, row_length}), {row_length},
                                 TensorView::of(forward.mean.data(), {rows}),
                                 TensorView::of(forward.rstd.data(), {rows}), &weight_view,
                                 &grad_input_view, &grad_weight_view, &grad_bias_view);

    auto loss = [&](const std::vector<double> &x, const std::vector<double> &w,
                    const std::vector<double> &b) {
        return dot(ref::layer_norm_reference(x, rows, row_length, &w, &b, kEps).y, dy64);
    };
    const double atol = 1e-4, rtol = 1e-3;
    {
        INFO("grad_input");
        ref::expect_close(grad_input, finite_differences(x64, [&](auto &x) { return loss(x, w64, b64); }),
                          atol, rtol);
    }
    {
        INFO("grad_weight");
        ref::expect_close(grad_weight, finite_differences(w64, [&](auto &w) { return loss(x64, w, b64); }),
                          atol, rtol);
    }
    {
        INFO("grad_bias");
        ref::expect_close(grad_bias, finite_differences(b64, [&](auto &b) { return loss(x64, w64, b); }),
                          atol, rtol);
    }
}

TEST_CASE("BatchNorm backward matches central finite differences of the forward pass") {
    const bool training = GENERATE(true, false);
    const MemoryFormat format = generate_memory_format();
    INFO((training ? "training" : "evaluation") << ", " << name_of(format));
    const std::vector<int64_t> shape{4, 3, 5};
    const int64_t channels = 3, count = 60;
    const std::vector<float> input = ref::random_normal(count, 94);
    const std::vector<float> grad_output = ref::random_normal(count, 95);
    const std::vector<float> weight = ref::random_normal(channels, 96);
    const std::vector<float> bias = ref::random_normal(channels, 97);
    std::vector<float> running_mean = ref::random_normal(channels, 98);
    std::vector<float> running_var = ref::random_normal(channels, 99);
    for (float &var : running_var) var = 0.5f + var * var;
    const std::vector<double> x64 = ref::to_double(input), dy64 = ref::to_double(grad_output);
    const std::vector<double> w64 = ref::to_double(weight), b64 = ref::to_double(bias);
    const ref::RunningStatistics running{ref::to_double(running_mean), ref::to_double(running_var), 0};

    // The saved statistics of the training forward pass, from the kernel.
    std::vector<float> output(count), save_mean(channels), save_invstd(channels);
    const TensorView save_mean_view = TensorView::of(save_mean.data(), {channels});
    const TensorView save_invstd_view = TensorView::of(save_invstd.data(), {channels});
    const std::vector<float> input_memory = in_memory_order(input, shape, format);
    const std::vector<float> grad_output_memory = in_memory_order(grad_output, shape, format);
    const TensorView input_view = TensorView::of(input_memory.data(), shape, format);
    normgen::batch_norm(input_view, nullptr, nullptr, nullptr, nullptr, true, 0.1, kEps,
                        TensorView::of(output.data(), shape, format), nullptr, &save_mean_view,
                        &save_invstd_view);

    std::vector<float> grad_input(count, kSentinel), grad_weight(channels, kSentinel),
        grad_bias(channels, kSentinel);
    const TensorView weight_view = TensorView::of(weight.data(), {channels});
    const TensorView running_mean_view = TensorView::of(running_mean.data(), {channels});
    const TensorView running_var_view = TensorView::of(running_var.data(), {channels});
    const TensorView grad_input_view = TensorView::of(grad_input.data(), shape, format);
    const TensorView grad_weight_view = TensorView::of(grad_weight.data(), {channels});
    const TensorView grad_bias_view = TensorView::of(grad_bias.data(), {channels});
    normgen::batch_norm_backward(TensorView::of(grad_output_memory.data(), shape, format),
                                 input_view, &weight_view, training ? nullptr : &running_mean_view,
                                 training ? nullptr : &running_var_view,
                                 training ? &save_mean_view : nullptr,
                                 training ? &save_invstd_view : nullptr, training, kEps,
                                 &grad_input_view, &grad_weight_view, &grad_bias_view);

    auto loss = [&](const std::vector<double> &x, const std::vector<double> &w,
                    const std::vector<double> &b) {
        ref::RunningStatistics constants = running;
        return dot(ref::batch_norm_reference(x, shape, training ? nullptr : &constants, &w, &b,
                                             training, 0.1, kEps)
                       .y,
                   dy64);
    };
    const double atol = 1e-4, rtol = 1e-3;
    {
        INFO("grad_input");
        ref::expect_close(in_logical_order(grad_input, shape, format),
                          finite_differences(x64, [&](auto &x) { return loss(x, w64, b64); }),
                          atol, rtol);
    }
    {
        INFO("grad_weight and grad_bias");
        ref::expect_close(grad_weight, finite_differences(w64, [&](auto &w) { return loss(x64, w, b64); }),
                          atol, rtol);
        ref::expect_close(grad_bias, finite_differences(b64, [&](auto &b) { return loss(x64, w64, b); }),
                          atol, rtol);
    }
}

TEST_CASE("Module backward accumulates parameter gradients until zero_grad, as torch's .grad") {
    const std::vector<float> input = ref::random_normal(5 * 12, 100);
    const std::vector<float> grad_output = ref::random_normal(5 * 12, 101);
    const TensorView input_view = TensorView::of(input.data(), {5, 12});
    const TensorView grad_output_view = TensorView::of(grad_output.data(), {5, 12});
    const std::vector<double> dy64 = ref::to_double(grad_output), x64 = ref::to_double(input);
    SECTION("LayerNorm") {
        normgen::LayerNorm layer_norm({12});
        layer_norm.weight().values() = ref::random_normal(12, 102);
        layer_norm.forward(input_view);
        const normgen::Tensor grad_input = layer_norm.backward(input_view, grad_output_view);
        const std::vector<double> w64 = ref::to_double(layer_norm.weight().values());
        const ref::LayerNormGradients expected =
            ref::layer_norm_backward_reference(dy64, x64, 5, 12, &w64, kEps);
        ref::expect_close(grad_input.values(), expected.grad_input, 1e-4, 1e-3);
        ref::expect_close(layer_norm.weight_grad().values(), expected.grad_weight, 1e-4, 1e-3);
        layer_norm.backward(input_view, grad_output_view);
        std::vector<double> twice = expected.grad_bias;
        for (double &value : twice) value *= 2;
        ref::expect_close(layer_norm.bias_grad().values(), twice, 1e-4, 1e-3);
        layer_norm.zero_grad();
        CHECK(layer_norm.bias_grad().values() == std::vector<float>(12, 0.0f));
    }
    SECTION("BatchNorm1d, training then evaluation") {
        normgen::BatchNorm1d batch_norm(12);
        batch_norm.forward(input_view);
        const normgen::Tensor grad_input = batch_norm.backward(input_view, grad_output_view);
        const ref::BatchNormGradients expected = ref::batch_norm_backward_reference(
            dy64, x64, {5, 12}, nullptr, nullptr, true, kEps);
        ref::expect_close(grad_input.values(), expected.grad_input, 1e-4, 1e-3);
        ref::expect_close(batch_norm.weight_grad().values(), expected.grad_weight, 1e-4, 1e-3);
        batch_norm.eval();
        batch_norm.zero_grad();
        batch_norm.forward(input_view);
        const normgen::Tensor eval_grad = batch_norm.backward(input_view, grad_output_view);
        const ref::RunningStatistics running{ref::to_double(batch_norm.running_mean().values()),
                                             ref::to_double(batch_norm.running_var().values()), 1};
        const ref::BatchNormGradients expected_eval = ref::batch_norm_backward_reference(
            dy64, x64, {5, 12}, &running, nullptr, false, kEps);
        ref::expect_close(eval_grad.values(), expected_eval.grad_input, 1e-4, 1e-3);
        ref::expect_close(batch_norm.bias_grad().values(), expected_eval.grad_bias, 1e-4, 1e-3);
    }
}

}  // namespace
