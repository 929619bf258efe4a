// The examples of torch.nn.LayerNorm's and torch.nn.BatchNorm2d's
// documentation, written against normgen. Prints what each produced and
// which CPU variant of the kernels ran.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <random>

#include "normgen/normgen.hpp"

namespace {

normgen::Tensor randn(std::vector<int64_t> shape, std::mt19937 &generator) {
    normgen::Tensor tensor(std::move(shape));
    std::normal_distribution<float> normal;
    for (float &value : tensor.values()) value = normal(generator);
    return tensor;
}

// Mean and (biased) standard deviation of `count` values from `first`.
std::pair<double, double> moments(const float *first, int64_t count) {
    double sum = 0, sum_of_squares = 0;
    for (int64_t i = 0; i < count; ++i) sum += first[i];
    double mean = sum / count;
    for (int64_t i = 0; i < count; ++i) sum_of_squares += (first[i] - mean) * (first[i] - mean);
    return {mean, std::sqrt(sum_of_squares / count)};
}

template <typename Run>
double milliseconds(Run &&run) {
    auto start = std::chrono::steady_clock::now();
    run();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int run_examples() {
    std::mt19937 generator(0);
    std::printf("normgen example: kernels run the '%s' CPU variant\n\n",
                normgen::cpu_variant().c_str());

    // NLP example: batch, sentence_length, embedding_dim = 20, 5, 10
    {
        normgen::Tensor embedding = randn({20, 5, 10}, generator);
        normgen::LayerNorm layer_norm({10});
        normgen::Tensor output;
        double ms = milliseconds([&] { output = layer_norm(embedding.view()); });
        auto [mean, std] = moments(output.data(), 10);
        std::printf("LayerNorm(10) on [20, 5, 10]  (%.3f ms)\n", ms);
        std::printf("  output[0][0][:] =");
        for (int i = 0; i < 10; ++i) std::printf(" %.4f", output.data()[i]);
        std::printf("\n  first row: mean %.2e, std %.6f; saved rstd %.6f\n\n", mean, std,
                    layer_norm.saved_rstd().data()[0]);
    }

    // Image example: N, C, H, W = 20, 5, 10, 10, normalized over [C, H, W]
    {
        normgen::Tensor input = randn({20, 5, 10, 10}, generator);
        normgen::LayerNorm layer_norm({5, 10, 10});
        normgen::Tensor output;
        double ms = milliseconds([&] { output = layer_norm(input.view()); });
        auto [mean, std] = moments(output.data(), 500);
        std::printf("LayerNorm([5, 10, 10]) on [20, 5, 10, 10]  (%.3f ms)\n", ms);
        std::printf("  first sample: mean %.2e, std %.6f\n\n", mean, std);
    }

    // BatchNorm2d(100) on [20, 100, 35, 45]: training steps, then eval
    {
        normgen::Tensor input = randn({20, 100, 35, 45}, generator);
        for (float &value : input.values()) value = 3.0f * value + 2.0f;
        normgen::BatchNorm2d batch_norm(100);
        normgen::Tensor output;
        double ms = milliseconds([&] { output = batch_norm(input.view()); });
        auto [mean, std] = moments(output.data(), 35 * 45);
        std::printf("BatchNorm2d(100) on [20, 100, 35, 45], input ~ N(2, 3^2)  (%.3f ms)\n", ms);
        std::printf("  training: channel 0 batch mean %.4f, invstd %.4f; output plane 0: mean %.4f, std %.4f\n",
                    batch_norm.saved_mean().data()[0], batch_norm.saved_invstd().data()[0], mean, std);
        const int steps = 40;
        for (int step = 1; step < steps; ++step) output = batch_norm(input.view());
        std::printf("  after %lld training steps (momentum 0.1): running_mean[0] %.4f, running_var[0] %.4f\n",
                    static_cast<long long>(batch_norm.num_batches_tracked()),
                    batch_norm.running_mean().data()[0], batch_norm.running_var().data()[0]);
        batch_norm.eval();
        output = batch_norm(input.view());
        auto [eval_mean, eval_std] = moments(output.data(), 35 * 45);
        std::printf("  eval, by the running statistics: output plane 0: mean %.4f, std %.4f\n",
                    eval_mean, eval_std);
    }
    return 0;
}

int main() {
    try {
        return run_examples();
    } catch (const std::exception &error) {
        std::fprintf(stderr, "normgen example: %s\n", error.what());
        return 1;
    }
}
