#include "python_anchors.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace normgen::bench {
namespace {

// An implementation the child runs; its check was done when it was set up.
class PythonImplementation : public Implementation {
public:
    PythonImplementation(PythonAnchors &anchors, std::string name, std::string wrong)
        : anchors_(anchors), name_(std::move(name)), wrong_(std::move(wrong)) {}
    std::string name() const override { return name_; }
    std::string check() override { return wrong_; }
    std::vector<double> time(int iterations, double warmup_seconds) override {
        return anchors_.time(name_, iterations, warmup_seconds);
    }

private:
    PythonAnchors &anchors_;
    std::string name_, wrong_;
};

template <typename T>
void write_values(const std::string &path, const std::vector<T> &values) {
    std::ofstream file(path, std::ios::binary);
    if constexpr (std::is_same_v<T, float>) {
        file.write(reinterpret_cast<const char *>(values.data()),
                   static_cast<std::streamsize>(values.size() * sizeof(float)));
    } else {
        const std::vector<float> narrowed(values.begin(), values.end());
        file.write(reinterpret_cast<const char *>(narrowed.data()),
                   static_cast<std::streamsize>(narrowed.size() * sizeof(float)));
    }
    if (!file) {
        throw std::runtime_error("cannot write " + path);
    }
}

}  // namespace

PythonAnchors::PythonAnchors(const std::string &python, const std::string &script,
                             std::string work_dir)
    : work_dir_(std::move(work_dir)) {
    std::filesystem::create_directories(work_dir_);
    int requests[2], responses[2];
    if (pipe(requests) != 0 || pipe(responses) != 0) {
        throw std::runtime_error("cannot create pipes for " + script);
    }
    child_ = fork();
    if (child_ < 0) {
        throw std::runtime_error("cannot fork for " + script);
    }
    if (child_ == 0) {
        dup2(requests[0], STDIN_FILENO);
        dup2(responses[1], STDOUT_FILENO);
        for (int fd : {requests[0], requests[1], responses[0], responses[1]}) close(fd);
        execlp(python.c_str(), python.c_str(), script.c_str(), static_cast<char *>(nullptr));
        _exit(127);
    }
    close(requests[0]);
    close(responses[1]);
    to_child_ = fdopen(requests[1], "w");
    from_child_ = fdopen(responses[0], "r");
    const nlohmann::json hello = read_response();
    for (const auto &[impl, status] : hello.at("impls").items()) {
        if (!status.at("available").get<bool>()) {
            unavailable_[impl] = status.at("reason").get<std::string>();
        }
    }
}

PythonAnchors::~PythonAnchors() {
    if (to_child_) {
        std::fputs("{\"cmd\": \"quit\"}\n", to_child_);
        std::fclose(to_child_);
    }
    if (from_child_) std::fclose(from_child_);
    if (child_ > 0) waitpid(child_, nullptr, 0);
}

nlohmann::json PythonAnchors::read_response() {
    std::string line;
    for (int c; (c = std::fgetc(from_child_)) != EOF && c != '\n';) line += static_cast<char>(c);
    if (line.empty()) {
        throw std::runtime_error("bench/anchors.py stopped answering (see its messages above)");
    }
    nlohmann::json response = nlohmann::json::parse(line);
    if (response.contains("error")) {
        throw std::runtime_error("bench/anchors.py: " + response["error"].get<std::string>());
    }
    return response;
}

nlohmann::json PythonAnchors::request(const nlohmann::json &message) {
    const std::string line = message.dump() + "\n";
    std::fputs(line.c_str(), to_child_);
    std::fflush(to_child_);
    return read_response();
}

void PythonAnchors::write_workload(const Workload &workload, const WorkloadData &data) {
    files_ = nlohmann::json::object();
    atol_of_ = nlohmann::json::object();
    auto put = [&](const std::string &name, const auto &values) {
        if (values.empty()) return;
        const std::string path = work_dir_ + "/" + name + ".bin";
        write_values(path, values);
        files_[name] = path;
    };
    put("input", data.input);
    put("weight", data.weight);
    put("bias", data.bias);
    put("running_mean", data.running_mean);
    put("running_var", data.running_var);
    put("grad_output", data.grad_output);
    for (const ExpectedResult &expected : data.expected) {
        put("expected_" + expected.name, expected.values);
        atol_of_[expected.name] = expected.absolute_tolerance;
    }
    if (!workload.backward && workload.mode == "training") {
        put("expected_running_mean", data.expected_running_mean);
        put("expected_running_var", data.expected_running_var);
    }
}

void PythonAnchors::add_anchors(const Workload &workload, int threads, Implementations &out,
                                Notes &notes) {
    nlohmann::json workload_case = {
        {"op", workload.op_name()},
        {"shape", workload.shape},
        {"layout", workload.layout},
        {"mode", workload.mode},
        {"eps", kEps},
        {"momentum", kMomentum},
        {"threads", threads},
        {"files", files_},
        {"atol", kAbsoluteTolerance},
        {"atol_of", atol_of_},
        {"rtol", kRelativeTolerance},
    };
    if (workload.op == Op::layer_norm) {
        workload_case["normalized_rank"] = workload.normalized_shape.size();
    }
    const nlohmann::json response = request({{"cmd", "prepare"}, {"case", workload_case}});
    for (const auto &[impl, result] : response.at("results").items()) {
        if (unavailable_.count(impl) != 0) continue;  // noted once for the run
        const std::string status = result.at("status").get<std::string>();
        if (status == "ok") {
            out.push_back(std::make_unique<PythonImplementation>(*this, impl, ""));
        } else if (status == "wrong") {
            out.push_back(std::make_unique<PythonImplementation>(
                *this, impl, result.at("reason").get<std::string>()));
        } else {
            // A reason that holds for every case of the op is noted once.
            const bool whole_op = result.value("scope", "case") == "op";
            notes.push_back(impl + ": " + (whole_op ? workload.op_name() : workload.label()) +
                            ": " + result.at("reason").get<std::string>());
        }
    }
}

std::vector<double> PythonAnchors::time(const std::string &impl, int iterations,
                                        double warmup_seconds) {
    const nlohmann::json response = request(
        {{"cmd", "time"}, {"impl", impl}, {"iterations", iterations}, {"warmup_seconds", warmup_seconds}});
    return response.at("times_ms").get<std::vector<double>>();
}

}  // namespace normgen::bench
