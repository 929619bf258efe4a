// The limit's second implementation: y = a * x as a Halide pipeline on
// normgen's own thread pool, so that the limit does not hinge on one
// threading runtime. (An algorithm and its schedule in one place: it is a
// yardstick, not a kernel normgen ships.)
#include "Halide.h"

namespace {

using namespace Halide;

class BenchScale : public Generator<BenchScale> {
public:
    // Elements per thread-pool task, and vectors per loop step.
    GeneratorParam<int> elements_per_task{"elements_per_task", 1 << 15};
    GeneratorParam<int> vectors_per_step{"vectors_per_step", 4};

    Input<Buffer<float, 1>> x{"x"};
    Input<float> a{"a"};
    Output<Buffer<float, 1>> y{"y"};

    void generate() {
        Var i("i"), task("task"), in_task("in_task");
        y(i) = a * x(i);
        const int step = natural_vector_size<float>() * vectors_per_step;
        y.specialize(y.dim(0).extent() >= elements_per_task)
            .split(i, task, in_task, elements_per_task, TailStrategy::ShiftInwards)
            .parallel(task)
            .vectorize(in_task, step);
        y.vectorize(i, step, TailStrategy::GuardWithIf);
    }
};

}  // namespace

HALIDE_REGISTER_GENERATOR(BenchScale, bench_scale)
