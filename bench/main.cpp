// normgen_bench: normgen against oneDNN, PyTorch, ONNX Runtime and the
// memory-streaming limit, on the shape suite of the README, in one process;
// forward, then backward (the three gradients) on the same shapes, against
// PyTorch's autograd and the limit.
//
// For every workload and thread count, each implementation is first checked
// against the float64 reference (a wrong result fails the run), then all of
// them are timed in rounds: each round gives every implementation a warm-up
// and a burst of timed calls in turn, so that a slow spell of this shared
// machine falls on all of them alike. The figure is the median call.
//
// normgen's thread pool and OpenMP's (oneDNN, the limits) share this
// process and its cores, each with its default: after a parallel loop,
// OpenMP's threads spin for a few milliseconds (libgomp: about 4 ms of CPU
// time on this machine) and normgen's poll for 0.2 ms, then they sleep. The
// warm-up before each implementation's timed calls outlasts both, so
// neither pool's spinning falls on another's timed calls.
//
//   normgen_bench --out results.json [--python PY --anchors anchors.py]
//                 [--threads 2,1] [--quick] [--only SUBSTRING]
#include <normgen/normgen.hpp>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <cmath>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "bench.hpp"
#include "python_anchors.hpp"

namespace normgen::bench {
namespace {

struct Options {
    std::string command = "bench/run";  // how to reproduce this run
    std::string out = "bench/out/results.json";
    std::string python, anchors_script, work_dir = "bench/out/work";
    std::vector<int> threads{2, 1};
    bool quick = false;
    bool threads_given = false;
    std::string only;  // run the workloads whose label contains this
    int rounds = 5;
    double warmup_seconds = 0.02;
    double round_milliseconds = 30.0;  // timed calls per implementation per round
};

// The forward workloads, then their backward on the same shapes, layouts
// and modes.
std::vector<Workload> with_backward(std::vector<Workload> suite) {
    const size_t forward_count = suite.size();
    for (size_t i = 0; i < forward_count; ++i) {
        Workload backward = suite[i];
        backward.backward = true;
        if (backward.op == Op::layer_norm) backward.mode = "backward";
        suite.push_back(backward);
    }
    return suite;
}

std::vector<Workload> shape_suite(bool quick) {
    auto layer_norm = [](std::vector<int64_t> leading, std::vector<int64_t> normalized) {
        std::vector<int64_t> shape = leading;
        shape.insert(shape.end(), normalized.begin(), normalized.end());
        return Workload{Op::layer_norm, shape, normalized, "rows", "forward"};
    };
    std::vector<Workload> suite;
    if (quick) {
        suite = {layer_norm({4096}, {1024}), layer_norm({65536}, {16}), layer_norm({1}, {1048576})};
        for (const char *layout : {"nchw", "nhwc"}) {
            suite.push_back({Op::batch_norm, {32, 64, 56, 56}, {}, layout, "training"});
        }
        return with_backward(suite);
    }
    suite = {layer_norm({4096}, {768}),     layer_norm({4096}, {1024}),
             layer_norm({16384}, {1024}),   layer_norm({4096}, {4096}),
             layer_norm({65536}, {16}),     layer_norm({1}, {1048576}),
             layer_norm({4096}, {4097}),    layer_norm({64}, {20, 24, 24}),
             layer_norm({256}, {50, 8, 8})};
    const std::vector<std::vector<int64_t>> batch_norm_shapes{
        {64, 20, 24, 24}, {256, 50, 8, 8}, {32, 64, 56, 56}, {128, 256, 14, 14}};
    for (const char *mode : {"training", "inference"}) {
        for (const auto &shape : batch_norm_shapes) {
            for (const char *layout : {"nchw", "nhwc"}) {
                suite.push_back({Op::batch_norm, shape, {}, layout, mode});
            }
        }
        suite.push_back({Op::batch_norm, {1024, 512}, {}, "nc", mode});
    }
    return with_backward(suite);
}

Options parse_options(int argc, char **argv) {
    Options options;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw std::invalid_argument(arg + " expects a value");
            return argv[++i];
        };
        if (arg == "--out") options.out = value();
        else if (arg == "--python") options.python = value();
        else if (arg == "--anchors") options.anchors_script = value();
        else if (arg == "--work-dir") options.work_dir = value();
        else if (arg == "--only") options.command += " --only " + (options.only = value());
        else if (arg == "--quick") {
            options.quick = true;
            options.command += " --quick";
        }
        else if (arg == "--threads") {
            options.threads.clear();
            options.threads_given = true;
            const std::string threads = value();
            options.command += " --threads " + threads;
            std::stringstream list(threads);
            for (std::string item; std::getline(list, item, ',');) {
                options.threads.push_back(std::stoi(item));
            }
        } else {
            throw std::invalid_argument("unknown argument " + arg +
                                        " (expected --out, --python, --anchors, --work-dir, "
                                        "--threads, --quick, --only)");
        }
    }
    if (options.quick) {
        options.rounds = 3;
        if (!options.threads_given) options.threads = {2};
    }
    return options;
}

std::string cpu_model() {
    std::ifstream cpuinfo("/proc/cpuinfo");
    for (std::string line; std::getline(cpuinfo, line);) {
        if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
    }
    return "unknown";
}

std::string utc_now() {
    const std::time_t now = std::time(nullptr);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    return text;
}

void set_threads(int threads) {
    omp_set_num_threads(threads);
    normgen::set_num_threads(threads);
}

// Times every implementation in rounds; the median call of each, in ms.
std::vector<double> time_in_rounds(Implementations &implementations, const Options &options) {
    std::vector<int> iterations;
    for (auto &implementation : implementations) {
        const double estimate = median(implementation->time(3, options.warmup_seconds));
        iterations.push_back(
            std::clamp(static_cast<int>(options.round_milliseconds / std::max(estimate, 1e-3)), 3, 200));
    }
    std::vector<std::vector<double>> samples(implementations.size());
    for (int round = 0; round < options.rounds; ++round) {
        for (size_t i = 0; i < implementations.size(); ++i) {
            std::vector<double> times = implementations[i]->time(iterations[i], options.warmup_seconds);
            samples[i].insert(samples[i].end(), times.begin(), times.end());
        }
    }
    std::vector<double> medians;
    for (auto &times : samples) medians.push_back(median(times));
    return medians;
}

int run(const Options &options) {
    // Before any implementation forces a variant.
    const std::string default_variant = cpu_variant();
    std::unique_ptr<PythonAnchors> anchors;
    std::set<std::string> notes_seen;
    nlohmann::json notes = nlohmann::json::array();
    auto note = [&](const std::string &text) {
        if (notes_seen.insert(text).second) {
            std::cout << "note: " << text << "\n";
            notes.push_back(text);
        }
    };
    if (options.python.empty()) {
        note("torch, onnxruntime: not run (no --python given)");
    } else {
        anchors = std::make_unique<PythonAnchors>(options.python, options.anchors_script,
                                                  options.work_dir);
        for (const auto &[impl, reason] : anchors->unavailable()) note(impl + ": " + reason);
    }

    nlohmann::json records = nlohmann::json::array();
    for (const Workload &workload : shape_suite(options.quick)) {
        if (workload.label().find(options.only) == std::string::npos) continue;
        const WorkloadData data = make_workload_data(workload);
        if (anchors) anchors->write_workload(workload, data);
        for (int threads : options.threads) {
            set_threads(threads);
            Implementations implementations;
            Notes workload_notes;
            add_limits(workload, data, implementations);
            add_normgen(workload, data, implementations, workload_notes);
            add_onednn(workload, data, implementations, workload_notes);
            if (anchors) anchors->add_anchors(workload, threads, implementations, workload_notes);
            for (const std::string &text : workload_notes) note(text);
            for (auto &implementation : implementations) {
                if (std::string wrong = implementation->check(); !wrong.empty()) {
                    std::cerr << "normgen_bench: " << implementation->name() << " is wrong on "
                              << workload.label() << " with " << threads << " threads: " << wrong
                              << "\n";
                    return 1;
                }
            }
            const std::vector<double> medians = time_in_rounds(implementations, options);
            // (name, median ms), the limit first: the faster of its two
            // implementations (add_limits comes first).
            std::vector<std::pair<std::string, double>> timed{
                {"limit", std::min(medians[0], medians[1])}};
            for (size_t i = 0; i < implementations.size(); ++i) {
                timed.emplace_back(implementations[i]->name(), medians[i]);
            }
            const double limit_ms = timed.front().second;
            std::cout << workload.label() << ", " << threads << " threads:";
            for (const auto &[name, median_ms] : timed) {
                std::cout << "  " << name << " " << std::setprecision(3) << median_ms << " ms ("
                          << std::setprecision(3) << median_ms / limit_ms << "x)";
                nlohmann::json record = {
                    {"op", workload.op_name()},
                    {"shape", workload.shape},
                    {"layout", workload.layout},
                    {"mode", workload.mode},
                    {"dtype", "float32"},
                    {"threads", threads},
                    {"impl", name},
                    {"median_ms", median_ms},
                    {"gbps", bytes_moved(workload) / (median_ms * 1e6)},
                    {"bytes", bytes_moved(workload)},
                };
                if (workload.op == Op::layer_norm) {
                    record["normalized_shape"] = workload.normalized_shape;
                }
                records.push_back(record);
            }
            std::cout << std::endl;
        }
    }

    nlohmann::json results = {
        {"schema", 1},
        {"date", utc_now()},
        {"command", options.command},
        {"machine",
         {{"cpu", cpu_model()},
          {"cores", std::thread::hardware_concurrency()},
          {"normgen_default_variant", default_variant}}},
        {"threads", options.threads},
        {"notes", notes},
        {"records", records},
    };
    std::filesystem::create_directories(std::filesystem::path(options.out).parent_path());
    std::ofstream(options.out) << results.dump(1) << "\n";
    std::cout << "wrote " << options.out << "\n";
    return 0;
}

}  // namespace
}  // namespace normgen::bench

int main(int argc, char **argv) {
    try {
        return normgen::bench::run(normgen::bench::parse_options(argc, argv));
    } catch (const std::exception &error) {
        std::cerr << "normgen_bench: " << error.what() << "\n";
        return 1;
    }
}
