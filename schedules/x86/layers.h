// The LeNet layers on x86 CPUs (see layers.cpp).
#pragma once

#include "schedules/layers_schedule.h"

namespace normgen::x86 {

void schedule_convolution(ConvolutionFuncs &f, const ConvolutionKnobs &knobs);
void schedule_convolution_input(ConvolutionInputFuncs &f, const ConvolutionKnobs &knobs);
void schedule_convolution_weight(ConvolutionWeightFuncs &f, const ConvolutionWeightKnobs &knobs);
void schedule_pooling(PoolingFuncs &f, const PoolingKnobs &knobs);
void schedule_linear(LinearFuncs &f, const LinearKnobs &knobs);
void schedule_linear_backward(LinearBackwardFuncs &f, const LinearKnobs &knobs);
void schedule_optimizer(OptimizerFuncs &f, const OptimizerKnobs &knobs);
void schedule_softmax_cross_entropy(SoftmaxCrossEntropyFuncs &f);

}  // namespace normgen::x86
