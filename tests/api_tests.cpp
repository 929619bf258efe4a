// The C++ API's argument checks and tensor helpers. Each invalid call must
// (a) throw normgen::Error, (b) say what was expected and what was given,
// as PyTorch does, and (c) write nothing: every output, save and running
// buffer still holds its sentinel, num_batches_tracked is unchanged.
//
// Each test spoils one argument of an otherwise valid call. Buffers are
// larger than the views over them, so that a call that wrongly proceeds
// writes into checked memory rather than past its end.

#include <catch2/catch.hpp>
#include <normgen/normgen.hpp>

#include "expect_close.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iterator>
#include <limits>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

using normgen::DType;
using normgen::Device;
using normgen::MemoryFormat;
using normgen::TensorView;
using Catch::Matchers::Contains;
namespace ref = normgen::reference;

constexpr float kSentinel = 12345.0f;

bool all_sentinel(const std::vector<float> &values) {
    return std::all_of(values.begin(), values.end(), [](float v) { return v == kSentinel; });
}

// Runs `call`, which must throw normgen::Error with every fragment in its
// message.
template <typename Call>
void check_rejected(Call &&call, const std::vector<std::string> &fragments) {
    try {
        call();
    } catch (const normgen::Error &error) {
        const std::string message = error.what();
        INFO("message: " << message);
        for (const std::string &fragment : fragments) {
            CHECK_THAT(message, Contains(fragment));
        }
        return;
    }
    FAIL_CHECK("no normgen::Error was thrown");
}

// ---- layer_norm ------------------------------------------------------------------

// A valid layer_norm over an input [20, 5, 10] normalized over [10].
struct LayerNormCall {
    std::vector<float> input = ref::random_normal(2000, 1);
    std::vector<float> weight = ref::random_normal(20, 2);
    std::vector<float> bias = ref::random_normal(20, 3);
    std::vector<float> output = std::vector<float>(2000, kSentinel);
    std::vector<float> mean = std::vector<float>(200, kSentinel);
    std::vector<float> rstd = std::vector<float>(200, kSentinel);

    TensorView input_view = TensorView::of(input.data(), {20, 5, 10});
    std::vector<int64_t> normalized_shape{10};
    TensorView weight_view = TensorView::of(weight.data(), {10});
    TensorView bias_view = TensorView::of(bias.data(), {10});
    double eps = 1e-5;
    TensorView output_view = TensorView::of(output.data(), {20, 5, 10});
    TensorView mean_view = TensorView::of(mean.data(), {20, 5});
    TensorView rstd_view = TensorView::of(rstd.data(), {20, 5});

    void operator()() const {
        normgen::layer_norm(input_view, normalized_shape, &weight_view, &bias_view, eps,
                            output_view, &mean_view, &rstd_view);
    }
    bool wrote_nothing() const {
        return all_sentinel(output) && all_sentinel(mean) && all_sentinel(rstd);
    }
};

void check_layer_norm_rejected(const LayerNormCall &call,
                               const std::vector<std::string> &fragments) {
    check_rejected(call, fragments);
    CHECK(call.wrote_nothing());
}

TEST_CASE("The unspoiled layer_norm call of these tests succeeds") {
    LayerNormCall call;
    call();
    CHECK(std::none_of(call.output.begin(), call.output.begin() + 1000,
                       [](float v) { return v == kSentinel; }));
}

TEST_CASE("layer_norm rejects an input whose shape does not end in normalized_shape") {
    LayerNormCall call;
    call.normalized_shape = {5};
    check_layer_norm_rejected(call, {"normalized_shape=[5]", "[*, 5]", "[20, 5, 10]"});
}

TEST_CASE("layer_norm rejects a normalized_shape of higher rank than the input") {
    LayerNormCall call;
    call.normalized_shape = {3, 20, 5, 10};
    check_layer_norm_rejected(call, {"[3, 20, 5, 10]", "[20, 5, 10]"});
}

TEST_CASE("layer_norm rejects an empty normalized_shape") {
    LayerNormCall call;
    call.normalized_shape = {};
    check_layer_norm_rejected(call, {"normalized_shape", "at least one dimension", "[]"});
}

TEST_CASE("layer_norm rejects weight and bias not of normalized_shape") {
    LayerNormCall call;
    SECTION("weight of fewer elements") {
        call.weight_view = TensorView::of(call.weight.data(), {5});
        check_layer_norm_rejected(call, {"weight", "[10]", "[5]"});
    }
    SECTION("weight of another rank") {
        call.weight_view = TensorView::of(call.weight.data(), {1, 10});
        check_layer_norm_rejected(call, {"weight", "[10]", "[1, 10]"});
    }
    SECTION("bias of more elements") {
        call.bias_view = TensorView::of(call.bias.data(), {11});
        check_layer_norm_rejected(call, {"bias", "[10]", "[11]"});
    }
}

TEST_CASE("layer_norm rejects an output not of the input's shape") {
    LayerNormCall call;
    SECTION("same rank") {
        call.output_view = TensorView::of(call.output.data(), {20, 5, 9});
        check_layer_norm_rejected(call, {"output", "[20, 5, 10]", "[20, 5, 9]"});
    }
    SECTION("same elements, another rank") {
        call.output_view = TensorView::of(call.output.data(), {100, 10});
        check_layer_norm_rejected(call, {"output", "[20, 5, 10]", "[100, 10]"});
    }
}

TEST_CASE("layer_norm rejects mean and rstd not of one value per row") {
    LayerNormCall call;
    SECTION("mean") {
        call.mean_view = TensorView::of(call.mean.data(), {20, 4});
        check_layer_norm_rejected(call, {"mean", "[20, 5]", "[20, 5, 1]", "[20, 4]"});
    }
    SECTION("rstd, right count but flat") {
        call.rstd_view = TensorView::of(call.rstd.data(), {100});
        check_layer_norm_rejected(call, {"rstd", "[20, 5]", "[100]"});
    }
}

TEST_CASE("layer_norm rejects a non-contiguous input or output") {
    LayerNormCall call;
    SECTION("input with its last two dimensions transposed") {
        call.input_view.strides = {50, 1, 5};
        check_layer_norm_rejected(call, {"contiguous", "[20, 5, 10]", "[50, 1, 5]", "[50, 10, 1]"});
    }
    SECTION("output with every other row") {
        call.output_view.strides = {100, 20, 1};
        check_layer_norm_rejected(call, {"contiguous", "output", "[100, 20, 1]"});
    }
}

TEST_CASE("layer_norm rejects strides that do not match the shape's rank") {
    LayerNormCall call;
    call.input_view.strides = {50, 10};
    check_layer_norm_rejected(call, {"input", "[20, 5, 10]", "[50, 10]"});
}

TEST_CASE("layer_norm rejects null data for a tensor with elements") {
    LayerNormCall call;
    SECTION("input") {
        call.input_view.data = nullptr;
        check_layer_norm_rejected(call, {"input", "null", "1000 elements", "[20, 5, 10]"});
    }
    SECTION("output") {
        call.output_view.data = nullptr;
        check_layer_norm_rejected(call, {"output", "null"});
    }
}

TEST_CASE("layer_norm rejects tensors of another dtype than the input's, and 16-bit statistics") {
    LayerNormCall call;
    SECTION("float16 input, float32 weight") {
        call.input_view.dtype = DType::float16;
        check_layer_norm_rejected(call, {"expected weight", "float16", "like the input",
                                         "got a float32 tensor"});
    }
    SECTION("float16 output") {
        call.output_view.dtype = DType::float16;
        check_layer_norm_rejected(call, {"expected output", "float32", "got a float16 tensor"});
    }
    SECTION("bfloat16 weight") {
        call.weight_view.dtype = DType::bfloat16;
        check_layer_norm_rejected(call, {"expected weight", "float32", "got a bfloat16 tensor"});
    }
    SECTION("float16 mean") {
        call.mean_view.dtype = DType::float16;
        check_layer_norm_rejected(call, {"expected mean", "float32", "statistics are float32",
                                         "got a float16 tensor"});
    }
    SECTION("a dtype that does not exist") {
        call.input_view.dtype = static_cast<DType>(7);
        check_layer_norm_rejected(call, {"input", "dtype 7", "float32 (0), float16 (1) or bfloat16 (2)"});
    }
}

TEST_CASE("layer_norm rejects tensors on another device than the input's") {
    LayerNormCall call;
    SECTION("input on cuda, the rest on cpu") {
        call.input_view.device = Device::cuda;
        check_layer_norm_rejected(call, {"expected weight on cuda", "got a float32 tensor on cpu"});
    }
    SECTION("rstd on cuda") {
        call.rstd_view.device = Device::cuda;
        check_layer_norm_rejected(call, {"expected rstd on cpu", "tensor on cuda"});
    }
}

TEST_CASE("layer_norm rejects an eps that is negative or not a number") {
    LayerNormCall call;
    SECTION("negative") {
        call.eps = -1e-5;
        check_layer_norm_rejected(call, {"eps", ">= 0", "-1e-05"});
    }
    SECTION("NaN") {
        call.eps = std::numeric_limits<double>::quiet_NaN();
        check_layer_norm_rejected(call, {"eps", "nan"});
    }
    SECTION("infinite") {
        call.eps = std::numeric_limits<double>::infinity();
        check_layer_norm_rejected(call, {"eps", "inf"});
    }
}

TEST_CASE("layer_norm rejects an output that overlaps its input") {
    LayerNormCall call;
    const std::vector<float> input_before = call.input;
    call.output_view.data = call.input.data();
    check_rejected(call, {"output", "overlaps", "input"});
    CHECK(call.input == input_before);
    CHECK(all_sentinel(call.mean));
}

TEST_CASE("LayerNorm module rejects a bad configuration and a bad input") {
    check_rejected([] { normgen::LayerNorm({}); }, {"normalized_shape", "[]"});
    check_rejected([] { normgen::LayerNorm({10}, -1.0); }, {"eps", "-1"});

    normgen::LayerNorm layer_norm({5, 10});
    const std::vector<float> input = ref::random_normal(20 * 5 * 9, 4);
    check_rejected([&] { layer_norm(TensorView::of(input.data(), {20, 5, 9})); },
                   {"[5, 10]", "[20, 5, 9]"});
    CHECK(layer_norm.weight().values() == std::vector<float>(50, 1.0f));
}

// ---- batch_norm ------------------------------------------------------------------

// A valid training batch_norm over a contiguous input [4, 3, 5, 7] that
// updates running statistics (momentum 0.1) and saves its statistics.
struct BatchNormCall {
    static constexpr int64_t kRoom = 16;  // per-channel buffers hold this many

    std::vector<float> input = ref::random_normal(840, 5);
    std::vector<float> output = std::vector<float>(840, kSentinel);
    std::vector<float> running_mean = std::vector<float>(kRoom, kSentinel);
    std::vector<float> running_var = std::vector<float>(kRoom, kSentinel);
    std::vector<float> weight = ref::random_normal(kRoom, 6);
    std::vector<float> bias = ref::random_normal(kRoom, 7);
    std::vector<float> save_mean = std::vector<float>(kRoom, kSentinel);
    std::vector<float> save_invstd = std::vector<float>(kRoom, kSentinel);
    int64_t num_batches_tracked = 7;

    TensorView input_view = TensorView::of(input.data(), {4, 3, 5, 7});
    TensorView running_mean_view = TensorView::of(running_mean.data(), {3});
    TensorView running_var_view = TensorView::of(running_var.data(), {3});
    TensorView weight_view = TensorView::of(weight.data(), {3});
    TensorView bias_view = TensorView::of(bias.data(), {3});
    TensorView output_view = TensorView::of(output.data(), {4, 3, 5, 7});
    TensorView save_mean_view = TensorView::of(save_mean.data(), {3});
    TensorView save_invstd_view = TensorView::of(save_invstd.data(), {3});
    bool training = true;
    std::optional<double> momentum = 0.1;
    double eps = 1e-5;
    bool pass_running_mean = true;
    bool pass_running_var = true;
    bool pass_num_batches_tracked = true;

    // Views every tensor argument as `shape`'s input with C channels.
    void reshape(const std::vector<int64_t> &shape) {
        input_view = TensorView::of(input.data(), shape);
        output_view = TensorView::of(output.data(), shape);
        const std::vector<int64_t> channels{shape.size() > 1 ? shape[1] : 1};
        for (TensorView *per_channel : {&running_mean_view, &running_var_view, &weight_view,
                                        &bias_view, &save_mean_view, &save_invstd_view}) {
            per_channel->shape = channels;
        }
    }

    void operator()() {
        normgen::batch_norm(input_view, pass_running_mean ? &running_mean_view : nullptr,
                            pass_running_var ? &running_var_view : nullptr, &weight_view,
                            &bias_view, training, momentum, eps, output_view,
                            pass_num_batches_tracked ? &num_batches_tracked : nullptr,
                            &save_mean_view, &save_invstd_view);
    }
    bool wrote_nothing() const {
        return all_sentinel(output) && all_sentinel(running_mean) && all_sentinel(running_var) &&
               all_sentinel(save_mean) && all_sentinel(save_invstd) && num_batches_tracked == 7;
    }
};

void check_batch_norm_rejected(BatchNormCall &call, const std::vector<std::string> &fragments) {
    check_rejected(call, fragments);
    CHECK(call.wrote_nothing());
}

TEST_CASE("The unspoiled batch_norm call of these tests succeeds") {
    BatchNormCall call;
    call();
    CHECK(call.num_batches_tracked == 8);
    CHECK(call.running_mean[0] != kSentinel);
    CHECK(call.save_invstd[2] != kSentinel);
}

TEST_CASE("batch_norm rejects inputs of rank 1 and rank 6") {
    BatchNormCall call;
    SECTION("rank 1") {
        call.reshape({840});
        check_batch_norm_rejected(call, {"rank 2 to 5", "rank 1", "[840]"});
    }
    SECTION("rank 6") {
        call.reshape({4, 3, 5, 7, 1, 2});
        check_batch_norm_rejected(call, {"rank 2 to 5", "rank 6", "[4, 3, 5, 7, 1, 2]"});
    }
}

TEST_CASE("batch_norm rejects per-channel tensors of another channel count") {
    BatchNormCall call;
    const int which = GENERATE(0, 1, 2, 3, 4, 5);
    struct Spoiled {
        TensorView *view;
        const char *name;
    };
    const Spoiled spoiled[] = {{&call.weight_view, "weight"},
                               {&call.bias_view, "bias"},
                               {&call.running_mean_view, "running_mean"},
                               {&call.running_var_view, "running_var"},
                               {&call.save_mean_view, "save_mean"},
                               {&call.save_invstd_view, "save_invstd"}};
    spoiled[which].view->shape = {4};
    check_batch_norm_rejected(call, {spoiled[which].name, "[3]", "[4]", "[4, 3, 5, 7]"});
}

TEST_CASE("batch_norm rejects training on one value per channel as torch does") {
    BatchNormCall call;
    call.reshape({1, 10});
    check_batch_norm_rejected(call, {"more than 1 value per channel when training", "[1, 10]"});
}

TEST_CASE("batch_norm rejects inference without running statistics") {
    BatchNormCall call;
    call.training = false;
    call.pass_running_mean = false;
    call.pass_running_var = false;
    check_batch_norm_rejected(call, {"running_mean", "running_var", "null"});
}

TEST_CASE("batch_norm rejects running_mean without running_var") {
    BatchNormCall call;
    call.pass_running_var = false;
    check_batch_norm_rejected(call, {"running_mean and running_var", "only running_mean"});
}

TEST_CASE("batch_norm rejects an output in another layout than the input") {
    BatchNormCall call;
    call.output_view =
        TensorView::of(call.output.data(), {4, 3, 5, 7}, MemoryFormat::channels_last);
    check_batch_norm_rejected(call, {"layout", "[105, 35, 7, 1]", "[105, 1, 21, 3]"});
}

TEST_CASE("batch_norm rejects a cumulative average without num_batches_tracked") {
    BatchNormCall call;
    call.momentum = std::nullopt;
    call.pass_num_batches_tracked = false;
    check_batch_norm_rejected(call, {"momentum=None", "num_batches_tracked"});
}

TEST_CASE("batch_norm rejects an input neither contiguous nor channels-last") {
    BatchNormCall call;
    SECTION("height and width transposed") {
        call.input_view.strides = {105, 35, 1, 5};
        check_batch_norm_rejected(
            call, {"contiguous or channels-last", "[105, 35, 1, 5]", "[105, 35, 7, 1]",
                   "[105, 1, 21, 3]"});
    }
    SECTION("samples with a gap between them") {
        call.input_view.strides = {210, 35, 7, 1};
        check_batch_norm_rejected(call, {"contiguous or channels-last", "[210, 35, 7, 1]"});
    }
}

TEST_CASE("batch_norm rejects a wrong dtype or device and null data or a NaN eps or momentum") {
    BatchNormCall call;
    SECTION("float16 input, float32 output") {
        call.input_view.dtype = DType::float16;
        check_batch_norm_rejected(call, {"expected output", "float16", "got a float32 tensor"});
    }
    SECTION("bfloat16 running_var") {
        call.running_var_view.dtype = DType::bfloat16;
        check_batch_norm_rejected(call, {"expected running_var", "float32",
                                         "statistics are float32", "got a bfloat16 tensor"});
    }
    SECTION("running_mean on cuda") {
        call.running_mean_view.device = Device::cuda;
        check_batch_norm_rejected(call, {"expected running_mean on cpu", "tensor on cuda"});
    }
    SECTION("null weight data") {
        call.weight_view.data = nullptr;
        check_batch_norm_rejected(call, {"weight", "null"});
    }
    SECTION("NaN eps") {
        call.eps = std::nan("");
        check_batch_norm_rejected(call, {"eps", "nan"});
    }
    SECTION("NaN momentum") {
        call.momentum = std::nan("");
        check_batch_norm_rejected(call, {"momentum", "nan"});
    }
}

TEST_CASE("batch_norm on cuda rejects more channels than a grid column holds") {
    // Validation comes before CUDA is touched, so this holds without a GPU.
    std::vector<float> memory(2 * 70000);
    const TensorView input = TensorView::of(memory.data(), DType::float32, Device::cuda, {2, 70000});
    check_rejected([&] {
        normgen::batch_norm(input, nullptr, nullptr, nullptr, nullptr, true, 0.1, 1e-5, input);
    }, {"at most 65535 channels", "[2, 70000]"});
}

TEST_CASE("batch_norm rejects an output that overlaps its input or running statistics") {
    BatchNormCall call;
    const std::vector<float> input_before = call.input;
    SECTION("output over input") {
        call.output_view.data = call.input.data();
        check_rejected(call, {"output", "overlaps", "input"});
    }
    SECTION("save_mean over running_mean") {
        call.save_mean_view.data = call.running_mean.data();
        check_rejected(call, {"save_mean", "overlaps", "running_mean"});
    }
    CHECK(call.input == input_before);
    CHECK(all_sentinel(call.running_mean));
    CHECK(call.num_batches_tracked == 7);
}

TEST_CASE("BatchNorm modules reject inputs of another rank or channel count") {
    const std::vector<float> input = ref::random_normal(840, 8);
    normgen::BatchNorm2d batch_norm_2d(3);
    check_rejected([&] { batch_norm_2d(TensorView::of(input.data(), {4, 3, 35})); },
                   {"BatchNorm2d", "4D", "3D", "[4, 3, 35]"});
    normgen::BatchNorm1d batch_norm_1d(5);
    check_rejected([&] { batch_norm_1d(TensorView::of(input.data(), {4, 3, 70})); },
                   {"BatchNorm1d", "5", "[4, 3, 70]"});
    normgen::BatchNorm3d batch_norm_3d(3);
    check_rejected([&] { batch_norm_3d(TensorView::of(input.data(), {4, 3, 5, 7})); },
                   {"BatchNorm3d", "5D", "[4, 3, 5, 7]"});
    for (normgen::BatchNorm *module :
         std::initializer_list<normgen::BatchNorm *>{&batch_norm_2d, &batch_norm_1d,
                                                     &batch_norm_3d}) {
        CHECK(module->num_batches_tracked() == 0);
        CHECK(module->running_mean().values() ==
              std::vector<float>(module->num_features(), 0.0f));
        CHECK(module->running_var().values() ==
              std::vector<float>(module->num_features(), 1.0f));
    }
}

TEST_CASE("BatchNorm modules reject a bad configuration") {
    check_rejected([] { normgen::BatchNorm2d(0); }, {"num_features", "0"});
    check_rejected([] { normgen::BatchNorm1d(3, -1.0); }, {"eps", "-1"});
    check_rejected([] { normgen::BatchNorm3d(3, 1e-5, std::nan("")); }, {"momentum", "nan"});
}

// ---- Tensors and execution -------------------------------------------------------

TEST_CASE("TensorView::of gives the strides of each memory format") {
    float data = 0.0f;
    CHECK(TensorView::of(&data, {2, 3, 4, 5}).strides == std::vector<int64_t>{60, 20, 5, 1});
    CHECK(TensorView::of(&data, {2, 3, 4, 5}, MemoryFormat::channels_last).strides ==
          std::vector<int64_t>{60, 1, 15, 3});
    // Rank 3 channels-last is (N, L, C) in memory.
    CHECK(TensorView::of(&data, {2, 3, 4}, MemoryFormat::channels_last).strides ==
          std::vector<int64_t>{12, 1, 3});
    CHECK(TensorView::of(&data, {2, 3, 4, 5, 6}, MemoryFormat::channels_last).strides ==
          std::vector<int64_t>{360, 1, 90, 18, 3});
    const TensorView view = TensorView::of(&data, {2, 3, 4, 5});
    CHECK(view.data == &data);
    CHECK(view.dtype == DType::float32);
    CHECK(view.device == Device::cpu);
    CHECK(view.dim() == 4);
    CHECK(view.numel() == 120);
}

TEST_CASE("TensorView tells contiguous and channels-last strides apart") {
    float data = 0.0f;
    TensorView view = TensorView::of(&data, {2, 3, 4, 5});
    CHECK(view.is_contiguous());
    CHECK_FALSE(view.is_channels_last());

    view.strides = {60, 1, 15, 3};
    CHECK_FALSE(view.is_contiguous());
    CHECK(view.is_channels_last());

    view.strides = {60, 20, 1, 4};  // height and width transposed
    CHECK_FALSE(view.is_contiguous());
    CHECK_FALSE(view.is_channels_last());

    view.strides = {120, 20, 5, 1};  // a gap between samples
    CHECK_FALSE(view.is_contiguous());
    CHECK_FALSE(view.is_channels_last());

    // (N, C) has its channel innermost either way.
    const TensorView matrix = TensorView::of(&data, {4, 3});
    CHECK(matrix.is_contiguous());
    CHECK(matrix.is_channels_last());

    // As torch: the stride of a dimension of size 1 is never used.
    view.shape = {2, 1, 3};
    view.strides = {3, 99, 1};
    CHECK(view.is_contiguous());
}

TEST_CASE("Tensor owns float32 values of its shape in its format") {
    const normgen::Tensor absent;
    CHECK_FALSE(absent.defined());

    const normgen::Tensor filled({2, 3, 4}, 1.5f, MemoryFormat::channels_last);
    CHECK(filled.defined());
    CHECK(filled.shape() == std::vector<int64_t>{2, 3, 4});
    CHECK(filled.numel() == 24);
    CHECK(filled.values() == std::vector<float>(24, 1.5f));
    CHECK(filled.format() == MemoryFormat::channels_last);
    const TensorView view = filled.view();
    CHECK(view.data == filled.data());
    CHECK(view.strides == std::vector<int64_t>{12, 1, 3});

    // A scalar is defined, though it has no dimensions.
    const normgen::Tensor scalar({}, 2.0f);
    CHECK(scalar.defined());
    CHECK(scalar.numel() == 1);
}

TEST_CASE("dtype and device names are the ones the messages use") {
    CHECK(std::string(normgen::to_string(DType::float32)) == "float32");
    CHECK(std::string(normgen::to_string(DType::float16)) == "float16");
    CHECK(std::string(normgen::to_string(DType::bfloat16)) == "bfloat16");
    CHECK(std::string(normgen::to_string(Device::cpu)) == "cpu");
    CHECK(std::string(normgen::to_string(Device::cuda)) == "cuda");
}

TEST_CASE("set_num_threads(1) leaves the kernels on the calling thread, after 2 threads too") {
    // This program starts no threads of its own: every thread beyond the
    // first is the kernels' pool.
    auto threads_in_process = [] {
        return std::distance(std::filesystem::directory_iterator("/proc/self/task"),
                             std::filesystem::directory_iterator{});
    };
    const std::vector<float> input = ref::random_normal(256 * 1024, 4);
    std::vector<float> output(input.size());
    auto run_layer_norm = [&] {
        normgen::layer_norm(TensorView::of(input.data(), {256, 1024}), {1024}, nullptr, nullptr,
                            1e-5, TensorView::of(output.data(), {256, 1024}));
    };
    normgen::set_num_threads(2);
    run_layer_norm();
    normgen::set_num_threads(1);
    run_layer_norm();
    CHECK(threads_in_process() == 1);
    normgen::set_num_threads(static_cast<int>(std::thread::hardware_concurrency()));
}

TEST_CASE("set_num_threads rejects fewer than one thread") {
    check_rejected([] { normgen::set_num_threads(0); }, {"n >= 1", "0"});
    check_rejected([] { normgen::set_num_threads(-2); }, {"n >= 1", "-2"});
    normgen::set_num_threads(static_cast<int>(std::thread::hardware_concurrency()));
}

TEST_CASE("set_cpu_variant moves later calls to a supported variant and refuses the rest") {
    const std::vector<std::string> supported = normgen::supported_cpu_variants();
    REQUIRE_FALSE(supported.empty());
    const std::vector<float> input = ref::random_normal(5 * 77, 9);
    const ref::LayerNormResult expected =
        ref::layer_norm_reference(ref::to_double(input), 5, 77, nullptr, nullptr, 1e-5);
    for (const std::string &variant : supported) {
        INFO("variant " << variant);
        normgen::set_cpu_variant(variant);
        CHECK(normgen::cpu_variant() == variant);
        std::vector<float> output(input.size(), kSentinel);
        normgen::layer_norm(TensorView::of(input.data(), {5, 77}), {77}, nullptr, nullptr, 1e-5,
                            TensorView::of(output.data(), {5, 77}));
        ref::expect_close(output, expected.y, 1e-5, 1e-3);
    }

    normgen::set_cpu_variant(supported.back());
    check_rejected([] { normgen::set_cpu_variant("avx1024"); },
                   {"avx1024", "names no CPU variant", "expected one of: avx512, avx2, sse41"});
    for (const std::string &variant : {"avx512", "avx2", "sse41"}) {
        if (std::find(supported.begin(), supported.end(), variant) == supported.end()) {
            check_rejected([&] { normgen::set_cpu_variant(variant); },
                           {variant, "cannot run on this CPU", "it supports: " + supported.front()});
        }
    }
    INFO("a refused variant leaves the previous choice in place");
    CHECK(normgen::cpu_variant() == supported.back());
    normgen::set_cpu_variant("");
    CHECK(normgen::cpu_variant() == supported.front());
}

TEST_CASE("LayerNorm row class follows the row length unless forced") {
    using normgen::LayerNormRowClass;
    CHECK(normgen::layer_norm_row_class(3) == LayerNormRowClass::short_rows);
    CHECK(normgen::layer_norm_row_class(8) == LayerNormRowClass::vector_rows);
    CHECK(normgen::layer_norm_row_class(17) == LayerNormRowClass::short_rows);
    CHECK(normgen::layer_norm_row_class(63) == LayerNormRowClass::short_rows);
    CHECK(normgen::layer_norm_row_class(64) == LayerNormRowClass::vector_rows);
    CHECK(normgen::layer_norm_row_class(65) == LayerNormRowClass::long_rows);
    CHECK(normgen::layer_norm_row_class(72) == LayerNormRowClass::long_rows);
    INFO("vector_rows takes float32 only");
    CHECK(normgen::layer_norm_row_class(16, Device::cpu, DType::float16) ==
          LayerNormRowClass::short_rows);
    CHECK(normgen::layer_norm_row_class(64, Device::cpu, DType::bfloat16) ==
          LayerNormRowClass::long_rows);
    CHECK(normgen::layer_norm_row_class(2047) == LayerNormRowClass::long_rows);
    CHECK(normgen::layer_norm_row_class(2048) == LayerNormRowClass::wide_rows);
    CHECK(normgen::layer_norm_row_class(65535) == LayerNormRowClass::wide_rows);
    CHECK(normgen::layer_norm_row_class(65536) == LayerNormRowClass::split_rows);
    normgen::testing::force_layer_norm_row_class(LayerNormRowClass::long_rows);
    CHECK(normgen::layer_norm_row_class(3) == LayerNormRowClass::long_rows);
    normgen::testing::force_layer_norm_row_class(LayerNormRowClass::split_rows);
    CHECK(normgen::layer_norm_row_class(3) == LayerNormRowClass::split_rows);
    normgen::testing::force_layer_norm_row_class(LayerNormRowClass::short_rows);
    CHECK(normgen::layer_norm_row_class(65537) == LayerNormRowClass::short_rows);
    normgen::testing::force_layer_norm_row_class(LayerNormRowClass::wide_rows);
    CHECK(normgen::layer_norm_row_class(3) == LayerNormRowClass::wide_rows);
    normgen::testing::force_layer_norm_row_class(LayerNormRowClass::vector_rows);
    CHECK(normgen::layer_norm_row_class(3) == LayerNormRowClass::vector_rows);
    normgen::testing::force_layer_norm_row_class(std::nullopt);
    CHECK(normgen::layer_norm_row_class(3) == LayerNormRowClass::short_rows);

    INFO("cuda: a warp per row up to 1024 elements, then a block; CPU classes are not forced");
    CHECK(normgen::layer_norm_row_class(3, Device::cuda) == LayerNormRowClass::warp_per_row);
    CHECK(normgen::layer_norm_row_class(1024, Device::cuda) == LayerNormRowClass::warp_per_row);
    CHECK(normgen::layer_norm_row_class(1025, Device::cuda) == LayerNormRowClass::block_per_row);
    normgen::testing::force_layer_norm_row_class(LayerNormRowClass::long_rows);
    CHECK(normgen::layer_norm_row_class(3, Device::cuda) == LayerNormRowClass::warp_per_row);
    normgen::testing::force_layer_norm_row_class(LayerNormRowClass::block_per_row);
    CHECK(normgen::layer_norm_row_class(3, Device::cuda) == LayerNormRowClass::block_per_row);
    CHECK(normgen::layer_norm_row_class(3) == LayerNormRowClass::short_rows);
    normgen::testing::force_layer_norm_row_class(std::nullopt);
}

// ---- Backward ----------------------------------------------------------------------

TEST_CASE("layer_norm_backward rejects mismatched gradients and statistics, writing nothing") {
    std::vector<float> input = ref::random_normal(4 * 6, 40), grad_output(4 * 6, 1.0f);
    std::vector<float> mean(4, 0.0f), rstd(4, 1.0f);
    std::vector<float> grad_input(4 * 6, kSentinel), grad_weight(6, kSentinel);
    const TensorView input_view = TensorView::of(input.data(), {4, 6});
    const TensorView mean_view = TensorView::of(mean.data(), {4});
    const TensorView rstd_view = TensorView::of(rstd.data(), {4});
    TensorView grad_output_view = TensorView::of(grad_output.data(), {4, 6});
    TensorView grad_input_view = TensorView::of(grad_input.data(), {4, 6});
    TensorView grad_weight_view = TensorView::of(grad_weight.data(), {6});
    TensorView stats_view = mean_view;
    auto call = [&] {
        normgen::layer_norm_backward(grad_output_view, input_view, {6}, stats_view, rstd_view,
                                     nullptr, &grad_input_view, &grad_weight_view);
    };
    SECTION("grad_output of another shape") {
        grad_output_view = TensorView::of(grad_output.data(), {6, 4});
        check_rejected(call, {"expected grad_output of shape [4, 6]", "got [6, 4]"});
    }
    SECTION("grad_weight of another shape") {
        grad_weight_view = TensorView::of(grad_weight.data(), {3});
        check_rejected(call, {"expected grad_weight of shape [6]", "normalized_shape", "got [3]"});
    }
    SECTION("statistics of another row count") {
        stats_view = TensorView::of(mean.data(), {3});
        check_rejected(call, {"expected mean of shape [4]", "one value per row", "got [3]"});
    }
    SECTION("grad_input in place over grad_output") {
        grad_input_view = grad_output_view;
        check_rejected(call, {"grad_input overlaps grad_output"});
    }
    CHECK(all_sentinel(grad_input));
    CHECK(all_sentinel(grad_weight));
}

TEST_CASE("batch_norm_backward needs the statistics its mode normalized with") {
    std::vector<float> input = ref::random_normal(4 * 3 * 5, 41), grad_output(60, 1.0f);
    std::vector<float> stats(3, 1.0f), grad_input(60, kSentinel);
    const TensorView input_view = TensorView::of(input.data(), {4, 3, 5});
    const TensorView grad_output_view = TensorView::of(grad_output.data(), {4, 3, 5});
    const TensorView stats_view = TensorView::of(stats.data(), {3});
    const TensorView grad_input_view = TensorView::of(grad_input.data(), {4, 3, 5});
    SECTION("training without save_invstd") {
        check_rejected([&] {
            normgen::batch_norm_backward(grad_output_view, input_view, nullptr, nullptr, nullptr,
                                         &stats_view, nullptr, true, 1e-5, &grad_input_view);
        }, {"training mode needs save_mean and save_invstd"});
    }
    SECTION("evaluation without running statistics") {
        check_rejected([&] {
            normgen::batch_norm_backward(grad_output_view, input_view, nullptr, nullptr, nullptr,
                                         &stats_view, &stats_view, false, 1e-5, &grad_input_view);
        }, {"evaluation mode needs running_mean and running_var"});
    }
    SECTION("grad_input in another layout") {
        const TensorView nhwc = TensorView::of(grad_input.data(), {4, 3, 5},
                                               MemoryFormat::channels_last);
        check_rejected([&] {
            normgen::batch_norm_backward(grad_output_view, input_view, nullptr, nullptr, nullptr,
                                         &stats_view, &stats_view, true, 1e-5, &nhwc);
        }, {"expected grad_input in the input's memory layout"});
    }
    CHECK(all_sentinel(grad_input));
}

TEST_CASE("Module backward without a forward call says so") {
    normgen::LayerNorm layer_norm({6});
    std::vector<float> input(12, 1.0f);
    const TensorView view = TensorView::of(input.data(), {2, 6});
    check_rejected([&] { layer_norm.backward(view, view); }, {"forward has not run"});
    normgen::BatchNorm1d batch_norm(6);
    check_rejected([&] { batch_norm.backward(view, view); }, {"forward has not run"});
}

// ---- CUDA ------------------------------------------------------------------------

TEST_CASE("cuda_stream is per thread, and CudaStreamGuard restores the previous stream") {
    int stream_a = 0, stream_b = 0;  // stand-ins: only their addresses are used
    CHECK(normgen::cuda_stream() == nullptr);
    {
        normgen::CudaStreamGuard outer(&stream_a);
        CHECK(normgen::cuda_stream() == &stream_a);
        {
            normgen::CudaStreamGuard inner(&stream_b);
            CHECK(normgen::cuda_stream() == &stream_b);
            void *other_thread_stream = &stream_a;
            std::thread([&] { other_thread_stream = normgen::cuda_stream(); }).join();
            CHECK(other_thread_stream == nullptr);
        }
        CHECK(normgen::cuda_stream() == &stream_a);
    }
    CHECK(normgen::cuda_stream() == nullptr);
}

TEST_CASE("Where CUDA cannot run, calls on cuda tensors say why and the CPU keeps working") {
    std::string reason;
    if (normgen::cuda_available(&reason)) {
        WARN("not applicable: CUDA can run here (the GPU tests cover it)");
        return;
    }
    CHECK_THAT(reason, Catch::Matchers::StartsWith("CUDA unavailable: "));
    // Host memory labelled cuda: no call may get far enough to touch it.
    LayerNormCall call;
    for (TensorView *view : {&call.input_view, &call.weight_view, &call.bias_view,
                             &call.output_view, &call.mean_view, &call.rstd_view}) {
        view->device = Device::cuda;
    }
    try {
        call();
        FAIL_CHECK("no normgen::CudaUnavailable was thrown");
    } catch (const normgen::CudaUnavailable &error) {
        CHECK(std::string(error.what()) == reason);
    }
    CHECK(call.wrote_nothing());

    BatchNormCall batch_norm_call;
    for (TensorView *view :
         {&batch_norm_call.input_view, &batch_norm_call.output_view,
          &batch_norm_call.running_mean_view, &batch_norm_call.running_var_view,
          &batch_norm_call.weight_view, &batch_norm_call.bias_view,
          &batch_norm_call.save_mean_view, &batch_norm_call.save_invstd_view}) {
        view->device = Device::cuda;
    }
    CHECK_THROWS_AS(batch_norm_call(), normgen::CudaUnavailable);
    CHECK(batch_norm_call.wrote_nothing());

    INFO("the CPU path still runs");
    LayerNormCall cpu_call;
    cpu_call();
    CHECK_FALSE(cpu_call.wrote_nothing());
}

}  // namespace
