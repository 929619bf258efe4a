// What the LayerNorm backward algorithms hand to their schedules.
#pragma once

#include "Halide.h"

namespace normgen {

// grad_weight and grad_bias: per element, sums across every row.
struct LayerNormBackwardParameterFuncs {
    Halide::Var element;
    Halide::RDom over_rows;
    Halide::Func column_sums;  // Tuple(sum(grad_output * xhat), sum(grad_output)) per element
    Halide::Func grad_weight, grad_bias;
};

// All three gradients: grad_input per row (two sums over the row, then the
// elementwise formula), and the parameters' sums across rows, from the same
// reads of x and grad_output.
struct LayerNormBackwardFuncs {
    Halide::Var element, row;
    Halide::RDom over_row;
    Halide::Func row_sums;  // Tuple(sum(g), sum(g * xhat)) per row, g = grad_output * weight
    Halide::Func grad_input;
    LayerNormBackwardParameterFuncs parameters;  // with element = the Var above
};

}  // namespace normgen
