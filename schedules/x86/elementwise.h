// Elementwise loop schedules shared by the x86 kernels.
#pragma once

#include "Halide.h"
#include "schedules/batch_norm_knobs.h"

namespace normgen::x86 {

// Lanes per vector: the `vector_width` knob, or the target's natural width
// for 0. (On the AMD EPYC of the benchmarks, AVX-512 code ran faster with
// 8-lane vectors, its 16-lane instructions being split in two.)
inline int vector_lanes(const Halide::Target &target, int vector_width) {
    return vector_width > 0 ? vector_width : target.natural_vector_size<float>();
}

// `elements` rounded up to whole steps of lanes x vectors values.
inline int whole_steps(int elements, int lanes, int vectors) {
    const int step = lanes * vectors;
    return (elements + step - 1) / step * step;
}

// Rows per thread-pool task: `most`, or fewer where `rows` would otherwise
// make fewer than `fewest_tasks` tasks, so that every thread gets work. A
// `fewest_tasks` of 1 keeps every task at `most` rows, a constant: Halide
// then sizes per-task storage statically, on the stack (LayerNorm forward
// long_rows, whose per-row statistics took 2x the time from the heap).
inline Halide::Expr rows_per_task(const Halide::Expr &rows, int most, int fewest_tasks) {
    if (fewest_tasks <= 1) return most;
    return Halide::clamp(rows / fewest_tasks, 1, most);
}

// Splits `var` of `stage` into steps of lanes x vectors values: `vectors`
// instructions of `lanes` lanes each, unrolled. (One vector `lanes x
// vectors` wide would leave the instruction width to LLVM, which picks the
// widest the target has.)
inline void vectorize_in_steps(Halide::Stage stage, const Halide::Var &var, int lanes,
                               int vectors, Halide::TailStrategy tail) {
    using namespace Halide;
    Var in_step("in_step"), vector("vector"), lane("lane");
    stage.split(var, var, in_step, lanes * vectors, tail)
        .split(in_step, vector, lane, lanes)
        .vectorize(lane)
        .unroll(vector);
}

// Vectorizes `var` of f (a Func's pure definition, or one of its
// specializations) in steps of lanes x vectors values, as the last directive
// on f. Where the loop is at least one step long, its last step shifts
// inwards to overlap the one before (a few values are written twice, with
// the same result) instead of being masked: AMD CPUs run masked stores
// (vmaskmovps) in microcode, and a masked tail per row or plane cost up to
// half the time of short rows. Shorter loops use masked vectors.
inline void vectorize_elementwise(Halide::Stage f, const Halide::Var &var,
                                  const Halide::Expr &extent, int lanes, int vectors = 1) {
    using namespace Halide;
    vectorize_in_steps(f.specialize(extent >= lanes * vectors), var, lanes, vectors,
                       TailStrategy::ShiftInwards);
    f.vectorize(var, lanes, TailStrategy::GuardWithIf);
}

// wide_rows (LayerNorm): splits the loop `rows` of f(element, row) into
// groups of `rows_per_group` (row_group, row_in_group) and writes each group
// in chunks of `columns` columns, each chunk for every row of the group, so
// that a chunk of the per-element parameters stays in L1 for the whole
// group; vectorized in steps of lanes x vectors values, of which `columns`
// must be a multiple. Rows shorter than a chunk are left to f's later
// directives. Returns row_group: the loop whose every iteration is one
// group, where the caller computes the group's row statistics.
inline Halide::Var write_row_groups_in_column_chunks(Halide::Func f, const Halide::Var &element,
                                                     const Halide::Var &rows,
                                                     const Halide::Expr &row_length,
                                                     int rows_per_group, int columns,
                                                     int lanes, int vectors) {
    using namespace Halide;
    if (columns % (lanes * vectors) != 0) {
        throw CompileError("wide_rows: columns_per_chunk must be a multiple of vector_width x "
                           "vectors_per_step");
    }
    Var row_group("row_group"), row_in_group("row_in_group");
    f.split(rows, row_group, row_in_group, rows_per_group, TailStrategy::GuardWithIf);
    Var column_chunk("column_chunk"), in_chunk("in_chunk");
    Stage in_chunks = f.specialize(row_length >= columns)
                          .split(element, column_chunk, in_chunk, columns,
                                 TailStrategy::ShiftInwards)
                          .reorder(in_chunk, row_in_group, column_chunk, row_group);
    vectorize_in_steps(in_chunks, in_chunk, lanes, vectors, TailStrategy::RoundUp);
    return row_group;
}

// Row lengths common enough among short rows (short_rows) to get loops of
// their own, fully unrolled.
constexpr int common_short_row_lengths[] = {8, 16, 32};

// Vectorizes f(element, row) along short rows: rows of a common short
// length that is a multiple of `lanes` in whole, unrolled vectors (rows of
// 16 values as a loop of two vectors spent more on the loop than on the
// values: 65536x16, 1 and 2 threads, 0.84x and 0.89x the time unrolled;
// 65536x8 0.76x; 32768x32 0.94x), other lengths as vectorize_elementwise.
inline void vectorize_along_short_rows(Halide::Func f, const Halide::Var &element,
                                       const Halide::Expr &row_length, int lanes) {
    using namespace Halide;
    for (int length : common_short_row_lengths) {
        if (length % lanes != 0) continue;
        Var vector("vector"), lane("lane");
        f.specialize(row_length == length)
            .split(element, vector, lane, lanes, TailStrategy::RoundUp)
            .vectorize(lane)
            .unroll(vector);
    }
    vectorize_elementwise(f, element, row_length, lanes);
}

// Splits each row of f(element, row) into tasks of `task` elements (a
// multiple of a step, lanes x vectors) that threads take, so that even a
// single row uses every thread; vectorized in steps. Where a row holds a
// whole task, its last task shifts inwards instead of being masked (see
// vectorize_elementwise).
inline void parallel_row_pieces(Halide::Func f, const Halide::Var &element,
                                const Halide::Var &row, const Halide::Expr &row_length, int task,
                                int lanes, int vectors) {
    using namespace Halide;
    Var block("block"), in_block("in_block"), row_block("row_block");
    Stage whole_tasks = f.specialize(row_length >= task)
                            .split(element, block, in_block, task, TailStrategy::ShiftInwards)
                            .fuse(block, row, row_block)
                            .parallel(row_block);
    vectorize_in_steps(whole_tasks, in_block, lanes, vectors, TailStrategy::RoundUp);
    f.split(element, block, in_block, task, TailStrategy::GuardWithIf)
        .fuse(block, row, row_block)
        .parallel(row_block)
        .vectorize(in_block, lanes, TailStrategy::GuardWithIf);
}

// The size of a share when `count` items are split into equal shares: as
// many as shares of `most` would make, their number rounded up to a
// multiple of `multiple` (the cores), so that no thread waits while another
// finishes a last share that is only partly full. At least 1.
inline Halide::Expr equal_share(const Halide::Expr &count, const Halide::Expr &most,
                                int multiple) {
    Halide::Expr shares = (count + most - 1) / most;
    shares = (shares + multiple - 1) / multiple * multiple;
    return Halide::max(1, (count + shares - 1) / Halide::max(1, shares));
}

// BatchNorm's elementwise output (forward output, backward grad_input) in
// the kernels' views:
// channels_first f(spatial, channel, sample): planes can be as small as
//   8x8, so a task takes as many whole planes as make elements_per_task (at
//   least one) and small planes do not drown in task overhead: whole
//   samples where a sample is smaller than a task, else consecutive
//   channels of one sample; vectorized along the plane. (Tasks over the
//   fused (channel, sample) planes cost two divisions per plane to find its
//   channel and sample: on 8x8 planes, more time than the plane's values.
//   Tasks of one sample each, 3200 values on 256x50x8x8, spent 1.7x the
//   time of the limit in the thread pool's hand-offs.)
// channels_last f(channel, position): tasks of whole positions, vectorized
//   across channels: equal shares (equal_share) of about elements_per_task
//   values at most, their number a multiple of task_multiple. (2 threads,
//   interleaved calls, shares of about 262144 values in an even number
//   against tasks of 65536 and a short last one: inference 64x20x24x24
//   0.94-0.95x the time, 256x50x8x8 0.955-0.98x, 128x256x14x14 0.96x,
//   1024x512 0.99-1.0x; training 0.98-0.99x.)
// Tensors of at least `streaming_elements` values take vectors of
// `streaming_vector_width` lanes. (On the AMD EPYC of the benchmarks, tensors that
// stream from memory ran faster in 4-lane than in 8-lane vectors, 24.5 MiB,
// 2 threads: NHWC inference 0.82-0.90x the time, training 0.87-0.90x; NCHW
// inference 0.83-0.93x, training 0.91-0.97x. Those in the L3 cache ran
// slower in 4-lane vectors, 1.15-1.3x.)
inline void parallel_batch_norm_elementwise(Halide::Func f, bool channels_first,
                                            const Halide::Var &spatial,
                                            const Halide::Var &channel,
                                            const Halide::Var &sample,
                                            const Halide::Var &position, int lanes,
                                            const BatchNormKnobs &knobs) {
    using namespace Halide;
    const int vectors = knobs.vectors_per_step;
    // The innermost dimension: a plane (channels_first) or the channels;
    // a task takes whole ones.
    Expr inner_extent = f.output_buffer().dim(0).extent();
    Expr inner_per_task = max(1, knobs.elements_per_task / inner_extent);
    Expr elements = cast<int64_t>(1);
    for (int d = 0; d < f.output_buffer().dimensions(); ++d) {
        elements *= f.output_buffer().dim(d).extent();
    }
    auto parallel_tasks = [&](Stage stage, int stage_lanes) {
        if (channels_first) {
            Expr channels = f.output_buffer().dim(1).extent();
            // (At least 1: Halide checks every split factor, taken or not.)
            Expr samples_per_task = max(1, inner_per_task / channels);
            Var sample_block("sample_block"), sample_in_block("sample_in_block");
            Stage whole_samples = stage.specialize(samples_per_task >= 2)
                                      .split(sample, sample_block, sample_in_block,
                                             samples_per_task, TailStrategy::GuardWithIf)
                                      .reorder(spatial, channel, sample_in_block, sample_block)
                                      .parallel(sample_block);
            vectorize_elementwise(whole_samples, spatial, inner_extent, stage_lanes, vectors);
            Var channel_block("channel_block"), channel_in_block("channel_in_block"),
                task("task");
            stage
                .split(channel, channel_block, channel_in_block, inner_per_task,
                       TailStrategy::GuardWithIf)
                .reorder(spatial, channel_in_block, channel_block, sample)
                .fuse(channel_block, sample, task)
                .parallel(task);
            vectorize_elementwise(stage, spatial, inner_extent, stage_lanes, vectors);
        } else {
            Var block("block"), in_block("in_block");
            Expr share = equal_share(f.output_buffer().dim(1).extent(), inner_per_task,
                                     knobs.task_multiple);
            stage.split(position, block, in_block, share, TailStrategy::GuardWithIf)
                .parallel(block);
            vectorize_elementwise(stage, channel, inner_extent, stage_lanes, vectors);
        }
    };
    parallel_tasks(f.specialize(elements >= knobs.streaming_elements),
                   knobs.streaming_vector_width);
    parallel_tasks(f, lanes);
}

}  // namespace normgen::x86
