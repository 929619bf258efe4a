// What the LayerNorm forward algorithm hands to its schedule: the Funcs and
// the loop variables, named as in the math.
#pragma once

#include "Halide.h"

namespace normgen {

struct LayerNormForwardFuncs {
    Halide::Var element, row;  // (element, row): element is innermost in memory
    Halide::RDom over_row;     // every element of one row
    Halide::Func sum_of_deviations;   // sum over the row of (x - x[0])
    Halide::Func row_mean;
    Halide::Func sum_of_squares;      // sum over the row of (x - mean)^2
    Halide::Func row_rstd;
    Halide::Func output, mean, rstd;  // the pipeline's outputs
};

}  // namespace normgen
