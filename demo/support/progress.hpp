// A progress line for the LeNet training loop.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <string>

namespace lenet {

// Whether `stream` is a terminal (isatty), so that a progress line may be
// redrawn in place. False for a null stream.
bool stream_is_terminal(FILE *stream);

// Reports steps done out of a total. On a terminal, update() redraws one
// line in place, at most 10 times a second:
//   epoch 3 [########............]  42%  loss 0.512  acc 81.2%  ETA 0:12
// Elsewhere (a log file, a pipe) it prints a plain line each time progress
// passes another tenth of the total, so a log gets about ten lines per run.
// finish() ends with one line that gives the elapsed time.
class Progress {
public:
    // `terminal` says whether `out` is a terminal; the default is right for
    // std::cerr. Throws lenet::Error for a total below 1. The clock starts
    // here.
    Progress(std::string label, int64_t total, std::ostream &out = std::cerr,
             bool terminal = stream_is_terminal(stderr));

    // `done` is clamped to 0..total. `fields` is shown as given, e.g.
    // "loss 0.512  acc 81.2%  1520 img/s".
    void update(int64_t done, const std::string &fields);

    // The final line, with a newline: 100%, `fields` and the elapsed time.
    void finish(const std::string &fields);

private:
    using Clock = std::chrono::steady_clock;

    std::string line(int64_t done, const std::string &fields, const std::string &timing) const;
    double elapsed_seconds() const;

    std::string label_;
    int64_t total_;
    std::ostream &out_;
    bool terminal_;
    Clock::time_point start_;
    Clock::time_point last_redraw_;
    bool drawn_ = false;      // the first terminal update draws whatever the time
    int printed_tenths_ = 0;  // tenths of the total already logged, off a terminal
};

}  // namespace lenet
