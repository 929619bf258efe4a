// The CPU kernels' thread pool (runtime/src/thread_pool.cpp), driven the way
// the kernels drive it: through Halide's halide_do_par_for, which the
// runtime routes to the pool. A pool that skipped, repeated or lost an
// iteration, returned before its loop ended, or lost a failure would fail
// here, and the kernels' results would be wrong or half-written.
#include <catch2/catch.hpp>
#include <normgen/normgen.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <thread>
#include <vector>

// Halide's runtime ABI (HalideRuntime.h), which libnormgen carries.
extern "C" int halide_do_par_for(void *user_context, int (*task)(void *, int, uint8_t *), int min,
                                 int extent, uint8_t *closure);

namespace {

// Counts the runs of each iteration of [min, min + extent).
struct Iterations {
    int min;
    std::vector<std::atomic<int>> runs;
    Iterations(int min, int extent) : min(min), runs(static_cast<size_t>(extent)) {}

    static int count(void *, int i, uint8_t *closure) {
        auto *self = reinterpret_cast<Iterations *>(closure);
        self->runs.at(static_cast<size_t>(i - self->min)).fetch_add(1);
        return 0;
    }

    int run(int repeats = 1) {
        for (int r = 0; r < repeats; ++r) {
            if (const int status = halide_do_par_for(nullptr, count, min, static_cast<int>(runs.size()),
                                                     reinterpret_cast<uint8_t *>(this));
                status != 0) {
                return status;
            }
        }
        return 0;
    }

    bool each_ran(int times) const {
        for (const auto &count : runs) {
            if (count.load() != times) return false;
        }
        return true;
    }
};

struct PoolThreads {
    explicit PoolThreads(int threads) { normgen::set_num_threads(threads); }
    ~PoolThreads() { normgen::set_num_threads(static_cast<int>(std::thread::hardware_concurrency())); }
};

}  // namespace

TEST_CASE("The kernels' pool runs each iteration of a parallel loop once, loop after loop") {
    for (int threads : {1, 2, 3}) {
        INFO("threads: " << threads);
        PoolThreads pool(threads);
        for (int extent : {1, 2, 7, 1000}) {
            INFO("extent: " << extent);
            Iterations iterations(-3, extent);
            REQUIRE(iterations.run(200) == 0);
            CHECK(iterations.each_ran(200));
        }
    }
}

TEST_CASE("The kernels' pool runs a parallel loop started inside one of its iterations") {
    PoolThreads pool(2);
    struct Nested {
        std::vector<Iterations> inner;
        static int task(void *, int i, uint8_t *closure) {
            return reinterpret_cast<Nested *>(closure)->inner.at(static_cast<size_t>(i)).run();
        }
    } nested;
    for (int i = 0; i < 16; ++i) nested.inner.emplace_back(0, 50);
    REQUIRE(halide_do_par_for(nullptr, Nested::task, 0, 16, reinterpret_cast<uint8_t *>(&nested)) ==
            0);
    for (const Iterations &inner : nested.inner) CHECK(inner.each_ran(1));
}

TEST_CASE("The kernels' pool runs loops that several threads start at once") {
    PoolThreads pool(2);
    std::vector<Iterations> per_caller;
    for (int caller = 0; caller < 4; ++caller) per_caller.emplace_back(0, 300);
    std::vector<std::thread> callers;
    std::atomic<int> failures{0};
    for (Iterations &iterations : per_caller) {
        callers.emplace_back([&] {
            if (iterations.run(100) != 0) failures.fetch_add(1);
        });
    }
    for (std::thread &caller : callers) caller.join();
    CHECK(failures.load() == 0);
    for (const Iterations &iterations : per_caller) CHECK(iterations.each_ran(100));
}

TEST_CASE("The kernels' pool returns a failed iteration's status, after every iteration ended") {
    PoolThreads pool(2);
    struct Failing {
        std::atomic<int> running{0}, ran{0};
        static int task(void *, int i, uint8_t *closure) {
            auto *self = reinterpret_cast<Failing *>(closure);
            self->running.fetch_add(1);
            std::this_thread::sleep_for(std::chrono::microseconds(200));
            self->ran.fetch_add(1);
            self->running.fetch_sub(1);
            return i == 5 ? -7 : 0;
        }
    };
    for (int round = 0; round < 20; ++round) {
        Failing failing;
        CHECK(halide_do_par_for(nullptr, Failing::task, 0, 40, reinterpret_cast<uint8_t *>(&failing)) ==
              -7);
        CHECK(failing.running.load() == 0);
        CHECK(failing.ran.load() >= 1);  // the failed one; the others may be skipped
        CHECK(failing.ran.load() <= 40);
    }
    // The pool runs the next loop in full.
    Iterations iterations(0, 100);
    REQUIRE(iterations.run() == 0);
    CHECK(iterations.each_ran(1));
}

TEST_CASE("set_num_threads waits for a loop that another thread runs on the pool") {
    PoolThreads pool(2);
    Iterations iterations(0, 500);
    std::atomic<int> status{0};
    std::thread caller([&] { status = iterations.run(300); });
    for (int change = 0; change < 50; ++change) normgen::set_num_threads(1 + change % 2);
    caller.join();
    CHECK(status.load() == 0);
    CHECK(iterations.each_ran(300));
}

TEST_CASE("A child forked after the pool ran runs loops and changes the thread count") {
    PoolThreads pool(2);
    Iterations before_fork(0, 100);
    REQUIRE(before_fork.run(10) == 0);  // the parent's workers have started
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        // Only this thread exists here: a pool that waited for the parent's
        // workers to take iterations, or to stop, would never return.
        normgen::set_num_threads(1);
        normgen::set_num_threads(2);
        Iterations in_child(0, 100);
        const bool right = in_child.run(10) == 0 && in_child.each_ran(10);
        _exit(right ? 0 : 1);
    }
    int status = 0;
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (waitpid(child, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > give_up) {
            kill(child, SIGKILL);
            waitpid(child, &status, 0);
            FAIL("the forked child was still running after 20 s");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
}
