// The limits' second implementations: Halide pipelines on normgen's own
// thread pool, so that a limit does not hinge on one threading runtime.
// bench_scale, y = a * x, streams what forward must touch; bench_axpy,
// z = x + a * dy, what backward must touch. (Algorithms and schedules in one
// place: they are yardsticks, not kernels normgen ships.)
#include "Halide.h"

namespace {

using namespace Halide;

// Both stream in tasks of `elements_per_task` on the thread pool, `step`
// elements per loop step.
template <typename StreamOutput>
void schedule_stream(StreamOutput &output, Var i, int elements_per_task, int step) {
    Var task("task"), in_task("in_task");
    output.specialize(output.dim(0).extent() >= elements_per_task)
        .split(i, task, in_task, elements_per_task, TailStrategy::ShiftInwards)
        .parallel(task)
        .vectorize(in_task, step);
    output.vectorize(i, step, TailStrategy::GuardWithIf);
}

class BenchScale : public Generator<BenchScale> {
public:
    // Elements per thread-pool task, and vectors per loop step.
    GeneratorParam<int> elements_per_task{"elements_per_task", 1 << 15};
    GeneratorParam<int> vectors_per_step{"vectors_per_step", 4};

    Input<Buffer<float, 1>> x{"x"};
    Input<float> a{"a"};
    Output<Buffer<float, 1>> y{"y"};

    void generate() {
        Var i("i");
        y(i) = a * x(i);
        schedule_stream(y, i, elements_per_task, natural_vector_size<float>() * vectors_per_step);
    }
};

class BenchAxpy : public Generator<BenchAxpy> {
public:
    // As BenchScale's.
    GeneratorParam<int> elements_per_task{"elements_per_task", 1 << 15};
    GeneratorParam<int> vectors_per_step{"vectors_per_step", 4};

    Input<Buffer<float, 1>> x{"x"};
    Input<Buffer<float, 1>> dy{"dy"};
    Input<float> a{"a"};
    Output<Buffer<float, 1>> z{"z"};

    void generate() {
        Var i("i");
        z(i) = x(i) + a * dy(i);
        schedule_stream(z, i, elements_per_task, natural_vector_size<float>() * vectors_per_step);
    }
};

}  // namespace

HALIDE_REGISTER_GENERATOR(BenchScale, bench_scale)
HALIDE_REGISTER_GENERATOR(BenchAxpy, bench_axpy)
