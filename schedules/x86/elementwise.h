// Elementwise loop schedules shared by the x86 kernels.
#pragma once

#include "Halide.h"

namespace normgen::x86 {

// Vectorizes `var` of f's pure definition, `width` lanes at a time, as the
// last directive on f. Where the loop is at least one vector long, its last
// vector shifts inwards to overlap the one before (a few values are written
// twice, with the same result) instead of being masked: AMD CPUs run masked
// stores (vmaskmovps) in microcode, and a masked tail per row or plane cost
// up to half the time of short rows. Shorter loops use masked vectors.
inline void vectorize_elementwise(Halide::Func f, const Halide::Var &var,
                                  const Halide::Expr &extent, int width) {
    using namespace Halide;
    f.specialize(extent >= width).vectorize(var, width, TailStrategy::ShiftInwards);
    f.vectorize(var, width, TailStrategy::GuardWithIf);
}

// Splits each row of f(element, row) into tasks of `task` elements (a
// multiple of `step`) that threads take, so that even a single row uses
// every thread; vectorized by `step`. Where a row holds a whole task, its
// last task shifts inwards instead of being masked (see
// vectorize_elementwise).
inline void parallel_row_pieces(Halide::Func f, const Halide::Var &element,
                                const Halide::Var &row, const Halide::Expr &row_length, int task,
                                int step) {
    using namespace Halide;
    Var block("block"), in_block("in_block"), row_block("row_block");
    f.specialize(row_length >= task)
        .split(element, block, in_block, task, TailStrategy::ShiftInwards)
        .fuse(block, row, row_block)
        .parallel(row_block)
        .vectorize(in_block, step);
    f.split(element, block, in_block, task, TailStrategy::GuardWithIf)
        .fuse(block, row, row_block)
        .parallel(row_block)
        .vectorize(in_block, step, TailStrategy::GuardWithIf);
}

// BatchNorm's elementwise output (forward output, backward grad_input) in
// the kernels' views:
// channels_first f(spatial, channel, sample): planes can be as small as
//   8x8, so a task takes as many whole planes as make elements_per_task (at
//   least one) and small planes do not drown in task overhead; vectorized
//   along the plane.
// channels_last f(channel, position): tasks of positions_per_task
//   positions, vectorized across channels.
inline void parallel_batch_norm_elementwise(Halide::Func f, bool channels_first,
                                            const Halide::Var &spatial,
                                            const Halide::Var &channel,
                                            const Halide::Var &sample,
                                            const Halide::Var &position, int elements_per_task,
                                            const Halide::Expr &positions_per_task, int step) {
    using namespace Halide;
    // The innermost dimension: a plane (channels_first) or the channels.
    Expr inner_extent = f.output_buffer().dim(0).extent();
    if (channels_first) {
        Var plane("plane"), plane_block("plane_block"), plane_in_block("plane_in_block");
        Expr planes_per_task = max(1, elements_per_task / inner_extent);
        f.fuse(channel, sample, plane)
            .split(plane, plane_block, plane_in_block, planes_per_task, TailStrategy::GuardWithIf)
            .parallel(plane_block);
        vectorize_elementwise(f, spatial, inner_extent, step);
    } else {
        Var block("block"), in_block("in_block");
        f.split(position, block, in_block, positions_per_task, TailStrategy::GuardWithIf)
            .parallel(block);
        vectorize_elementwise(f, channel, inner_extent, step);
    }
}

}  // namespace normgen::x86
