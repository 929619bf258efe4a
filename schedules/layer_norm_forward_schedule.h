// How LayerNorm forward runs: the knobs a person or the autotuner may turn,
// and the entry point that picks the schedule for the generator's target.
#pragma once

#include "Halide.h"
#include "generators/layer_norm_forward.h"

namespace normgen {

enum class RowClass {
    long_rows,   // a row holds many vectors: reduce each row with vector lanes
    short_rows,  // a row holds fewer than a few vectors: spread rows over lanes
    split_rows,  // a row outgrows the cache (chunked statistics): threads share rows
};

// Declared inside the generator, so each knob is a GeneratorParam that
// add_halide_library(... PARAMS name=value) sets.
struct LayerNormForwardKnobs {
    Halide::GeneratorParam<RowClass> row_class{
        "row_class", RowClass::long_rows,
        {{"long_rows", RowClass::long_rows},
         {"short_rows", RowClass::short_rows},
         {"split_rows", RowClass::split_rows}}};
    // Native vectors per step of the elementwise and reduction loops.
    Halide::GeneratorParam<int> vectors_per_step{"vectors_per_step", 2, 1, 8};
    // Rows handed to one thread-pool task.
    Halide::GeneratorParam<int> rows_per_task{"rows_per_task", 4, 1, 1024};
    // split_rows: elements of a row per thread-pool task of the output.
    Halide::GeneratorParam<int> elements_per_task{"elements_per_task", 1 << 14, 1, 1 << 24};
};

void schedule_layer_norm_forward(LayerNormForwardFuncs funcs,
                                 const Halide::Target &target,
                                 const LayerNormForwardKnobs &knobs);

}  // namespace normgen
