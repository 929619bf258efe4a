// The LeNet layers on x86 CPUs. The layers are small and compute-bound
// (LeNet's convolutions and its 800x500 layer are most of a training step),
// so the schedules are register tiles: each tile's sums stay in registers
// while the reduction streams past, vectorized along a contiguous
// dimension. Tiles overlap at the end of a dimension (ShiftInwards) rather
// than run a masked tail: a dimension must hold at least one tile, which
// every LeNet shape does, and Halide's bounds checks refuse other shapes
// with an error.
#include "schedules/x86/layers.h"

#include <functional>

#include "schedules/x86/elementwise.h"

namespace normgen::x86 {

using namespace Halide;

namespace {

// Schedules f as `schedule(stage, tile)` says: with `tile` where `extent`
// holds a whole tile, and with tiles of 1 elsewhere (a batch of one sample,
// a layer of few channels), since tiles shifted inwards need a whole one.
void whole_tiles_or_single(Func f, const Expr &extent, int tile,
                           const std::function<void(Stage, int)> &schedule) {
    schedule(f.specialize(extent >= tile), tile);
    schedule(f, 1);
}

// vectorize_elementwise, with half vectors for rows too short for a whole
// one: LeNet's second pooling has rows of 4 windows.
void vectorize_short_rows(Func f, const Var &var, const Expr &extent, int width) {
    f.specialize(extent >= width).vectorize(var, width, TailStrategy::ShiftInwards);
    if (width >= 2) {
        f.specialize(extent >= width / 2).vectorize(var, width / 2, TailStrategy::ShiftInwards);
    }
    f.vectorize(var, width, TailStrategy::GuardWithIf);
}

// A sum f(along, across) += ... over `over`, computed per register tile at
// `tile`: the tile's vectors along `along` by every `across` stay in
// registers while `over` runs.
void accumulate_in_registers(Func sum, const LoopLevel &tile, const Var &along,
                             const Var &across, const RVar &over, int lanes) {
    sum.compute_at(tile).vectorize(along, lanes).unroll(along).unroll(across);
    sum.update().reorder(along, across, over).vectorize(along, lanes).unroll(along).unroll(across);
}

}  // namespace

// A tile of vector_width x rows_per_tile positions of channels_per_tile
// channels, its sums in registers over every tap; threads take (channel
// tile, sample) pairs, so that even a single sample keeps every thread busy.
void schedule_convolution(ConvolutionFuncs &f, const ConvolutionKnobs &knobs) {
    const Var &x = f.x, &y = f.y, &c = f.channel, &n = f.sample;
    Var x_tile("x_tile"), x_in("x_in"), y_tile("y_tile"), y_in("y_in");
    Var c_tile("c_tile"), c_in("c_in"), task("task");
    Expr channels = f.output.output_buffer().dim(2).extent();
    auto tile = [&](Stage output, int channels_per_tile) {
        output.split(x, x_tile, x_in, knobs.vector_width, TailStrategy::ShiftInwards)
            .split(y, y_tile, y_in, knobs.rows_per_tile, TailStrategy::ShiftInwards)
            .split(c, c_tile, c_in, channels_per_tile, TailStrategy::ShiftInwards)
            .reorder(x_in, c_in, y_in, x_tile, y_tile, c_tile, n)
            .fuse(c_tile, n, task)
            .parallel(task)
            .vectorize(x_in)
            .unroll(c_in)
            .unroll(y_in);
    };
    whole_tiles_or_single(f.output, channels, knobs.channels_per_tile, tile);
    f.sum.compute_at(f.output, x_tile).vectorize(x).unroll(c).unroll(y);
    f.sum.update()
        .reorder(x, c, y, f.taps.x, f.taps.y, f.taps.z)
        .vectorize(x)
        .unroll(c)
        .unroll(y)
        .unroll(f.taps.x);
}

// A task per sample. Its columns (a matrix product over the out channels) in
// register tiles of vector_width positions along x by rows_per_tile rows by
// every kx; then the columns are added into place, vectorized along x.
void schedule_convolution_input(ConvolutionInputFuncs &f, const ConvolutionKnobs &knobs) {
    const Var &x = f.x, &y = f.y, &n = f.sample;
    const Var &px = f.px, &py = f.py, &kx = f.kx, &ky = f.ky, &i = f.channel;
    const int lanes = knobs.vector_width;
    f.output.parallel(n);
    vectorize_elementwise(f.output, x, f.output.output_buffer().dim(0).extent(), lanes);
    f.sum.compute_at(f.output, n).vectorize(x, lanes, TailStrategy::GuardWithIf);
    // The lanes of one vector add into distinct positions (x = px + kx for
    // one kx), so vectorizing px races with nothing; Halide cannot prove it
    // for a store at px + kx.
    f.sum.update()
        .reorder(f.taps.x, f.taps.y, f.taps.z, f.taps.w, f.channel)
        .allow_race_conditions()
        .vectorize(f.taps.x, lanes, TailStrategy::GuardWithIf);

    Var px_tile("px_tile"), px_in("px_in"), py_tile("py_tile"), py_in("py_in");
    Func column_tiles = f.columns.in();
    column_tiles.compute_at(f.output, n)
        .split(px, px_tile, px_in, lanes, TailStrategy::ShiftInwards)
        .split(py, py_tile, py_in, knobs.rows_per_tile, TailStrategy::ShiftInwards)
        .reorder(px_in, kx, py_in, px_tile, py_tile, ky, i)
        .vectorize(px_in)
        .unroll(kx)
        .unroll(py_in);
    f.columns.compute_at(column_tiles, px_tile).vectorize(px).unroll(kx).unroll(py);
    f.columns.update()
        .reorder(px, kx, py, f.over_out_channels.x)
        .vectorize(px)
        .unroll(kx)
        .unroll(py);
}

// grad_weight: the sum over positions is split into chunks of
// samples_per_chunk samples (rfactor), a task each, so that a chunk's input
// and grad_output stay in cache while every tap's sums run over them; each
// chunk's sums are split again into per-lane partial sums along x, so that
// kernel_size kx taps by channels_per_tile out channels accumulate whole
// vectors in registers. Lanes, then chunks, are added at the end.
void schedule_convolution_weight(ConvolutionWeightFuncs &f,
                                 const ConvolutionWeightKnobs &knobs) {
    const Var &kx = f.kx, &ky = f.ky, &i = f.in_channel, &o = f.out_channel;
    const RDom &p = f.positions;
    const int lanes = knobs.vector_width;
    RVar sample_chunk("sample_chunk"), sample_in_chunk("sample_in_chunk");
    Var chunk("chunk"), lane("lane");
    Func chunk_sums = f.weight_sum.update()
                          .split(p.z, sample_chunk, sample_in_chunk, knobs.samples_per_chunk,
                                 TailStrategy::GuardWithIf)
                          .rfactor(sample_chunk, chunk);
    Func lane_sums = chunk_sums.update().rfactor(p.x, lane);
    f.weight_sum.compute_root();
    chunk_sums.compute_root();
    chunk_sums.update().reorder(p.x, kx, o, ky, i, chunk).parallel(chunk);
    // The register tiles: a pure copy of the partial sums, tiled, at whose
    // tiles the sums are computed, so that each tile's sums live in a
    // constant-sized buffer that the compiler keeps in registers.
    Var lane_block("lane_block"), lane_in("lane_in"), o_tile("o_tile"), o_in("o_in");
    Func lane_tiles = lane_sums.in();
    lane_tiles.compute_at(chunk_sums, ky)
        .split(lane, lane_block, lane_in, lanes, TailStrategy::ShiftInwards)
        .split(o, o_tile, o_in, knobs.channels_per_tile, TailStrategy::ShiftInwards)
        .reorder(lane_in, kx, o_in, lane_block, o_tile)
        .vectorize(lane_in)
        .unroll(kx)
        .unroll(o_in);
    lane_sums.compute_at(lane_tiles, lane_block)
        .reorder_storage(lane, kx, o, ky, i, chunk)  // lanes innermost: one vector per sum
        .vectorize(lane)
        .unroll(kx)
        .unroll(o);
    lane_sums.update()
        .reorder(lane, kx, o, p.y, sample_in_chunk)
        .vectorize(lane)
        .unroll(kx)
        .unroll(o);

    // grad_bias: per-lane partial sums in register tiles of
    // channels_per_tile channels by one vector, as the weight's.
    Func bias_lanes = f.bias_sum.update().rfactor(p.x, lane);
    Func bias_tiles = bias_lanes.in();
    f.bias_sum.compute_root();
    bias_tiles.compute_root()
        .split(lane, lane_block, lane_in, lanes, TailStrategy::ShiftInwards)
        .split(o, o_tile, o_in, knobs.channels_per_tile, TailStrategy::ShiftInwards)
        .reorder(lane_in, o_in, lane_block, o_tile)
        .parallel(o_tile)
        .vectorize(lane_in)
        .unroll(o_in);
    bias_lanes.compute_at(bias_tiles, lane_block)
        .reorder_storage(lane, o)
        .vectorize(lane)
        .unroll(o);
    bias_lanes.update().reorder(lane, o, p.y, p.z).vectorize(lane).unroll(o);
}

// Elementwise over the output, threads over samples (a plane can be as
// small as 4x4: tasks of one plane would cost more than their work).
// Forward: vectorized along x; the window's reads are stride-2 loads.
// Backward: each window's 2x2 elements are written together (x and y split
// by 2, unrolled), so that x / 2 is the vector's own index and the reads
// are dense.
void schedule_pooling(PoolingFuncs &f, const PoolingKnobs &knobs) {
    const Var &x = f.x, &y = f.y;
    f.output.parallel(f.sample);
    Expr width = f.output.output_buffer().dim(0).extent();
    if (!f.per_window_element) {
        vectorize_short_rows(f.output, x, width, knobs.vector_width);
        return;
    }
    Var window_x("window_x"), in_window_x("in_window_x");
    Var window_y("window_y"), in_window_y("in_window_y");
    // RoundUp: the generator requires even heights and widths.
    f.output.split(x, window_x, in_window_x, 2, TailStrategy::RoundUp)
        .split(y, window_y, in_window_y, 2, TailStrategy::RoundUp)
        .reorder(in_window_x, window_x, in_window_y, window_y)
        .unroll(in_window_x)
        .unroll(in_window_y);
    vectorize_short_rows(f.output, window_x, width / 2, knobs.vector_width);
}

// Dot products along the contiguous in_features of both the weight row and
// the input: per-lane partial sums (rfactor) for a tile of
// features_per_tile outputs of samples_per_tile samples (one sample where
// the batch is smaller), in registers, then a horizontal sum each. Threads
// take feature tiles; a tile's weight rows stay in cache while every sample
// streams past.
void schedule_linear(LinearFuncs &f, const LinearKnobs &knobs) {
    const Var &o = f.feature, &n = f.sample;
    const int lanes = knobs.vector_width;
    RVar chunk("chunk"), lane("lane");
    Var lane_var("lane_var"), o_tile("o_tile"), o_in("o_in"), n_tile("n_tile"), n_in("n_in");
    Func lane_sums = f.sum.update()
                         .split(f.terms.x, chunk, lane, lanes, TailStrategy::GuardWithIf)
                         .rfactor(lane, lane_var);
    Expr samples = f.output.output_buffer().dim(1).extent();
    auto tile = [&](Stage output, int samples_per_tile) {
        output.split(o, o_tile, o_in, knobs.features_per_tile, TailStrategy::ShiftInwards)
            .split(n, n_tile, n_in, samples_per_tile, TailStrategy::ShiftInwards)
            .reorder(o_in, n_in, n_tile, o_tile)
            .parallel(o_tile);
    };
    whole_tiles_or_single(f.output, samples, knobs.samples_per_tile, tile);
    f.sum.compute_at(f.output, n_tile);
    // Lanes innermost in storage: each output's partial sums are one vector.
    lane_sums.compute_at(f.output, n_tile)
        .reorder_storage(lane_var, o, n)
        .vectorize(lane_var)
        .unroll(o)
        .unroll(n);
    lane_sums.update().reorder(lane_var, o, n, chunk).vectorize(lane_var).unroll(o).unroll(n);
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
    auto tile = [&](Stage grad_input, int samples_per_tile) {
        grad_input.split(i, i_tile, i_in, tile_width, TailStrategy::ShiftInwards)
            .split(n, n_tile, n_in, samples_per_tile, TailStrategy::ShiftInwards)
            .reorder(i_in, n_in, i_tile, n_tile)
            .parallel(i_tile)
            .vectorize(i_in, lanes)
            .unroll(i_in)
            .unroll(n_in);
    };
    whole_tiles_or_single(f.grad_input, samples, knobs.samples_per_tile, tile);
    accumulate_in_registers(f.input_sum, LoopLevel(f.grad_input, i_tile), i, n, f.over_out.x,
                            lanes);

    f.grad_weight.split(i, i_tile, i_in, tile_width, TailStrategy::ShiftInwards)
        .split(o, o_tile, o_in, knobs.features_per_tile, TailStrategy::ShiftInwards)
        .reorder(i_in, o_in, i_tile, o_tile)
        .parallel(o_tile)
        .vectorize(i_in, lanes)
        .unroll(i_in)
        .unroll(o_in);
    accumulate_in_registers(f.weight_sum, LoopLevel(f.grad_weight, i_tile), i, o,
                            f.over_samples.x, lanes);

    f.bias_sum.compute_root().vectorize(o, lanes, TailStrategy::GuardWithIf);
    f.bias_sum.update()
        .reorder(o, f.over_samples.x)
        .vectorize(o, lanes, TailStrategy::GuardWithIf);
}

// Each vector's new values are computed, then stored. Tensors of whole
// vectors: tasks of elements_per_task elements; others (biases) in one
// loop with a guarded last vector. Never shifted inwards: the update is in
// place, and an element computed twice would be updated twice.
void schedule_optimizer(OptimizerFuncs &f, const OptimizerKnobs &knobs) {
    const int lanes = knobs.vector_width;
    Var task("task"), vectors("vectors"), vector("vector"), lane("lane");
    Expr count = f.output.output_buffers()[0].dim(0).extent();
    f.output.specialize(count % lanes == 0)
        .split(f.element, vectors, lane, lanes, TailStrategy::RoundUp)
        .split(vectors, task, vector, std::max(1, knobs.elements_per_task / lanes),
               TailStrategy::GuardWithIf)
        .parallel(task)
        .vectorize(lane);
    f.output.split(f.element, vector, lane, lanes, TailStrategy::GuardWithIf).vectorize(lane);
    f.new_values.compute_at(f.output, vector).vectorize(f.element);
}

// Tiny (classes x batch): one loop nest, no threads.
void schedule_softmax_cross_entropy(SoftmaxCrossEntropyFuncs &f) {
    f.maximum.compute_root();
    f.exp_sum.compute_root();
}

}  // namespace normgen::x86
