// One optimizer step over a parameter tensor, as torch.optim computes it,
// updating the parameter and its state in place: the outputs are the
// inputs' memory. So every new value is computed (`new_values`) before any
// is stored: a tuple's stores go one after the other, and the second must
// not read what the first wrote.
//
// SGD with momentum (dampening 0, not Nesterov), weight decay as L2:
//   g = grad + weight_decay * value
//   momentum_buffer = momentum * momentum_buffer + g    (0 before the first step)
//   value -= learning_rate * momentum_buffer
// Adam, weight decay as L2, bias-corrected moments (t: the step number):
//   g = grad + weight_decay * value
//   m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g^2
//   value -= learning_rate * (m / (1 - beta1^t)) / (sqrt(v) / sqrt(1 - beta2^t) + eps)

#include "Halide.h"
#include "layers.h"
#include "schedules/layers_schedule.h"

namespace normgen {
namespace {

using namespace Halide;

constexpr int estimated_elements = 400000;

// Every tensor of a step (and its output tuple) covers the parameter.
using TensorInput = GeneratorInput<Buffer<float, 1>>;

void constrain_like_parameter(TensorInput &value, std::initializer_list<TensorInput *> others,
                              GeneratorOutput<Func> &updated) {
    Expr count = value.dim(0).extent();
    value.dim(0).set_min(0);
    value.set_estimates({{0, estimated_elements}});
    for (TensorInput *tensor : others) {
        tensor->dim(0).set_bounds(0, count);
        tensor->set_estimates({{0, estimated_elements}});
    }
    // The tuple's other buffers share the first one's bounds.
    Func(updated).output_buffers()[0].dim(0).set_bounds(0, count);
    updated.set_estimates({{0, estimated_elements}});
}

class SgdStep : public Generator<SgdStep> {
public:
    OptimizerKnobs knobs;

    Input<Buffer<float, 1>> value{"value"};
    Input<Buffer<float, 1>> grad{"grad"};
    Input<Buffer<float, 1>> momentum_buffer{"momentum_buffer"};
    Input<float> learning_rate{"learning_rate"};
    Input<float> momentum{"momentum"};
    Input<float> weight_decay{"weight_decay"};
    Output<Func> updated{"updated", {Float(32), Float(32)}, 1};  // (value, momentum_buffer)

    void generate() {
        OptimizerFuncs f;
        Var &i = f.element;
        Expr g = grad(i) + weight_decay * value(i);
        Expr buffer = momentum * momentum_buffer(i) + g;
        f.new_values(i) = Tuple(value(i) - learning_rate * buffer, buffer);
        updated(i) = f.new_values(i);
        f.output = updated;

        constrain_like_parameter(value, {&grad, &momentum_buffer}, updated);
        learning_rate.set_estimate(0.01f);
        momentum.set_estimate(0.9f);
        weight_decay.set_estimate(5e-4f);
        schedule_optimizer(f, get_target(), knobs);
    }
};

class AdamStep : public Generator<AdamStep> {
public:
    OptimizerKnobs knobs;

    Input<Buffer<float, 1>> value{"value"};
    Input<Buffer<float, 1>> grad{"grad"};
    Input<Buffer<float, 1>> first_moment{"first_moment"};
    Input<Buffer<float, 1>> second_moment{"second_moment"};
    Input<float> learning_rate{"learning_rate"};
    Input<float> beta1{"beta1"};
    Input<float> beta2{"beta2"};
    Input<float> eps{"eps"};
    Input<float> weight_decay{"weight_decay"};
    Input<float> bias_correction1{"bias_correction1"};            // 1 - beta1^t
    Input<float> sqrt_bias_correction2{"sqrt_bias_correction2"};  // sqrt(1 - beta2^t)
    Output<Func> updated{"updated", {Float(32), Float(32), Float(32)}, 1};  // (value, m, v)

    void generate() {
        OptimizerFuncs f;
        Var &i = f.element;
        Expr g = grad(i) + weight_decay * value(i);
        Expr m = beta1 * first_moment(i) + (1 - beta1) * g;
        Expr v = beta2 * second_moment(i) + (1 - beta2) * g * g;
        Expr step =
            learning_rate * (m / bias_correction1) / (sqrt(v) / sqrt_bias_correction2 + eps);
        f.new_values(i) = Tuple(value(i) - step, m, v);
        updated(i) = f.new_values(i);
        f.output = updated;

        constrain_like_parameter(value, {&grad, &first_moment, &second_moment}, updated);
        learning_rate.set_estimate(1e-3f);
        beta1.set_estimate(0.9f);
        beta2.set_estimate(0.999f);
        eps.set_estimate(1e-8f);
        weight_decay.set_estimate(5e-4f);
        bias_correction1.set_estimate(0.1f);
        sqrt_bias_correction2.set_estimate(0.03f);
        schedule_optimizer(f, get_target(), knobs);
    }
};

}  // namespace
}  // namespace normgen

HALIDE_REGISTER_GENERATOR(normgen::SgdStep, sgd_step)
HALIDE_REGISTER_GENERATOR(normgen::AdamStep, adam_step)
