#include "network.hpp"

#include <cmath>
#include <cstring>

#include "support/error.hpp"
#include "layers.hpp"

namespace lenet {

namespace {

constexpr double norm_eps = 1e-5, batch_norm_momentum = 0.1;
constexpr int64_t conv1_channels = 20, conv2_channels = 50, kernel = 5, hidden = 500;
constexpr int64_t conv1_size = image_size - kernel + 1;       // 24
constexpr int64_t pool1_size = conv1_size / 2;                // 12
constexpr int64_t conv2_size = pool1_size - kernel + 1;       // 8
constexpr int64_t pool2_size = conv2_size / 2;                // 4
constexpr int64_t flat = conv2_channels * pool2_size * pool2_size;  // 800

// Uniform in [-bound, bound), from the top 53 bits of one draw.
float uniform(std::mt19937_64 &random, double bound) {
    const double unit = static_cast<double>(random() >> 11) * 0x1.0p-53;
    return static_cast<float>((2 * unit - 1) * bound);
}

// torch's default for Conv2d and Linear (kaiming_uniform_ with a = sqrt(5)
// for the weight, and the bias alike): U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
void torch_default_init(Tensor &tensor, int64_t fan_in, std::mt19937_64 &random) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    for (float &value : tensor.values()) value = uniform(random, bound);
}

Parameter make_parameter(std::string name, std::vector<int64_t> shape, float fill = 0.0f) {
    Parameter p;
    p.name = std::move(name);
    p.value = Tensor(shape, fill);
    p.grad = Tensor(shape);
    p.momentum = Tensor(shape);
    p.second_moment = Tensor(shape);
    return p;
}

std::vector<int64_t> norm_parameter_shape(NormKind norm, int64_t channels, int64_t size) {
    if (norm == NormKind::layer_norm) return {channels, size, size};
    return {channels};
}

}  // namespace

const char *to_string(NormKind kind) {
    switch (kind) {
    case NormKind::none: return "none";
    case NormKind::layer_norm: return "ln";
    case NormKind::batch_norm: return "bn";
    }
    return "unknown";
}

NormKind parse_norm_kind(const std::string &text) {
    if (text == "ln") return NormKind::layer_norm;
    if (text == "bn") return NormKind::batch_norm;
    if (text == "none") return NormKind::none;
    throw Error("unknown norm '" + text + "': expected ln, bn or none");
}

void normalize_pixels(const uint8_t *pixels, int64_t count, float *out) {
    // Fashion-MNIST's training images, scaled to [0, 1]: mean 0.2860, std 0.3530.
    constexpr float mean = 0.2860f, inverse_std = 1.0f / 0.3530f;
    for (int64_t i = 0; i < count; i++) out[i] = (pixels[i] / 255.0f - mean) * inverse_std;
}

LeNet::LeNet(NormKind norm, uint64_t seed) : norm_(norm) {
    std::mt19937_64 random(seed);
    auto add_layer = [&](const std::string &name, std::vector<int64_t> weight_shape,
                         int64_t fan_in) {
        parameters_.push_back(make_parameter(name + ".weight", weight_shape));
        torch_default_init(parameters_.back().value, fan_in, random);
        parameters_.push_back(make_parameter(name + ".bias", {weight_shape[0]}));
        torch_default_init(parameters_.back().value, fan_in, random);
    };
    auto add_norm = [&](const std::string &name, int64_t channels, int64_t size) {
        if (norm_ == NormKind::none) return;
        std::vector<int64_t> shape = norm_parameter_shape(norm_, channels, size);
        parameters_.push_back(make_parameter(name + ".weight", shape, 1.0f));
        parameters_.push_back(make_parameter(name + ".bias", shape, 0.0f));
        if (norm_ == NormKind::batch_norm) {
            states_.push_back({name + ".running_mean", Tensor({channels}, 0.0f)});
            states_.push_back({name + ".running_var", Tensor({channels}, 1.0f)});
        }
    };
    add_layer("conv1", {conv1_channels, 1, kernel, kernel}, kernel * kernel);
    add_norm("norm1", conv1_channels, conv1_size);
    add_layer("conv2", {conv2_channels, conv1_channels, kernel, kernel},
              conv1_channels * kernel * kernel);
    add_norm("norm2", conv2_channels, conv2_size);
    add_layer("fc1", {hidden, flat}, flat);
    add_layer("fc2", {classes, hidden}, hidden);
}

Parameter &LeNet::parameter(const std::string &name) {
    for (Parameter &p : parameters_) {
        if (p.name == name) return p;
    }
    throw std::logic_error("LeNet has no parameter " + name);
}

void LeNet::resize(int64_t batch) {
    if (batch == batch_) return;
    batch_ = batch;
    const int64_t n = batch;
    input_ = Tensor({n, 1, image_size, image_size});
    conv1_ = Tensor({n, conv1_channels, conv1_size, conv1_size});
    norm1_ = Tensor(conv1_.shape());
    pool1_ = Tensor({n, conv1_channels, pool1_size, pool1_size});
    conv2_ = Tensor({n, conv2_channels, conv2_size, conv2_size});
    norm2_ = Tensor(conv2_.shape());
    pool2_ = Tensor({n, conv2_channels, pool2_size, pool2_size});
    hidden_ = Tensor({n, hidden});
    logits_ = Tensor({n, classes});
    grad_logits_ = Tensor(logits_.shape());
    grad_hidden_ = Tensor(hidden_.shape());
    grad_pool2_ = Tensor(pool2_.shape());
    grad_norm2_ = Tensor(norm2_.shape());
    grad_conv2_ = Tensor(conv2_.shape());
    grad_pool1_ = Tensor(pool1_.shape());
    grad_norm1_ = Tensor(norm1_.shape());
    grad_conv1_ = Tensor(conv1_.shape());
    const int64_t statistics[2] = {
        norm_ == NormKind::batch_norm ? conv1_channels : n,
        norm_ == NormKind::batch_norm ? conv2_channels : n};
    for (int layer : {0, 1}) {
        mean_[layer] = Tensor({statistics[layer]});
        rstd_[layer] = Tensor({statistics[layer]});
    }
}

void LeNet::norm_forward(int layer, const Tensor &input, Tensor &output, bool training) {
    const std::string name = layer == 0 ? "norm1" : "norm2";
    const normgen::TensorView weight = parameter(name + ".weight").value.view();
    const normgen::TensorView bias = parameter(name + ".bias").value.view();
    const normgen::TensorView mean = mean_[layer].view(), rstd = rstd_[layer].view();
    if (norm_ == NormKind::layer_norm) {
        const auto &shape = input.shape();
        normgen::layer_norm(input.view(), {shape[1], shape[2], shape[3]}, &weight, &bias,
                            norm_eps, output.view(), &mean, &rstd);
        return;
    }
    const normgen::TensorView running_mean = states_[2 * layer].value.view();
    const normgen::TensorView running_var = states_[2 * layer + 1].value.view();
    normgen::batch_norm(input.view(), &running_mean, &running_var, &weight, &bias, training,
                        batch_norm_momentum, norm_eps, output.view(), &batches_tracked_[layer],
                        training ? &mean : nullptr, training ? &rstd : nullptr);
}

void LeNet::norm_backward(int layer, const Tensor &grad_output, const Tensor &input,
                          Tensor &grad_input) {
    const std::string name = layer == 0 ? "norm1" : "norm2";
    Parameter &weight = parameter(name + ".weight");
    Parameter &bias = parameter(name + ".bias");
    const normgen::TensorView weight_view = weight.value.view();
    const normgen::TensorView grad_input_view = grad_input.view();
    const normgen::TensorView grad_weight = weight.grad.view(), grad_bias = bias.grad.view();
    if (norm_ == NormKind::layer_norm) {
        const auto &shape = input.shape();
        normgen::layer_norm_backward(grad_output.view(), input.view(),
                                     {shape[1], shape[2], shape[3]}, mean_[layer].view(),
                                     rstd_[layer].view(), &weight_view, &grad_input_view,
                                     &grad_weight, &grad_bias);
        return;
    }
    const normgen::TensorView mean = mean_[layer].view(), invstd = rstd_[layer].view();
    normgen::batch_norm_backward(grad_output.view(), input.view(), &weight_view, nullptr, nullptr,
                                 &mean, &invstd, true, norm_eps, &grad_input_view, &grad_weight,
                                 &grad_bias);
}

const Tensor &LeNet::forward(const float *images, int64_t batch, bool training) {
    if (batch <= 0) throw Error("LeNet: expected a batch of at least 1 image, given " +
                                std::to_string(batch));
    resize(batch);
    std::memcpy(input_.data(), images, sizeof(float) * input_.numel());
    const bool normalized = norm_ != NormKind::none;
    convolution_forward(input_, parameter("conv1.weight").value, parameter("conv1.bias").value,
                        conv1_);
    if (normalized) norm_forward(0, conv1_, norm1_, training);
    relu_max_pool_forward(normalized ? norm1_ : conv1_, pool1_);
    convolution_forward(pool1_, parameter("conv2.weight").value, parameter("conv2.bias").value,
                        conv2_);
    if (normalized) norm_forward(1, conv2_, norm2_, training);
    relu_max_pool_forward(normalized ? norm2_ : conv2_, pool2_);
    linear_forward(pool2_, parameter("fc1.weight").value, parameter("fc1.bias").value, true,
                   hidden_);
    linear_forward(hidden_, parameter("fc2.weight").value, parameter("fc2.bias").value, false,
                   logits_);
    return logits_;
}

double LeNet::backward(const std::vector<int32_t> &labels) {
    if (batch_ < 0) throw std::logic_error("LeNet::backward before forward");
    const bool normalized = norm_ != NormKind::none;
    const double loss = softmax_cross_entropy(logits_, labels, 1.0f / static_cast<float>(batch_),
                                              losses_, grad_logits_);
    Parameter &fc2_weight = parameter("fc2.weight"), &fc1_weight = parameter("fc1.weight");
    linear_backward(grad_logits_, logits_, hidden_, fc2_weight.value, false, grad_hidden_,
                    fc2_weight.grad, parameter("fc2.bias").grad);
    linear_backward(grad_hidden_, hidden_, pool2_, fc1_weight.value, true, grad_pool2_,
                    fc1_weight.grad, parameter("fc1.bias").grad);
    relu_max_pool_backward(grad_pool2_, normalized ? norm2_ : conv2_, grad_norm2_);
    if (normalized) norm_backward(1, grad_norm2_, conv2_, grad_conv2_);
    Parameter &conv2_weight = parameter("conv2.weight"), &conv1_weight = parameter("conv1.weight");
    convolution_backward(normalized ? grad_conv2_ : grad_norm2_, pool1_, conv2_weight.value,
                         &grad_pool1_, conv2_weight.grad, parameter("conv2.bias").grad);
    relu_max_pool_backward(grad_pool1_, normalized ? norm1_ : conv1_, grad_norm1_);
    if (normalized) norm_backward(0, grad_norm1_, conv1_, grad_conv1_);
    convolution_backward(normalized ? grad_conv1_ : grad_norm1_, input_, conv1_weight.value,
                         nullptr, conv1_weight.grad, parameter("conv1.bias").grad);
    return loss;
}

void LeNet::step(const OptimizerSettings &settings) {
    optimizer_steps_++;
    const auto lr = static_cast<float>(settings.learning_rate);
    const auto decay = static_cast<float>(settings.weight_decay);
    for (Parameter &p : parameters_) {
        if (settings.method == OptimizerSettings::Method::sgd) {
            sgd_step(p.value, p.grad, p.momentum, lr, static_cast<float>(settings.momentum),
                     decay);
        } else {
            adam_step(p.value, p.grad, p.momentum, p.second_moment, lr,
                      static_cast<float>(settings.beta1), static_cast<float>(settings.beta2),
                      static_cast<float>(settings.adam_eps), decay, optimizer_steps_);
        }
    }
}

}  // namespace lenet
