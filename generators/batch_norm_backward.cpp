// BatchNorm backward, as torch's native_batch_norm_backward, with
// xhat = (x - mean) * invstd per channel:
//
// training (through the batch statistics: mean and invstd as saved):
//   grad_input = (dy - mean(dy) - xhat * mean(dy * xhat)) * invstd * weight
// inference (evaluation mode: the running statistics are constants):
//   grad_input = dy * invstd * weight,  invstd = 1 / sqrt(running_var + eps)
// both:
//   grad_weight = sum(dy * xhat), grad_bias = sum(dy)   per channel.
//
// The sums read x and dy once, in the chunks of channel_chunks.h so that
// threads can share a channel. grad_input is folded into two multiply-adds
// per element: dy * dy_scale + x * x_scale + shift. Sums accumulate in
// float32; without affine parameters the runtime passes weight 1.

#include "Halide.h"
#include "batch_norm_backward.h"
#include "channel_chunks.h"
#include "element_types.h"
#include "schedules/batch_norm_backward_schedule.h"

namespace normgen {
namespace {

using namespace Halide;

class BatchNormBackward : public Generator<BatchNormBackward> {
public:
    BatchNormParams params;
    BatchNormKnobs knobs;

    Input<Buffer<>> grad_output{"grad_output"};
    Input<Buffer<>> input{"input"};
    Input<Buffer<void, 1>> weight{"weight"};  // (channel)
    // training: the saved batch statistics; inference: the running mean and
    // variance, with eps.
    Input<Buffer<float, 1>> mean{"mean"};
    Input<Buffer<float, 1>> invstd_or_var{"invstd_or_var"};
    Input<float> eps{"eps"};
    Output<Buffer<>> grad_input{"grad_input"};
    Output<Buffer<void, 1>> grad_weight{"grad_weight"};
    Output<Buffer<void, 1>> grad_bias{"grad_bias"};

    void configure() {
        const int dims = params.layout == BatchNormLayout::channels_first ? 3 : 2;
        for (auto *tensor : {&grad_output, &input}) {
            tensor->set_type(storage_type(params.element_type));
            tensor->set_dimensions(dims);
        }
        grad_input.set_type(storage_type(params.element_type));
        grad_input.set_dimensions(dims);
        weight.set_type(storage_type(params.element_type));
        grad_weight.set_type(storage_type(params.element_type));
        grad_bias.set_type(storage_type(params.element_type));
    }

    void generate() {
        BatchNormBackwardFuncs f;
        f.layout = params.layout;
        f.mode = params.mode;
        Var &s = f.spatial, &c = f.channel, &n = f.sample, &p = f.position, &k = f.chunk;

        Func x("x"), dy("dy");  // (channel, spatial or position, sample)
        if (params.layout == BatchNormLayout::channels_first) {
            x(c, s, n) = decode(input(s, c, n), params.element_type);
            dy(c, s, n) = decode(grad_output(s, c, n), params.element_type);
        } else {
            x(c, p, n) = decode(input(c, p), params.element_type);
            dy(c, p, n) = decode(grad_output(c, p), params.element_type);
        }
        Func invstd("invstd");
        invstd(c) = params.mode == BatchNormMode::training ? invstd_or_var(c)
                                                    : 1.0f / sqrt(invstd_or_var(c) + eps);
        f.invstd = invstd;

        std::vector<Expr> extents;
        for (int d = 0; d < input.dimensions(); ++d) extents.push_back(input.dim(d).extent());
        const ChannelChunks chunks =
            channel_chunks(params, extents, k, schedule_batch_norm_plane_step(get_target(), knobs));
        f.within_chunk = chunks.within_chunk;
        f.planes_fill_steps = chunks.planes_fill_steps;
        Expr dy_value = chunks.value(dy, c);
        Expr dy_xhat = dy_value * (chunks.value(x, c) - mean(c)) * invstd(c);
        if (chunks.valid.defined()) {
            dy_value = select(chunks.valid, dy_value, 0.0f);
            dy_xhat = select(chunks.valid, dy_xhat, 0.0f);
        }
        f.chunk_sums = Func("chunk_sums");
        f.chunk_sums(c, k) = Tuple(0.0f, 0.0f);
        f.chunk_sums(c, k) =
            Tuple(f.chunk_sums(c, k)[0] + dy_value, f.chunk_sums(c, k)[1] + dy_xhat);
        f.over_chunks = RDom(0, chunks.count, "over_chunks");
        f.channel_sums = Func("channel_sums");
        f.channel_sums(c) = Tuple(0.0f, 0.0f);
        f.channel_sums(c) = Tuple(f.channel_sums(c)[0] + f.chunk_sums(c, f.over_chunks)[0],
                                  f.channel_sums(c)[1] + f.chunk_sums(c, f.over_chunks)[1]);

        // grad_input = (dy - sum_dy / n - xhat * sum_dy_xhat / n) * invstd * w
        //            = dy * a + x * b + (-a * sum_dy / n - b * mean)
        // with a = invstd * w and b = -a * invstd * sum_dy_xhat / n.
        Expr count = cast<float>(params.layout == BatchNormLayout::channels_first
                                     ? extents[0] * extents[2]
                                     : extents[1]);
        Expr a = invstd(c) * decode(weight(c), params.element_type);
        Expr b = 0.0f, shift = 0.0f;
        if (params.mode == BatchNormMode::training) {
            b = -a * invstd(c) * f.channel_sums(c)[1] / count;
            shift = -a * f.channel_sums(c)[0] / count - b * mean(c);
        }
        f.coefficients = Func("coefficients");
        f.coefficients(c) = Tuple(a, b, shift);
        // Evaluation mode needs only dy: x's terms are zero there, and
        // leaving them out saves reading x a second time.
        Func co = f.coefficients;
        const bool through_statistics = params.mode == BatchNormMode::training;
        auto gradient = [&](const Expr &dy_value, const Expr &x_value) {
            Expr value = dy_value * co(c)[0];
            if (through_statistics) value = value + x_value * co(c)[1] + co(c)[2];
            return encode(value, params.element_type);
        };
        if (params.layout == BatchNormLayout::channels_first) {
            grad_input(s, c, n) = gradient(dy(c, s, n), x(c, s, n));
        } else {
            grad_input(c, p) = gradient(dy(c, p, 0), x(c, p, 0));
        }
        grad_weight(c) = encode(f.channel_sums(c)[1], params.element_type);
        grad_bias(c) = encode(f.channel_sums(c)[0], params.element_type);
        f.grad_input = grad_input;
        f.grad_weight = grad_weight;
        f.grad_bias = grad_bias;

        constrain_bounds();
        schedule_batch_norm_backward(f, get_target(), knobs);
    }

private:
    void constrain_bounds() {
        const int channel_dim = params.layout == BatchNormLayout::channels_first ? 1 : 0;
        Expr channels = input.dim(channel_dim).extent();
        for (int d = 0; d < input.dimensions(); ++d) {
            input.dim(d).set_min(0);
            grad_output.dim(d).set_bounds(0, input.dim(d).extent());
            grad_input.dim(d).set_bounds(0, input.dim(d).extent());
        }
        weight.dim(0).set_bounds(0, channels);
        mean.dim(0).set_bounds(0, channels);
        invstd_or_var.dim(0).set_bounds(0, channels);
        grad_weight.dim(0).set_bounds(0, channels);
        grad_bias.dim(0).set_bounds(0, channels);

        const int samples = 32, channel_estimate = 64, spatial = 56 * 56;
        const bool first = params.layout == BatchNormLayout::channels_first;
        for (auto *tensor : {&grad_output, &input}) {
            if (first) {
                tensor->set_estimates({{0, spatial}, {0, channel_estimate}, {0, samples}});
            } else {
                tensor->set_estimates({{0, channel_estimate}, {0, spatial * samples}});
            }
        }
        if (first) {
            grad_input.set_estimates({{0, spatial}, {0, channel_estimate}, {0, samples}});
        } else {
            grad_input.set_estimates({{0, channel_estimate}, {0, spatial * samples}});
        }
        for (auto *per_channel : {&weight}) per_channel->set_estimates({{0, channel_estimate}});
        mean.set_estimates({{0, channel_estimate}});
        invstd_or_var.set_estimates({{0, channel_estimate}});
        grad_weight.set_estimates({{0, channel_estimate}});
        grad_bias.set_estimates({{0, channel_estimate}});
        eps.set_estimate(1e-5f);
    }
};

}  // namespace
}  // namespace normgen

HALIDE_REGISTER_GENERATOR(normgen::BatchNormBackward, batch_norm_backward)
