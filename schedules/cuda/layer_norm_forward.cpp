// LayerNorm forward on NVIDIA GPUs, in the row layouts of rows.h.
//
// Each row is read from memory once: the same threads compute its two sums
// and then its output, the later passes over the row hitting cache. The
// outputs mean and rstd come from the same kernel (compute_with). Partial
// sums meet in shared memory (block_reduction).
#include "schedules/cuda/layer_norm_forward.h"

#include "schedules/cuda/reductions.h"
#include "schedules/cuda/rows.h"

namespace normgen::cuda {

using namespace Halide;

void schedule_layer_norm_forward(LayerNormForwardFuncs f, const Target &target,
                                 const LayerNormForwardKnobs &knobs) {
    if (f.chunked) {
        throw CompileError("the CUDA LayerNorm schedules take whole rows (elements_per_chunk=0)");
    }
    const RowLayout layout =
        schedule_rows(f.output, f.element, f.row, {f.mean, f.rstd}, knobs.row_class,
                      knobs.warps_per_block, knobs.threads_per_row, knobs.loads_in_flight);
    GroupStatistics &stats = f.row_statistics;
    for (auto [sum, over] : {std::pair{stats.pilot_sum, f.over_pilot},
                             std::pair{stats.deviation_sums, f.over_row}}) {
        block_reduction(sum, over.x, layout.per_block, layout.threads_per_row,
                        knobs.loads_in_flight, knobs.fold_radix, layout.row_thread);
    }
    for (Func stat : {stats.rough_mean, f.row_mean, f.row_rstd}) {
        stat.compute_at(layout.per_block);
        if (layout.row_thread) stat.gpu_threads(f.row);
    }
}

}  // namespace normgen::cuda
