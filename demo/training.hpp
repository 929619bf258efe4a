// Training and evaluating LeNet on a dataset: the loops behind the lenet
// program's commands.
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>
#include <vector>

#include "support/fashion_mnist.hpp"
#include "network.hpp"

namespace lenet {

struct Evaluation {
    int64_t images = 0;
    double loss = 0;      // mean cross-entropy
    double accuracy = 0;  // fraction of images classified right
    double seconds = 0;
};

// The model in evaluation mode over every image of `data`, `batch` at a time.
Evaluation evaluate(LeNet &model, const Dataset &data, int64_t batch);

struct TrainingOptions {
    int epochs = 1;
    int64_t batch = 64;
    uint64_t seed = 0;          // shuffles the training set, one order per epoch
    int64_t image_limit = 0;    // train on the first this many images (0: all)
    int evaluations_per_epoch = 1;  // test-set evaluations, evenly spaced
    OptimizerSettings optimizer;
};

// A point on the training curves; epoch is fractional (1.5: halfway through
// the second epoch).
struct CurvePoint {
    double epoch;
    double value;
};

struct TrainingReport {
    std::vector<CurvePoint> train_loss;     // mean loss of the steps since the last point
    std::vector<CurvePoint> test_accuracy;  // at each evaluation
    std::vector<CurvePoint> test_loss;
    double train_seconds = 0;  // in training steps only, evaluations excluded
    int64_t images_trained = 0;
    Evaluation final_test;
    double images_per_second() const {
        return train_seconds > 0 ? images_trained / train_seconds : 0;
    }
};

// Trains `model` with mini-batch SGD (or Adam) over shuffled epochs; a last
// batch smaller than the others is kept, as torch's DataLoader does.
// `test` is evaluated evaluations_per_epoch times per epoch. Progress goes to
// `log` (a redrawn line on a terminal, plain lines otherwise).
TrainingReport train(LeNet &model, const Dataset &training_set, const Dataset &test,
                     const TrainingOptions &options, std::ostream &log, bool log_is_terminal);

// Copies images [first, first + count) of `data`, or those `order` lists
// from position `first`, as network input, with their labels.
void gather_batch(const Dataset &data, const std::vector<int64_t> *order, int64_t first,
                  int64_t count, std::vector<float> &images, std::vector<int32_t> &labels);

// The index of the largest logit of each row of (batch, classes) logits.
std::vector<int32_t> predicted_classes(const Tensor &logits);

}  // namespace lenet
