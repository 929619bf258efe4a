// BatchNorm forward, as torch.nn.BatchNorm1d/2d/3d, in two modes.
//
// training: per channel, the mean and biased variance over every sample and
// spatial site; y = (x - mean) * invstd * weight + bias. Also the running
// statistics, blended with the factor the caller computed from momentum (or
// 1 / num_batches_tracked for a cumulative average):
//   running_mean = (1 - f) * running_mean + f * mean
//   running_var  = (1 - f) * running_var  + f * var * n / (n - 1)   (unbiased)
// inference: y = (x - running_mean) / sqrt(running_var + eps) * weight + bias.
//
// The batch statistics read the input once from memory yet do not cancel:
// each channel is cut into chunks small enough to stay in cache, each chunk
// gets its mean and M2 (the sum of squared deviations) by the corrected
// two-pass algorithm of statistics.h (whose first pass may read only the
// start of the chunk: pilot_length), and the chunks combine by Chan's
// pairwise update (combine_chunks, statistics.h). Every sum is associative,
// so schedules may split them across threads and vector lanes.
//
// Either mode folds the statistics and the affine parameters into one scale
// and one shift per channel, so each element costs one multiply-add. That is
// why affine=False needs no variant: the runtime passes weight 1 and bias 0.

#include "Halide.h"
#include "element_types.h"
#include "batch_norm_algorithm.h"
#include "batch_norm_forward.h"
#include "channel_chunks.h"
#include "schedules/batch_norm_forward_schedule.h"

namespace normgen {
namespace {

using namespace Halide;

class BatchNormForward : public Generator<BatchNormForward> {
public:
    BatchNormParams params;
    // Training: the rough mean that centres each chunk's one pass of sums
    // (statistics.h) is that of its first pilot_length values, or of its
    // first 16th where more; 0: of all of them, in a pass of its own.
    GeneratorParam<int> pilot_length{"pilot_length", 0, 0, 1 << 24};
    BatchNormKnobs knobs;

    Input<Buffer<>> input{"input"};
    Input<Buffer<void, 1>> weight{"weight"};  // (channel)
    Input<Buffer<void, 1>> bias{"bias"};      // (channel)
    Input<Buffer<float, 1>> running_mean{"running_mean"};
    Input<Buffer<float, 1>> running_var{"running_var"};
    Input<float> eps{"eps"};
    // Training only, added by configure(): the weight f of the batch in the
    // running statistics.
    Input<float> *running_average_factor = nullptr;
    Output<Buffer<>> output{"output"};
    // Training only, added by configure(): the batch statistics backward
    // needs, and the updated running statistics (the runtime may pass the
    // running_mean/running_var buffers here too: each channel is read
    // before it is written).
    Output<Buffer<float, 1>> *saved_mean = nullptr, *saved_invstd = nullptr;
    Output<Buffer<float, 1>> *running_mean_out = nullptr, *running_var_out = nullptr;

    void configure() {
        const int dims = params.layout == BatchNormLayout::channels_first ? 3 : 2;
        input.set_type(storage_type(params.element_type));
        input.set_dimensions(dims);
        weight.set_type(storage_type(params.element_type));
        bias.set_type(storage_type(params.element_type));
        output.set_type(storage_type(params.element_type));
        output.set_dimensions(dims);
        if (params.mode == BatchNormMode::training) {
            running_average_factor = add_input<float>("running_average_factor");
            saved_mean = add_output<Buffer<float, 1>>("saved_mean");
            saved_invstd = add_output<Buffer<float, 1>>("saved_invstd");
            running_mean_out = add_output<Buffer<float, 1>>("running_mean_out");
            running_var_out = add_output<Buffer<float, 1>>("running_var_out");
        }
    }

    void generate() {
        BatchNormForwardFuncs f;
        f.layout = params.layout;
        f.mode = params.mode;
        Var &s = f.spatial, &c = f.channel, &n = f.sample, &p = f.position;

        Func x("x");  // x(channel, position, sample), whatever the layout
        if (params.layout == BatchNormLayout::channels_first) {
            x(c, s, n) = decode(input(s, c, n), params.element_type);
        } else {
            x(c, p, n) = decode(input(c, p), params.element_type);
        }

        Func mean("mean"), var("var"), invstd("invstd");
        if (params.mode == BatchNormMode::training) {
            define_batch_statistics(f, x, mean, var);
            invstd(c) = 1.0f / sqrt(var(c) + eps);
        } else {
            mean(c) = running_mean(c);
            invstd(c) = 1.0f / sqrt(running_var(c) + eps);
        }

        define_scale_and_shift(f, mean, invstd, decode(weight(c), params.element_type),
                               decode(bias(c), params.element_type));

        if (params.layout == BatchNormLayout::channels_first) {
            output(s, c, n) = encode(x(c, s, n) * f.scale(c) + f.shift(c), params.element_type);
        } else {
            output(c, p) = encode(x(c, p, 0) * f.scale(c) + f.shift(c), params.element_type);
        }
        f.output = output;

        if (params.mode == BatchNormMode::training) {
            Expr count = cast<float>(elements_per_channel());
            Expr blend = *running_average_factor;
            (*saved_mean)(c) = mean(c);
            (*saved_invstd)(c) = invstd(c);
            (*running_mean_out)(c) = (1.0f - blend) * running_mean(c) + blend * mean(c);
            (*running_var_out)(c) =
                (1.0f - blend) * running_var(c) + blend * var(c) * (count / (count - 1.0f));
            f.saved_mean = *saved_mean;
            f.saved_invstd = *saved_invstd;
            f.running_mean_out = *running_mean_out;
            f.running_var_out = *running_var_out;
        }

        constrain_bounds();
        set_estimates();
        schedule_batch_norm_forward(f, get_target(), knobs);
    }

private:
    Expr elements_per_channel() {
        return params.layout == BatchNormLayout::channels_first
                   ? input.dim(0).extent() * input.dim(2).extent()
                   : input.dim(1).extent();
    }

    void define_batch_statistics(BatchNormForwardFuncs &f, Func x, Func mean, Func var) {
        const Var &c = f.channel, &k = f.chunk;
        std::vector<Expr> extents;
        for (int d = 0; d < input.dimensions(); ++d) extents.push_back(input.dim(d).extent());
        const ChannelChunks chunks =
            channel_chunks(params, extents, k, schedule_batch_norm_plane_step(get_target(), knobs));
        f.within_chunk = chunks.within_chunk;
        f.planes_fill_steps = chunks.planes_fill_steps;
        Pilot pilot;
        if (pilot_length > 0) {
            pilot = chunks.pilot(x, c, pilot_length, f.over_pilot);
        } else {
            f.over_pilot = f.within_chunk;
        }
        f.chunk_statistics =
            group_statistics("chunk", {c, k}, chunks.value(x, c), cast<float>(chunks.length(k)),
                             chunks.valid, Form::kernel, pilot);
        f.chunk_summary = Func("chunk_summary");
        f.chunk_summary(c, k) = Tuple(f.chunk_statistics.mean, f.chunk_statistics.m2);

        const RDom &rk = f.over_chunks = RDom(0, chunks.count, "over_chunks");
        Expr count = cast<float>(elements_per_channel());
        f.channel_combination = combine_chunks("channel", {c}, f.chunk_summary, rk,
                                               cast<float>(chunks.length(rk)), count);
        mean(c) = f.channel_combination.mean;
        var(c) = f.channel_combination.m2 / count;
    }

    // The runtime's contract: every buffer starts at 0, the output has the
    // input's shape, per-channel buffers hold one value per channel.
    void constrain_bounds() {
        const int channel_dim = params.layout == BatchNormLayout::channels_first ? 1 : 0;
        Expr channels = input.dim(channel_dim).extent();
        for (int d = 0; d < input.dimensions(); ++d) {
            input.dim(d).set_min(0);
            output.dim(d).set_bounds(0, input.dim(d).extent());
        }
        std::vector<Input<Buffer<void, 1>> *> typed = {&weight, &bias};
        for (auto *per_channel : typed) {
            per_channel->dim(0).set_bounds(0, channels);
        }
        for (auto *per_channel : {&running_mean, &running_var}) {
            per_channel->dim(0).set_bounds(0, channels);
        }
        if (params.mode == BatchNormMode::training) {
            for (auto *per_channel :
                 {saved_mean, saved_invstd, running_mean_out, running_var_out}) {
                per_channel->dim(0).set_bounds(0, channels);
            }
        }
    }

    void set_estimates() {
        const int samples = 32, channels = 64, spatial = 56 * 56;
        if (params.layout == BatchNormLayout::channels_first) {
            input.set_estimates({{0, spatial}, {0, channels}, {0, samples}});
            output.set_estimates({{0, spatial}, {0, channels}, {0, samples}});
        } else {
            input.set_estimates({{0, channels}, {0, spatial * samples}});
            output.set_estimates({{0, channels}, {0, spatial * samples}});
        }
        for (auto *per_channel : {&weight, &bias}) {
            per_channel->set_estimates({{0, channels}});
        }
        running_mean.set_estimates({{0, channels}});
        running_var.set_estimates({{0, channels}});
        eps.set_estimate(1e-5f);
        if (params.mode == BatchNormMode::training) {
            running_average_factor->set_estimate(0.1f);
            for (auto *per_channel :
                 {saved_mean, saved_invstd, running_mean_out, running_var_out}) {
                per_channel->set_estimates({{0, channels}});
            }
        }
    }
};

}  // namespace
}  // namespace normgen

HALIDE_REGISTER_GENERATOR(normgen::BatchNormForward, batch_norm_forward)
