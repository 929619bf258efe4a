// The CPU kernels' thread pool.
//
// Why not Halide's own: its idle workers sleep after a few yields, and
// waking a sleeping thread costs tens of microseconds, on calls that last
// 40-300 us. On a 2-vCPU virtual machine (Intel Xeon, 2026-11-27), an
// OpenMP scale of 3 MiB on 2 threads took 178 us with sleeping threads and
// 101 us with polling ones (1 thread: 218 us); normgen's kernels, in
// alternating blocks of calls on Halide's pool and on this one, 2 threads:
// BatchNorm 256x50x8x8 NHWC inference 0.75x the time, NCHW training 0.82x,
// LayerNorm 256x(50x8x8) 0.74x, 65536x16 0.88x, LeNet's 64x6x28x28
// BatchNorm 0.56x, calls of 0.4 ms and more 0.98-1.0x. So this pool's idle
// workers poll for `idle_poll` after each loop (as OpenMP's and PyTorch's
// do by default), then sleep: back-to-back kernel calls, and the parallel
// loops within one call, find them awake.
//
// Each halide_do_par_for call is a Loop on its caller's stack, its
// iterations cut into one contiguous share per thread. The caller publishes
// it, runs its share like any worker, then helps with the others' (as does
// a worker done with its own), and returns once no worker still holds the
// Loop: then every iteration has run. Against iterations claimed one at a
// time from a common counter (alternating blocks of calls, 2 threads):
// BatchNorm 1024x512 training 0.87x the time, 256x50x8x8 training 0.91x,
// LayerNorm 4096x768 0.95x, 16384x1024 0.97x, none slower. One loop runs at
// a time: a loop started inside a task (a nested parallel loop) or by
// another thread while the pool is busy runs serially on its caller.
#include "thread_pool.hpp"

#include <HalideRuntime.h>
#include <immintrin.h>  // _mm_pause: the CPU kernels are x86 only

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>


namespace normgen::detail {
namespace {

// How long an idle worker polls for the next loop before it sleeps: longer
// than the gap between back-to-back kernel calls and between the parallel
// loops of one call, short enough that a worker stops taking a core soon
// after the caller's last kernel call.
constexpr std::chrono::microseconds idle_poll{200};

// True on the pool's workers and on a caller while it runs its loop's
// iterations: a parallel loop started there runs serially.
thread_local bool inside_pool_loop = false;

int run_serially(void *user_context, halide_task_t task, int min, int extent,
                 uint8_t *closure) {
    for (int i = min; i < min + extent; ++i) {
        if (const int status = task(user_context, i, closure); status != 0) return status;
    }
    return 0;
}

// One participant's share of a loop: iterations [next, end), which its
// owner takes first, in order, and the others take once theirs are done.
struct alignas(64) Share {
    std::atomic<int> next{0};
    int end = 0;
};

struct Loop {
    void *user_context;
    halide_task_t task;
    int min;
    uint8_t *closure;
    Share *shares;
    int share_count;
    std::atomic<int> status{0};

    // Runs the iterations of `participant`'s share, then those left in the
    // others'. After a failed iteration the rest are claimed but not run;
    // the first failure's status is the loop's.
    void run_iterations(int participant) {
        for (int k = 0; k < share_count; ++k) {
            Share &share = shares[(participant + k) % share_count];
            for (int i = share.next.fetch_add(1); i < share.end; i = share.next.fetch_add(1)) {
                if (status.load(std::memory_order_relaxed) != 0) continue;
                if (const int failed = task(user_context, min + i, closure); failed != 0) {
                    int none = 0;
                    status.compare_exchange_strong(none, failed);
                }
            }
        }
    }
};

class Pool {
public:
    int run(void *user_context, halide_task_t task, int min, int extent, uint8_t *closure) {
        if (extent <= 1 || inside_pool_loop) {
            return run_serially(user_context, task, min, extent, closure);
        }
        std::unique_lock<std::mutex> busy(loop_mutex_, std::try_to_lock);
        if (!busy.owns_lock() || threads_ == 1) {
            return run_serially(user_context, task, min, extent, closure);
        }
        if (workers_.empty()) start_workers();

        // Each participant's share is a contiguous run of iterations: a
        // thread streams through memory in order, and meets the rows it ran
        // in the last call in its own cache.
        const int share_count = std::min(threads_, extent);
        for (int k = 0; k < share_count; ++k) {
            shares_[k].next.store(static_cast<int>(static_cast<int64_t>(extent) * k / share_count));
            shares_[k].end = static_cast<int>(static_cast<int64_t>(extent) * (k + 1) / share_count);
        }
        Loop loop{user_context, task, min, closure, shares_.get(), share_count};
        current_.store(&loop);
        generation_.fetch_add(1);
        if (sleeping_.load() > 0) {
            std::lock_guard<std::mutex> lock(sleep_mutex_);
            wake_.notify_all();
        }
        inside_pool_loop = true;
        loop.run_iterations(0);
        inside_pool_loop = false;
        // Every iteration is claimed. A worker that has not looked at current_
        // yet sees nullptr; one that has is counted in holding_loop_ until it
        // has run the iterations it claimed.
        current_.store(nullptr);
        while (holding_loop_.load() > 0) _mm_pause();
        return loop.status.load();
    }

    void resize(int threads) {
        std::lock_guard<std::mutex> busy(loop_mutex_);
        stop_workers();
        threads_ = threads;
        shares_ = std::make_unique<Share[]>(static_cast<size_t>(threads));
    }

private:
    // Under loop_mutex_. Runs with fewer workers where threads cannot start.
    void start_workers() {
        const std::uint64_t generation = generation_.load();
        try {
            while (static_cast<int>(workers_.size()) < threads_ - 1) {
                const int participant = static_cast<int>(workers_.size()) + 1;
                workers_.emplace_back([=] { work(generation, participant); });
            }
        } catch (const std::system_error &) {
        }
    }

    // Under loop_mutex_.
    void stop_workers() {
        if (workers_.empty()) return;
        stopping_.store(true);
        generation_.fetch_add(1);
        {
            std::lock_guard<std::mutex> lock(sleep_mutex_);
            wake_.notify_all();
        }
        for (std::thread &worker : workers_) worker.join();
        workers_.clear();
        stopping_.store(false);
    }

    void work(std::uint64_t seen, int participant) {
        inside_pool_loop = true;
        for (;;) {
            wait_for_next_loop(seen);
            seen = generation_.load();
            if (stopping_.load()) return;
            holding_loop_.fetch_add(1);
            if (Loop *loop = current_.load()) loop->run_iterations(participant);
            holding_loop_.fetch_sub(1);
        }
    }

    // Polls for a generation after `seen` for idle_poll, then sleeps until
    // one comes. The caller bumps the generation before it reads sleeping_,
    // and a worker counts itself in sleeping_ before it reads the
    // generation, so one of the two sees the other.
    void wait_for_next_loop(std::uint64_t seen) {
        const auto poll_until = std::chrono::steady_clock::now() + idle_poll;
        for (unsigned polls = 1; generation_.load(std::memory_order_acquire) == seen; ++polls) {
            _mm_pause();
            if (polls % 64 == 0 && std::chrono::steady_clock::now() > poll_until) {
                std::unique_lock<std::mutex> lock(sleep_mutex_);
                sleeping_.fetch_add(1);
                wake_.wait(lock, [&] { return generation_.load() != seen; });
                sleeping_.fetch_sub(1);
            }
        }
    }

    std::mutex loop_mutex_;  // held by the caller whose loop the pool runs
    int threads_ = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    std::unique_ptr<Share[]> shares_ = std::make_unique<Share[]>(static_cast<size_t>(threads_));
    std::vector<std::thread> workers_;
    std::atomic<Loop *> current_{nullptr};
    std::atomic<std::uint64_t> generation_{0};  // bumped for each loop, and to stop
    std::atomic<int> holding_loop_{0};
    std::atomic<bool> stopping_{false};
    std::mutex sleep_mutex_;
    std::condition_variable wake_;
    std::atomic<int> sleeping_{0};
};

// Never destroyed: workers may still be polling while the process exits.
Pool &pool() {
    static Pool *const instance = new Pool;
    return *instance;
}

int do_par_for(void *user_context, halide_task_t task, int min, int extent, uint8_t *closure) {
    return pool().run(user_context, task, min, extent, closure);
}

}  // namespace

void install_thread_pool() {
    halide_set_custom_do_par_for(do_par_for);
}

void set_thread_pool_size(int threads) {
    pool().resize(threads);
}

}  // namespace normgen::detail
