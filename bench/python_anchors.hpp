// PyTorch and ONNX Runtime, timed by bench/anchors.py in a child process
// that this program drives over a pipe, one JSON line per request (the
// protocol is described at the top of anchors.py). The child lives for the
// whole run, so each case times every implementation in turn, in rounds,
// under the same machine conditions.
#pragma once

#include <sys/types.h>

#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "bench.hpp"

namespace normgen::bench {

class PythonAnchors {
public:
    // Starts `python script`, which exchanges data with this program through
    // files in `work_dir`. Throws if the child does not start or answer.
    PythonAnchors(const std::string &python, const std::string &script, std::string work_dir);
    ~PythonAnchors();
    PythonAnchors(const PythonAnchors &) = delete;
    PythonAnchors &operator=(const PythonAnchors &) = delete;

    // The implementations the child offers ("torch", "onnxruntime") and,
    // for those it cannot run at all, why.
    const std::map<std::string, std::string> &unavailable() const { return unavailable_; }

    // Writes the workload's tensors and the reference's answers for the
    // child to read.
    void write_workload(const Workload &workload, const WorkloadData &data);
    // Has the child set up (and check) each implementation for the workload
    // last written, at `threads`; adds those it can run to `out`, notes why
    // the others are absent. An implementation with a wrong result is added
    // too: its check() says what is wrong.
    void add_anchors(const Workload &workload, int threads, Implementations &out, Notes &notes);

    // Times `impl` on the case last set up (see Implementation::time).
    std::vector<double> time(const std::string &impl, int iterations, double warmup_seconds);

private:
    nlohmann::json request(const nlohmann::json &message);
    nlohmann::json read_response();

    std::string work_dir_;
    pid_t child_ = -1;
    FILE *to_child_ = nullptr, *from_child_ = nullptr;
    std::map<std::string, std::string> unavailable_;
    nlohmann::json files_;
    nlohmann::json atol_of_;  // each expected result's absolute tolerance
};

}  // namespace normgen::bench
