// The LeNet layers: calls into their generated kernels (generators/
// convolution.cpp, pooling.cpp, linear.cpp, softmax_cross_entropy.cpp) on
// float32 tensors in torch's contiguous layout, on the CPU variant the
// runtime picked. Every output is preallocated by the caller and
// overwritten; a shape that does not fit throws lenet::Error.
#pragma once

#include <cstdint>
#include <vector>

#include "normgen/normgen.hpp"

namespace lenet {

using normgen::Tensor;

// torch.nn.Conv2d (stride 1, no padding): input (N, Cin, H, W), weight
// (Cout, Cin, K, K), bias (Cout) -> output (N, Cout, H-K+1, W-K+1).
void convolution_forward(const Tensor &input, const Tensor &weight, const Tensor &bias,
                         Tensor &output);

// Its gradients: grad_input (nullptr: not wanted, as for the first layer),
// grad_weight, grad_bias.
void convolution_backward(const Tensor &grad_output, const Tensor &input, const Tensor &weight,
                          Tensor *grad_input, Tensor &grad_weight, Tensor &grad_bias);

// ReLU then 2x2 max pooling: input (N, C, H, W), H and W even -> output
// (N, C, H/2, W/2).
void relu_max_pool_forward(const Tensor &input, Tensor &output);
void relu_max_pool_backward(const Tensor &grad_output, const Tensor &input, Tensor &grad_input);

// torch.nn.Linear, optionally followed by a ReLU: input (N, in) or any
// (N, ...) holding `in` elements per sample, weight (out, in), bias (out)
// -> output (N, out).
void linear_forward(const Tensor &input, const Tensor &weight, const Tensor &bias, bool relu,
                    Tensor &output);

// Its gradients; `output` is the forward's output (the ReLU mask).
void linear_backward(const Tensor &grad_output, const Tensor &output, const Tensor &input,
                     const Tensor &weight, bool relu, Tensor &grad_input, Tensor &grad_weight,
                     Tensor &grad_bias);

// Softmax cross-entropy of logits (N, classes) against labels in [0,
// classes): writes each sample's loss and grad_scale times the gradient of
// the summed loss with respect to the logits; returns the mean loss.
double softmax_cross_entropy(const Tensor &logits, const std::vector<int32_t> &labels,
                             float grad_scale, std::vector<float> &losses, Tensor &grad_logits);

// One optimizer step on a parameter, in place, as torch.optim's SGD (with
// momentum and weight decay) and Adam (weight decay as L2, step number
// `step` from 1) compute it: see generators/optimizer.cpp.
void sgd_step(Tensor &value, const Tensor &grad, Tensor &momentum_buffer, float learning_rate,
              float momentum, float weight_decay);
void adam_step(Tensor &value, const Tensor &grad, Tensor &first_moment, Tensor &second_moment,
               float learning_rate, float beta1, float beta2, float eps, float weight_decay,
               int64_t step);

}  // namespace lenet
