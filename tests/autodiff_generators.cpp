// The autodiff check: the gradients as Halide's automatic differentiation
// (propagate_adjoints) derives them from the forward algorithms' own
// definitions (generators/layer_norm_algorithm.h, batch_norm_algorithm.h
// and statistics.h, in its differentiable form). The hand-written backward
// kernels must agree with them (autodiff_tests.cpp). Float32; LayerNorm over
// whole rows, BatchNorm in training mode over whole channels (the kernels'
// chunks are an exact regrouping of the same sums); scheduled only to keep
// each stage computed once.

#include "Halide.h"
#include "generators/batch_norm_algorithm.h"
#include "generators/layer_norm_algorithm.h"

namespace normgen {
namespace {

using namespace Halide;

class LayerNormAutodiff : public Generator<LayerNormAutodiff> {
public:
    Input<Buffer<float, 2>> input{"input"};  // (element, row)
    Input<Buffer<float, 1>> weight{"weight"};
    Input<Buffer<float, 1>> bias{"bias"};
    Input<float> eps{"eps"};
    Input<Buffer<float, 2>> grad_output{"grad_output"};
    Output<Buffer<float, 2>> grad_input{"grad_input"};
    Output<Buffer<float, 1>> grad_weight{"grad_weight"};
    Output<Buffer<float, 1>> grad_bias{"grad_bias"};

    void generate() {
        LayerNormForwardFuncs f;
        const Var &e = f.element, &r = f.row;
        Expr row_length = input.dim(0).extent(), rows = input.dim(1).extent();
        // Autodiff's stages read their inputs a little past the edges they
        // then mask: the inputs, and the adjoint below, are zero outside.
        Func x("x"), w("w"), b("b");
        x(e, r) = BoundaryConditions::constant_exterior(input, 0.0f)(e, r);
        w(e) = BoundaryConditions::constant_exterior(weight, 0.0f)(e);
        b(e) = BoundaryConditions::constant_exterior(bias, 0.0f)(e);
        // The differentiable form of the same statistics (statistics.h).
        Expr normalized = define_layer_norm(f, x, row_length, eps, 0, 0, Form::differentiable);
        Func y("y");
        y(e, r) = normalized * w(e) + b(e);

        Func dy = BoundaryConditions::constant_exterior(grad_output, 0.0f);
        const Derivative d = propagate_adjoints(y, dy, {{0, row_length}, {0, rows}});
        grad_input(e, r) = d(x)(e, r);
        grad_weight(e) = d(w)(e);
        grad_bias(e) = d(b)(e);

        // Every forward stage and its adjoints once, rather than inlined
        // into each use (a row sum recomputed per element).
        GroupStatistics &stats = f.row_statistics;
        for (Func stage : {stats.pilot_sum, stats.rough_mean, f.row_mean, f.row_rstd, y}) {
            stage.compute_root();
            Func adjoint = d(stage);
            if (adjoint.defined()) adjoint.compute_root();
        }
    }
};

// BatchNorm training forward on (spatial, channel, sample) input: the batch
// statistics through the same statistics definition, then scale and shift.
class BatchNormAutodiff : public Generator<BatchNormAutodiff> {
public:
    Input<Buffer<float, 3>> input{"input"};  // (spatial, channel, sample)
    Input<Buffer<float, 1>> weight{"weight"};
    Input<Buffer<float, 1>> bias{"bias"};
    Input<float> eps{"eps"};
    Input<Buffer<float, 3>> grad_output{"grad_output"};
    Output<Buffer<float, 3>> grad_input{"grad_input"};
    Output<Buffer<float, 1>> grad_weight{"grad_weight"};
    Output<Buffer<float, 1>> grad_bias{"grad_bias"};

    void generate() {
        BatchNormForwardFuncs f;
        const Var &s = f.spatial, &c = f.channel, &n = f.sample;
        Expr spatial = input.dim(0).extent(), channels = input.dim(1).extent(),
             samples = input.dim(2).extent();
        Func x("x"), w("w"), b("b");
        x(c, s, n) = BoundaryConditions::constant_exterior(input, 0.0f)(s, c, n);
        w(c) = BoundaryConditions::constant_exterior(weight, 0.0f)(c);
        b(c) = BoundaryConditions::constant_exterior(bias, 0.0f)(c);

        RDom over_channel(0, spatial, 0, samples, "over_channel");
        Expr count = cast<float>(spatial * samples);
        GroupStatistics stats =
            group_statistics("channel", {c}, x(c, over_channel.x, over_channel.y), count, Expr(),
                             Form::differentiable);
        Func mean("mean"), invstd("invstd");
        mean(c) = stats.mean;
        invstd(c) = 1.0f / sqrt(stats.m2 / count + eps);
        define_scale_and_shift(f, mean, invstd, w(c), b(c));
        Func y("y");
        y(s, c, n) = x(c, s, n) * f.scale(c) + f.shift(c);

        Func dy = BoundaryConditions::constant_exterior(grad_output, 0.0f);
        const Derivative d = propagate_adjoints(y, dy, {{0, spatial}, {0, channels}, {0, samples}});
        grad_input(s, c, n) = d(x)(c, s, n);
        grad_weight(c) = d(w)(c);
        grad_bias(c) = d(b)(c);

        for (Func stage : {stats.pilot_sum, stats.rough_mean, mean, invstd, f.scale, f.shift, y}) {
            stage.compute_root();
            Func adjoint = d(stage);
            if (adjoint.defined()) adjoint.compute_root();
        }
    }
};

}  // namespace
}  // namespace normgen

HALIDE_REGISTER_GENERATOR(normgen::LayerNormAutodiff, layer_norm_autodiff)
HALIDE_REGISTER_GENERATOR(normgen::BatchNormAutodiff, batch_norm_autodiff)
