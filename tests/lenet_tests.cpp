// The LeNet demo's layers, network and checkpoints. The layer kernels run on
// the CPU variant CTest forces; each is checked against the float64
// reference forward pass (layer_reference.hpp) and each backward kernel
// against central finite differences of that reference.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

#include "checkpoint.hpp"
#include "layer_reference.hpp"
#include "layers.hpp"
#include "network.hpp"
#include "support/error.hpp"
#include "support/fashion_mnist.hpp"
#include "training.hpp"

namespace {

using lenet::Tensor;
namespace reference = normgen::reference;

std::vector<double> random_values(size_t count, std::mt19937 &random, double scale = 1.0) {
    std::normal_distribution<double> normal(0.0, scale);
    std::vector<double> values(count);
    for (double &value : values) value = static_cast<float>(normal(random));  // float-exact
    return values;
}

Tensor tensor_of(const std::vector<double> &values, std::vector<int64_t> shape) {
    Tensor tensor(std::move(shape));
    REQUIRE(static_cast<size_t>(tensor.numel()) == values.size());
    for (size_t i = 0; i < values.size(); i++) tensor.data()[i] = static_cast<float>(values[i]);
    return tensor;
}

double dot(const std::vector<double> &a, const std::vector<double> &b) {
    double total = 0;
    for (size_t i = 0; i < a.size(); i++) total += a[i] * b[i];
    return total;
}

// Up to `count` indices of a tensor of `size` elements, always including
// both ends.
std::vector<size_t> sample_indices(size_t size, size_t count, std::mt19937 &random) {
    if (size <= count) {
        std::vector<size_t> all(size);
        for (size_t i = 0; i < size; i++) all[i] = i;
        return all;
    }
    std::vector<size_t> picked{0, size - 1};
    std::uniform_int_distribution<size_t> pick(1, size - 2);
    while (picked.size() < count) picked.push_back(pick(random));
    return picked;
}

// Checks `gradient` (a kernel's, float) against central differences of the
// float64 `loss` with respect to `values`, at sampled indices.
void check_gradient(const char *what, const Tensor &gradient, std::vector<double> values,
                    const std::function<double(const std::vector<double> &)> &loss,
                    std::mt19937 &random, double step = 1e-4, double tolerance = 2e-4) {
    REQUIRE(static_cast<size_t>(gradient.numel()) == values.size());
    for (size_t index : sample_indices(values.size(), 40, random)) {
        const double original = values[index];
        values[index] = original + step;
        const double above = loss(values);
        values[index] = original - step;
        const double below = loss(values);
        values[index] = original;
        const double expected = (above - below) / (2 * step);
        INFO(what << "[" << index << "]: kernel " << gradient.data()[index]
                  << ", finite differences " << expected);
        CHECK(std::abs(gradient.data()[index] - expected) <=
              tolerance * (1 + std::abs(expected)));
    }
}

void check_forward(const Tensor &got, const std::vector<double> &expected, double tolerance) {
    REQUIRE(static_cast<size_t>(got.numel()) == expected.size());
    for (size_t i = 0; i < expected.size(); i++) {
        INFO("element " << i);
        REQUIRE(std::abs(got.data()[i] - expected[i]) <= tolerance * (1 + std::abs(expected[i])));
    }
}

struct ConvolutionShape {
    int64_t samples, in_channels, height, width, out_channels;
    bool grad_input;
};

}  // namespace

TEST_CASE("convolution forward and backward match the float64 reference", "[layers]") {
    const int64_t k = 5;
    for (const ConvolutionShape &shape : {ConvolutionShape{2, 6, 13, 12, 7, true},
                                          ConvolutionShape{2, 1, 28, 28, 20, false},
                                          ConvolutionShape{3, 20, 12, 12, 50, true}}) {
        const int64_t n = shape.samples, ci = shape.in_channels, h = shape.height,
                      w = shape.width, co = shape.out_channels;
        const int64_t oh = h - k + 1, ow = w - k + 1;
        DYNAMIC_SECTION("input " << n << "x" << ci << "x" << h << "x" << w << ", " << co
                                 << " filters") {
            std::mt19937 random(7);
            const auto input = random_values(n * ci * h * w, random);
            const auto weight = random_values(co * ci * k * k, random, 0.2);
            const auto bias = random_values(co, random);
            const auto grad_output = random_values(n * co * oh * ow, random);
            const Tensor input_t = tensor_of(input, {n, ci, h, w});
            const Tensor weight_t = tensor_of(weight, {co, ci, k, k});
            const Tensor bias_t = tensor_of(bias, {co});
            Tensor output({n, co, oh, ow});
            lenet::convolution_forward(input_t, weight_t, bias_t, output);
            check_forward(output, reference::convolution(input, weight, bias, n, ci, h, w, co, k),
                          1e-4);

            Tensor grad_input({n, ci, h, w}), grad_weight({co, ci, k, k}), grad_bias({co});
            lenet::convolution_backward(tensor_of(grad_output, {n, co, oh, ow}), input_t,
                                        weight_t, shape.grad_input ? &grad_input : nullptr,
                                        grad_weight, grad_bias);
            // The loss sum(grad_output * output) has grad_output as its gradient.
            auto loss_by_weight = [&](const std::vector<double> &v) {
                return dot(grad_output,
                           reference::convolution(input, v, bias, n, ci, h, w, co, k));
            };
            auto loss_by_bias = [&](const std::vector<double> &v) {
                return dot(grad_output,
                           reference::convolution(input, weight, v, n, ci, h, w, co, k));
            };
            check_gradient("grad_weight", grad_weight, weight, loss_by_weight, random);
            check_gradient("grad_bias", grad_bias, bias, loss_by_bias, random);
            if (shape.grad_input) {
                auto loss_by_input = [&](const std::vector<double> &v) {
                    return dot(grad_output,
                               reference::convolution(v, weight, bias, n, ci, h, w, co, k));
                };
                check_gradient("grad_input", grad_input, input, loss_by_input, random);
            }
        }
    }
}

TEST_CASE("ReLU + max pooling matches the float64 reference, ties go to the first maximum",
          "[layers]") {
    SECTION("random input") {
        const int64_t n = 2, c = 3, h = 10, w = 24;
        std::mt19937 random(11);
        const auto input = random_values(n * c * h * w, random);
        const auto grad_output = random_values(n * c * (h / 2) * (w / 2), random);
        const Tensor input_t = tensor_of(input, {n, c, h, w});
        Tensor output({n, c, h / 2, w / 2});
        lenet::relu_max_pool_forward(input_t, output);
        check_forward(output, reference::relu_max_pool(input, n, c, h, w), 0);
        Tensor grad_input({n, c, h, w});
        lenet::relu_max_pool_backward(tensor_of(grad_output, {n, c, h / 2, w / 2}), input_t,
                                      grad_input);
        auto loss = [&](const std::vector<double> &v) {
            return dot(grad_output, reference::relu_max_pool(v, n, c, h, w));
        };
        check_gradient("grad_input", grad_input, input, loss, random, 1e-6, 1e-6);
    }
    SECTION("ties and non-positive windows") {
        // One plane, 2 rows x 8 columns: four windows.
        const std::vector<double> input{
            2, 2, 1, 3, -1, -2, 0, 0,   // first row of each window
            2, 2, 3, 3, -3, -4, 0, 0};  // second row
        const Tensor input_t = tensor_of(input, {1, 1, 2, 8});
        Tensor output({1, 1, 1, 4}), grad_input({1, 1, 2, 8});
        lenet::relu_max_pool_forward(input_t, output);
        CHECK(output.values() == std::vector<float>{2, 3, 0, 0});
        lenet::relu_max_pool_backward(tensor_of({10, 20, 30, 40}, {1, 1, 1, 4}), input_t,
                                      grad_input);
        // Window 0: all equal, the first wins. Window 1: 3 at (row 0, col 1)
        // before the 3s of row 1. Windows 2 and 3: the ReLU passes nothing.
        CHECK(grad_input.values() ==
              std::vector<float>{10, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
    }
}

TEST_CASE("linear forward and backward match the float64 reference", "[layers]") {
    struct Shape {
        int64_t samples, in, out;
    };
    for (const Shape &shape : {Shape{5, 37, 13}, Shape{3, 800, 500}, Shape{64, 500, 10}}) {
        for (bool relu : {false, true}) {
            const int64_t n = shape.samples, in = shape.in, out = shape.out;
            DYNAMIC_SECTION(n << " samples, " << in << " -> " << out << (relu ? ", ReLU" : "")) {
                std::mt19937 random(13);
                const auto input = random_values(n * in, random);
                const auto weight = random_values(out * in, random, 1.0 / std::sqrt(in));
                const auto bias = random_values(out, random, 0.1);
                const auto grad_output = random_values(n * out, random);
                const Tensor input_t = tensor_of(input, {n, in});
                const Tensor weight_t = tensor_of(weight, {out, in});
                Tensor output({n, out});
                lenet::linear_forward(input_t, weight_t, tensor_of(bias, {out}), relu, output);
                check_forward(output, reference::linear(input, weight, bias, n, in, out, relu),
                              1e-5);
                Tensor grad_input({n, in}), grad_weight({out, in}), grad_bias({out});
                lenet::linear_backward(tensor_of(grad_output, {n, out}), output, input_t,
                                       weight_t, relu, grad_input, grad_weight, grad_bias);
                auto loss = [&](const std::vector<double> &x, const std::vector<double> &wt,
                                const std::vector<double> &b) {
                    return dot(grad_output, reference::linear(x, wt, b, n, in, out, relu));
                };
                check_gradient("grad_input", grad_input, input,
                               [&](const std::vector<double> &v) { return loss(v, weight, bias); },
                               random, 1e-6);
                check_gradient("grad_weight", grad_weight, weight,
                               [&](const std::vector<double> &v) { return loss(input, v, bias); },
                               random, 1e-6);
                check_gradient("grad_bias", grad_bias, bias,
                               [&](const std::vector<double> &v) { return loss(input, weight, v); },
                               random, 1e-6);
            }
        }
    }
}

TEST_CASE("softmax cross-entropy matches the float64 reference", "[layers]") {
    const int64_t n = 7, classes = 10;
    std::mt19937 random(17);
    const auto logits = random_values(n * classes, random, 3.0);
    std::vector<int32_t> labels(n);
    for (int64_t s = 0; s < n; s++) labels[s] = static_cast<int32_t>((s * 3) % classes);
    const float scale = 1.0f / n;
    Tensor grad_logits({n, classes});
    std::vector<float> losses;
    const double mean = lenet::softmax_cross_entropy(tensor_of(logits, {n, classes}), labels,
                                                     scale, losses, grad_logits);
    const std::vector<double> expected = reference::cross_entropy(logits, labels, classes);
    double expected_mean = 0;
    for (int64_t s = 0; s < n; s++) {
        CHECK(losses[s] == Approx(expected[s]).epsilon(1e-5));
        expected_mean += expected[s] / n;
    }
    CHECK(mean == Approx(expected_mean).epsilon(1e-5));
    auto mean_loss = [&](const std::vector<double> &v) {
        double total = 0;
        for (double loss : reference::cross_entropy(v, labels, classes)) total += loss;
        return total * scale;
    };
    check_gradient("grad_logits", grad_logits, logits, mean_loss, random, 1e-6, 1e-5);
}

TEST_CASE("optimizer steps update in place as torch.optim's SGD and Adam", "[layers]") {
    for (int64_t count : {int64_t{1037}, int64_t{70000}}) {  // a tail; tasks of whole vectors
        DYNAMIC_SECTION(count << " elements") {
            std::mt19937 random(19);
            std::vector<double> value = random_values(count, random);
            Tensor sgd_value = tensor_of(value, {count}), momentum({count});
            Tensor adam_value = tensor_of(value, {count}), m({count}), v({count});
            std::vector<double> sgd_ref = value, buffer(count, 0.0), adam_ref = value,
                                m_ref(count, 0.0), v_ref(count, 0.0);
            const double lr = 0.01, mu = 0.9, decay = 0.1, beta1 = 0.9, beta2 = 0.999,
                         eps = 1e-8;
            for (int step = 1; step <= 3; step++) {
                const std::vector<double> grad = random_values(count, random);
                const Tensor grad_t = tensor_of(grad, {count});
                lenet::sgd_step(sgd_value, grad_t, momentum, lr, mu, decay);
                lenet::adam_step(adam_value, grad_t, m, v, 1e-3, beta1, beta2, eps, decay, step);
                for (int64_t i = 0; i < count; i++) {
                    const double g = grad[i] + decay * sgd_ref[i];
                    buffer[i] = mu * buffer[i] + g;
                    sgd_ref[i] -= lr * buffer[i];
                    const double ga = grad[i] + decay * adam_ref[i];
                    m_ref[i] = beta1 * m_ref[i] + (1 - beta1) * ga;
                    v_ref[i] = beta2 * v_ref[i] + (1 - beta2) * ga * ga;
                    adam_ref[i] -= 1e-3 * (m_ref[i] / (1 - std::pow(beta1, step))) /
                                   (std::sqrt(v_ref[i] / (1 - std::pow(beta2, step))) + eps);
                }
            }
            check_forward(sgd_value, sgd_ref, 1e-6);
            check_forward(momentum, buffer, 1e-6);
            check_forward(adam_value, adam_ref, 1e-6);
            check_forward(m, m_ref, 1e-6);
            check_forward(v, v_ref, 1e-6);
        }
    }
}

TEST_CASE("layers refuse shapes that do not fit, saying what was expected", "[layers]") {
    Tensor input({2, 1, 28, 28}), weight({20, 1, 5, 5}), bias({20});
    Tensor wrong_output({2, 20, 23, 24});
    CHECK_THROWS_WITH(lenet::convolution_forward(input, weight, bias, wrong_output),
                      "convolution output: expected shape [2, 20, 24, 24], given "
                      "[2, 20, 23, 24]");
    Tensor wrong_weight({20, 3, 5, 5}), output({2, 20, 24, 24});
    CHECK_THROWS_WITH(lenet::convolution_forward(input, wrong_weight, bias, output),
                      Catch::Contains("does not fit input [2, 1, 28, 28]"));
    Tensor odd({2, 20, 9, 24}), pooled({2, 20, 4, 12});
    CHECK_THROWS_WITH(lenet::relu_max_pool_forward(odd, pooled),
                      "pooling: expected an even height and width, given input [2, 20, 9, 24]");
    Tensor logits({2, 10}), grad({2, 10});
    std::vector<float> losses;
    CHECK_THROWS_WITH(lenet::softmax_cross_entropy(logits, {3, 10}, 1.0f, losses, grad),
                      "softmax_cross_entropy: label 1 is 10, expected one in [0, 10)");
}

namespace {

// Fashion-MNIST where installed; otherwise the test prints why it skips.
const lenet::Dataset *training_images() {
    static std::string reason;
    static lenet::Dataset data = [] {
        try {
            return lenet::load_fashion_mnist(lenet::default_fashion_mnist_directory(),
                                             lenet::Split::train);
        } catch (const lenet::Error &error) {
            reason = error.what();
            return lenet::Dataset{};
        }
    }();
    if (data.count == 0) {
        std::printf("SKIPPED: Fashion-MNIST is not installed: %s\n", reason.c_str());
        return nullptr;
    }
    return &data;
}

std::vector<float> batch_of(const lenet::Dataset &data, int64_t first, int64_t count,
                            std::vector<int32_t> &labels) {
    std::vector<float> images;
    lenet::gather_batch(data, nullptr, first, count, images, labels);
    return images;
}

const lenet::NormKind all_norms[] = {lenet::NormKind::layer_norm, lenet::NormKind::batch_norm,
                                     lenet::NormKind::none};

}  // namespace

TEST_CASE("LeNet's training loss falls on a small subset", "[network]") {
    const lenet::Dataset *data = training_images();
    if (!data) return;
    for (lenet::NormKind norm : all_norms) {
        DYNAMIC_SECTION("norm " << lenet::to_string(norm)) {
            lenet::LeNet model(norm, 1);
            std::vector<int32_t> labels;
            const std::vector<float> images = batch_of(*data, 0, 32, labels);
            double first_loss = 0, last_loss = 0;
            for (int step = 0; step < 30; step++) {
                model.forward(images.data(), 32, true);
                const double loss = model.backward(labels);
                model.step({});
                if (step == 0) first_loss = loss;
                last_loss = loss;
            }
            INFO("loss " << first_loss << " -> " << last_loss);
            CHECK(first_loss > 1.5);  // about log(10) at the start
            CHECK(last_loss < 0.5 * first_loss);
        }
    }
}

TEST_CASE("batch-size-1 inference gives each image the logits it gets in a batch",
          "[network]") {
    const lenet::Dataset *data = training_images();
    if (!data) return;
    for (lenet::NormKind norm : all_norms) {
        DYNAMIC_SECTION("norm " << lenet::to_string(norm)) {
            lenet::LeNet model(norm, 2);
            std::vector<int32_t> labels;
            const std::vector<float> images = batch_of(*data, 0, 16, labels);
            for (int step = 0; step < 3; step++) {  // running statistics away from 0 and 1
                model.forward(images.data(), 16, true);
                model.backward(labels);
                model.step({});
            }
            const std::vector<float> batch_logits =
                model.forward(images.data(), 16, false).values();
            for (int64_t n = 0; n < 16; n++) {
                const Tensor &single = model.forward(&images[n * 28 * 28], 1, false);
                for (int64_t k = 0; k < lenet::classes; k++) {
                    INFO("image " << n << ", class " << k);
                    CHECK(single.data()[k] ==
                          Approx(batch_logits[n * lenet::classes + k]).margin(1e-5));
                }
            }
        }
    }
}

TEST_CASE("training is deterministic given the seed", "[network]") {
    const lenet::Dataset *data = training_images();
    if (!data) return;
    std::vector<int32_t> labels;
    const std::vector<float> images = batch_of(*data, 100, 24, labels);
    auto trained = [&](uint64_t seed) {
        lenet::LeNet model(lenet::NormKind::batch_norm, seed);
        for (int step = 0; step < 3; step++) {
            model.forward(images.data(), 24, true);
            model.backward(labels);
            model.step({});
        }
        std::vector<float> all;
        for (lenet::Parameter &p : model.parameters()) {
            all.insert(all.end(), p.value.values().begin(), p.value.values().end());
        }
        return all;
    };
    CHECK(trained(5) == trained(5));
    CHECK(trained(5) != trained(6));
}

namespace {

std::string temporary_path(const std::string &name) {
    return (std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp")) +
           "/lenet_tests_" + std::to_string(::getpid()) + "_" + name;
}

std::string read_bytes(const std::string &path) {
    std::ifstream file(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string &path, const std::string &bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
}

}  // namespace

TEST_CASE("checkpoints round-trip every variant, and bad files are clear errors",
          "[checkpoint]") {
    for (lenet::NormKind norm : all_norms) {
        DYNAMIC_SECTION("norm " << lenet::to_string(norm)) {
            lenet::LeNet model(norm, 3);
            std::mt19937 random(3);
            const auto images = random_values(4 * 28 * 28, random);
            std::vector<float> input(images.begin(), images.end());
            model.forward(input.data(), 4, true);  // moves BatchNorm's running statistics
            model.backward({1, 2, 3, 4});
            model.step({});
            const std::vector<float> logits = model.forward(input.data(), 4, false).values();
            const std::string path = temporary_path(std::string(lenet::to_string(norm)) + ".bin");
            lenet::save_checkpoint(path, model, 7);
            lenet::CheckpointInfo info;
            lenet::LeNet loaded = lenet::load_checkpoint(path, &info);
            CHECK(info.norm == norm);
            CHECK(info.epochs_trained == 7);
            CHECK(loaded.batch_norm_steps() == model.batch_norm_steps());
            CHECK(loaded.forward(input.data(), 4, false).values() == logits);
            std::remove(path.c_str());
        }
    }

    lenet::LeNet model(lenet::NormKind::layer_norm, 4);
    const std::string path = temporary_path("errors.bin");
    lenet::save_checkpoint(path, model, 1);
    const std::string good = read_bytes(path);
    const std::string damaged = temporary_path("damaged.bin");
    auto load_error = [&](const std::string &bytes) {
        write_bytes(damaged, bytes);
        try {
            lenet::load_checkpoint(damaged);
        } catch (const lenet::Error &error) {
            return std::string(error.what());
        }
        return std::string("no error");
    };
    CHECK_THAT(load_error("GIF89a not a checkpoint"), Catch::Contains("not a LeNet checkpoint"));
    CHECK_THAT(load_error(good.substr(0, good.size() / 2)),
               Catch::Contains("checksum does not match"));
    std::string flipped = good;
    flipped[good.size() / 3] ^= 0x10;
    CHECK_THAT(load_error(flipped), Catch::Contains("checksum does not match"));
    std::string newer = good;
    newer[8] = 2;
    CHECK_THAT(load_error(newer), Catch::Contains("format version 2, expected 1"));
    CHECK_THAT(load_error(good.substr(0, 10)), Catch::Contains("truncated"));
    CHECK_THAT(load_error(good + "x"), Catch::Contains("checksum does not match"));
    // A BatchNorm kind on LayerNorm tensors, checksum and all.
    {
        lenet::LeNet bn(lenet::NormKind::batch_norm, 4);
        const std::string bn_path = temporary_path("bn.bin");
        lenet::save_checkpoint(bn_path, bn, 1);
        std::string relabeled = read_bytes(bn_path);
        std::remove(bn_path.c_str());
        relabeled[12] = 1;  // claims LayerNorm
        relabeled.resize(relabeled.size() - 8);
        uint64_t hash = 0xcbf29ce484222325ull;
        for (unsigned char byte : relabeled) hash = (hash ^ byte) * 0x100000001b3ull;
        relabeled.append(reinterpret_cast<const char *>(&hash), sizeof hash);
        CHECK_THAT(load_error(relabeled),
                   Catch::Contains("16 tensors, expected 12 for LeNet with norm ln"));
    }
    CHECK_THROWS_WITH(lenet::load_checkpoint(temporary_path("missing.bin")),
                      Catch::Contains("cannot open the checkpoint"));
    std::remove(path.c_str());
    std::remove(damaged.c_str());
}
