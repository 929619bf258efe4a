// 2-D convolution as torch.nn.Conv2d with stride 1, no padding, no
// dilation, one group: forward, and its gradients with respect to the input
// and to the weight and bias. Tensors are float32; the weight is torch's
// (out_channels, in_channels, kernel, kernel), here (kx, ky, in, out).
//
//   output(x, y, o, n)
//     = bias(o) + sum_{kx, ky, i} weight(kx, ky, i, o) * input(x + kx, y + ky, i, n)
//   grad_input(x, y, i, n)
//     = sum_{kx, ky, o} weight(kx, ky, i, o) * grad_output(x - kx, y - ky, o, n)
//       (grad_output read as zero outside its extent)
//   grad_weight(kx, ky, i, o) = sum_{x, y, n} grad_output(x, y, o, n) * input(x + kx, y + ky, i, n)
//   grad_bias(o)              = sum_{x, y, n} grad_output(x, y, o, n)

#include "Halide.h"
#include "layers.h"
#include "schedules/layers_schedule.h"

namespace normgen {
namespace {

using namespace Halide;

class ConvolutionForward : public Generator<ConvolutionForward> {
public:
    GeneratorParam<int> kernel_size{"kernel_size", 5, 1, 15};
    ConvolutionKnobs knobs;

    Input<Buffer<float, 4>> input{"input"};    // (x, y, in_channel, sample)
    Input<Buffer<float, 4>> weight{"weight"};  // (kx, ky, in_channel, out_channel)
    Input<Buffer<float, 1>> bias{"bias"};      // (out_channel)
    Output<Buffer<float, 4>> output{"output"};  // (x, y, out_channel, sample)

    void generate() {
        ConvolutionFuncs f;
        Var &x = f.x, &y = f.y, &o = f.channel, &n = f.sample;
        Expr in_channels = input.dim(2).extent();
        f.taps = RDom(0, kernel_size, 0, kernel_size, 0, in_channels, "taps");
        RDom &t = f.taps;
        f.sum = Func("sum");
        f.sum(x, y, o, n) = bias(o);
        f.sum(x, y, o, n) += weight(t.x, t.y, t.z, o) * input(x + t.x, y + t.y, t.z, n);
        output(x, y, o, n) = f.sum(x, y, o, n);
        f.output = output;

        const int k = kernel_size;
        for (int d : {0, 1, 2, 3}) input.dim(d).set_min(0);
        output.dim(0).set_bounds(0, input.dim(0).extent() - (k - 1));
        output.dim(1).set_bounds(0, input.dim(1).extent() - (k - 1));
        output.dim(3).set_bounds(0, input.dim(3).extent());
        Expr out_channels = output.dim(2).extent();
        output.dim(2).set_min(0);
        weight.dim(0).set_bounds(0, k);
        weight.dim(1).set_bounds(0, k);
        weight.dim(2).set_bounds(0, in_channels);
        weight.dim(3).set_bounds(0, out_channels);
        bias.dim(0).set_bounds(0, out_channels);

        input.set_estimates({{0, 12}, {0, 12}, {0, 20}, {0, 64}});
        weight.set_estimates({{0, k}, {0, k}, {0, 20}, {0, 50}});
        bias.set_estimates({{0, 50}});
        output.set_estimates({{0, 8}, {0, 8}, {0, 50}, {0, 64}});
        schedule_convolution(f, get_target(), knobs);
    }
};

class ConvolutionBackwardInput : public Generator<ConvolutionBackwardInput> {
public:
    GeneratorParam<int> kernel_size{"kernel_size", 5, 1, 15};
    ConvolutionKnobs knobs;

    Input<Buffer<float, 4>> grad_output{"grad_output"};  // (x, y, out_channel, sample)
    Input<Buffer<float, 4>> weight{"weight"};            // (kx, ky, in_channel, out_channel)
    Output<Buffer<float, 4>> grad_input{"grad_input"};   // (x, y, in_channel, sample)

    void generate() {
        ConvolutionInputFuncs f;
        Var &x = f.x, &y = f.y, &i = f.channel, &n = f.sample;
        Var &px = f.px, &py = f.py, &kx = f.kx, &ky = f.ky;
        const int k = kernel_size;
        Expr out_width = grad_output.dim(0).extent(), out_height = grad_output.dim(1).extent();
        Expr out_channels = grad_output.dim(2).extent();
        f.over_out_channels = RDom(0, out_channels, "over_out_channels");
        f.columns = Func("columns");
        f.columns(px, py, kx, ky, i, n) = 0.0f;
        f.columns(px, py, kx, ky, i, n) +=
            weight(kx, ky, i, f.over_out_channels) * grad_output(px, py, f.over_out_channels, n);
        // Each column adds into the input position its tap came from: an
        // update over the output positions alone, so no product with the
        // zeros around grad_output is formed and no read needs a bounds test.
        f.taps = RDom(0, out_width, 0, out_height, 0, k, 0, k, "taps");  // (px, py, kx, ky)
        RDom &t = f.taps;
        f.sum = Func("sum");
        f.sum(x, y, i, n) = 0.0f;
        f.sum(t.x + t.z, t.y + t.w, i, n) += f.columns(t.x, t.y, t.z, t.w, i, n);
        grad_input(x, y, i, n) = f.sum(x, y, i, n);
        f.output = grad_input;

        for (int d : {0, 1, 2, 3}) grad_output.dim(d).set_min(0);
        grad_input.dim(0).set_bounds(0, out_width + (k - 1));
        grad_input.dim(1).set_bounds(0, out_height + (k - 1));
        grad_input.dim(3).set_bounds(0, grad_output.dim(3).extent());
        grad_input.dim(2).set_min(0);
        weight.dim(0).set_bounds(0, k);
        weight.dim(1).set_bounds(0, k);
        weight.dim(2).set_bounds(0, grad_input.dim(2).extent());
        weight.dim(3).set_bounds(0, out_channels);

        grad_output.set_estimates({{0, 8}, {0, 8}, {0, 50}, {0, 64}});
        weight.set_estimates({{0, k}, {0, k}, {0, 20}, {0, 50}});
        grad_input.set_estimates({{0, 12}, {0, 12}, {0, 20}, {0, 64}});
        schedule_convolution_input(f, get_target(), knobs);
    }
};

class ConvolutionBackwardWeight : public Generator<ConvolutionBackwardWeight> {
public:
    GeneratorParam<int> kernel_size{"kernel_size", 5, 1, 15};
    ConvolutionWeightKnobs knobs;

    Input<Buffer<float, 4>> grad_output{"grad_output"};  // (x, y, out_channel, sample)
    Input<Buffer<float, 4>> input{"input"};              // (x, y, in_channel, sample)
    Output<Buffer<float, 4>> grad_weight{"grad_weight"};  // (kx, ky, in_channel, out_channel)
    Output<Buffer<float, 1>> grad_bias{"grad_bias"};      // (out_channel)

    void generate() {
        ConvolutionWeightFuncs f;
        Var &kx = f.kx, &ky = f.ky, &i = f.in_channel, &o = f.out_channel;
        Expr width = grad_output.dim(0).extent(), height = grad_output.dim(1).extent();
        Expr samples = grad_output.dim(3).extent();
        f.positions = RDom(0, width, 0, height, 0, samples, "positions");
        RDom &p = f.positions;
        f.weight_sum = Func("weight_sum");
        f.weight_sum(kx, ky, i, o) = 0.0f;
        f.weight_sum(kx, ky, i, o) +=
            grad_output(p.x, p.y, o, p.z) * input(p.x + kx, p.y + ky, i, p.z);
        f.bias_sum = Func("bias_sum");
        f.bias_sum(o) = 0.0f;
        f.bias_sum(o) += grad_output(p.x, p.y, o, p.z);
        grad_weight(kx, ky, i, o) = f.weight_sum(kx, ky, i, o);
        grad_bias(o) = f.bias_sum(o);
        f.grad_weight = grad_weight;
        f.grad_bias = grad_bias;

        const int k = kernel_size;
        for (int d : {0, 1, 2, 3}) {
            grad_output.dim(d).set_min(0);
            input.dim(d).set_min(0);
        }
        Expr in_channels = input.dim(2).extent(), out_channels = grad_output.dim(2).extent();
        input.dim(0).set_extent(width + (k - 1));
        input.dim(1).set_extent(height + (k - 1));
        input.dim(3).set_extent(samples);
        grad_weight.dim(0).set_bounds(0, k);
        grad_weight.dim(1).set_bounds(0, k);
        grad_weight.dim(2).set_bounds(0, in_channels);
        grad_weight.dim(3).set_bounds(0, out_channels);
        grad_bias.dim(0).set_bounds(0, out_channels);

        grad_output.set_estimates({{0, 8}, {0, 8}, {0, 50}, {0, 64}});
        input.set_estimates({{0, 12}, {0, 12}, {0, 20}, {0, 64}});
        grad_weight.set_estimates({{0, k}, {0, k}, {0, 20}, {0, 50}});
        grad_bias.set_estimates({{0, 50}});
        schedule_convolution_weight(f, get_target(), knobs);
    }
};

}  // namespace
}  // namespace normgen

HALIDE_REGISTER_GENERATOR(normgen::ConvolutionForward, convolution_forward)
HALIDE_REGISTER_GENERATOR(normgen::ConvolutionBackwardInput, convolution_backward_input)
HALIDE_REGISTER_GENERATOR(normgen::ConvolutionBackwardWeight, convolution_backward_weight)
