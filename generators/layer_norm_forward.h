// What the LayerNorm forward algorithm hands to its schedule: the Funcs and
// the loop variables, named as in the math.
#pragma once

#include "Halide.h"
#include "statistics.h"

namespace normgen {

struct LayerNormForwardFuncs {
    Halide::Var element, row;  // (element, row): element is innermost in memory
    Halide::RDom over_row;     // every element of one row
    GroupStatistics row_statistics;
    Halide::Func row_mean, row_rstd;
    Halide::Func output, mean, rstd;  // the pipeline's outputs
};

}  // namespace normgen
