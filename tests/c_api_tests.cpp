// The C ABI (normgen.h) against the C++ API it wraps: the same results to
// the last bit, status codes instead of exceptions, a per-thread message
// that says what was wrong, and nothing written on failure.

#include <catch2/catch.hpp>
#include <normgen/normgen.h>
#include <normgen/normgen.hpp>

#include "expect_close.hpp"

#include <cmath>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

using normgen::MemoryFormat;
using normgen::TensorView;
using Catch::Matchers::Contains;
namespace ref = normgen::reference;

constexpr float kSentinel = 12345.0f;
constexpr double kEps = 1e-5;

// A C view of float32 CPU data; `shape` (and `strides`, NULL meaning
// contiguous) must outlive it.
normgen_tensor c_tensor(float *data, const std::vector<int64_t> &shape,
                        const std::vector<int64_t> *strides = nullptr) {
    return {data,
            NORMGEN_FLOAT32,
            NORMGEN_CPU,
            static_cast<int32_t>(shape.size()),
            shape.data(),
            strides ? strides->data() : nullptr};
}

std::string last_error() { return normgen_last_error(); }

TEST_CASE("C layer_norm equals the C++ layer_norm") {
    const std::vector<int64_t> shape{7, 31}, normalized_shape{31}, rows{7};
    std::vector<float> input = ref::random_normal(7 * 31, 1);
    std::vector<float> weight = ref::random_normal(31, 2), bias = ref::random_normal(31, 3);

    std::vector<float> output(input.size(), kSentinel), mean(7, kSentinel), rstd(7, kSentinel);
    const std::vector<int64_t> output_strides{31, 1};
    const normgen_tensor c_input = c_tensor(input.data(), shape);
    const normgen_tensor c_weight = c_tensor(weight.data(), normalized_shape);
    const normgen_tensor c_bias = c_tensor(bias.data(), normalized_shape);
    const normgen_tensor c_output = c_tensor(output.data(), shape, &output_strides);
    const normgen_tensor c_mean = c_tensor(mean.data(), rows);
    const normgen_tensor c_rstd = c_tensor(rstd.data(), rows);
    REQUIRE(normgen_layer_norm(&c_input, normalized_shape.data(), 1, &c_weight, &c_bias, kEps,
                               &c_output, &c_mean, &c_rstd) == NORMGEN_OK);
    CHECK(last_error().empty());

    std::vector<float> expected_output(input.size(), kSentinel), expected_mean(7, kSentinel),
        expected_rstd(7, kSentinel);
    const TensorView weight_view = TensorView::of(weight.data(), normalized_shape);
    const TensorView bias_view = TensorView::of(bias.data(), normalized_shape);
    const TensorView mean_view = TensorView::of(expected_mean.data(), rows);
    const TensorView rstd_view = TensorView::of(expected_rstd.data(), rows);
    normgen::layer_norm(TensorView::of(input.data(), shape), normalized_shape, &weight_view,
                        &bias_view, kEps, TensorView::of(expected_output.data(), shape),
                        &mean_view, &rstd_view);
    CHECK(output == expected_output);
    CHECK(mean == expected_mean);
    CHECK(rstd == expected_rstd);

    SECTION("without optional arguments") {
        std::vector<float> bare_output(input.size(), kSentinel);
        const normgen_tensor c_bare_output = c_tensor(bare_output.data(), shape);
        REQUIRE(normgen_layer_norm(&c_input, normalized_shape.data(), 1, nullptr, nullptr, kEps,
                                   &c_bare_output, nullptr, nullptr) == NORMGEN_OK);
        const ref::LayerNormResult reference =
            ref::layer_norm_reference(ref::to_double(input), 7, 31, nullptr, nullptr, kEps);
        ref::expect_close(bare_output, reference.y, 1e-5, 1e-3);
    }
}

// What one batch_norm call reads and writes, C++ and C calls each getting a
// copy.
struct BatchNormBuffers {
    std::vector<float> output, running_mean, running_var, save_mean, save_invstd;
    int64_t num_batches_tracked = 0;

    explicit BatchNormBuffers(int64_t elements, int64_t channels)
        : output(elements, kSentinel), running_mean(ref::random_normal(channels, 11)),
          running_var(channels, 2.0f), save_mean(channels, kSentinel),
          save_invstd(channels, kSentinel) {}

    bool operator==(const BatchNormBuffers &other) const {
        return output == other.output && running_mean == other.running_mean &&
               running_var == other.running_var && save_mean == other.save_mean &&
               save_invstd == other.save_invstd &&
               num_batches_tracked == other.num_batches_tracked;
    }
};

TEST_CASE("C batch_norm equals the C++ batch_norm in both modes and layouts") {
    const std::vector<int64_t> shape{3, 20, 7, 5}, channels{20};
    const MemoryFormat format = GENERATE(MemoryFormat::contiguous, MemoryFormat::channels_last);
    INFO((format == MemoryFormat::contiguous ? "contiguous" : "channels_last"));
    std::vector<float> input = ref::random_normal(3 * 20 * 7 * 5, 12);
    std::vector<float> weight = ref::random_normal(20, 13), bias = ref::random_normal(20, 14);
    const TensorView input_view = TensorView::of(input.data(), shape, format);
    // Contiguous through NULL strides, channels-last through explicit ones.
    const std::vector<int64_t> channels_last_strides = input_view.strides;
    const std::vector<int64_t> *strides =
        format == MemoryFormat::channels_last ? &channels_last_strides : nullptr;

    BatchNormBuffers c_side(static_cast<int64_t>(input.size()), 20);
    BatchNormBuffers cpp_side = c_side;
    for (int step = 0; step < 3; ++step) {
        const bool training = step < 2;
        INFO((training ? "training" : "inference") << " step " << step);
        // NaN momentum is torch's momentum=None, a cumulative average.
        const double c_momentum = step == 0 ? 0.1 : std::nan("");
        const std::optional<double> momentum =
            step == 0 ? std::optional<double>(0.1) : std::nullopt;

        const normgen_tensor c_input = c_tensor(input.data(), shape, strides);
        const normgen_tensor c_output = c_tensor(c_side.output.data(), shape, strides);
        const normgen_tensor c_running_mean = c_tensor(c_side.running_mean.data(), channels);
        const normgen_tensor c_running_var = c_tensor(c_side.running_var.data(), channels);
        const normgen_tensor c_weight = c_tensor(weight.data(), channels);
        const normgen_tensor c_bias = c_tensor(bias.data(), channels);
        const normgen_tensor c_save_mean = c_tensor(c_side.save_mean.data(), channels);
        const normgen_tensor c_save_invstd = c_tensor(c_side.save_invstd.data(), channels);
        REQUIRE(normgen_batch_norm(&c_input, &c_running_mean, &c_running_var, &c_weight, &c_bias,
                                   training, c_momentum, kEps, &c_output,
                                   &c_side.num_batches_tracked, training ? &c_save_mean : nullptr,
                                   training ? &c_save_invstd : nullptr) == NORMGEN_OK);
        CHECK(last_error().empty());

        const TensorView running_mean = TensorView::of(cpp_side.running_mean.data(), channels);
        const TensorView running_var = TensorView::of(cpp_side.running_var.data(), channels);
        const TensorView weight_view = TensorView::of(weight.data(), channels);
        const TensorView bias_view = TensorView::of(bias.data(), channels);
        const TensorView save_mean = TensorView::of(cpp_side.save_mean.data(), channels);
        const TensorView save_invstd = TensorView::of(cpp_side.save_invstd.data(), channels);
        normgen::batch_norm(input_view, &running_mean, &running_var, &weight_view, &bias_view,
                            training, momentum, kEps,
                            TensorView::of(cpp_side.output.data(), shape, format),
                            &cpp_side.num_batches_tracked, training ? &save_mean : nullptr,
                            training ? &save_invstd : nullptr);
        CHECK(c_side == cpp_side);
    }
    CHECK(c_side.num_batches_tracked == 2);
}

TEST_CASE("A failed C call says why and writes nothing and the next success clears the message") {
    const std::vector<int64_t> shape{20, 5, 10}, bad_normalized_shape{5};
    std::vector<float> input = ref::random_normal(1000, 15);
    std::vector<float> output(1000, kSentinel), mean(100, kSentinel);
    const std::vector<int64_t> rows{20, 5};
    const normgen_tensor c_input = c_tensor(input.data(), shape);
    const normgen_tensor c_output = c_tensor(output.data(), shape);
    const normgen_tensor c_mean = c_tensor(mean.data(), rows);

    CHECK(normgen_layer_norm(&c_input, bad_normalized_shape.data(), 1, nullptr, nullptr, kEps,
                             &c_output, &c_mean, nullptr) == NORMGEN_INVALID_ARGUMENT);
    CHECK_THAT(last_error(), Contains("[20, 5, 10]") && Contains("normalized_shape=[5]"));
    CHECK(output == std::vector<float>(1000, kSentinel));
    CHECK(mean == std::vector<float>(100, kSentinel));

    const std::vector<int64_t> normalized_shape{10};
    CHECK(normgen_layer_norm(&c_input, normalized_shape.data(), 1, nullptr, nullptr, kEps,
                             &c_output, &c_mean, nullptr) == NORMGEN_OK);
    CHECK(last_error().empty());
}

TEST_CASE("C batch_norm rejects a cumulative average without num_batches_tracked") {
    const std::vector<int64_t> shape{4, 3, 5}, channels{3};
    std::vector<float> input = ref::random_normal(60, 16);
    std::vector<float> output(60, kSentinel), running_mean(3, kSentinel),
        running_var(3, kSentinel);
    const normgen_tensor c_input = c_tensor(input.data(), shape);
    const normgen_tensor c_output = c_tensor(output.data(), shape);
    const normgen_tensor c_running_mean = c_tensor(running_mean.data(), channels);
    const normgen_tensor c_running_var = c_tensor(running_var.data(), channels);
    CHECK(normgen_batch_norm(&c_input, &c_running_mean, &c_running_var, nullptr, nullptr, 1,
                             std::nan(""), kEps, &c_output, nullptr, nullptr,
                             nullptr) == NORMGEN_INVALID_ARGUMENT);
    CHECK_THAT(last_error(), Contains("num_batches_tracked") && Contains("momentum=None"));
    CHECK(output == std::vector<float>(60, kSentinel));
    CHECK(running_mean == std::vector<float>(3, kSentinel));
    CHECK(running_var == std::vector<float>(3, kSentinel));
}

TEST_CASE("C calls reject malformed C views") {
    const std::vector<int64_t> shape{4, 10}, normalized_shape{10};
    std::vector<float> input = ref::random_normal(40, 17), output(40, kSentinel);
    const normgen_tensor c_input = c_tensor(input.data(), shape);
    const normgen_tensor c_output = c_tensor(output.data(), shape);
    SECTION("a NULL input") {
        CHECK(normgen_layer_norm(nullptr, normalized_shape.data(), 1, nullptr, nullptr, kEps,
                                 &c_output, nullptr, nullptr) == NORMGEN_INVALID_ARGUMENT);
        CHECK_THAT(last_error(), Contains("input") && Contains("NULL"));
    }
    SECTION("a negative rank") {
        normgen_tensor negative = c_input;
        negative.rank = -1;
        CHECK(normgen_layer_norm(&negative, normalized_shape.data(), 1, nullptr, nullptr, kEps,
                                 &c_output, nullptr, nullptr) == NORMGEN_INVALID_ARGUMENT);
        CHECK_THAT(last_error(), Contains("input") && Contains("rank -1"));
    }
    SECTION("a NULL normalized_shape of nonzero rank") {
        CHECK(normgen_layer_norm(&c_input, nullptr, 1, nullptr, nullptr, kEps, &c_output, nullptr,
                                 nullptr) == NORMGEN_INVALID_ARGUMENT);
        CHECK_THAT(last_error(), Contains("normalized_shape"));
    }
    SECTION("a float16 input") {
        normgen_tensor half = c_input;
        half.dtype = NORMGEN_FLOAT16;
        CHECK(normgen_layer_norm(&half, normalized_shape.data(), 1, nullptr, nullptr, kEps,
                                 &c_output, nullptr, nullptr) == NORMGEN_INVALID_ARGUMENT);
        CHECK_THAT(last_error(), Contains("float16") && Contains("float32"));
    }
    CHECK(output == std::vector<float>(40, kSentinel));
}

TEST_CASE("The C error message belongs to the thread whose call failed") {
    const std::vector<int64_t> shape{4, 10}, normalized_shape{10}, bad_normalized_shape{3};
    std::vector<float> input = ref::random_normal(40, 18), output(40, kSentinel);
    const normgen_tensor c_input = c_tensor(input.data(), shape);
    const normgen_tensor c_output = c_tensor(output.data(), shape);
    REQUIRE(normgen_layer_norm(&c_input, normalized_shape.data(), 1, nullptr, nullptr, kEps,
                               &c_output, nullptr, nullptr) == NORMGEN_OK);
    std::string other_thread_error;
    std::thread failing([&] {
        normgen_layer_norm(&c_input, bad_normalized_shape.data(), 1, nullptr, nullptr, kEps,
                           &c_output, nullptr, nullptr);
        other_thread_error = normgen_last_error();
    });
    failing.join();
    CHECK_THAT(other_thread_error, Contains("normalized_shape=[3]"));
    CHECK(last_error().empty());
}

TEST_CASE("C cpu_variant, set_cpu_variant and set_num_threads agree with the C++ API") {
    CHECK(std::string(normgen_cpu_variant()) == normgen::cpu_variant());
    const std::string worst = normgen::supported_cpu_variants().back();
    CHECK(normgen_set_cpu_variant(worst.c_str()) == NORMGEN_OK);
    CHECK(std::string(normgen_cpu_variant()) == worst);
    CHECK(normgen_set_cpu_variant("avx1024") == NORMGEN_INVALID_ARGUMENT);
    CHECK_THAT(last_error(), Contains("avx1024") && Contains("expected one of"));
    CHECK(normgen_set_cpu_variant(nullptr) == NORMGEN_INVALID_ARGUMENT);
    CHECK_THAT(last_error(), Contains("NULL"));
    CHECK(normgen_set_cpu_variant("") == NORMGEN_OK);
    CHECK(std::string(normgen_cpu_variant()) == normgen::supported_cpu_variants().front());
    CHECK(normgen_set_num_threads(0) == NORMGEN_INVALID_ARGUMENT);
    CHECK_THAT(last_error(), Contains("n >= 1") && Contains("0"));
    CHECK(normgen_set_num_threads(static_cast<int>(std::thread::hardware_concurrency())) ==
          NORMGEN_OK);
    CHECK(last_error().empty());
}

}  // namespace

TEST_CASE("C calls on cuda tensors where CUDA cannot run return NORMGEN_CUDA_UNAVAILABLE") {
    if (normgen_cuda_available()) {
        WARN("not applicable: CUDA can run here (the GPU tests cover it)");
        return;
    }
    const std::string reason = last_error();
    CHECK_THAT(reason, Catch::Matchers::StartsWith("CUDA unavailable: "));
    const std::vector<int64_t> shape{3, 8}, normalized_shape{8};
    std::vector<float> input = ref::random_normal(24, 16), output(24, kSentinel);
    normgen_tensor c_input = c_tensor(input.data(), shape);
    normgen_tensor c_output = c_tensor(output.data(), shape);
    c_input.device = NORMGEN_CUDA;
    c_output.device = NORMGEN_CUDA;
    int stream = 0;
    normgen_set_cuda_stream(&stream);
    CHECK(normgen_cuda_stream() == &stream);
    CHECK(normgen_layer_norm(&c_input, normalized_shape.data(), 1, nullptr, nullptr, kEps,
                             &c_output, nullptr, nullptr) == NORMGEN_CUDA_UNAVAILABLE);
    CHECK(last_error() == reason);
    CHECK(output == std::vector<float>(24, kSentinel));
    normgen_set_cuda_stream(nullptr);
}

TEST_CASE("C backward calls equal the C++ ones") {
    const std::vector<int64_t> shape{4, 6}, normalized_shape{6}, rows{4}, channels{6};
    std::vector<float> input = ref::random_normal(24, 17), grad_output = ref::random_normal(24, 18);
    std::vector<float> weight = ref::random_normal(6, 19), mean(4), rstd(4), output(24);
    std::vector<float> c_grad(24, kSentinel), c_grad_weight(6, kSentinel);
    std::vector<float> cpp_grad(24, kSentinel), cpp_grad_weight(6, kSentinel);
    const TensorView input_view = TensorView::of(input.data(), shape);
    const TensorView mean_view = TensorView::of(mean.data(), rows);
    const TensorView rstd_view = TensorView::of(rstd.data(), rows);
    normgen::layer_norm(input_view, normalized_shape, nullptr, nullptr, kEps,
                        TensorView::of(output.data(), shape), &mean_view, &rstd_view);

    const normgen_tensor c_grad_output = c_tensor(grad_output.data(), shape);
    const normgen_tensor c_input = c_tensor(input.data(), shape);
    const normgen_tensor c_mean = c_tensor(mean.data(), rows), c_rstd = c_tensor(rstd.data(), rows);
    const normgen_tensor c_weight = c_tensor(weight.data(), normalized_shape);
    const normgen_tensor c_grad_input = c_tensor(c_grad.data(), shape);
    const normgen_tensor c_grad_weight_tensor = c_tensor(c_grad_weight.data(), normalized_shape);
    REQUIRE(normgen_layer_norm_backward(&c_grad_output, &c_input, normalized_shape.data(), 1,
                                        &c_mean, &c_rstd, &c_weight, &c_grad_input,
                                        &c_grad_weight_tensor, nullptr) == NORMGEN_OK);
    const TensorView weight_view = TensorView::of(weight.data(), normalized_shape);
    const TensorView cpp_grad_view = TensorView::of(cpp_grad.data(), shape);
    const TensorView cpp_grad_weight_view = TensorView::of(cpp_grad_weight.data(), normalized_shape);
    normgen::layer_norm_backward(TensorView::of(grad_output.data(), shape), input_view,
                                 normalized_shape, mean_view, rstd_view, &weight_view,
                                 &cpp_grad_view, &cpp_grad_weight_view);
    CHECK(c_grad == cpp_grad);
    CHECK(c_grad_weight == cpp_grad_weight);

    INFO("batch_norm_backward in evaluation mode without running statistics is refused");
    CHECK(normgen_batch_norm_backward(&c_grad_output, &c_input, nullptr, nullptr, nullptr,
                                      nullptr, nullptr, 0, kEps, &c_grad_input, nullptr,
                                      nullptr) == NORMGEN_INVALID_ARGUMENT);
    CHECK_THAT(last_error(), Contains("evaluation mode needs running_mean and running_var"));
}
