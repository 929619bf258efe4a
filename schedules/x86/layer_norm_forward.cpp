// LayerNorm forward on x86 CPUs (AVX-512, AVX2, SSE4.1 from one schedule:
// the vector width follows the target or the vector_width knob).
//
// Rows are independent, so threads take blocks of rows. Per row, both sums
// and the output are computed while the row is still in L1/L2: the input
// streams from memory once and the output is written once. The outputs mean
// and rstd are fused into the same row loop (compute_with) rather than being
// separate passes over the input.
//
// long_rows: each row sum is split into vectors_per_step x `lanes` partial
//   sums (rfactor) that live in vector registers and are added horizontally
//   at the end.
// wide_rows: as long_rows, but rows_per_group rows at a time: their
//   statistics, then their outputs in chunks of columns_per_chunk columns,
//   each chunk for every row of the group. A row's output reads its input,
//   the weight and the bias: on rows of 4096 values that is 48 KiB, more
//   than the L1 cache holds while the output streams through it, and row by
//   row the weight and bias came from L2 each time. A chunk of them stays
//   in L1 for the whole group. (2 threads, the AMD EPYC of the benchmarks,
//   interleaved calls of both schedules: 4096x4096 0.85x the time of
//   long_rows, 4096x4097 0.89x, 2048x8192 0.84x, 64x11520 0.70x, 256x3200
//   0.75x, 8192x2048 0.97-1.0x; but 4096x1024 1.3x and 4096x768 1.4x, where
//   a row, weight and bias fit in L1 anyway.)
// short_rows: rows shorter than a few vectors waste most lanes that way, so
//   the sums run over `lanes` rows at once, one row per lane.
// vector_rows: rows of a few whole vectors (the runtime sends rows of 8 to
//   64 values, in whole steps of 8), row by row as long_rows, but each sum
//   is a tree of vector adds (sum_in_halving_tree), no loop on common
//   lengths: 65536x16 0.65x the time of short_rows at 1 and 2 threads.
// split_rows: see schedule_split_rows.
#include "schedules/x86/layer_norm_forward.h"

#include "schedules/x86/elementwise.h"
#include "schedules/x86/reductions.h"

namespace normgen::x86 {

using namespace Halide;

namespace {

// The first level of the pilot's tree: the pilot's whole length where it
// is a power of two no wider than a vector, else a vector.
int pilot_tree_width(int pilot_length, int lanes) {
    const bool power_of_two = pilot_length > 0 && (pilot_length & (pilot_length - 1)) == 0;
    return power_of_two && pilot_length < lanes ? pilot_length : lanes;
}

// split_rows: threads summarize the chunks of each row, the chunks combine
// per row, then threads write the output in blocks of elements_per_task. The
// input is read twice (statistics, output): a row this long outgrows the
// caches, and no element can be written before its row's statistics exist.
void schedule_split_rows(LayerNormForwardFuncs &f, const Target &target,
                         const LayerNormForwardKnobs &knobs) {
    if (!f.chunked) {
        throw CompileError("row_class=split_rows needs elements_per_chunk > 0");
    }
    const int lanes = vector_lanes(target, knobs.vector_width);
    const Var &e = f.element, &r = f.row, &k = f.chunk;
    Var row_chunk("row_chunk");
    f.chunk_summary.compute_root().fuse(r, k, row_chunk).parallel(row_chunk);
    LoopLevel per_chunk(f.chunk_summary, row_chunk);
    f.chunk_statistics.rough_mean.compute_at(per_chunk);
    vectorize_reduction(f.chunk_statistics.pilot_sum, f.over_pilot.x, per_chunk, lanes, 1);
    vectorize_reduction(f.chunk_statistics.deviation_sums, f.within_chunk.x, per_chunk, lanes,
                        knobs.vectors_per_step);
    for (Func stat :
         {f.row_combination.offset_sum, f.row_combination.spread, f.row_mean, f.row_rstd}) {
        stat.compute_root();
    }

    const int task = whole_steps(knobs.elements_per_task, lanes, knobs.vectors_per_step);
    parallel_row_pieces(f.output, e, r, f.output.output_buffer().dim(0).extent(), task, lanes,
                        knobs.vectors_per_step);
}

}  // namespace

void schedule_layer_norm_forward(LayerNormForwardFuncs f, const Target &target,
                                 const LayerNormForwardKnobs &knobs) {
    if (knobs.row_class == RowClass::split_rows) {
        schedule_split_rows(f, target, knobs);
        return;
    }
    if (f.chunked) {
        throw CompileError("elements_per_chunk > 0 needs row_class=split_rows");
    }
    const int lanes = vector_lanes(target, knobs.vector_width);
    const Var &e = f.element, &r = f.row;
    Var row_block("row_block"), row_in_block("row_in_block");
    Func output = f.output, mean = f.mean, rstd = f.rstd;
    Expr row_length = f.output.output_buffer().dim(0).extent();

    Expr task_rows = rows_per_task(output.output_buffer().dim(1).extent(), knobs.rows_per_task,
                                   knobs.fewest_tasks);
    for (Func stage : {output, mean, rstd}) {
        stage.split(r, row_block, row_in_block, task_rows, TailStrategy::GuardWithIf)
            .parallel(row_block);
    }
    // The loop whose every iteration computes statistics, then outputs:
    // one row's, or (wide_rows) one group's, which mean and rstd take too.
    // (Rows shorter than a chunk come only where a test forces wide_rows:
    // written whole.)
    const bool wide = knobs.row_class == RowClass::wide_rows;
    const Var rows_at_once =
        wide ? write_row_groups_in_column_chunks(output, e, row_in_block, row_length,
                                                 knobs.rows_per_group, knobs.columns_per_chunk,
                                                 lanes, knobs.vectors_per_step)
             : row_in_block;
    for (Func stage : {mean, rstd}) {
        if (wide) {
            stage.split(row_in_block, rows_at_once, Var("row_in_group"), knobs.rows_per_group,
                        TailStrategy::GuardWithIf);
        }
        stage.compute_with(output, rows_at_once);
    }

    if (knobs.row_class == RowClass::long_rows || wide) {
        vectorize_elementwise(output, e, row_length, lanes, knobs.vectors_per_step);
        // Each row's (wide_rows: group's) statistics, then its output, while
        // the row is in L1 (the group in L2). (Computing a whole task's
        // statistics first measured 5-8% slower on 4096x768 and 4096x1024,
        // interleaved runs of both builds.)
        LoopLevel per_pass(output, rows_at_once);
        GroupStatistics &stats = f.row_statistics;
        for (Func stat : {stats.rough_mean, f.row_mean, f.row_rstd}) {
            stat.compute_at(per_pass);
        }
        // The pilot is short (or the whole row, where the algorithm asks):
        // one accumulator.
        vectorize_reduction(stats.pilot_sum, f.over_pilot.x, per_pass, lanes, 1);
        vectorize_reduction(stats.deviation_sums, f.over_row.x, per_pass, lanes,
                            knobs.vectors_per_step);
    } else if (knobs.row_class == RowClass::vector_rows) {
        vectorize_along_short_rows(output, e, row_length, lanes);
        LoopLevel per_row(output, row_in_block);
        GroupStatistics &stats = f.row_statistics;
        for (Func stat : {stats.rough_mean, f.row_mean, f.row_rstd}) {
            // One row's: in a task's guarded tail too, where Halide
            // cannot bound it and would take it from the heap per row.
            stat.compute_at(per_row).bound_storage(r, 1);
        }
        const std::vector<int> unrolled(std::begin(common_short_row_lengths),
                                        std::end(common_short_row_lengths));
        sum_in_halving_tree(stats.pilot_sum, f.over_pilot.x, r, per_row,
                            pilot_tree_width(f.pilot_length, lanes), row_length, unrolled);
        sum_in_halving_tree(stats.deviation_sums, f.over_row.x, r, per_row, lanes, row_length,
                            unrolled);
    } else {
        // One row per lane: the statistics of a whole block of rows are
        // computed together, vectorized across rows.
        LoopLevel per_block(output, row_block);
        GroupStatistics &stats = f.row_statistics;
        for (Func stat : {stats.pilot_sum, stats.rough_mean, stats.deviation_sums, f.row_mean,
                          f.row_rstd}) {
            stat.compute_at(per_block).vectorize(r, lanes, TailStrategy::GuardWithIf);
        }
        // Each lane would sum its whole row in sequence, losing digits on
        // rows longer than this class is meant for; summing chunks first
        // keeps every partial sum short at no cost to short rows.
        const int chunk_length = 128;
        for (auto [sum, over] : {std::pair{stats.pilot_sum, f.over_pilot},
                                 std::pair{stats.deviation_sums, f.over_row}}) {
            RVar chunk("chunk"), in_chunk("in_chunk");
            Var chunk_var("chunk_var");
            Func partial = sum.update()
                               .split(over.x, chunk, in_chunk, chunk_length,
                                      TailStrategy::GuardWithIf)
                               .rfactor(chunk, chunk_var);
            partial.compute_at(per_block).vectorize(r, lanes, TailStrategy::GuardWithIf);
            // Rows of a common short length are summed fully unrolled: a
            // row's elements across `lanes` rows then load as scalars
            // inserted into vectors instead of one gather per element
            // (65536x16 on one thread: 1.33 -> 0.87 ms).
            for (int length : common_short_row_lengths) {
                partial.update()
                    .specialize(row_length == length)
                    .vectorize(r, lanes, TailStrategy::GuardWithIf)
                    .unroll(in_chunk, length, TailStrategy::GuardWithIf);
            }
            partial.update().vectorize(r, lanes, TailStrategy::GuardWithIf);
            sum.update().vectorize(r, lanes, TailStrategy::GuardWithIf);
        }
        vectorize_along_short_rows(output, e, row_length, lanes);
    }
}

}  // namespace normgen::x86
