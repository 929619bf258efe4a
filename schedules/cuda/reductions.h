// Reduction schedules shared by the CUDA kernels.
#pragma once

#include <optional>
#include <string>

#include "Halide.h"

namespace normgen::cuda {

// Unrolls `loop` of `stage` by `loads_in_flight` (see block_reduction).
inline void unroll_loads(Halide::Stage stage, const Halide::VarOrRVar &loop, int loads_in_flight) {
    using namespace Halide;
    if (loads_in_flight > 1) {
        VarOrRVar outer(loop.name() + "_outer", loop.is_rvar);
        VarOrRVar inner(loop.name() + "_inner", loop.is_rvar);
        stage.split(loop, outer, inner, loads_in_flight, TailStrategy::GuardWithIf).unroll(inner);
    }
}

// Schedules f(group...) += g(over, group...) for one block of GPU threads
// per group, or per several groups along `group_thread`: `threads` threads
// each sum the elements over = thread, thread + threads, ... (consecutive
// threads read consecutive elements: coalesced) into a partial sum in
// shared memory. Those fold in a tree: each level's threads add `radix`
// values of the level below, until one thread adds the last `radix` (a
// level costs a barrier; one thread adding every partial in turn cost a
// shared-memory latency per partial). Each level runs at `at`, a
// block-level loop of the consumer; a group dimension that remains there
// (`group_thread`, e.g. the rows of one block) gets threads of its own.
//
// Each thread's loop is unrolled `loads_in_flight` times: a GPU thread
// issues in order and waits for a load where its value is first used, so
// an unrolled loop keeps that many loads in flight instead of one.
inline void block_reduction(Halide::Func f, const Halide::RVar &over, const Halide::LoopLevel &at,
                            int threads, int loads_in_flight, int radix,
                            const std::optional<Halide::Var> &group_thread = std::nullopt) {
    using namespace Halide;
    if (radix < 2) {
        throw CompileError("block_reduction folds at least two values per thread (radix >= 2)");
    }
    RVar run("run"), thread("thread");
    Var partial_thread("partial_thread");
    Func partial = f.update()
                       .split(over, run, thread, threads, TailStrategy::GuardWithIf)
                       .rfactor(thread, partial_thread);
    // rfactor appends its new dimension after the group's, so the group
    // loop is the inner one: the reorder makes `inner` the threads' x, and
    // leaves the loops inside each thread (the partial's rows) empty. Left
    // outside, Halide sized the partial's buffer for one row and indexed it
    // for all: wrong sums and out-of-bounds writes on the GPU.
    auto on_threads = [&](Stage stage, const Var &inner) {
        if (group_thread) {
            stage.reorder(inner, *group_thread).gpu_threads(inner, *group_thread);
        } else {
            stage.gpu_threads(inner);
        }
    };
    f.compute_at(at);
    // The first level reads the partial sums; each later level rfactors
    // what remains of f's sum, so it reads the level before.
    Func partial_consumer = f;
    RVar remaining = thread;
    for (int width = threads, level = 0; width > radix; ++level) {
        // Thread w of a level adds values w, w + lanes, ...: no two threads
        // of a warp read the same shared-memory bank.
        const int lanes = (width + radix - 1) / radix;
        const std::string suffix = std::to_string(level);
        RVar fold_run("fold_run" + suffix), fold_lane("fold_lane" + suffix);
        Var lane("lane" + suffix);
        Func folded = f.update()
                          .split(remaining, fold_run, fold_lane, lanes, TailStrategy::GuardWithIf)
                          .rfactor(fold_lane, lane);
        folded.compute_at(at);
        on_threads(folded, lane);
        on_threads(folded.update(), lane);
        if (level == 0) partial_consumer = folded;
        remaining = fold_lane;
        width = lanes;
    }
    // Each thread accumulates in a register; only its final partial sum
    // goes to shared memory (the copy), where the other threads read it.
    Func shared_partial = partial.in(partial_consumer);
    shared_partial.compute_at(at);
    on_threads(shared_partial, partial_thread);
    partial.compute_at(shared_partial, partial_thread);
    unroll_loads(partial.update(), run, loads_in_flight);
    if (group_thread) {
        f.gpu_threads(*group_thread);
        f.update().gpu_threads(*group_thread);
    }
}

}  // namespace normgen::cuda
