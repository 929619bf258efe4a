// The LeNet layers on x86 CPUs. The layers are small and compute-bound
// (LeNet's convolutions and its 800x500 layer are most of a training step),
// so the schedules are register tiles: each tile's sums stay in registers
// while the reduction streams past, vectorized along a contiguous
// dimension. Tiles overlap at the end of a dimension (ShiftInwards) rather
// than run a masked tail: a dimension must hold at least one tile, which
// every LeNet shape does, and Halide's bounds checks refuse other shapes
// with an error.
#include "schedules/x86/layers.h"

#include "schedules/x86/elementwise.h"

namespace normgen::x86 {

using namespace Halide;

// Both the forward pass and the backward pass to the input: a tile of
// vector_width x rows_per_tile positions of channels_per_tile channels, its
// sums in registers over every tap. The backward pass pads each sample's
// grad_output with zeros first, so that the taps read without bounds tests.
void schedule_convolution(ConvolutionFuncs &f, const ConvolutionKnobs &knobs) {
    const Var &x = f.x, &y = f.y, &c = f.channel, &n = f.sample;
    Var x_tile("x_tile"), x_in("x_in"), y_tile("y_tile"), y_in("y_in");
    Var c_tile("c_tile"), c_in("c_in"), task("task");
    f.output.split(x, x_tile, x_in, knobs.vector_width, TailStrategy::ShiftInwards)
        .split(y, y_tile, y_in, knobs.rows_per_tile, TailStrategy::ShiftInwards)
        .split(c, c_tile, c_in, knobs.channels_per_tile, TailStrategy::ShiftInwards)
        .reorder(x_in, c_in, y_in, x_tile, y_tile, c_tile, n)
        .vectorize(x_in)
        .unroll(c_in)
        .unroll(y_in);
    if (f.padded.defined()) {
        // A task per sample, which pads its grad_output once for all its channel tiles.
        f.output.parallel(n);
        const Var padded_x = f.padded.args()[0];
        f.padded.compute_at(f.output, n).vectorize(padded_x, knobs.vector_width,
                                                   TailStrategy::GuardWithIf);
    } else {
        // Tasks of (channel tile, sample): even a single sample keeps every thread busy.
        f.output.fuse(c_tile, n, task).parallel(task);
    }
    f.sum.compute_at(f.output, x_tile).vectorize(x).unroll(c).unroll(y);
    f.sum.update()
        .reorder(x, c, y, f.taps.x, f.taps.y, f.taps.z)
        .vectorize(x)
        .unroll(c)
        .unroll(y)
        .unroll(f.taps.x);
}

// grad_weight: the sum over positions is split into per-lane partial sums
// along x (rfactor), so that a tile of kernel_size kx taps by
// channels_per_tile out channels accumulates whole vectors in registers over
// every row and sample; the lanes are added at the end. Threads take
// (in channel, out channel tile) pairs. grad_bias sums lanes likewise.
void schedule_convolution_weight(ConvolutionWeightFuncs &f,
                                 const ConvolutionWeightKnobs &knobs) {
    const Var &kx = f.kx, &ky = f.ky, &i = f.in_channel, &o = f.out_channel;
    const RDom &p = f.positions;
    const int lanes = knobs.vector_width;
    Var lane("lane"), o_tile("o_tile"), o_in("o_in"), task("task");
    Func lane_sums = f.weight_sum.update().rfactor(p.x, lane);
    f.grad_weight.split(o, o_tile, o_in, knobs.channels_per_tile, TailStrategy::ShiftInwards)
        .reorder(kx, o_in, ky, i, o_tile)
        .fuse(i, o_tile, task)
        .parallel(task);
    f.weight_sum.compute_at(f.grad_weight, ky);
    // Lanes innermost in storage: each partial sum is one vector.
    lane_sums.compute_at(f.grad_weight, ky)
        .reorder_storage(lane, kx, ky, i, o)
        .vectorize(lane, lanes, TailStrategy::GuardWithIf);
    Var lane_block("lane_block"), lane_in("lane_in");
    lane_sums.update()
        .split(lane, lane_block, lane_in, lanes, TailStrategy::GuardWithIf)
        .reorder(lane_in, kx, o, p.y, p.z, lane_block)
        .vectorize(lane_in)
        .unroll(kx)
        .unroll(o);

    Func bias_lanes = f.bias_sum.update().rfactor(p.x, lane);
    f.bias_sum.compute_root();
    bias_lanes.compute_root()
        .reorder_storage(lane, o)
        .vectorize(lane, lanes, TailStrategy::GuardWithIf);
    bias_lanes.update()
        .reorder(lane, p.y, p.z, o)
        .parallel(o)
        .vectorize(lane, lanes, TailStrategy::GuardWithIf);
}

// Elementwise over the output: vectorized along x, threads take (channel,
// sample) planes.
void schedule_pooling(PoolingFuncs &f, const PoolingKnobs &knobs) {
    Var plane("plane");
    f.output.fuse(f.channel, f.sample, plane).parallel(plane);
    vectorize_elementwise(f.output, f.x, f.output.output_buffer().dim(0).extent(),
                          knobs.vector_width);
}

// Dot products along the contiguous in_features of both the weight row and
// the input: per-lane partial sums (rfactor) for a tile of
// features_per_tile outputs of one sample, in registers, then a horizontal
// sum each. Threads take feature tiles; a tile's weight rows stay in cache
// while every sample streams past.
void schedule_linear(LinearFuncs &f, const LinearKnobs &knobs) {
    const Var &o = f.feature, &n = f.sample;
    const int lanes = knobs.vector_width;
    RVar chunk("chunk"), lane("lane");
    Var lane_var("lane_var"), o_tile("o_tile"), o_in("o_in");
    Func lane_sums = f.sum.update()
                         .split(f.terms.x, chunk, lane, lanes, TailStrategy::GuardWithIf)
                         .rfactor(lane, lane_var);
    f.output.split(o, o_tile, o_in, knobs.features_per_tile, TailStrategy::ShiftInwards)
        .reorder(o_in, n, o_tile)
        .parallel(o_tile);
    f.sum.compute_at(f.output, n);
    // Lanes innermost in storage: each output's partial sums are one vector.
    lane_sums.compute_at(f.output, n)
        .reorder_storage(lane_var, o, n)
        .vectorize(lane_var)
        .unroll(o);
    lane_sums.update().reorder(lane_var, o, chunk).vectorize(lane_var).unroll(o);
}

// grad_input(i, n) and grad_weight(i, o) are both vectorized along the
// contiguous in_features, in register tiles of two vectors by
// samples_per_tile samples (grad_input, summing over out_features) or by
// features_per_tile out features (grad_weight, summing over samples).
void schedule_linear_backward(LinearBackwardFuncs &f, const LinearKnobs &knobs) {
    const Var &i = f.in_feature, &o = f.out_feature, &n = f.sample;
    const int lanes = knobs.vector_width, tile_width = 2 * knobs.vector_width;
    Var i_tile("i_tile"), i_in("i_in"), n_tile("n_tile"), n_in("n_in");
    Var o_tile("o_tile"), o_in("o_in");

    // The gradient after the ReLU mask is read by all three sums.
    f.masked_grad.compute_root();

    Expr samples = f.grad_input.output_buffer().dim(1).extent();
    for (bool batch_holds_tile : {true, false}) {
        Stage gi = batch_holds_tile ? Stage(f.grad_input.specialize(
                                          samples >= knobs.samples_per_tile))
                                    : Stage(f.grad_input);
        const int tile = batch_holds_tile ? int(knobs.samples_per_tile) : 1;
        gi.split(i, i_tile, i_in, tile_width, TailStrategy::ShiftInwards)
            .split(n, n_tile, n_in, tile, TailStrategy::ShiftInwards)
            .reorder(i_in, n_in, i_tile, n_tile)
            .parallel(i_tile)
            .vectorize(i_in, lanes)
            .unroll(i_in)
            .unroll(n_in);
    }
    f.input_sum.compute_at(f.grad_input, i_tile).vectorize(i, lanes).unroll(i).unroll(n);
    f.input_sum.update()
        .reorder(i, n, f.over_out.x)
        .vectorize(i, lanes)
        .unroll(i)
        .unroll(n);

    f.grad_weight.split(i, i_tile, i_in, tile_width, TailStrategy::ShiftInwards)
        .split(o, o_tile, o_in, knobs.features_per_tile, TailStrategy::ShiftInwards)
        .reorder(i_in, o_in, i_tile, o_tile)
        .parallel(o_tile)
        .vectorize(i_in, lanes)
        .unroll(i_in)
        .unroll(o_in);
    f.weight_sum.compute_at(f.grad_weight, i_tile).vectorize(i, lanes).unroll(i).unroll(o);
    f.weight_sum.update()
        .reorder(i, o, f.over_samples.x)
        .vectorize(i, lanes)
        .unroll(i)
        .unroll(o);

    f.bias_sum.compute_root().vectorize(o, lanes, TailStrategy::GuardWithIf);
    f.bias_sum.update()
        .reorder(o, f.over_samples.x)
        .vectorize(o, lanes, TailStrategy::GuardWithIf);
}

// Tiny (classes x batch): one loop nest, no threads.
void schedule_softmax_cross_entropy(SoftmaxCrossEntropyFuncs &f) {
    f.maximum.compute_root();
    f.exp_sum.compute_root();
}

}  // namespace normgen::x86
