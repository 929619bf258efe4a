// How LayerNorm forward runs: the knobs a person (or, later, an autotuner) may turn,
// and the entry point that picks the schedule for the generator's target.
#pragma once

#include "Halide.h"
#include "generators/layer_norm_forward.h"

namespace normgen {

enum class RowClass {
    // x86
    long_rows,   // a row holds many vectors: reduce each row with vector lanes
    short_rows,  // a row holds fewer than a few vectors: spread rows over lanes
    split_rows,  // a row outgrows the cache (chunked statistics): threads share rows
    wide_rows,   // long_rows whose row, weight and bias together outgrow L1
    vector_rows,  // a row holds a few vectors: row by row, sums in a tree of vector adds
    // CUDA
    warp_per_row,   // one warp per row, several rows per block
    block_per_row,  // one block of threads_per_block threads per row
};

// Declared inside the generator, so each knob is a GeneratorParam that
// add_halide_library(... PARAMS name=value) sets.
struct LayerNormForwardKnobs {
    Halide::GeneratorParam<RowClass> row_class{
        "row_class", RowClass::long_rows,
        {{"long_rows", RowClass::long_rows},
         {"short_rows", RowClass::short_rows},
         {"split_rows", RowClass::split_rows},
         {"wide_rows", RowClass::wide_rows},
         {"vector_rows", RowClass::vector_rows},
         {"warp_per_row", RowClass::warp_per_row},
         {"block_per_row", RowClass::block_per_row}}};
    // x86: lanes per vector; 0: the target's natural width.
    Halide::GeneratorParam<int> vector_width{"vector_width", 0, 0, 64};
    // Vectors per step of the elementwise and reduction loops.
    Halide::GeneratorParam<int> vectors_per_step{"vectors_per_step", 2, 1, 8};
    // Rows handed to one thread-pool task.
    Halide::GeneratorParam<int> rows_per_task{"rows_per_task", 4, 1, 1 << 16};
    // x86: fewer rows per task where the rows would make fewer than
    // fewest_tasks tasks (1: always rows_per_task, a constant).
    Halide::GeneratorParam<int> fewest_tasks{"fewest_tasks", 1, 1, 1 << 16};
    // wide_rows: rows whose statistics are computed together, then their
    // outputs chunk by chunk of columns_per_chunk columns (a multiple of
    // vector_width x vectors_per_step), each chunk for every row of the group.
    Halide::GeneratorParam<int> rows_per_group{"rows_per_group", 8, 1, 1024};
    Halide::GeneratorParam<int> columns_per_chunk{"columns_per_chunk", 128, 1, 1 << 20};
    // split_rows: elements of a row per thread-pool task of the output.
    Halide::GeneratorParam<int> elements_per_task{"elements_per_task", 1 << 14, 1, 1 << 24};
    // CUDA warp_per_row: rows (one warp each) per block.
    Halide::GeneratorParam<int> warps_per_block{"warps_per_block", 4, 1, 32};
    // CUDA block_per_row: threads sharing one row.
    Halide::GeneratorParam<int> threads_per_row{"threads_per_row", 256, 32, 1024};
    // CUDA: loads each thread keeps in flight (its loops unrolled so far).
    Halide::GeneratorParam<int> loads_in_flight{"loads_in_flight", 4, 1, 16};
    // CUDA: values each thread adds per level of a block's reduction tree
    // (block_reduction).
    Halide::GeneratorParam<int> fold_radix{"fold_radix", 4, 2, 32};
};

void schedule_layer_norm_forward(LayerNormForwardFuncs funcs,
                                 const Halide::Target &target,
                                 const LayerNormForwardKnobs &knobs);

}  // namespace normgen
