// ReLU followed by 2x2 max pooling with stride 2 (torch's F.relu then
// F.max_pool2d(kernel_size=2)), fused: the pooled output is computed from
// the pre-activation input in one pass, and max(0, max(window)) equals the
// pool of the ReLU. Heights and widths are even (LeNet's are: 24, 8), so
// that windows tile the input and every read is in bounds.
//
// Backward: each pooled gradient goes to the window's first maximum in
// torch's scan order (row by row), provided that maximum is positive (the
// ReLU passes it); every other input element gets zero.

#include "Halide.h"
#include "layers.h"
#include "schedules/layers_schedule.h"

namespace normgen {
namespace {

using namespace Halide;

// The window of pooled position (px, py) in scan order.
std::vector<Expr> window(Func input, Expr px, Expr py, Expr c, Expr n) {
    return {input(2 * px, 2 * py, c, n), input(2 * px + 1, 2 * py, c, n),
            input(2 * px, 2 * py + 1, c, n), input(2 * px + 1, 2 * py + 1, c, n)};
}

class ReluMaxPoolForward : public Generator<ReluMaxPoolForward> {
public:
    PoolingKnobs knobs;

    Input<Buffer<float, 4>> input{"input"};     // (x, y, channel, sample)
    Output<Buffer<float, 4>> output{"output"};  // (x / 2, y / 2, channel, sample)

    void generate() {
        PoolingFuncs f;
        Var &x = f.x, &y = f.y, &c = f.channel, &n = f.sample;
        std::vector<Expr> values = window(input, x, y, c, n);
        output(x, y, c, n) =
            max(0.0f, max(max(values[0], values[1]), max(values[2], values[3])));
        f.output = output;

        for (int d : {0, 1, 2, 3}) input.dim(d).set_min(0);
        add_requirement(input.dim(0).extent() % 2 == 0 && input.dim(1).extent() % 2 == 0,
                        "relu_max_pool_forward: the input's height and width must be even");
        output.dim(0).set_bounds(0, input.dim(0).extent() / 2);
        output.dim(1).set_bounds(0, input.dim(1).extent() / 2);
        output.dim(2).set_bounds(0, input.dim(2).extent());
        output.dim(3).set_bounds(0, input.dim(3).extent());
        input.set_estimates({{0, 24}, {0, 24}, {0, 20}, {0, 64}});
        output.set_estimates({{0, 12}, {0, 12}, {0, 20}, {0, 64}});
        schedule_pooling(f, get_target(), knobs);
    }
};

class ReluMaxPoolBackward : public Generator<ReluMaxPoolBackward> {
public:
    PoolingKnobs knobs;

    Input<Buffer<float, 4>> grad_output{"grad_output"};  // (x / 2, y / 2, channel, sample)
    Input<Buffer<float, 4>> input{"input"};              // the forward's input
    Output<Buffer<float, 4>> grad_input{"grad_input"};   // (x, y, channel, sample)

    void generate() {
        PoolingFuncs f;
        Var &x = f.x, &y = f.y, &c = f.channel, &n = f.sample;
        Expr px = x / 2, py = y / 2;
        std::vector<Expr> values = window(input, px, py, c, n);
        // The first maximum in scan order: a later element wins only if
        // strictly greater.
        Expr best = values[0], best_index = 0;
        for (int k = 1; k < 4; k++) {
            Expr later_wins = values[k] > best;
            best_index = select(later_wins, k, best_index);
            best = select(later_wins, values[k], best);
        }
        Expr index_in_window = (x % 2) + 2 * (y % 2);
        Expr routed = best > 0.0f && best_index == index_in_window;
        grad_input(x, y, c, n) = select(routed, grad_output(px, py, c, n), 0.0f);
        f.output = grad_input;
        f.per_window_element = true;

        for (int d : {0, 1, 2, 3}) {
            grad_output.dim(d).set_min(0);
            input.dim(d).set_min(0);
        }
        add_requirement(input.dim(0).extent() % 2 == 0 && input.dim(1).extent() % 2 == 0,
                        "relu_max_pool_backward: the input's height and width must be even");
        grad_output.dim(0).set_extent(input.dim(0).extent() / 2);
        grad_output.dim(1).set_extent(input.dim(1).extent() / 2);
        grad_output.dim(2).set_extent(input.dim(2).extent());
        grad_output.dim(3).set_extent(input.dim(3).extent());
        for (int d : {0, 1, 2, 3}) grad_input.dim(d).set_bounds(0, input.dim(d).extent());
        grad_output.set_estimates({{0, 12}, {0, 12}, {0, 20}, {0, 64}});
        input.set_estimates({{0, 24}, {0, 24}, {0, 20}, {0, 64}});
        grad_input.set_estimates({{0, 24}, {0, 24}, {0, 20}, {0, 64}});
        schedule_pooling(f, get_target(), knobs);
    }
};

}  // namespace
}  // namespace normgen

HALIDE_REGISTER_GENERATOR(normgen::ReluMaxPoolForward, relu_max_pool_forward)
HALIDE_REGISTER_GENERATOR(normgen::ReluMaxPoolBackward, relu_max_pool_backward)
