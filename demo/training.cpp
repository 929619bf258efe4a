#include "training.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>
#include <random>

#include "support/error.hpp"
#include "layers.hpp"
#include "support/progress.hpp"

namespace lenet {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

int64_t count_correct(const Tensor &logits, const std::vector<int32_t> &labels) {
    const std::vector<int32_t> predicted = predicted_classes(logits);
    int64_t correct = 0;
    for (size_t n = 0; n < labels.size(); n++) correct += predicted[n] == labels[n];
    return correct;
}

// Fisher-Yates with our own draws, so that an epoch's order depends on the
// seed alone, not on the standard library's shuffle.
void shuffle(std::vector<int64_t> &order, std::mt19937_64 &random) {
    for (size_t i = order.size(); i > 1; i--) {
        const size_t j = static_cast<size_t>(random() % i);
        std::swap(order[i - 1], order[j]);
    }
}

std::string fixed(double value, int digits) {
    char text[32];
    std::snprintf(text, sizeof text, "%.*f", digits, value);
    return text;
}

}  // namespace

void gather_batch(const Dataset &data, const std::vector<int64_t> *order, int64_t first,
                  int64_t count, std::vector<float> &images, std::vector<int32_t> &labels) {
    const int64_t pixels = static_cast<int64_t>(data.rows) * data.cols;
    if (data.rows != image_size || data.cols != image_size) {
        throw Error("LeNet expects 28x28 images, the dataset has " + std::to_string(data.rows) +
                    "x" + std::to_string(data.cols));
    }
    images.resize(count * pixels);
    labels.resize(count);
    for (int64_t n = 0; n < count; n++) {
        const int64_t index = order ? (*order)[first + n] : first + n;
        normalize_pixels(&data.pixels[index * pixels], pixels, &images[n * pixels]);
        labels[n] = data.labels[index];
    }
}

std::vector<int32_t> predicted_classes(const Tensor &logits) {
    const int64_t samples = logits.shape()[0], width = logits.shape()[1];
    std::vector<int32_t> predicted(samples);
    for (int64_t n = 0; n < samples; n++) {
        const float *row = logits.data() + n * width;
        predicted[n] = static_cast<int32_t>(std::max_element(row, row + width) - row);
    }
    return predicted;
}

Evaluation evaluate(LeNet &model, const Dataset &data, int64_t batch) {
    if (batch < 1) throw Error("evaluation batch must be at least 1, given " +
                               std::to_string(batch));
    Evaluation result;
    std::vector<float> images;
    std::vector<int32_t> labels;
    std::vector<float> losses;
    Tensor grad_logits;
    double loss_sum = 0;
    int64_t correct = 0;
    const auto start = Clock::now();
    for (int64_t first = 0; first < data.count; first += batch) {
        const int64_t count = std::min(batch, data.count - first);
        gather_batch(data, nullptr, first, count, images, labels);
        const Tensor &logits = model.forward(images.data(), count, false);
        correct += count_correct(logits, labels);
        if (grad_logits.shape() != logits.shape()) grad_logits = Tensor(logits.shape());
        loss_sum += count * softmax_cross_entropy(logits, labels, 0.0f, losses, grad_logits);
    }
    result.seconds = seconds_since(start);
    result.images = data.count;
    result.loss = data.count ? loss_sum / data.count : 0;
    result.accuracy = data.count ? static_cast<double>(correct) / data.count : 0;
    return result;
}

TrainingReport train(LeNet &model, const Dataset &training_set, const Dataset &test,
                     const TrainingOptions &options, std::ostream &log, bool log_is_terminal) {
    if (options.epochs < 1) throw Error("epochs must be at least 1, given " +
                                        std::to_string(options.epochs));
    if (options.batch < 1) throw Error("batch must be at least 1, given " +
                                       std::to_string(options.batch));
    const int64_t images = options.image_limit > 0
                               ? std::min(options.image_limit, training_set.count)
                               : training_set.count;
    const int64_t steps_per_epoch = (images + options.batch - 1) / options.batch;
    const int evaluations = std::max(1, options.evaluations_per_epoch);
    // Steps after which to evaluate: evenly spaced, the last at the epoch's end.
    std::vector<int64_t> evaluation_steps;
    for (int e = 1; e <= evaluations; e++) {
        evaluation_steps.push_back(steps_per_epoch * e / evaluations);
    }
    const int64_t loss_points_per_epoch = std::min<int64_t>(20, steps_per_epoch);

    TrainingReport report;
    std::mt19937_64 random(options.seed);
    std::vector<int64_t> order(images);
    std::vector<float> batch_images;
    std::vector<int32_t> batch_labels;
    for (int epoch = 0; epoch < options.epochs; epoch++) {
        std::iota(order.begin(), order.end(), int64_t{0});
        shuffle(order, random);
        Progress progress("epoch " + std::to_string(epoch + 1) + "/" +
                              std::to_string(options.epochs),
                          steps_per_epoch, log, log_is_terminal);
        double epoch_loss = 0, interval_loss = 0;
        int64_t epoch_correct = 0, epoch_images = 0, interval_steps = 0;
        size_t next_evaluation = 0;
        double epoch_seconds = 0;
        for (int64_t step = 0; step < steps_per_epoch; step++) {
            const int64_t first = step * options.batch;
            const int64_t count = std::min(options.batch, images - first);
            gather_batch(training_set, &order, first, count, batch_images, batch_labels);
            const auto start = Clock::now();
            const Tensor &logits = model.forward(batch_images.data(), count, true);
            epoch_correct += count_correct(logits, batch_labels);
            const double loss = model.backward(batch_labels);
            model.step(options.optimizer);
            epoch_seconds += seconds_since(start);
            epoch_loss += loss * count;
            epoch_images += count;
            interval_loss += loss;
            interval_steps++;

            const double epoch_position = epoch + static_cast<double>(step + 1) / steps_per_epoch;
            if ((step + 1) * loss_points_per_epoch / steps_per_epoch !=
                step * loss_points_per_epoch / steps_per_epoch) {
                report.train_loss.push_back({epoch_position, interval_loss / interval_steps});
                interval_loss = 0;
                interval_steps = 0;
            }
            const double rate = epoch_seconds > 0 ? epoch_images / epoch_seconds : 0;
            if (step + 1 < steps_per_epoch) {  // finish() reports the last step
                progress.update(step + 1, "loss " + fixed(epoch_loss / epoch_images, 4) +
                                              "  acc " +
                                              fixed(100.0 * epoch_correct / epoch_images, 1) +
                                              "%  " + fixed(rate, 0) + " img/s");
            }
            if (next_evaluation < evaluation_steps.size() &&
                step + 1 == evaluation_steps[next_evaluation]) {
                next_evaluation++;
                const Evaluation result = evaluate(model, test, 1000);
                report.test_accuracy.push_back({epoch_position, result.accuracy});
                report.test_loss.push_back({epoch_position, result.loss});
                report.final_test = result;
            }
        }
        report.train_seconds += epoch_seconds;
        report.images_trained += epoch_images;
        progress.finish("loss " + fixed(epoch_loss / epoch_images, 4) + "  train acc " +
                        fixed(100.0 * epoch_correct / epoch_images, 1) + "%  test acc " +
                        fixed(100.0 * report.final_test.accuracy, 2) + "%  " +
                        fixed(epoch_images / epoch_seconds, 0) + " img/s");
    }
    return report;
}

}  // namespace lenet
