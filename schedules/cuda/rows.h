// The row layouts of the CUDA LayerNorm kernels, forward and backward:
// thread t of a row handles elements t, t + n, t + 2n, ... (n threads per
// row), so that every warp-wide load is coalesced.
//
// warp_per_row: a block takes warps_per_block rows, a warp of 32 threads
//   each: short rows fill whole warps, several rows a block.
// block_per_row: a block of threads_per_row threads takes a row: long rows
//   get enough loads in flight.
#pragma once

#include <optional>
#include <vector>

#include "Halide.h"
#include "schedules/cuda/reductions.h"
#include "schedules/layer_norm_forward_schedule.h"

namespace normgen::cuda {

struct RowLayout {
    Halide::LoopLevel per_block;         // where a block's row statistics go
    std::optional<Halide::Var> row_thread;  // the row dimension, where a block has several rows
    int threads_per_row;
};

// Schedules `output(element, row)` in `row_class`'s layout, and `per_row`
// outputs (functions of the row only) in the same kernel (compute_with).
inline RowLayout schedule_rows(Halide::Func output, const Halide::Var &element,
                               const Halide::Var &row, const std::vector<Halide::Func> &per_row,
                               RowClass row_class, int warps_per_block, int threads_per_row,
                               int loads_in_flight) {
    using namespace Halide;
    Var step("step"), thread("thread");
    RowLayout layout;
    if (row_class == RowClass::warp_per_row) {
        layout.threads_per_row = 32;
        Var row_block("row_block"), row_in_block("row_in_block");
        output.split(row, row_block, row_in_block, warps_per_block, TailStrategy::GuardWithIf)
            .split(element, step, thread, layout.threads_per_row, TailStrategy::GuardWithIf)
            .reorder(step, thread, row_in_block, row_block)
            .gpu_blocks(row_block)
            .gpu_threads(thread, row_in_block);
        for (Func stat : per_row) {
            stat.split(row, row_block, row_in_block, warps_per_block, TailStrategy::GuardWithIf)
                .gpu_blocks(row_block)
                .gpu_threads(row_in_block)
                .compute_with(output, row_block);
        }
        layout.per_block = LoopLevel(output, row_block);
        layout.row_thread = row;
    } else if (row_class == RowClass::block_per_row) {
        layout.threads_per_row = threads_per_row;
        output.split(element, step, thread, threads_per_row, TailStrategy::GuardWithIf)
            .reorder(step, thread, row)
            .gpu_blocks(row)
            .gpu_threads(thread);
        for (Func stat : per_row) {
            stat.gpu_blocks(row).compute_with(output, row);
        }
        layout.per_block = LoopLevel(output, row);
    } else {
        throw CompileError("the CUDA LayerNorm schedules are warp_per_row and block_per_row");
    }
    unroll_loads(output, step, loads_in_flight);
    return layout;
}

}  // namespace normgen::cuda
