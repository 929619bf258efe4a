// Every kernel in every dtype on one device against the float64 reference.
// CTest runs this program on the CPU once per CPU variant (forced through
// NORMGEN_CPU_VARIANT) and once on CUDA (NORMGEN_TEST_DEVICE=cuda), which
// skips with the reason where CUDA cannot run. kernel_tests.cpp covers the
// float32 CPU kernels in depth; this file covers what each dtype and device
// adds: conversions in and out, float32 statistics, the CUDA schedules.
//
// Inputs are rounded to the dtype first, and the reference runs on the
// rounded values, so that the tolerance only has to cover the kernel's own
// float32 arithmetic and the rounding of its output.

#include <catch2/catch.hpp>
#include <normgen/normgen.hpp>

#include "device_memory.hpp"
#include "expect_close.hpp"
#include "forced_row_class.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace {

using normgen::Device;
using normgen::DType;
using normgen::LayerNormRowClass;
using normgen::MemoryFormat;
using normgen::TensorView;
using normgen::testing::ForcedRowClass;
using normgen::testing::DeviceMemory;
namespace ref = normgen::reference;

constexpr double kEps = 1e-5;

Device device_under_test() {
    const char *device = std::getenv("NORMGEN_TEST_DEVICE");
    return device && std::string(device) == "cuda" ? Device::cuda : Device::cpu;
}

// ---- Element types -------------------------------------------------------------

size_t element_size(DType dtype) { return dtype == DType::float32 ? 4 : 2; }

uint16_t to_bfloat16(float value) {
    uint32_t bits;
    std::memcpy(&bits, &value, 4);
    if (value != value) return 0x7FC0;
    return static_cast<uint16_t>((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
}

float from_bfloat16(uint16_t stored) {
    const uint32_t bits = static_cast<uint32_t>(stored) << 16;
    float value;
    std::memcpy(&value, &bits, 4);
    return value;
}

// `values` in dtype's memory representation.
std::vector<uint8_t> encode(const std::vector<float> &values, DType dtype) {
    std::vector<uint8_t> bytes(values.size() * element_size(dtype));
    for (size_t i = 0; i < values.size(); ++i) {
        uint8_t *at = &bytes[i * element_size(dtype)];
        if (dtype == DType::float32) {
            std::memcpy(at, &values[i], 4);
        } else if (dtype == DType::float16) {
            const _Float16 half = static_cast<_Float16>(values[i]);
            std::memcpy(at, &half, 2);
        } else {
            const uint16_t stored = to_bfloat16(values[i]);
            std::memcpy(at, &stored, 2);
        }
    }
    return bytes;
}

std::vector<float> decode(const std::vector<uint8_t> &bytes, DType dtype) {
    std::vector<float> values(bytes.size() / element_size(dtype));
    for (size_t i = 0; i < values.size(); ++i) {
        const uint8_t *at = &bytes[i * element_size(dtype)];
        if (dtype == DType::float32) {
            std::memcpy(&values[i], at, 4);
        } else if (dtype == DType::float16) {
            _Float16 half;
            std::memcpy(&half, at, 2);
            values[i] = static_cast<float>(half);
        } else {
            uint16_t stored;
            std::memcpy(&stored, at, 2);
            values[i] = from_bfloat16(stored);
        }
    }
    return values;
}

// The values dtype can hold nearest to `values`.
std::vector<float> rounded(const std::vector<float> &values, DType dtype) {
    return decode(encode(values, dtype), dtype);
}

// The tolerance of an output stored in dtype: PyTorch's for float32, and
// for 16-bit outputs twice the relative rounding of the format (float16
// keeps 11 significant bits, bfloat16 8).
struct Tolerance {
    double atol, rtol;
};
Tolerance output_tolerance(DType dtype) {
    switch (dtype) {
    case DType::float32: return {1e-5, 1e-3};
    case DType::float16: return {2e-3, 2e-3};
    case DType::bfloat16: return {1.6e-2, 1.6e-2};
    }
    return {0, 0};
}
// Statistics are float32 whatever the dtype.
constexpr Tolerance kStatistics{1e-5, 1e-3};

DType generate_dtype() { return GENERATE(DType::float32, DType::float16, DType::bfloat16); }

// A tensor on the device under test, filled from host values.
struct DeviceTensor {
    DeviceTensor(const std::vector<float> &values, DType dtype, std::vector<int64_t> shape,
                 MemoryFormat format = MemoryFormat::contiguous)
        : dtype(dtype), memory(device_under_test(), values.size() * element_size(dtype)),
          view(TensorView::of(memory.data(), dtype, device_under_test(), std::move(shape), format)) {
        const std::vector<uint8_t> bytes = encode(values, dtype);
        memory.upload(bytes.data(), bytes.size());
    }
    std::vector<float> values() const {
        std::vector<uint8_t> bytes(static_cast<size_t>(view.numel()) * element_size(dtype));
        memory.download(bytes.data(), bytes.size());
        return decode(bytes, dtype);
    }
    DType dtype;
    DeviceMemory memory;
    TensorView view;
};

// Output memory starts as this value, so that a skipped element never
// passes for a correct one.
constexpr float kSentinel = 12345.0f;

std::vector<float> sentinels(int64_t count) { return std::vector<float>(count, kSentinel); }

// ---- LayerNorm -----------------------------------------------------------------

std::vector<LayerNormRowClass> row_classes_of(Device device) {
    if (device == Device::cuda) {
        return {LayerNormRowClass::warp_per_row, LayerNormRowClass::block_per_row};
    }
    return normgen::testing::cpu_row_classes;
}

void check_layer_norm(int64_t rows, int64_t row_length, DType dtype, bool has_weight,
                      bool has_bias, uint32_t seed) {
    INFO("rows " << rows << " x " << row_length << ", " << normgen::to_string(dtype)
                 << (has_weight ? ", weight" : "") << (has_bias ? ", bias" : ""));
    const std::vector<float> input = rounded(ref::random_normal(rows * row_length, seed), dtype);
    const std::vector<float> weight = rounded(ref::random_normal(row_length, seed + 1), dtype);
    const std::vector<float> bias = rounded(ref::random_normal(row_length, seed + 2), dtype);
    DeviceTensor input_tensor(input, dtype, {rows, row_length});
    DeviceTensor weight_tensor(weight, dtype, {row_length});
    DeviceTensor bias_tensor(bias, dtype, {row_length});
    DeviceTensor output(sentinels(rows * row_length), dtype, {rows, row_length});
    DeviceTensor mean(sentinels(rows), DType::float32, {rows});
    DeviceTensor rstd(sentinels(rows), DType::float32, {rows});

    const Device device = device_under_test();
    normgen::testing::TestStream stream(device);
    {
        normgen::CudaStreamGuard on_stream(stream.get());
        normgen::layer_norm(input_tensor.view, {row_length},
                            has_weight ? &weight_tensor.view : nullptr,
                            has_bias ? &bias_tensor.view : nullptr, kEps, output.view, &mean.view,
                            &rstd.view);
    }
    normgen::testing::synchronize(device, stream.get());

    const std::vector<double> weight64 = ref::to_double(weight), bias64 = ref::to_double(bias);
    const ref::LayerNormResult expected = ref::layer_norm_reference(
        ref::to_double(input), rows, row_length, has_weight ? &weight64 : nullptr,
        has_bias ? &bias64 : nullptr, kEps);
    const Tolerance tolerance = output_tolerance(dtype);
    {
        INFO("y");
        ref::expect_close(output.values(), expected.y, tolerance.atol, tolerance.rtol);
    }
    {
        INFO("mean and rstd");
        ref::expect_close(mean.values(), expected.mean, kStatistics.atol, kStatistics.rtol);
        ref::expect_close(rstd.values(), expected.rstd, kStatistics.atol, kStatistics.rtol);
    }
}

TEST_CASE("LayerNorm matches the reference in every dtype, row class and affine mode") {
    const Device device = device_under_test();
    const DType dtype = generate_dtype();
    for (LayerNormRowClass row_class : row_classes_of(device)) {
        const ForcedRowClass forced(row_class);
        INFO("row class " << static_cast<int>(row_class));
        for (int64_t row_length : {1, 3, 17, 31, 100, 1023, 1025, 4097}) {
            // Many short rows, so that row blocks end part-full.
            const int64_t rows = row_length < 100 ? 67 : 5;
            for (auto [has_weight, has_bias] :
                 {std::pair{true, true}, std::pair{true, false}, std::pair{false, false}}) {
                check_layer_norm(rows, row_length, dtype, has_weight, has_bias,
                                 static_cast<uint32_t>(row_length));
            }
        }
    }
}

TEST_CASE("LayerNorm chooses a row class of the tensors' device") {
    const Device device = device_under_test();
    const std::vector<LayerNormRowClass> classes = row_classes_of(device);
    for (int64_t row_length : {1, 16, 64, 1024, 1025, 65536}) {
        const LayerNormRowClass chosen = normgen::layer_norm_row_class(row_length, device);
        CHECK(std::find(classes.begin(), classes.end(), chosen) != classes.end());
    }
}

TEST_CASE("LayerNorm with a bias and no weight in every dtype") {
    // The kernels then scale by a weight of ones the call makes itself (on
    // CUDA, scratch filled on the call's stream).
    check_layer_norm(7, 33, generate_dtype(), false, true, 5);
}

// ---- BatchNorm -----------------------------------------------------------------

void check_batch_norm(const std::vector<int64_t> &shape, MemoryFormat format, DType dtype,
                      bool affine, uint32_t seed) {
    INFO("shape " << ::Catch::Detail::stringify(shape) << ", "
                  << (format == MemoryFormat::contiguous ? "contiguous" : "channels_last") << ", "
                  << normgen::to_string(dtype) << (affine ? ", affine" : ", no affine"));
    const int64_t channels = shape[1];
    const int64_t count = ref::element_count(shape);
    const std::vector<float> weight = rounded(ref::random_normal(channels, seed + 1), dtype);
    const std::vector<float> bias = rounded(ref::random_normal(channels, seed + 2), dtype);
    std::vector<float> running_mean = ref::random_normal(channels, seed + 3);
    std::vector<float> running_var = ref::random_normal(channels, seed + 4);
    for (float &var : running_var) var = 0.5f + var * var;
    ref::RunningStatistics reference_running{ref::to_double(running_mean),
                                             ref::to_double(running_var), 0};

    DeviceTensor weight_tensor(weight, dtype, {channels});
    DeviceTensor bias_tensor(bias, dtype, {channels});
    DeviceTensor running_mean_tensor(running_mean, DType::float32, {channels});
    DeviceTensor running_var_tensor(running_var, DType::float32, {channels});
    const std::vector<double> weight64 = ref::to_double(weight), bias64 = ref::to_double(bias);
    const Device device = device_under_test();
    normgen::testing::TestStream stream(device);
    const Tolerance tolerance = output_tolerance(dtype);

    // A training step (batch statistics, running statistics updated), then
    // an inference step on the updated running statistics.
    for (bool training : {true, false}) {
        INFO((training ? "training" : "inference"));
        const std::vector<float> input =
            rounded(ref::random_normal(count, seed + (training ? 5 : 6)), dtype);
        const std::vector<float> input_memory =
            format == MemoryFormat::channels_last ? ref::logical_to_channels_last(input, shape)
                                                  : input;
        DeviceTensor input_tensor(input_memory, dtype, shape, format);
        DeviceTensor output(sentinels(count), dtype, shape, format);
        DeviceTensor save_mean(sentinels(channels), DType::float32, {channels});
        DeviceTensor save_invstd(sentinels(channels), DType::float32, {channels});
        {
            normgen::CudaStreamGuard on_stream(stream.get());
            normgen::batch_norm(input_tensor.view, &running_mean_tensor.view,
                                &running_var_tensor.view, affine ? &weight_tensor.view : nullptr,
                                affine ? &bias_tensor.view : nullptr, training, 0.1, kEps,
                                output.view, nullptr, training ? &save_mean.view : nullptr,
                                training ? &save_invstd.view : nullptr);
        }
        normgen::testing::synchronize(device, stream.get());

        const ref::BatchNormResult expected = ref::batch_norm_reference(
            ref::to_double(input), shape, &reference_running, affine ? &weight64 : nullptr,
            affine ? &bias64 : nullptr, training, 0.1, kEps);
        std::vector<float> y = output.values();
        if (format == MemoryFormat::channels_last) y = ref::channels_last_to_logical(y, shape);
        {
            INFO("y");
            ref::expect_close(y, expected.y, tolerance.atol, tolerance.rtol);
        }
        if (training) {
            INFO("saved and running statistics");
            ref::expect_close(save_mean.values(), expected.save_mean, kStatistics.atol,
                              kStatistics.rtol);
            ref::expect_close(save_invstd.values(), expected.save_invstd, kStatistics.atol,
                              kStatistics.rtol);
            ref::expect_close(running_mean_tensor.values(), reference_running.mean,
                              kStatistics.atol, kStatistics.rtol);
            ref::expect_close(running_var_tensor.values(), reference_running.var,
                              kStatistics.atol, kStatistics.rtol);
        }
    }
}

// The BatchNorm tests' shapes: one per rank with odd sizes, one whose
// channels span many chunks of the statistics in both layouts, one with more
// channels than an x86 task of the statistics takes (64, channels_first) and
// a short last chunk, and two of more than 2 Mi values, whose x86 output
// takes the vectors for tensors that stream from memory (streaming_elements):
// channels_first, one in tasks of a few channels of a sample, the other in
// tasks of whole samples, the last one short; and 48 and 64 channels, which
// x86 channels_last sums in one pass of whole vectors.
const std::vector<std::vector<int64_t>> batch_norm_test_shapes{
    {7, 3}, {5, 20, 9}, {3, 20, 7, 5}, {2, 3, 5, 7, 3}, {40, 8, 33, 33}, {5, 67, 31, 37},
    {3, 19, 192, 192}, {331, 19, 18, 19}, {9, 48, 11}, {4, 64, 5, 7}};

TEST_CASE("BatchNorm matches the reference in every dtype, rank, layout and mode") {
    const DType dtype = generate_dtype();
    const MemoryFormat format = GENERATE(MemoryFormat::contiguous, MemoryFormat::channels_last);
    for (const auto &shape : batch_norm_test_shapes) {
        for (bool affine : {true, false}) {
            check_batch_norm(shape, format, dtype, affine, static_cast<uint32_t>(shape[1]));
        }
    }
}

// ---- Backward ------------------------------------------------------------------

// Gradients are sums over rows or channels: their tolerance is the output's,
// with room for float32 sums of a few hundred terms.
Tolerance gradient_tolerance(DType dtype) {
    switch (dtype) {
    case DType::float32: return {1e-4, 1e-3};
    case DType::float16: return {4e-3, 4e-3};
    case DType::bfloat16: return {3e-2, 3e-2};
    }
    return {0, 0};
}

std::vector<float> to_float(const std::vector<double> &values) {
    return std::vector<float>(values.begin(), values.end());
}

// `input`: random normal values where not given.
void check_layer_norm_backward(int64_t rows, int64_t row_length, DType dtype, bool has_weight,
                               uint32_t seed, std::vector<float> input = {}) {
    INFO("backward, rows " << rows << " x " << row_length << ", " << normgen::to_string(dtype)
                           << (has_weight ? ", weight" : ""));
    if (input.empty()) input = rounded(ref::random_normal(rows * row_length, seed), dtype);
    const std::vector<float> grad_output =
        rounded(ref::random_normal(rows * row_length, seed + 1), dtype);
    const std::vector<float> weight = rounded(ref::random_normal(row_length, seed + 2), dtype);
    const std::vector<double> input64 = ref::to_double(input), weight64 = ref::to_double(weight);
    // The statistics forward saved, in float32.
    const ref::LayerNormResult forward =
        ref::layer_norm_reference(input64, rows, row_length, nullptr, nullptr, kEps);

    DeviceTensor input_tensor(input, dtype, {rows, row_length});
    DeviceTensor grad_output_tensor(grad_output, dtype, {rows, row_length});
    DeviceTensor weight_tensor(weight, dtype, {row_length});
    DeviceTensor mean(to_float(forward.mean), DType::float32, {rows});
    DeviceTensor rstd(to_float(forward.rstd), DType::float32, {rows});
    DeviceTensor grad_input(sentinels(rows * row_length), dtype, {rows, row_length});
    DeviceTensor grad_weight(sentinels(row_length), dtype, {row_length});
    DeviceTensor grad_bias(sentinels(row_length), dtype, {row_length});

    const Device device = device_under_test();
    normgen::testing::TestStream stream(device);
    {
        normgen::CudaStreamGuard on_stream(stream.get());
        normgen::layer_norm_backward(grad_output_tensor.view, input_tensor.view, {row_length},
                                     mean.view, rstd.view, has_weight ? &weight_tensor.view : nullptr,
                                     &grad_input.view, &grad_weight.view, &grad_bias.view);
    }
    normgen::testing::synchronize(device, stream.get());

    const ref::LayerNormGradients expected = ref::layer_norm_backward_reference(
        ref::to_double(grad_output), input64, rows, row_length, has_weight ? &weight64 : nullptr,
        kEps);
    const Tolerance tolerance = gradient_tolerance(dtype);
    {
        INFO("grad_input");
        ref::expect_close(grad_input.values(), expected.grad_input, tolerance.atol, tolerance.rtol);
    }
    {
        INFO("grad_weight and grad_bias");
        ref::expect_close(grad_weight.values(), expected.grad_weight, tolerance.atol,
                          tolerance.rtol);
        ref::expect_close(grad_bias.values(), expected.grad_bias, tolerance.atol, tolerance.rtol);
    }
}

TEST_CASE("LayerNorm backward matches the reference in every dtype and row class") {
    const DType dtype = generate_dtype();
    for (LayerNormRowClass row_class : row_classes_of(device_under_test())) {
        const ForcedRowClass forced(row_class);
        INFO("row class " << static_cast<int>(row_class));
        // (8, 16 and 32: the short row lengths with loops of their own.)
        for (int64_t row_length : {1, 3, 8, 16, 17, 32, 100, 1023, 1025, 4097, 20000}) {
            // Many rows up to 1025 elements, so that row blocks (and
            // wide_rows' groups of rows) end part-full.
            const int64_t rows = row_length <= 1025 ? 67 : row_length > 4097 ? 2 : 5;
            for (bool has_weight : {true, false}) {
                check_layer_norm_backward(rows, row_length, dtype, has_weight,
                                          static_cast<uint32_t>(row_length + 7));
            }
        }
    }
}

TEST_CASE("LayerNorm backward takes more rows than a column of the CUDA grid holds") {
    // The parameter gradients' partial sums take a block per 64 rows and
    // 128 elements; with those blocks on the grid's y (at most 65535), rows
    // past 65535 * 64 were left out on CUDA.
    // Rows of two values at least 1 apart: among four million random pairs,
    // some would be near-equal, their rstd huge and their gradients
    // ill-conditioned (float32 mean and rstd).
    const int64_t rows = 65535 * 64 + 65;
    std::vector<float> input = ref::random_normal(rows * 2, 11);
    for (int64_t row = 0; row < rows; ++row) {
        input[row * 2 + 1] = input[row * 2] + 1.0f + std::abs(input[row * 2 + 1]);
    }
    check_layer_norm_backward(rows, 2, DType::float32, true, 12, std::move(input));
}

TEST_CASE("LayerNorm backward is right in calls whose scratch memory was another call's") {
    // The parameter gradients' per-block partial sums (hundreds of KiB
    // here) are scratch that the runtime's pool hands from call to call,
    // holding the previous call's values: a smaller call reuses a larger
    // block, a larger one takes a new block, and the first comes back.
    for (const auto &[rows, row_length] : std::vector<std::pair<int64_t, int64_t>>{
             {64, 11520}, {8, 3000}, {64, 11520}, {100, 12000}, {64, 11520}}) {
        check_layer_norm_backward(rows, row_length, DType::float32, true,
                                  static_cast<uint32_t>(rows + row_length));
    }
}

void check_batch_norm_backward(const std::vector<int64_t> &shape, MemoryFormat format, DType dtype,
                               bool training, bool affine, uint32_t seed) {
    INFO("backward, shape " << ::Catch::Detail::stringify(shape) << ", "
                            << (format == MemoryFormat::contiguous ? "contiguous" : "channels_last")
                            << ", " << normgen::to_string(dtype)
                            << (training ? ", training" : ", evaluation")
                            << (affine ? ", affine" : ", no affine"));
    const int64_t channels = shape[1];
    const int64_t count = ref::element_count(shape);
    const std::vector<float> input = rounded(ref::random_normal(count, seed), dtype);
    const std::vector<float> grad_output = rounded(ref::random_normal(count, seed + 1), dtype);
    const std::vector<float> weight = rounded(ref::random_normal(channels, seed + 2), dtype);
    std::vector<float> running_mean = ref::random_normal(channels, seed + 3);
    std::vector<float> running_var = ref::random_normal(channels, seed + 4);
    for (float &var : running_var) var = 0.5f + var * var;
    const std::vector<double> input64 = ref::to_double(input);
    const ref::BatchNormResult forward =
        ref::batch_norm_reference(input64, shape, nullptr, nullptr, nullptr, true, 0.1, kEps);

    auto memory_order = [&](const std::vector<float> &logical) {
        return format == MemoryFormat::channels_last ? ref::logical_to_channels_last(logical, shape)
                                                     : logical;
    };
    DeviceTensor input_tensor(memory_order(input), dtype, shape, format);
    DeviceTensor grad_output_tensor(memory_order(grad_output), dtype, shape, format);
    DeviceTensor weight_tensor(weight, dtype, {channels});
    DeviceTensor running_mean_tensor(running_mean, DType::float32, {channels});
    DeviceTensor running_var_tensor(running_var, DType::float32, {channels});
    DeviceTensor save_mean(to_float(forward.save_mean), DType::float32, {channels});
    DeviceTensor save_invstd(to_float(forward.save_invstd), DType::float32, {channels});
    DeviceTensor grad_input(sentinels(count), dtype, shape, format);
    DeviceTensor grad_weight(sentinels(channels), dtype, {channels});
    DeviceTensor grad_bias(sentinels(channels), dtype, {channels});

    const Device device = device_under_test();
    normgen::testing::TestStream stream(device);
    {
        normgen::CudaStreamGuard on_stream(stream.get());
        normgen::batch_norm_backward(
            grad_output_tensor.view, input_tensor.view, affine ? &weight_tensor.view : nullptr,
            training ? nullptr : &running_mean_tensor.view,
            training ? nullptr : &running_var_tensor.view, training ? &save_mean.view : nullptr,
            training ? &save_invstd.view : nullptr, training, kEps, &grad_input.view,
            &grad_weight.view, &grad_bias.view);
    }
    normgen::testing::synchronize(device, stream.get());

    const ref::RunningStatistics running{ref::to_double(running_mean), ref::to_double(running_var),
                                         0};
    const std::vector<double> weight64 = ref::to_double(weight);
    const ref::BatchNormGradients expected = ref::batch_norm_backward_reference(
        ref::to_double(grad_output), input64, shape, &running, affine ? &weight64 : nullptr,
        training, kEps);
    std::vector<float> got = grad_input.values();
    if (format == MemoryFormat::channels_last) got = ref::channels_last_to_logical(got, shape);
    const Tolerance tolerance = gradient_tolerance(dtype);
    {
        INFO("grad_input");
        ref::expect_close(got, expected.grad_input, tolerance.atol, tolerance.rtol);
    }
    {
        INFO("grad_weight and grad_bias");
        ref::expect_close(grad_weight.values(), expected.grad_weight, tolerance.atol,
                          tolerance.rtol);
        ref::expect_close(grad_bias.values(), expected.grad_bias, tolerance.atol, tolerance.rtol);
    }
}

TEST_CASE("BatchNorm channels_first matches the reference on planes of 1 to 40 values") {
    // Planes shorter than, as long as and longer than the x86 sums' steps of
    // 8 or 16 values (schedules/batch_norm_plane_step.cpp), whose last step
    // moves back to end with its plane and must count each value once.
    const DType dtype = generate_dtype();
    for (int64_t plane = 1; plane <= 40; ++plane) {
        const std::vector<int64_t> shape{3, 5, plane};
        const auto seed = static_cast<uint32_t>(200 + plane);
        check_batch_norm(shape, MemoryFormat::contiguous, dtype, true, seed);
        for (bool training : {true, false}) {
            check_batch_norm_backward(shape, MemoryFormat::contiguous, dtype, training, true,
                                      seed);
        }
    }
}

TEST_CASE("BatchNorm backward matches the reference in every dtype, rank, layout and mode") {
    const DType dtype = generate_dtype();
    const MemoryFormat format = GENERATE(MemoryFormat::contiguous, MemoryFormat::channels_last);
    for (const auto &shape : batch_norm_test_shapes) {
        for (bool training : {true, false}) {
            for (bool affine : {true, false}) {
                check_batch_norm_backward(shape, format, dtype, training, affine,
                                          static_cast<uint32_t>(shape[1] + 3));
            }
        }
    }
}

}  // namespace
