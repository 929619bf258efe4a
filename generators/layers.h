// What the LeNet layers' algorithms (convolution.cpp, pooling.cpp,
// linear.cpp, softmax_cross_entropy.cpp) hand to their schedules. Tensors are
// float32, NCHW (Halide dimensions innermost first: x, y, channel, sample)
// and (feature, sample) for linear layers.
#pragma once

#include "Halide.h"

namespace normgen {

// A convolution's sums: sum(x, y, out_channel, sample) of a 2-D valid
// correlation, stride 1, over `taps` (kx, ky, in_channel).
struct ConvolutionFuncs {
    Halide::Var x, y, channel, sample;
    Halide::RDom taps;
    Halide::Func sum;
    Halide::Func output;
};

// The convolution's gradient with respect to its input, in two steps that
// skip the products with the zeros around grad_output: columns(px, py, kx,
// ky, in_channel, sample) sums weight * grad_output over the out channels at
// each output position (a matrix product), then each column is added into
// the input position (px + kx, py + ky) its tap read.
struct ConvolutionInputFuncs {
    Halide::Var x, y, channel, sample;  // grad_input's
    Halide::Var px, py, kx, ky;         // the columns'
    Halide::RDom over_out_channels;
    Halide::RDom taps;  // (px, py, kx, ky)
    Halide::Func columns;
    Halide::Func sum;  // the columns added into place
    Halide::Func output;
};

// A convolution's parameter gradients: grad_weight(kx, ky, in_channel,
// out_channel) sums grad_output * input over every position of every sample;
// grad_bias(out_channel) sums grad_output.
struct ConvolutionWeightFuncs {
    Halide::Var kx, ky, in_channel, out_channel;
    Halide::RDom positions;  // (x, y, sample)
    Halide::Func weight_sum, bias_sum;
    Halide::Func grad_weight, grad_bias;
};

// ReLU then 2x2 max pooling (stride 2), forward and backward: the kernels
// compute it elementwise over their output, which for backward holds each
// window's four elements (per_window_element).
struct PoolingFuncs {
    Halide::Var x, y, channel, sample;
    Halide::Func output;
    bool per_window_element = false;
};

// A fully connected layer y(out, sample) = bias + sum_in weight(in, out) *
// x(in, sample), weight stored as torch's (out_features, in_features). Its
// backward: grad_input(in, sample) sums over out; grad_weight(in, out) and
// grad_bias(out) over samples.
struct LinearFuncs {
    Halide::Var feature, sample;  // the output's
    Halide::RDom terms;
    Halide::Func sum;
    Halide::Func output;
};

struct LinearBackwardFuncs {
    Halide::Var in_feature, out_feature, sample;
    Halide::RDom over_out, over_samples;
    Halide::Func masked_grad;  // grad_output, zero where a ReLU after the layer was off
    Halide::Func input_sum, weight_sum, bias_sum;
    Halide::Func grad_input, grad_weight, grad_bias;
};

// Softmax cross-entropy per sample, and its gradient with respect to the
// logits.
struct SoftmaxCrossEntropyFuncs {
    Halide::Var klass, sample;
    Halide::Func maximum, exp_sum;
    Halide::Func loss, grad_logits;
};

// An optimizer step: elementwise over a parameter tensor, in place; the new
// values of a piece are all computed before any is stored.
struct OptimizerFuncs {
    Halide::Var element;
    Halide::Func new_values{"new_values"};
    Halide::Func output;
};

}  // namespace normgen
