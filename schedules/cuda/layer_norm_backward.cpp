// LayerNorm backward on NVIDIA GPUs.
//
// grad_input: the forward kernels' row layouts (rows.h): a row's two sums,
// then its output, by the same threads.
// grad_weight, grad_bias: chunks of rows_per_task rows summed per element
// (threads along the row, so that loads are coalesced; blocks over row
// chunks), then the chunks' sums added per element, a block each: kernels
// of their own, reading x and dy again (from L2 where they fit).
#include "schedules/cuda/layer_norm_backward.h"

#include "schedules/cuda/reductions.h"
#include "schedules/cuda/rows.h"

namespace normgen::cuda {

using namespace Halide;

namespace {
constexpr int threads_per_block = 128;
}  // namespace

void schedule_layer_norm_backward(LayerNormBackwardFuncs f, const Target &target,
                                  const LayerNormBackwardKnobs &knobs) {
    const RowLayout layout =
        schedule_rows(f.grad_input, f.element, f.row, {}, knobs.row_class, knobs.warps_per_block,
                      knobs.threads_per_row, knobs.loads_in_flight);
    block_reduction(f.row_sums, f.over_row.x, layout.per_block, layout.threads_per_row,
                    knobs.loads_in_flight, knobs.fold_radix, layout.row_thread);
    cuda::schedule_layer_norm_backward_parameters(f.parameters, target, knobs);
}

void schedule_layer_norm_backward_parameters(LayerNormBackwardParameterFuncs f,
                                             const Target &target,
                                             const LayerNormBackwardKnobs &knobs) {
    const Var &e = f.element;
    RVar chunk("chunk"), row_in_chunk("row_in_chunk");
    Var chunk_var("chunk_var"), element_block("element_block"), element_thread("element_thread");
    Func partial = f.column_sums.update()
                       .split(f.over_rows.x, chunk, row_in_chunk, knobs.rows_per_task,
                              TailStrategy::GuardWithIf)
                       .rfactor(chunk, chunk_var);
    // The blocks of (element block, chunk) pairs lie along the grid's x, whose
    // 2^31 - 1 blocks cover every tensor the runtime takes: chunks along y
    // (at most 65535) would have stopped at 4 Mi rows.
    Var block("block");
    partial.compute_root()
        .split(e, element_block, element_thread, threads_per_block, TailStrategy::GuardWithIf)
        .reorder(element_thread, element_block, chunk_var)
        .fuse(element_block, chunk_var, block)
        .gpu_blocks(block)
        .gpu_threads(element_thread);
    partial.update()
        .split(e, element_block, element_thread, threads_per_block, TailStrategy::GuardWithIf)
        .reorder(row_in_chunk, element_thread, element_block, chunk_var)
        .fuse(element_block, chunk_var, block)
        .gpu_blocks(block)
        .gpu_threads(element_thread);
    unroll_loads(partial.update(), row_in_chunk, knobs.loads_in_flight);
    // The chunks' partial sums meet per element in a block of 32 threads
    // (block_reduction): one thread adding a column of chunks in turn
    // waited out one load latency per chunk.
    f.grad_weight.compute_root().gpu_blocks(e);
    block_reduction(f.column_sums, chunk, LoopLevel(f.grad_weight, e), 32, knobs.loads_in_flight,
                    knobs.fold_radix);
    f.grad_bias.compute_root().gpu_blocks(e).compute_with(f.grad_weight, e);
}

}  // namespace normgen::cuda
