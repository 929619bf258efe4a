// lenet: trains, evaluates and runs LeNet on Fashion-MNIST with normgen's
// kernels. `lenet help` lists the commands.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "checkpoint.hpp"
#include "support/error.hpp"
#include "support/fashion_mnist.hpp"
#include "support/images.hpp"
#include "network.hpp"
#include "support/plot.hpp"
#include "support/progress.hpp"
#include "training.hpp"

namespace lenet {
namespace {

const char *usage = R"(lenet: LeNet on Fashion-MNIST, on normgen's generated kernels

  lenet train     [--norm ln|bn|none] [--epochs N] [--batch B] [--threads T] [--seed S]
                  [--out FILE] [--optimizer sgd|adam] [--lr X] [--momentum X]
                  [--weight-decay X] [--limit N] [--data DIR]
  lenet eval      --model FILE [--batch B] [--threads T] [--data DIR]
  lenet predict   --model FILE (--index I[,I...] | --image FILE.pgm|png) [--threads T]
                  [--data DIR]
  lenet compare   [--epochs N] [--batch B] [--threads T] [--seed S] [--out-dir DIR]
                  [--evals-per-epoch K] [--optimizer ...] [--lr X] [--limit N] [--data DIR]
  lenet benchmark [--norm ln|bn|none] [--batch B] [--threads T] [--steps S] [--warmup W]
                  [--seed S] [--data DIR]

Defaults: --norm ln --epochs 1 (compare: 2) --batch 64 --threads 2 --seed 0,
SGD with --lr 0.01 --momentum 0.9 --weight-decay 5e-4 (Adam: --lr 0.001),
--out lenet-<norm>.bin, --data $LENET_DATA or /usr/share/datasets/fashion-mnist.
)";

using Clock = std::chrono::steady_clock;

// --key value pairs after the command, checked against the command's keys.
class Arguments {
public:
    Arguments(int argc, char **argv, const std::string &command,
              const std::set<std::string> &known) {
        for (int i = 2; i < argc; i++) {
            const std::string key = argv[i];
            if (key.rfind("--", 0) != 0 || !known.count(key.substr(2))) {
                std::string list;
                for (const std::string &k : known) list += (list.empty() ? "--" : ", --") + k;
                throw Error("lenet " + command + ": unknown argument '" + key + "'; expected " +
                            list);
            }
            if (i + 1 >= argc) throw Error("lenet " + command + ": " + key + " needs a value");
            values_[key.substr(2)] = argv[++i];
        }
    }
    bool has(const std::string &key) const { return values_.count(key) != 0; }
    std::string text(const std::string &key, const std::string &fallback) const {
        auto found = values_.find(key);
        return found == values_.end() ? fallback : found->second;
    }
    int64_t integer(const std::string &key, int64_t fallback, int64_t minimum) const {
        const auto number = parse<int64_t>(key, fallback, "an integer",
                                           [](const std::string &text, size_t *used) {
                                               return std::stoll(text, used);
                                           });
        if (number < minimum) {
            throw Error("--" + key + ": expected at least " + std::to_string(minimum) +
                        ", given " + values_.at(key));
        }
        return number;
    }
    double real(const std::string &key, double fallback) const {
        const auto number = parse<double>(key, fallback, "a non-negative number",
                                          [](const std::string &text, size_t *used) {
                                              return std::stod(text, used);
                                          });
        if (!std::isfinite(number) || number < 0) {
            throw Error("--" + key + ": expected a non-negative number, given '" +
                        values_.at(key) + "'");
        }
        return number;
    }

private:
    // The value of --key read whole by `read` (std::stoll, std::stod), or
    // `fallback` where it was not given.
    template <typename Number, typename Read>
    Number parse(const std::string &key, Number fallback, const char *expected,
                 Read read) const {
        if (!has(key)) return fallback;
        const std::string &value = values_.at(key);
        size_t used = 0;
        Number number{};
        try {
            number = read(value, &used);
        } catch (const std::exception &) {
            used = 0;
        }
        if (value.empty() || used != value.size()) {
            throw Error("--" + key + ": expected " + expected + ", given '" + value + "'");
        }
        return number;
    }

    std::map<std::string, std::string> values_;
};

std::string format(const char *pattern, double value) {
    char text[64];
    std::snprintf(text, sizeof text, pattern, value);
    return text;
}

std::string norm_title(NormKind norm) {
    switch (norm) {
    case NormKind::layer_norm: return "LeNet-LN";
    case NormKind::batch_norm: return "LeNet-BN";
    case NormKind::none: return "LeNet (no norm)";
    }
    return "LeNet";
}

void set_threads(const Arguments &args) {
    normgen::set_num_threads(static_cast<int>(args.integer("threads", 2, 1)));
}

OptimizerSettings optimizer_settings(const Arguments &args) {
    OptimizerSettings settings;
    const std::string method = args.text("optimizer", "sgd");
    if (method == "adam") {
        settings.method = OptimizerSettings::Method::adam;
        settings.learning_rate = 0.001;
    } else if (method != "sgd") {
        throw Error("--optimizer: expected sgd or adam, given '" + method + "'");
    }
    settings.learning_rate = args.real("lr", settings.learning_rate);
    settings.momentum = args.real("momentum", settings.momentum);
    settings.weight_decay = args.real("weight-decay", settings.weight_decay);
    return settings;
}

std::string describe(const OptimizerSettings &settings) {
    std::ostringstream text;
    if (settings.method == OptimizerSettings::Method::sgd) {
        text << "SGD lr " << settings.learning_rate << " momentum " << settings.momentum;
    } else {
        text << "Adam lr " << settings.learning_rate;
    }
    text << " weight decay " << settings.weight_decay;
    return text.str();
}

TrainingOptions training_options(const Arguments &args, int default_epochs) {
    TrainingOptions options;
    options.epochs = static_cast<int>(args.integer("epochs", default_epochs, 1));
    options.batch = args.integer("batch", 64, 1);
    options.seed = static_cast<uint64_t>(args.integer("seed", 0, 0));
    options.image_limit = args.integer("limit", 0, 0);
    options.optimizer = optimizer_settings(args);
    return options;
}

int train_command(int argc, char **argv) {
    const Arguments args(argc, argv, "train",
                         {"norm", "epochs", "batch", "threads", "seed", "out", "optimizer", "lr",
                          "momentum", "weight-decay", "limit", "data"});
    const NormKind norm = parse_norm_kind(args.text("norm", "ln"));
    TrainingOptions options = training_options(args, 1);
    const std::string out = args.text("out", std::string("lenet-") + to_string(norm) + ".bin");
    set_threads(args);
    const std::string data = args.text("data", default_fashion_mnist_directory());
    const Dataset training_set = load_fashion_mnist(data, Split::train);
    const Dataset test = load_fashion_mnist(data, Split::test);
    const int64_t images = options.image_limit ? std::min(options.image_limit, training_set.count)
                                               : training_set.count;
    std::cout << norm_title(norm) << " on Fashion-MNIST: " << images << " training images, "
              << options.epochs << " epoch(s), batch " << options.batch << ", "
              << args.integer("threads", 2, 1) << " thread(s), CPU variant "
              << normgen::cpu_variant() << ", " << describe(options.optimizer) << ", seed "
              << options.seed << std::endl;
    LeNet model(norm, options.seed);
    const TrainingReport report =
        train(model, training_set, test, options, std::cerr, stream_is_terminal(stderr));
    std::cout << "test accuracy " << format("%.2f", 100 * report.final_test.accuracy) << "% ("
              << report.final_test.images << " images, loss "
              << format("%.4f", report.final_test.loss) << ")\n"
              << "throughput " << format("%.0f", report.images_per_second())
              << " images/s training (forward, backward and optimizer step), "
              << format("%.0f", report.final_test.images / report.final_test.seconds)
              << " images/s evaluating (batch 1000)\n";
    save_checkpoint(out, model, options.epochs);
    std::cout << "saved the model to " << out << "\n";
    return 0;
}

int eval_command(int argc, char **argv) {
    const Arguments args(argc, argv, "eval", {"model", "batch", "threads", "data"});
    if (!args.has("model")) throw Error("lenet eval: --model FILE is required");
    set_threads(args);
    CheckpointInfo info;
    LeNet model = load_checkpoint(args.text("model", ""), &info);
    const Dataset test =
        load_fashion_mnist(args.text("data", default_fashion_mnist_directory()), Split::test);
    const Evaluation result = evaluate(model, test, args.integer("batch", 1000, 1));
    std::cout << norm_title(info.norm) << " (" << info.epochs_trained
              << " epoch(s) trained): test accuracy " << format("%.2f", 100 * result.accuracy)
              << "% on " << result.images << " images, loss " << format("%.4f", result.loss)
              << ", " << format("%.0f", result.images / result.seconds) << " images/s\n";
    return 0;
}

// Softmax of one row of logits.
std::vector<double> probabilities(const float *logits) {
    std::vector<double> p(logits, logits + classes);
    const double top = *std::max_element(p.begin(), p.end());
    double total = 0;
    for (double &value : p) total += value = std::exp(value - top);
    for (double &value : p) value /= total;
    return p;
}

std::vector<int64_t> parse_indices(const std::string &text, int64_t count) {
    std::vector<int64_t> indices;
    std::stringstream stream(text);
    std::string item;
    while (std::getline(stream, item, ',')) {
        size_t used = 0;
        int64_t index = -1;
        try {
            index = std::stoll(item, &used);
        } catch (const std::exception &) {
            used = 0;
        }
        if (used != item.size() || item.empty() || index < 0 || index >= count) {
            throw Error("--index: expected test-set indices in [0, " + std::to_string(count) +
                        ") separated by commas, given '" + item + "'");
        }
        indices.push_back(index);
    }
    if (indices.empty()) throw Error("--index: no index given");
    return indices;
}

// Fashion-MNIST shows a light garment on black; a photo usually shows a
// dark one on a light background. Such an image, told by its border's
// mean, is inverted before classifying.
bool has_light_border(const GrayImage &image) {
    int64_t total = 0, count = 0;
    for (int y = 0; y < image.height; y++) {
        for (int x = 0; x < image.width; x++) {
            if (y == 0 || x == 0 || y == image.height - 1 || x == image.width - 1) {
                total += image.pixels[static_cast<size_t>(y) * image.width + x];
                count++;
            }
        }
    }
    return count > 0 && total > 128 * count;
}

// Median time of a batch-1 forward pass over repeated runs.
double batch_one_latency_ms(LeNet &model, const float *image) {
    std::vector<double> times;
    for (int run = 0; run < 200; run++) {
        const auto start = Clock::now();
        model.forward(image, 1, false);
        times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    }
    std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
    return times[times.size() / 2];
}

int predict_command(int argc, char **argv) {
    const Arguments args(argc, argv, "predict", {"model", "index", "image", "threads", "data"});
    if (!args.has("model")) throw Error("lenet predict: --model FILE is required");
    if (args.has("index") == args.has("image")) {
        throw Error("lenet predict: expected exactly one of --index I[,I...] and --image FILE");
    }
    set_threads(args);
    CheckpointInfo info;
    LeNet model = load_checkpoint(args.text("model", ""), &info);
    std::vector<float> image(image_size * image_size);
    auto report = [&](const std::string &what, int label) {
        const Tensor &logits = model.forward(image.data(), 1, false);
        const std::vector<double> p = probabilities(logits.data());
        std::vector<int> ranked(classes);
        for (int k = 0; k < classes; k++) ranked[k] = k;
        std::sort(ranked.begin(), ranked.end(), [&](int a, int b) { return p[a] > p[b]; });
        std::cout << what << ": " << fashion_mnist_class_name(ranked[0]) << " ("
                  << format("%.1f", 100 * p[ranked[0]]) << "%)";
        if (label >= 0) {
            std::cout << ", label " << fashion_mnist_class_name(label)
                      << (label == ranked[0] ? " (right)" : " (wrong)");
        }
        std::cout << "; next: " << fashion_mnist_class_name(ranked[1]) << " "
                  << format("%.1f", 100 * p[ranked[1]]) << "%, "
                  << fashion_mnist_class_name(ranked[2]) << " "
                  << format("%.1f", 100 * p[ranked[2]]) << "%\n";
    };
    if (args.has("index")) {
        const Dataset test = load_fashion_mnist(
            args.text("data", default_fashion_mnist_directory()), Split::test);
        std::vector<int32_t> labels;
        for (int64_t index : parse_indices(args.text("index", ""), test.count)) {
            gather_batch(test, nullptr, index, 1, image, labels);
            report("test image " + std::to_string(index), labels[0]);
        }
    } else {
        const std::string path = args.text("image", "");
        GrayImage picture = resize_to(read_gray_image(path), image_size, image_size);
        if (has_light_border(picture)) {
            for (uint8_t &pixel : picture.pixels) pixel = 255 - pixel;
        }
        normalize_pixels(picture.pixels.data(), image_size * image_size, image.data());
        report(path, -1);
    }
    std::cout << "batch-1 inference latency: "
              << format("%.3f", batch_one_latency_ms(model, image.data()))
              << " ms (median of 200 runs, " << args.integer("threads", 2, 1)
              << " thread(s))\n";
    return 0;
}

Series curve(const std::string &label, const std::vector<CurvePoint> &points, double scale) {
    Series series{label, {}, {}};
    for (const CurvePoint &point : points) {
        series.x.push_back(point.epoch);
        series.y.push_back(point.value * scale);
    }
    return series;
}

int compare_command(int argc, char **argv) {
    const Arguments args(argc, argv, "compare",
                         {"epochs", "batch", "threads", "seed", "out-dir", "evals-per-epoch",
                          "optimizer", "lr", "momentum", "weight-decay", "limit", "data"});
    TrainingOptions options = training_options(args, 2);
    options.evaluations_per_epoch = static_cast<int>(args.integer("evals-per-epoch", 4, 1));
    const std::string out_dir = args.text("out-dir", ".");
    set_threads(args);
    const std::string data = args.text("data", default_fashion_mnist_directory());
    const Dataset training_set = load_fashion_mnist(data, Split::train);
    const Dataset test = load_fashion_mnist(data, Split::test);

    Panel loss{"Training loss", "epoch", "cross-entropy", {}};
    Panel accuracy{"Test accuracy", "epoch", "accuracy (%)", {}};
    std::ostringstream summary;
    summary << "| model | test accuracy | test loss | training images/s |\n"
            << "|:--|--:|--:|--:|\n";
    for (NormKind norm : {NormKind::layer_norm, NormKind::batch_norm, NormKind::none}) {
        std::cout << norm_title(norm) << ": " << options.epochs << " epoch(s), batch "
                  << options.batch << ", " << describe(options.optimizer) << std::endl;
        LeNet model(norm, options.seed);
        const TrainingReport report =
            train(model, training_set, test, options, std::cerr, stream_is_terminal(stderr));
        loss.series.push_back(curve(norm_title(norm), report.train_loss, 1));
        accuracy.series.push_back(curve(norm_title(norm), report.test_accuracy, 100));
        summary << "| " << norm_title(norm) << " | "
                << format("%.2f", 100 * report.final_test.accuracy) << "% | "
                << format("%.4f", report.final_test.loss) << " | "
                << format("%.0f", report.images_per_second()) << " |\n";
    }
    const std::string plot_path = out_dir + "/lenet_compare.png";
    const std::string summary_path = out_dir + "/lenet_compare.md";
    write_line_plot_png(plot_path, {loss, accuracy});
    std::ostringstream header;
    header << "LeNet on Fashion-MNIST, " << options.epochs << " epoch(s), batch "
           << options.batch << ", " << args.integer("threads", 2, 1) << " thread(s), CPU variant "
           << normgen::cpu_variant() << ", " << describe(options.optimizer) << ", seed "
           << options.seed << ".\n\n";
    const std::string text = header.str() + summary.str();
    FILE *file = std::fopen(summary_path.c_str(), "w");
    if (!file || std::fputs(text.c_str(), file) < 0 || std::fclose(file) != 0) {
        throw Error("could not write " + summary_path);
    }
    std::cout << "\n" << text << "\nwrote " << plot_path << " and " << summary_path << "\n";
    return 0;
}

int benchmark_command(int argc, char **argv) {
    const Arguments args(argc, argv, "benchmark",
                         {"norm", "batch", "threads", "steps", "warmup", "seed", "data"});
    const NormKind norm = parse_norm_kind(args.text("norm", "ln"));
    const int64_t batch = args.integer("batch", 64, 1);
    const int64_t steps = args.integer("steps", 50, 1);
    const int64_t warmup = args.integer("warmup", 5, 0);
    const int64_t threads = args.integer("threads", 2, 1);
    set_threads(args);
    const Dataset training_set =
        load_fashion_mnist(args.text("data", default_fashion_mnist_directory()), Split::train);
    OptimizerSettings optimizer;
    LeNet model(norm, static_cast<uint64_t>(args.integer("seed", 0, 0)));
    // The batches are prepared before timing, as the PyTorch side does.
    const int64_t batches = std::max<int64_t>(1, std::min(steps + warmup,
                                                          training_set.count / batch));
    std::vector<std::vector<float>> images(batches);
    std::vector<std::vector<int32_t>> labels(batches);
    for (int64_t b = 0; b < batches; b++) {
        gather_batch(training_set, nullptr, b * batch, batch, images[b], labels[b]);
    }
    // Each step is timed apart; the median step gives the rate, so that a
    // step the shared machine slowed does not move it (as on PyTorch's side).
    double loss = 0, seconds = 0;
    std::vector<double> step_seconds;
    for (int64_t step = 0; step < warmup + steps; step++) {
        const auto start = Clock::now();
        model.forward(images[step % batches].data(), batch, true);
        loss = model.backward(labels[step % batches]);
        model.step(optimizer);
        const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
        if (step >= warmup) {
            step_seconds.push_back(elapsed);
            seconds += elapsed;
        }
    }
    std::nth_element(step_seconds.begin(), step_seconds.begin() + step_seconds.size() / 2,
                     step_seconds.end());
    const double median_step = step_seconds[step_seconds.size() / 2];
    std::cout << "{\"impl\": \"normgen\", \"cpu_variant\": \"" << normgen::cpu_variant()
              << "\", \"norm\": \"" << to_string(norm) << "\", \"batch\": " << batch
              << ", \"threads\": " << threads << ", \"steps\": " << steps
              << ", \"seconds\": " << seconds << ", \"median_step_seconds\": " << median_step
              << ", \"images_per_second\": " << batch / median_step
              << ", \"final_loss\": " << loss << "}" << std::endl;
    return 0;
}

}  // namespace
}  // namespace lenet

int main(int argc, char **argv) {
    const std::string command = argc > 1 ? argv[1] : "help";
    try {
        if (command == "train") return lenet::train_command(argc, argv);
        if (command == "eval") return lenet::eval_command(argc, argv);
        if (command == "predict") return lenet::predict_command(argc, argv);
        if (command == "compare") return lenet::compare_command(argc, argv);
        if (command == "benchmark") return lenet::benchmark_command(argc, argv);
        if (command == "help" || command == "--help" || command == "-h") {
            std::cout << lenet::usage;
            return 0;
        }
        std::cerr << "lenet: unknown command '" << command
                  << "'; expected train, eval, predict, compare, benchmark or help\n\n"
                  << lenet::usage;
        return 2;
    } catch (const std::exception &error) {
        std::cerr << "lenet " << command << ": error: " << error.what() << "\n";
        return 1;
    }
}
