// How LayerNorm backward runs: the knobs, and the entry points that pick the
// schedule for the generator's target.
#pragma once

#include "Halide.h"
#include "generators/layer_norm_backward.h"
#include "schedules/layer_norm_forward_schedule.h"

namespace normgen {

// Declared inside the generators, so each knob is a GeneratorParam.
struct LayerNormBackwardKnobs {
    // grad_input: the row class, as for the forward kernels (the x86
    // schedule takes long_rows, short_rows or split_rows, the CUDA one
    // warp_per_row or block_per_row).
    Halide::GeneratorParam<RowClass> row_class{
        "row_class", RowClass::long_rows,
        {{"long_rows", RowClass::long_rows},
         {"short_rows", RowClass::short_rows},
         {"split_rows", RowClass::split_rows},
         {"wide_rows", RowClass::wide_rows},
         {"warp_per_row", RowClass::warp_per_row},
         {"block_per_row", RowClass::block_per_row}}};
    // x86: lanes per vector; 0: the target's natural width.
    Halide::GeneratorParam<int> vector_width{"vector_width", 0, 0, 64};
    // x86: native vectors per step of the loops along a row.
    Halide::GeneratorParam<int> vectors_per_step{"vectors_per_step", 2, 1, 8};
    // x86: rows per thread-pool task (grad_input), and rows whose parameter
    // gradients one task sums before the tasks' partial sums are added.
    Halide::GeneratorParam<int> rows_per_task{"rows_per_task", 16, 1, 1 << 16};
    // x86: fewer rows per task where the rows would make fewer than
    // fewest_tasks tasks (1: always rows_per_task, a constant).
    Halide::GeneratorParam<int> fewest_tasks{"fewest_tasks", 4, 1, 1 << 16};
    // x86: rows whose terms one step of the parameter sums adds at once
    // (unrolled), so that the partial sums are loaded and stored once per
    // step rather than once per row.
    Halide::GeneratorParam<int> rows_per_sum_step{"rows_per_sum_step", 4, 1, 16};
    // x86 wide_rows: as the forward's (schedules/layer_norm_forward_schedule.h).
    Halide::GeneratorParam<int> rows_per_group{"rows_per_group", 8, 1, 1024};
    Halide::GeneratorParam<int> columns_per_chunk{"columns_per_chunk", 128, 1, 1 << 20};
    // x86 split_rows: elements of a row per thread-pool task (rows too long
    // for one thread to take whole).
    Halide::GeneratorParam<int> elements_per_task{"elements_per_task", 1 << 14, 1, 1 << 24};
    // x86 split_rows: elements of grad_weight and grad_bias whose sums over
    // the rows a task holds at once (on the stack: a constant size).
    Halide::GeneratorParam<int> elements_per_sum_block{"elements_per_sum_block", 1024, 1, 1 << 16};
    // x86 split_rows: calls of at most few_rows rows hold sums of
    // few_rows_sum_block elements at once instead.
    Halide::GeneratorParam<int> few_rows{"few_rows", 2, 0, 1 << 16};
    Halide::GeneratorParam<int> few_rows_sum_block{"few_rows_sum_block", 64, 1, 1 << 16};
    // CUDA, as LayerNormForwardKnobs.
    Halide::GeneratorParam<int> warps_per_block{"warps_per_block", 4, 1, 32};
    Halide::GeneratorParam<int> threads_per_row{"threads_per_row", 256, 32, 1024};
    Halide::GeneratorParam<int> loads_in_flight{"loads_in_flight", 4, 1, 16};
    // CUDA: values each thread adds per level of a block's reduction tree
    // (block_reduction).
    Halide::GeneratorParam<int> fold_radix{"fold_radix", 4, 2, 32};
};

void schedule_layer_norm_backward(LayerNormBackwardFuncs funcs, const Halide::Target &target,
                                  const LayerNormBackwardKnobs &knobs);
void schedule_layer_norm_backward_parameters(LayerNormBackwardParameterFuncs funcs,
                                             const Halide::Target &target,
                                             const LayerNormBackwardKnobs &knobs);

}  // namespace normgen
