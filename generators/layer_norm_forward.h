// What the LayerNorm forward algorithm hands to its schedule: the Funcs and
// the loop variables, named as in the math.
#pragma once

#include "Halide.h"

namespace normgen {

struct LayerNormForwardFuncs {
    Halide::Var element, row;  // (element, row): element is innermost in memory
    Halide::RDom over_row;     // every element of one row
    Halide::Func sum_of_values;    // sum over the row of x
    Halide::Func rough_mean;       // sum_of_values / C
    Halide::Func deviation_sums;   // Tuple: sums over the row of d and d^2, d = x - rough_mean
    Halide::Func row_mean, row_rstd;
    Halide::Func output, mean, rstd;  // the pipeline's outputs
};

}  // namespace normgen
