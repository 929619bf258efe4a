// How BatchNorm cuts each channel's elements into chunks, shared by the
// forward statistics and the backward sums: chunks small enough to stay in
// cache between passes, many enough to share among threads.
//
// channels_first (spatial, channel, sample): a chunk holds the planes of
//   `group` consecutive samples, group = max(1, elements_per_chunk / plane),
//   each plane summed in whole steps of `plane_step` values.
// channels_last (channel, position): a chunk holds max(min_positions,
//   elements_per_chunk / channels) consecutive positions.
#pragma once

#include <functional>

#include "Halide.h"
#include "batch_norm_forward.h"
#include "statistics.h"

namespace normgen {

struct ChannelChunks {
    Halide::RDom within_chunk;  // (spatial, sample in chunk), or (position in chunk)
    Halide::Expr count;         // chunks per channel
    // The number of elements in chunk `index`.
    std::function<Halide::Expr(const Halide::Expr &)> length;
    // Whether the point of within_chunk exists in its chunk: undefined where
    // an RDom predicate says it instead (channels_last). channels_first's
    // last chunk may have fewer samples; its missing ones must count as
    // zero, through a select rather than an RDom predicate, so that
    // schedules may split a chunk across threads freely.
    Halide::Expr valid;
    // f(channel, spatial or position, sample) at the point of within_chunk
    // in chunk k of channel c; the clamp keeps a missing sample's read in
    // bounds.
    std::function<Halide::Expr(const Halide::Func &, const Halide::Expr &)> value;
    // The first pilot_size(chunk, length) values of chunk k of channel c
    // (statistics.h), at the points of
    // `over_pilot` (set here): the pilot of its rough mean (statistics.h).
    // A short last chunk repeats its last sample or position, which only
    // moves the rough mean.
    std::function<Pilot(const Halide::Func &, const Halide::Expr &, int length,
                        Halide::RDom &over_pilot)>
        pilot;
    // channels_first with a plane_step over 1: whether every plane holds at
    // least one step. Where it does, each step reads plane_step consecutive
    // values, its last included, which a schedule that specializes on this
    // gets as whole vector loads. Undefined otherwise.
    Halide::Expr planes_fill_steps;
};

// `extents`: the input's (spatial, channels, samples) or (channels,
// positions); `k` is the chunk variable; `plane_step` the step along a plane
// of the schedule's sums (schedule_batch_norm_plane_step; 1: none).
inline ChannelChunks channel_chunks(const BatchNormParams &params,
                                    const std::vector<Halide::Expr> &extents, const Halide::Var &k,
                                    int plane_step) {
    using namespace Halide;
    const BatchNormLayout layout = params.layout;
    const int elements_per_chunk = params.elements_per_chunk;
    const int min_positions_per_chunk = params.min_positions_per_chunk;
    ChannelChunks chunks;
    if (layout == BatchNormLayout::channels_first) {
        Expr plane = extents[0], samples = extents[2];
        Expr group = max(1, elements_per_chunk / plane);
        chunks.length = [plane, samples, group](const Expr &index) {
            return plane * min(group, samples - index * group);
        };
        // Each plane's sums run over whole steps of `plane_step` values, so
        // that no step is short: a short last step updates its accumulators
        // under a mask, which costs some targets more than a whole step
        // (schedules/batch_norm_plane_step.cpp). The last step is moved back
        // to end with the plane and counts only the values the step before
        // did not (`likely`: the other steps read where they are). A plane
        // shorter than a step reads each value once, clamped, the rest
        // counting as zero.
        const int step = plane_step;
        Expr sites = step > 1 ? (plane + step - 1) / step * step : plane;
        RDom r(0, sites, 0, group, "within_chunk");
        chunks.within_chunk = r;
        chunks.valid = k * group + r.y < samples;
        Expr site = r.x;
        if (step > 1) {
            Expr step_start = r.x / step * step;
            Expr read_start = max(min(likely(step_start), plane - step), 0);
            Expr shifted = read_start + r.x % step;
            chunks.valid = chunks.valid && shifted >= step_start && shifted < plane;
            chunks.planes_fill_steps = plane >= step;
            // Where planes fill steps, `shifted` lies in the plane; where
            // not, the clamp keeps the read there. Selecting between the
            // indices rather than the values keeps the other index from
            // being read at all; bounds inference cannot see through the
            // select, hence the promise of the bounds it keeps.
            site = unsafe_promise_clamped(
                select(chunks.planes_fill_steps, shifted, min(likely(r.x), plane - 1)), 0,
                plane - 1);
        }
        chunks.value = [site, r, k, group, samples](const Func &f, const Expr &c) {
            return f(c, site, min(k * group + r.y, samples - 1));
        };
        chunks.count = (samples + group - 1) / group;
        chunks.pilot = [k, group, plane, samples](const Func &f, const Expr &c, int length,
                                                  RDom &over_pilot) {
            // The start of the first plane, or whole planes where the
            // pilot is longer than one plane.
            Expr sites = min(plane, pilot_size(plane * group, length));
            Expr planes = max(1, group / pilot_fraction);
            over_pilot = RDom(0, sites, 0, planes, "over_pilot");
            Expr sample = min(k * group + over_pilot.y, samples - 1);
            return Pilot{f(c, over_pilot.x, sample), cast<float>(sites * planes)};
        };
    } else {
        Expr channels = extents[0], positions = extents[1];
        Expr chunk = max(min_positions_per_chunk, elements_per_chunk / channels);
        chunks.length = [positions, chunk](const Expr &index) {
            return min(chunk, positions - index * chunk);
        };
        RDom r(0, chunk, "within_chunk");
        r.where(k * chunk + r < positions);
        chunks.within_chunk = r;
        chunks.value = [r, k, chunk, positions](const Func &f, const Expr &c) {
            return f(c, min(k * chunk + r, positions - 1), 0);
        };
        chunks.count = (positions + chunk - 1) / chunk;
        chunks.pilot = [k, chunk, positions](const Func &f, const Expr &c, int length,
                                             RDom &over_pilot) {
            Expr count = pilot_size(chunk, length);
            over_pilot = RDom(0, count, "over_pilot");
            return Pilot{f(c, min(k * chunk + over_pilot, positions - 1), 0),
                         cast<float>(count)};
        };
    }
    return chunks;
}

}  // namespace normgen
