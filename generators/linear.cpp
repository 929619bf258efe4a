// A fully connected layer as torch.nn.Linear, optionally followed by a
// ReLU (fused: the output is written once), and its backward pass.
// The weight is torch's (out_features, in_features), here (in, out).
//
//   output(o, n)     = act(bias(o) + sum_i weight(i, o) * input(i, n))
//   g(o, n)          = grad_output(o, n), times [output(o, n) > 0] after a ReLU
//   grad_input(i, n) = sum_o weight(i, o) * g(o, n)
//   grad_weight(i, o) = sum_n g(o, n) * input(i, n)
//   grad_bias(o)     = sum_n g(o, n)

#include "Halide.h"
#include "layers.h"
#include "schedules/layers_schedule.h"

namespace normgen {
namespace {

using namespace Halide;

enum class Activation { none, relu };
const std::map<std::string, Activation> activations{{"none", Activation::none},
                                                    {"relu", Activation::relu}};

class LinearForward : public Generator<LinearForward> {
public:
    GeneratorParam<Activation> activation{"activation", Activation::none, activations};
    LinearKnobs knobs;

    Input<Buffer<float, 2>> input{"input"};    // (in_feature, sample)
    Input<Buffer<float, 2>> weight{"weight"};  // (in_feature, out_feature)
    Input<Buffer<float, 1>> bias{"bias"};      // (out_feature)
    Output<Buffer<float, 2>> output{"output"};  // (out_feature, sample)

    void generate() {
        LinearFuncs f;
        Var &o = f.feature, &n = f.sample;
        Expr in_features = input.dim(0).extent();
        f.terms = RDom(0, in_features, "terms");
        f.sum = Func("sum");
        f.sum(o, n) = bias(o);
        f.sum(o, n) += weight(f.terms, o) * input(f.terms, n);
        Expr value = f.sum(o, n);
        output(o, n) = activation == Activation::relu ? max(0.0f, value) : value;
        f.output = output;

        input.dim(0).set_min(0);
        input.dim(1).set_min(0);
        Expr out_features = output.dim(0).extent();
        output.dim(0).set_min(0);
        output.dim(1).set_bounds(0, input.dim(1).extent());
        weight.dim(0).set_bounds(0, in_features);
        weight.dim(1).set_bounds(0, out_features);
        bias.dim(0).set_bounds(0, out_features);
        input.set_estimates({{0, 800}, {0, 64}});
        weight.set_estimates({{0, 800}, {0, 500}});
        bias.set_estimates({{0, 500}});
        output.set_estimates({{0, 500}, {0, 64}});
        schedule_linear(f, get_target(), knobs);
    }
};

class LinearBackward : public Generator<LinearBackward> {
public:
    GeneratorParam<Activation> activation{"activation", Activation::none, activations};
    LinearKnobs knobs;

    Input<Buffer<float, 2>> grad_output{"grad_output"};  // (out_feature, sample)
    Input<Buffer<float, 2>> output{"output"};  // the forward's output (read after a ReLU)
    Input<Buffer<float, 2>> input{"input"};    // (in_feature, sample)
    Input<Buffer<float, 2>> weight{"weight"};  // (in_feature, out_feature)
    Output<Buffer<float, 2>> grad_input{"grad_input"};    // (in_feature, sample)
    Output<Buffer<float, 2>> grad_weight{"grad_weight"};  // (in_feature, out_feature)
    Output<Buffer<float, 1>> grad_bias{"grad_bias"};      // (out_feature)

    void generate() {
        LinearBackwardFuncs f;
        Var &i = f.in_feature, &o = f.out_feature, &n = f.sample;
        Expr in_features = input.dim(0).extent(), out_features = grad_output.dim(0).extent();
        Expr samples = input.dim(1).extent();
        Func &g = f.masked_grad;
        g = Func("masked_grad");
        g(o, n) = activation == Activation::relu
                      ? select(output(o, n) > 0.0f, grad_output(o, n), 0.0f)
                      : grad_output(o, n);
        f.over_out = RDom(0, out_features, "over_out");
        f.over_samples = RDom(0, samples, "over_samples");
        f.input_sum = Func("input_sum");
        f.input_sum(i, n) = 0.0f;
        f.input_sum(i, n) += weight(i, f.over_out) * g(f.over_out, n);
        f.weight_sum = Func("weight_sum");
        f.weight_sum(i, o) = 0.0f;
        f.weight_sum(i, o) += g(o, f.over_samples) * input(i, f.over_samples);
        f.bias_sum = Func("bias_sum");
        f.bias_sum(o) = 0.0f;
        f.bias_sum(o) += g(o, f.over_samples);
        grad_input(i, n) = f.input_sum(i, n);
        grad_weight(i, o) = f.weight_sum(i, o);
        grad_bias(o) = f.bias_sum(o);
        f.grad_input = grad_input;
        f.grad_weight = grad_weight;
        f.grad_bias = grad_bias;

        input.dim(0).set_min(0);
        input.dim(1).set_min(0);
        grad_output.dim(0).set_min(0);
        grad_output.dim(1).set_bounds(0, samples);
        if (activation == Activation::relu) {
            output.dim(0).set_bounds(0, out_features);
            output.dim(1).set_bounds(0, samples);
        }
        weight.dim(0).set_bounds(0, in_features);
        weight.dim(1).set_bounds(0, out_features);
        grad_input.dim(0).set_bounds(0, in_features);
        grad_input.dim(1).set_bounds(0, samples);
        grad_weight.dim(0).set_bounds(0, in_features);
        grad_weight.dim(1).set_bounds(0, out_features);
        grad_bias.dim(0).set_bounds(0, out_features);
        grad_output.set_estimates({{0, 500}, {0, 64}});
        output.set_estimates({{0, 500}, {0, 64}});
        input.set_estimates({{0, 800}, {0, 64}});
        weight.set_estimates({{0, 800}, {0, 500}});
        grad_input.set_estimates({{0, 800}, {0, 64}});
        grad_weight.set_estimates({{0, 800}, {0, 500}});
        grad_bias.set_estimates({{0, 500}});
        schedule_linear_backward(f, get_target(), knobs);
    }
};

}  // namespace
}  // namespace normgen

HALIDE_REGISTER_GENERATOR(normgen::LinearForward, linear_forward)
HALIDE_REGISTER_GENERATOR(normgen::LinearBackward, linear_backward)
