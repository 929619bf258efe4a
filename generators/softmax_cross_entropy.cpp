// Softmax cross-entropy, as torch's F.cross_entropy per sample: the loss of
// each sample and the gradient of `grad_scale` times the loss with respect
// to the logits (grad_scale = 1 / batch for the batch mean).
//
//   loss(n)           = log(sum_k exp(logits(k, n) - m)) + m - logits(label(n), n),
//                       m = max_k logits(k, n), so that exp cannot overflow
//   grad_logits(k, n) = grad_scale * (softmax(k, n) - [k == label(n)])
//
// Labels must lie in [0, classes): the runtime checks them before the call.

#include "Halide.h"
#include "layers.h"
#include "schedules/layers_schedule.h"

namespace normgen {
namespace {

using namespace Halide;

class SoftmaxCrossEntropy : public Generator<SoftmaxCrossEntropy> {
public:
    Input<Buffer<float, 2>> logits{"logits"};   // (class, sample)
    Input<Buffer<int32_t, 1>> labels{"labels"};  // (sample)
    Input<float> grad_scale{"grad_scale"};
    Output<Buffer<float, 1>> loss{"loss"};                // (sample)
    Output<Buffer<float, 2>> grad_logits{"grad_logits"};  // (class, sample)

    void generate() {
        SoftmaxCrossEntropyFuncs f;
        Var &k = f.klass, &n = f.sample;
        Expr classes = logits.dim(0).extent();
        RDom over_classes(0, classes, "over_classes");
        f.maximum = Func("maximum");
        f.maximum(n) = maximum(logits(over_classes, n));
        Func shifted_exp("shifted_exp");
        shifted_exp(k, n) = exp(logits(k, n) - f.maximum(n));
        f.exp_sum = Func("exp_sum");
        f.exp_sum(n) = sum(shifted_exp(over_classes, n));
        Expr label = unsafe_promise_clamped(labels(n), 0, classes - 1);
        loss(n) = log(f.exp_sum(n)) + f.maximum(n) - logits(label, n);
        Expr target = select(k == labels(n), 1.0f, 0.0f);
        grad_logits(k, n) = grad_scale * (shifted_exp(k, n) / f.exp_sum(n) - target);
        f.loss = loss;
        f.grad_logits = grad_logits;

        logits.dim(0).set_min(0);
        logits.dim(1).set_min(0);
        Expr samples = logits.dim(1).extent();
        labels.dim(0).set_bounds(0, samples);
        loss.dim(0).set_bounds(0, samples);
        grad_logits.dim(0).set_bounds(0, classes);
        grad_logits.dim(1).set_bounds(0, samples);
        logits.set_estimates({{0, 10}, {0, 64}});
        labels.set_estimates({{0, 64}});
        grad_scale.set_estimate(1.0f / 64);
        loss.set_estimates({{0, 64}});
        grad_logits.set_estimates({{0, 10}, {0, 64}});
        schedule_softmax_cross_entropy(f, get_target());
    }
};

}  // namespace
}  // namespace normgen

HALIDE_REGISTER_GENERATOR(normgen::SoftmaxCrossEntropy, softmax_cross_entropy)
