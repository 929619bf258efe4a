#pragma once

#include "schedules/layer_norm_backward_schedule.h"

namespace normgen::x86 {

void schedule_layer_norm_backward(LayerNormBackwardFuncs funcs, const Halide::Target &target,
                                  const LayerNormBackwardKnobs &knobs);
void schedule_layer_norm_backward_parameters(LayerNormBackwardParameterFuncs funcs,
                                             const Halide::Target &target,
                                             const LayerNormBackwardKnobs &knobs);

}  // namespace normgen::x86
