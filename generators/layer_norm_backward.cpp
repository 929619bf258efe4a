// LayerNorm backward, as torch's native_layer_norm_backward, from the mean
// and rstd the forward pass saved. With xhat = (x - mean) * rstd and
// g = grad_output * weight (grad_output without a weight), per row of N:
//
//   grad_input  = rstd / N * (N * g - sum(g) - xhat * sum(g * xhat))
//   grad_weight = sum over rows of grad_output * xhat
//   grad_bias   = sum over rows of grad_output
//
// layer_norm_backward computes all three from one read of x and grad_output
// (the schedules fuse the sums along each row with those across rows);
// layer_norm_backward_parameters only grad_weight and grad_bias, for calls
// that do not want grad_input. Sums accumulate in float32.

#include "Halide.h"
#include "element_types.h"
#include "layer_norm_backward.h"
#include "schedules/layer_norm_backward_schedule.h"

namespace normgen {
namespace {

using namespace Halide;

// The inputs both generators read: their bounds and estimates.
template <typename Generator>
void constrain_shared_inputs(Generator &g) {
    Expr row_length = g.input.dim(0).extent(), rows = g.input.dim(1).extent();
    const int row_length_estimate = 1024, rows_estimate = 4096;
    for (auto *tensor : {&g.input, &g.grad_output}) {
        tensor->dim(0).set_bounds(0, row_length);
        tensor->dim(1).set_bounds(0, rows);
        tensor->set_estimates({{0, row_length_estimate}, {0, rows_estimate}});
    }
    for (auto *stats : {&g.mean, &g.rstd}) {
        stats->dim(0).set_bounds(0, rows);
        stats->set_estimates({{0, rows_estimate}});
    }
}

// grad_weight and grad_bias as sums across rows of dy and xhat.
void define_parameter_gradients(LayerNormBackwardParameterFuncs &f, Func dy, Func xhat,
                                Expr rows, Type element_type, Func grad_weight, Func grad_bias) {
    const Var &e = f.element;
    f.over_rows = RDom(0, rows, "over_rows");
    const RVar &r = f.over_rows.x;
    f.column_sums = Func("column_sums");
    f.column_sums(e) = Tuple(0.0f, 0.0f);
    f.column_sums(e) = Tuple(f.column_sums(e)[0] + dy(e, r) * xhat(e, r),
                             f.column_sums(e)[1] + dy(e, r));
    grad_weight(e) = encode(f.column_sums(e)[0], element_type);
    grad_bias(e) = encode(f.column_sums(e)[1], element_type);
    f.grad_weight = grad_weight;
    f.grad_bias = grad_bias;
}

// The parameter gradients' bounds and estimates.
template <typename Generator>
void constrain_parameter_gradients(Generator &g) {
    for (auto *gradient : {&g.grad_weight, &g.grad_bias}) {
        gradient->dim(0).set_bounds(0, g.input.dim(0).extent());
        gradient->set_estimates({{0, 1024}});
    }
}

enum class Affine { none, weight };

class LayerNormBackward : public Generator<LayerNormBackward> {
public:
    GeneratorParam<Type> element_type{"element_type", Float(32)};
    // Only a weight enters grad_input (a bias shifts every output alike).
    GeneratorParam<Affine> affine{"affine", Affine::weight,
                                  {{"none", Affine::none}, {"weight", Affine::weight}}};
    LayerNormBackwardKnobs knobs;

    Input<Buffer<void, 2>> grad_output{"grad_output"};  // (element, row)
    Input<Buffer<void, 2>> input{"input"};
    Input<Buffer<float, 1>> mean{"mean"};  // (row)
    Input<Buffer<float, 1>> rstd{"rstd"};
    Input<Buffer<void, 1>> weight{"weight"};  // (element); unread without affine
    Output<Buffer<void, 2>> grad_input{"grad_input"};
    Output<Buffer<void, 1>> grad_weight{"grad_weight"};  // (element)
    Output<Buffer<void, 1>> grad_bias{"grad_bias"};

    void configure() {
        for (auto *tensor : {&grad_output, &input}) tensor->set_type(storage_type(element_type));
        weight.set_type(storage_type(element_type));
        grad_input.set_type(storage_type(element_type));
        grad_weight.set_type(storage_type(element_type));
        grad_bias.set_type(storage_type(element_type));
    }

    void generate() {
        LayerNormBackwardFuncs f;
        const Var &e = f.element, &r = f.row;
        Expr row_length = input.dim(0).extent();
        Func xhat("xhat"), dy("dy"), g("g");
        xhat(e, r) = (decode(input(e, r), element_type) - mean(r)) * rstd(r);
        dy(e, r) = decode(grad_output(e, r), element_type);
        g(e, r) = affine == Affine::weight ? dy(e, r) * decode(weight(e), element_type) : dy(e, r);
        f.over_row = RDom(0, row_length, "over_row");
        f.row_sums = Func("row_sums");
        f.row_sums(r) = Tuple(0.0f, 0.0f);
        f.row_sums(r) = Tuple(f.row_sums(r)[0] + g(f.over_row, r),
                              f.row_sums(r)[1] + g(f.over_row, r) * xhat(f.over_row, r));
        Expr n = cast<float>(row_length);
        grad_input(e, r) = encode(
            rstd(r) / n * (n * g(e, r) - f.row_sums(r)[0] - xhat(e, r) * f.row_sums(r)[1]),
            element_type);
        f.grad_input = grad_input;
        f.parameters.element = e;
        define_parameter_gradients(f.parameters, dy, xhat, input.dim(1).extent(), element_type,
                                   grad_weight, grad_bias);

        constrain_shared_inputs(*this);
        constrain_parameter_gradients(*this);
        grad_input.dim(0).set_bounds(0, row_length);
        grad_input.dim(1).set_bounds(0, input.dim(1).extent());
        grad_input.set_estimates({{0, 1024}, {0, 4096}});
        if (affine == Affine::weight) weight.dim(0).set_bounds(0, row_length);
        weight.set_estimates({{0, 1024}});
        schedule_layer_norm_backward(f, get_target(), knobs);
    }
};

class LayerNormBackwardParameters : public Generator<LayerNormBackwardParameters> {
public:
    GeneratorParam<Type> element_type{"element_type", Float(32)};
    LayerNormBackwardKnobs knobs;

    Input<Buffer<void, 2>> grad_output{"grad_output"};  // (element, row)
    Input<Buffer<void, 2>> input{"input"};
    Input<Buffer<float, 1>> mean{"mean"};  // (row)
    Input<Buffer<float, 1>> rstd{"rstd"};
    Output<Buffer<void, 1>> grad_weight{"grad_weight"};  // (element)
    Output<Buffer<void, 1>> grad_bias{"grad_bias"};

    void configure() {
        for (auto *tensor : {&grad_output, &input}) tensor->set_type(storage_type(element_type));
        grad_weight.set_type(storage_type(element_type));
        grad_bias.set_type(storage_type(element_type));
    }

    void generate() {
        LayerNormBackwardParameterFuncs f;
        const Var &e = f.element;
        Var r("row");
        Func xhat("xhat"), dy("dy");
        xhat(e, r) = (decode(input(e, r), element_type) - mean(r)) * rstd(r);
        dy(e, r) = decode(grad_output(e, r), element_type);
        define_parameter_gradients(f, dy, xhat, input.dim(1).extent(), element_type, grad_weight,
                                   grad_bias);
        constrain_shared_inputs(*this);
        constrain_parameter_gradients(*this);
        schedule_layer_norm_backward_parameters(f, get_target(), knobs);
    }
};

}  // namespace
}  // namespace normgen

HALIDE_REGISTER_GENERATOR(normgen::LayerNormBackward, layer_norm_backward)
HALIDE_REGISTER_GENERATOR(normgen::LayerNormBackwardParameters, layer_norm_backward_parameters)
