// LeNet for 28x28 grey images, 10 classes, on normgen's kernels:
//
//   conv 5x5 (1->20) -> norm -> ReLU -> maxpool 2 -> conv 5x5 (20->50) -> norm
//   -> ReLU -> maxpool 2 -> flatten (800) -> linear 800->500 -> ReLU
//   -> linear 500->10
//
// with norm LayerNorm([20,24,24]) / LayerNorm([50,8,8]), BatchNorm2d(20) /
// BatchNorm2d(50), or none. Parameters start as torch's defaults; training
// is SGD with momentum or Adam, with weight decay, as torch.optim.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "normgen/normgen.hpp"

namespace lenet {

using normgen::Tensor;

enum class NormKind : uint32_t { none = 0, layer_norm = 1, batch_norm = 2 };
const char *to_string(NormKind kind);  // "none", "ln", "bn"
NormKind parse_norm_kind(const std::string &text);  // throws lenet::Error

constexpr int64_t image_size = 28, classes = 10;

// A trainable tensor with its gradient and optimizer state.
struct Parameter {
    std::string name;
    Tensor value, grad;
    Tensor momentum, second_moment;  // SGD's momentum buffer or Adam's first moment; Adam's second
};

// Buffers that are part of the model but not trained (BatchNorm's running
// statistics).
struct State {
    std::string name;
    Tensor value;
};

struct OptimizerSettings {
    enum class Method { sgd, adam } method = Method::sgd;
    double learning_rate = 0.01;
    double momentum = 0.9;      // SGD
    double beta1 = 0.9, beta2 = 0.999, adam_eps = 1e-8;  // Adam
    double weight_decay = 5e-4;  // L2, added to the gradient as torch.optim does
};

class LeNet {
public:
    // Parameters initialized as torch's defaults from `seed`.
    LeNet(NormKind norm, uint64_t seed);

    NormKind norm() const { return norm_; }
    std::vector<Parameter> &parameters() { return parameters_; }
    std::vector<State> &states() { return states_; }
    // BatchNorm's num_batches_tracked (both layers count the same batches).
    int64_t batch_norm_steps() const { return batches_tracked_[0]; }
    void set_batch_norm_steps(int64_t steps) { batches_tracked_[0] = batches_tracked_[1] = steps; }

    // Logits (batch, 10) of `images` (batch x 28 x 28, scaled as
    // normalize_pixels does). training: BatchNorm uses and updates batch
    // statistics, and the activations are kept for backward.
    const Tensor &forward(const float *images, int64_t batch, bool training);

    // After forward(training): the mean cross-entropy of the logits against
    // `labels`, with every parameter's gradient (overwritten) computed.
    double backward(const std::vector<int32_t> &labels);

    // One optimizer step from the gradients backward computed.
    void step(const OptimizerSettings &settings);

private:
    void resize(int64_t batch);
    void norm_forward(int layer, const Tensor &input, Tensor &output, bool training);
    void norm_backward(int layer, const Tensor &grad_output, const Tensor &input,
                       Tensor &grad_input);
    Parameter &parameter(const std::string &name);

    NormKind norm_;
    std::vector<Parameter> parameters_;
    std::vector<State> states_;
    int64_t batches_tracked_[2] = {0, 0};
    int64_t optimizer_steps_ = 0;
    int64_t batch_ = -1;
    // Activations of the last forward pass and their gradients, sized for batch_.
    Tensor input_, conv1_, norm1_, pool1_, conv2_, norm2_, pool2_, hidden_, logits_;
    Tensor grad_logits_, grad_hidden_, grad_pool2_, grad_norm2_, grad_conv2_, grad_pool1_,
        grad_norm1_, grad_conv1_;
    Tensor mean_[2], rstd_[2];  // per-sample (LayerNorm) or per-channel (BatchNorm) statistics
    std::vector<float> losses_;
};

// Pixels 0..255 to the network's input: scaled to [0, 1], then standardized
// by Fashion-MNIST's training-set mean and standard deviation.
void normalize_pixels(const uint8_t *pixels, int64_t count, float *out);

}  // namespace lenet
