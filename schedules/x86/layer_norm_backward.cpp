// LayerNorm backward on x86 CPUs.
//
// Threads take blocks of rows_per_task rows. In each block, per row, the
// row's two sums (long_rows: vectorized across the row in independent
// accumulators; short_rows: a vector reduction) and then its grad_input, while the
// row of x and dy is in L1 (short_rows: the block in L2); then, in the
// same task (compute_with), the block's partial sums for grad_weight and
// grad_bias, vectorized along the row, from the block's rows still in L2.
// x and dy stream from memory once. The partial sums of all blocks are
// added at the end: the reduction across rows runs in parallel instead of
// in one thread.
// wide_rows: as long_rows, but the row sums of a group of rows_per_group
// rows, then their grad_input in chunks of columns_per_chunk columns, each
// chunk for every row of the group, so that the chunk of the weight stays in
// L1 (see the forward's wide_rows; interleaved calls, 2 threads: 4096x4096
// 0.90-0.94x the time of long_rows, 2048x8192 0.91x, 8192x2048 1.0x).
#include "schedules/x86/layer_norm_backward.h"

#include "schedules/x86/elementwise.h"
#include "schedules/x86/reductions.h"

namespace normgen::x86 {

using namespace Halide;

namespace {

// Each block of rows_per_task rows sums its rows, rows_per_sum_step at a
// time, into its own partial sums; returns the stage that does. Its loop
// over blocks is `block_var`, which compute_with finds by name.
Stage schedule_column_sums(LayerNormBackwardParameterFuncs &f, int lanes,
                           const Expr &rows_per_task, int rows_per_sum_step,
                           const Var &block_var) {
    const Var &e = f.element;
    RVar block("block"), row_in_block("row_in_block");
    Func partial = f.column_sums.update()
                       .split(f.over_rows.x, block, row_in_block, rows_per_task,
                              TailStrategy::GuardWithIf)
                       .rfactor(block, block_var);
    partial.compute_root().parallel(block_var).vectorize(e, lanes, TailStrategy::GuardWithIf);
    Stage per_block = partial.update();
    RVar row_group("row_group"), row_in_group("row_in_group");
    per_block
        .split(row_in_block, row_group, row_in_group, rows_per_sum_step, TailStrategy::GuardWithIf)
        .reorder(row_in_group, e, row_group, block_var)
        .parallel(block_var)
        .vectorize(e, lanes, TailStrategy::GuardWithIf)
        .unroll(row_in_group);
    f.column_sums.compute_root().vectorize(e, lanes, TailStrategy::GuardWithIf);
    f.column_sums.update().reorder(e, block).vectorize(e, lanes, TailStrategy::GuardWithIf);
    for (Func gradient : {f.grad_weight, f.grad_bias}) {
        gradient.vectorize(e, lanes, TailStrategy::GuardWithIf);
    }
    return per_block;
}

// split_rows: rows too long for one task (a single row may be the whole
// tensor). Threads sum the chunks of elements_per_task elements of each row,
// then write grad_input in blocks of as many elements; the parameter
// gradients run across rows in parallel blocks of elements. x and dy are
// read three times (row sums, grad_input, parameter sums): no row fits in
// cache whole.
void schedule_split_rows(LayerNormBackwardFuncs &f, const Target &target,
                         const LayerNormBackwardKnobs &knobs) {
    const int lanes = vector_lanes(target, knobs.vector_width);
    const int task = whole_steps(knobs.elements_per_task, lanes, knobs.vectors_per_step);
    const Var &e = f.element, &r = f.row;

    RVar chunk("chunk"), in_chunk("in_chunk");
    Var chunk_var("chunk_var"), row_chunk("row_chunk");
    Func chunk_sums = f.row_sums.update()
                          .split(f.over_row.x, chunk, in_chunk, task, TailStrategy::GuardWithIf)
                          .rfactor(chunk, chunk_var);
    Func chunk_slot = chunk_sums.in();
    chunk_slot.compute_root().fuse(chunk_var, r, row_chunk).parallel(row_chunk);
    vectorize_reduction(chunk_sums, in_chunk, LoopLevel(chunk_slot, row_chunk), lanes,
                        knobs.vectors_per_step);
    f.row_sums.compute_root();

    parallel_row_pieces(f.grad_input, e, r, f.grad_input.output_buffer().dim(0).extent(), task,
                        lanes, knobs.vectors_per_step);

    // The parameter gradients in blocks of elements, each block's column
    // sums into a small buffer of its own, written out while it is in L1:
    // rows this long make grad_weight and grad_bias as large as a row, and a
    // whole-row buffer of sums would be one more pass over that much memory
    // (a task-sized one, on the heap, cost a page fault per page and call).
    LayerNormBackwardParameterFuncs &p = f.parameters;
    Var element_block("element_block"), sum_block("sum_block"), in_sum_block("in_sum_block");
    const int sum_block_length = std::min<int>(knobs.elements_per_sum_block, task);
    // Calls of at most few_rows rows take shorter sum blocks: a block is a
    // memset, its sums and a copy per row, which with 1 or 2 rows costs
    // more than the sums (1x1048576 and 2x524288, 2 threads: 0.82x the time
    // with blocks of 64; 4 rows 1.03x, 16 rows 1.07-1.1x).
    Expr rows = f.grad_input.output_buffer().dim(1).extent();
    Expr sum_block_factor =
        select(rows <= knobs.few_rows, std::min<int>(knobs.few_rows_sum_block, sum_block_length),
               sum_block_length);
    for (Func gradient : {p.grad_weight, p.grad_bias}) {
        gradient.split(p.element, element_block, p.element, task, TailStrategy::GuardWithIf)
            .split(p.element, sum_block, in_sum_block, sum_block_factor, TailStrategy::GuardWithIf)
            .parallel(element_block)
            .vectorize(in_sum_block, lanes, TailStrategy::GuardWithIf);
    }
    p.grad_bias.compute_with(p.grad_weight, sum_block);
    p.column_sums.compute_at(p.grad_weight, sum_block)
        .bound_storage(p.element, sum_block_length)
        .vectorize(p.element, lanes, TailStrategy::GuardWithIf);
    p.column_sums.update()
        .reorder(p.element, p.over_rows.x)
        .vectorize(p.element, lanes, TailStrategy::GuardWithIf);
}

}  // namespace

void schedule_layer_norm_backward(LayerNormBackwardFuncs f, const Target &target,
                                  const LayerNormBackwardKnobs &knobs) {
    if (knobs.row_class == RowClass::split_rows) {
        schedule_split_rows(f, target, knobs);
        return;
    }
    const int lanes = vector_lanes(target, knobs.vector_width);
    const Var &e = f.element, &r = f.row;
    Var row_block("row_block"), row_in_block("row_in_block");
    Func grad_input = f.grad_input;
    Expr row_length = grad_input.output_buffer().dim(0).extent();
    // The blocks' partial parameter sums are added up by one thread at the
    // end: a block of rows_per_task rows leaves 1/rows_per_task of the
    // tensor to add (4096x768, 2 threads: 1.56 ms with 16 rows per task,
    // 0.86 ms with 64).
    const bool wide = knobs.row_class == RowClass::wide_rows;
    Expr task_rows = rows_per_task(grad_input.output_buffer().dim(1).extent(),
                                   knobs.rows_per_task, knobs.fewest_tasks);
    grad_input.split(r, row_block, row_in_block, task_rows, TailStrategy::GuardWithIf)
        .parallel(row_block);
    if (knobs.row_class == RowClass::long_rows || wide) {
        // The loop whose every iteration computes row sums, then
        // grad_input: one row's, or (wide_rows) one group's.
        const Var rows_at_once =
            wide ? write_row_groups_in_column_chunks(grad_input, e, row_in_block, row_length,
                                                     knobs.rows_per_group,
                                                     knobs.columns_per_chunk, lanes,
                                                     knobs.vectors_per_step)
                 : row_in_block;
        vectorize_elementwise(grad_input, e, row_length, lanes, knobs.vectors_per_step);
        vectorize_reduction(f.row_sums, f.over_row.x, LoopLevel(grad_input, rows_at_once), lanes,
                            knobs.vectors_per_step);
    } else if (knobs.row_class == RowClass::short_rows) {
        // The row sums of a whole block, then its grad_input. A row holds
        // too few vectors for lanes x vectors accumulators: each row is
        // summed as whole vectors added up across their lanes (a vector
        // reduction: rows of a common short length in one, others a vector
        // at a time). Summing `lanes` rows at once, one row per lane, took
        // 1.3-1.5x the time on 65536x16 and 32768x32 (its scalar loads
        // inserted into vectors; interleaved calls, 1 and 2 threads).
        vectorize_along_short_rows(grad_input, e, row_length, lanes);
        f.row_sums.compute_at(grad_input, row_block).vectorize(r, lanes, TailStrategy::GuardWithIf);
        for (int length : common_short_row_lengths) {
            f.row_sums.update()
                .specialize(row_length == length)
                .atomic()
                .vectorize(f.over_row.x, length, TailStrategy::GuardWithIf);
        }
        f.row_sums.update().atomic().vectorize(f.over_row.x, lanes, TailStrategy::GuardWithIf);
    } else {
        throw CompileError("the x86 LayerNorm backward schedules are long_rows, short_rows, "
                           "split_rows and wide_rows");
    }
    schedule_column_sums(f.parameters, lanes, task_rows, knobs.rows_per_sum_step, row_block)
        .compute_with(grad_input, row_block);
}


void schedule_layer_norm_backward_parameters(LayerNormBackwardParameterFuncs f,
                                             const Target &target,
                                             const LayerNormBackwardKnobs &knobs) {
    schedule_column_sums(f, vector_lanes(target, knobs.vector_width), knobs.rows_per_task,
                         knobs.rows_per_sum_step, Var("row_block"));
}

}  // namespace normgen::x86
