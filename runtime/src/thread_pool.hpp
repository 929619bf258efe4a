// The CPU kernels' thread pool: Halide's parallel loops (halide_do_par_for)
// run on it instead of on Halide's own pool. See thread_pool.cpp for why.
#pragma once

namespace normgen::detail {

// Routes every Halide parallel loop in this process to the pool; the pool's
// threads start on the first parallel loop.
void install_thread_pool();

// The pool runs `threads` threads, the caller included; worker threads
// beyond that are joined, new ones start on the next parallel loop. Waits
// for a parallel loop in progress to end.
void set_thread_pool_size(int threads);

}  // namespace normgen::detail
