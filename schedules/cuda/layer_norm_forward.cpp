// LayerNorm forward on NVIDIA GPUs.
//
// Each row is read from memory once: the same threads compute its two sums
// and then its output, the later passes over the row hitting cache. The
// outputs mean and rstd come from the same kernel (compute_with). Thread t
// of a row handles elements t, t + n, t + 2n, ... (n threads per row), so
// that every warp-wide load is coalesced.
//
// warp_per_row: a block takes warps_per_block rows, a warp of 32 threads
//   each: short rows fill whole warps, several rows a block.
// block_per_row: a block of threads_per_row threads takes a row: long rows
//   get enough loads in flight.
// Partial sums meet in shared memory (block_reduction).
#include "schedules/cuda/layer_norm_forward.h"

#include "schedules/cuda/reductions.h"

namespace normgen::cuda {

using namespace Halide;

void schedule_layer_norm_forward(LayerNormForwardFuncs f, const Target &target,
                                 const LayerNormForwardKnobs &knobs) {
    if (f.chunked) {
        throw CompileError("the CUDA LayerNorm schedules take whole rows (elements_per_chunk=0)");
    }
    const Var &e = f.element, &r = f.row;
    Func output = f.output, mean = f.mean, rstd = f.rstd;
    Var step("step"), thread("thread");
    std::vector<Var> row_threads;  // rows of one block, on threads of their own
    int threads_per_row = 0;
    LoopLevel per_block;
    if (knobs.row_class == RowClass::warp_per_row) {
        threads_per_row = 32;
        Var row_block("row_block"), row_in_block("row_in_block");
        for (Func stage : {output, mean, rstd}) {
            stage.split(r, row_block, row_in_block, knobs.warps_per_block,
                        TailStrategy::GuardWithIf);
        }
        output.split(e, step, thread, threads_per_row, TailStrategy::GuardWithIf)
            .reorder(step, thread, row_in_block, row_block)
            .gpu_blocks(row_block)
            .gpu_threads(thread, row_in_block);
        unroll_loads(output, step, knobs.loads_in_flight);
        for (Func stat : {mean, rstd}) {
            stat.gpu_blocks(row_block).gpu_threads(row_in_block).compute_with(output, row_block);
        }
        per_block = LoopLevel(output, row_block);
        row_threads = {r};
    } else if (knobs.row_class == RowClass::block_per_row) {
        threads_per_row = knobs.threads_per_row;
        output.split(e, step, thread, threads_per_row, TailStrategy::GuardWithIf)
            .reorder(step, thread, r)
            .gpu_blocks(r)
            .gpu_threads(thread);
        unroll_loads(output, step, knobs.loads_in_flight);
        for (Func stat : {mean, rstd}) {
            stat.gpu_blocks(r).compute_with(output, r);
        }
        per_block = LoopLevel(output, r);
    } else {
        throw CompileError("the CUDA LayerNorm schedules are warp_per_row and block_per_row");
    }

    GroupStatistics &stats = f.row_statistics;
    for (Func sum : {stats.sum_of_values, stats.deviation_sums}) {
        block_reduction(sum, f.over_row.x, per_block, threads_per_row, knobs.loads_in_flight,
                        row_threads);
    }
    for (Func stat : {stats.rough_mean, f.row_mean, f.row_rstd}) {
        stat.compute_at(per_block);
        if (!row_threads.empty()) stat.gpu_threads(r);
    }
}

}  // namespace normgen::cuda
