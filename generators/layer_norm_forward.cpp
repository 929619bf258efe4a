// LayerNorm forward, as torch.nn.LayerNorm: each row of C elements (the
// flattened normalized_shape) is normalized by its own mean and biased
// variance, then scaled and shifted elementwise.
//
//   y = (x - mean) / sqrt(var + eps) * weight + bias
//
// The statistics are the corrected two-pass algorithm of statistics.h: no
// E[x^2] - E[x]^2 cancellation; its first pass may read only the start of
// each row (pilot_length). Long rows may be cut into chunks whose
// statistics combine exactly (elements_per_chunk).

#include "Halide.h"
#include "element_types.h"
#include "layer_norm_algorithm.h"
#include "layer_norm_forward.h"
#include "schedules/layer_norm_forward_schedule.h"

namespace normgen {
namespace {

using namespace Halide;

enum class Affine { none, weight, weight_and_bias };

class LayerNormForward : public Generator<LayerNormForward> {
public:
    GeneratorParam<Type> element_type{"element_type", Float(32)};
    GeneratorParam<Affine> affine{"affine", Affine::weight_and_bias,
                                  {{"none", Affine::none},
                                   {"weight", Affine::weight},
                                   {"weight_and_bias", Affine::weight_and_bias}}};
    // 0: each row's statistics in one go. Otherwise the row is cut into
    // chunks of this many elements, summarized apart and then combined
    // (combine_chunks), so that several threads can share one long row.
    GeneratorParam<int> elements_per_chunk{"elements_per_chunk", 0, 0, 1 << 24};
    // The rough mean that centres the one pass of sums (statistics.h) is
    // that of the first pilot_length elements of a row or chunk; 0: of all
    // of them, in a pass of its own.
    GeneratorParam<int> pilot_length{"pilot_length", 0, 0, 1 << 24};
    LayerNormForwardKnobs knobs;

    // Every variant has the same signature, so the runtime can hold them in
    // one table; inputs an affine mode does not read are ignored.
    Input<Buffer<void, 2>> input{"input"};    // (element, row)
    Input<Buffer<void, 1>> weight{"weight"};  // (element)
    Input<Buffer<void, 1>> bias{"bias"};      // (element)
    Input<float> eps{"eps"};
    Output<Buffer<void, 2>> output{"output"};
    Output<Buffer<float, 1>> mean{"mean"};  // (row)
    Output<Buffer<float, 1>> rstd{"rstd"};  // (row)

    void configure() {
        input.set_type(storage_type(element_type));
        weight.set_type(storage_type(element_type));
        bias.set_type(storage_type(element_type));
        output.set_type(storage_type(element_type));
    }

    void generate() {
        LayerNormForwardFuncs f;
        Var &e = f.element, &r = f.row;
        Expr row_length = input.dim(0).extent();
        Func x("x");
        x(e, r) = decode(input(e, r), element_type);

        Expr normalized =
            define_layer_norm(f, x, row_length, eps, elements_per_chunk, pilot_length);
        if (affine != Affine::none) {
            normalized = normalized * decode(weight(e), element_type);
        }
        if (affine == Affine::weight_and_bias) {
            normalized = normalized + decode(bias(e), element_type);
        }
        output(e, r) = encode(normalized, element_type);
        mean(r) = f.row_mean(r);
        rstd(r) = f.row_rstd(r);
        f.output = output;
        f.mean = mean;
        f.rstd = rstd;

        constrain_bounds();
        set_estimates();
        schedule_layer_norm_forward(f, get_target(), knobs);
    }

private:
    // The runtime's contract: every buffer starts at 0, the outputs cover
    // exactly the input's rows. Knowing it spares the kernels the general
    // bounds arithmetic of outputs that could disagree.
    void constrain_bounds() {
        Expr row_length = input.dim(0).extent(), rows = input.dim(1).extent();
        input.dim(0).set_min(0);
        input.dim(1).set_min(0);
        output.dim(0).set_bounds(0, row_length);
        output.dim(1).set_bounds(0, rows);
        mean.dim(0).set_bounds(0, rows);
        rstd.dim(0).set_bounds(0, rows);
        if (affine != Affine::none) {
            weight.dim(0).set_bounds(0, row_length);
        }
        if (affine == Affine::weight_and_bias) {
            bias.dim(0).set_bounds(0, row_length);
        }
    }

    void set_estimates() {
        const int row_length = 1024, rows = 4096;
        input.set_estimates({{0, row_length}, {0, rows}});
        weight.set_estimates({{0, row_length}});
        bias.set_estimates({{0, row_length}});
        eps.set_estimate(1e-5f);
        output.set_estimates({{0, row_length}, {0, rows}});
        mean.set_estimates({{0, rows}});
        rstd.set_estimates({{0, rows}});
    }
};

}  // namespace
}  // namespace normgen

HALIDE_REGISTER_GENERATOR(normgen::LayerNormForward, layer_norm_forward)
