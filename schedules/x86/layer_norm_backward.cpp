// LayerNorm backward on x86 CPUs.
//
// grad_input: as the forward long_rows kernel, threads take blocks of rows;
// per row, its two sums (vectorized across the row in independent
// accumulators) and then its output, while the row of x and dy is in L1.
// grad_weight, grad_bias: each task sums a block of rows into per-element
// partial sums (vectorized along the row), then the partial sums are added:
// the reduction across rows runs in parallel instead of in one thread.
#include "schedules/x86/layer_norm_backward.h"

#include "schedules/x86/elementwise.h"
#include "schedules/x86/reductions.h"

namespace normgen::x86 {

using namespace Halide;

void schedule_layer_norm_backward_input(LayerNormBackwardInputFuncs f, const Target &target,
                                        const LayerNormBackwardKnobs &knobs) {
    if (knobs.row_class != RowClass::long_rows) {
        throw CompileError("the x86 LayerNorm backward schedule is long_rows");
    }
    const int lanes = target.natural_vector_size<float>();
    const Var &e = f.element, &r = f.row;
    Var row_block("row_block"), row_in_block("row_in_block");
    Func grad_input = f.grad_input;
    grad_input.split(r, row_block, row_in_block, knobs.rows_per_task, TailStrategy::GuardWithIf)
        .parallel(row_block);
    vectorize_elementwise(grad_input, e, grad_input.output_buffer().dim(0).extent(),
                          lanes * knobs.vectors_per_step);
    vectorize_reduction(f.row_sums, f.over_row.x, LoopLevel(grad_input, row_in_block), lanes,
                        knobs.vectors_per_step);
}

void schedule_layer_norm_backward_parameters(LayerNormBackwardParameterFuncs f,
                                             const Target &target,
                                             const LayerNormBackwardKnobs &knobs) {
    const int lanes = target.natural_vector_size<float>();
    const Var &e = f.element;
    RVar task("task"), row_in_task("row_in_task");
    Var task_var("task_var");
    Func partial = f.column_sums.update()
                       .split(f.over_rows.x, task, row_in_task, knobs.rows_per_task,
                              TailStrategy::GuardWithIf)
                       .rfactor(task, task_var);
    partial.compute_root().parallel(task_var).vectorize(e, lanes, TailStrategy::GuardWithIf);
    partial.update()
        .reorder(e, row_in_task, task_var)
        .parallel(task_var)
        .vectorize(e, lanes, TailStrategy::GuardWithIf);
    f.column_sums.compute_root().vectorize(e, lanes, TailStrategy::GuardWithIf);
    f.column_sums.update().reorder(e, task).vectorize(e, lanes, TailStrategy::GuardWithIf);
    for (Func gradient : {f.grad_weight, f.grad_bias}) {
        gradient.vectorize(e, lanes, TailStrategy::GuardWithIf);
    }
}

}  // namespace normgen::x86
