// The autodiff check: LayerNorm's gradients as Halide's automatic
// differentiation (propagate_adjoints) derives them from the forward
// algorithm's own definition (generators/layer_norm_algorithm.h). The
// hand-written backward kernels must agree with it (autodiff_tests.cpp).
// Float32, whole rows; scheduled only to keep each stage computed once.

#include "Halide.h"
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
        Expr normalized = define_layer_norm(f, x, row_length, eps, 0, Form::differentiable);
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
        for (Func stage : {stats.sum_of_values, stats.rough_mean, f.row_mean, f.row_rstd, y}) {
            stage.compute_root();
            Func adjoint = d(stage);
            if (adjoint.defined()) adjoint.compute_root();
        }
    }
};

}  // namespace
}  // namespace normgen

HALIDE_REGISTER_GENERATOR(normgen::LayerNormAutodiff, layer_norm_autodiff)
