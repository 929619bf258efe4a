#include "progress.hpp"

#include "error.hpp"

#include <algorithm>
#include <cmath>
#include <unistd.h>

namespace lenet {
namespace {

constexpr int kBarWidth = 20;
constexpr auto kRedrawInterval = std::chrono::milliseconds(100);

// "m:ss", or "h:mm:ss" from an hour.
std::string format_duration(double seconds) {
    const auto whole = static_cast<int64_t>(std::llround(std::max(seconds, 0.0)));
    char text[32];
    if (whole >= 3600) {
        std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", static_cast<long long>(whole / 3600),
                      static_cast<long long>(whole / 60 % 60), static_cast<long long>(whole % 60));
    } else {
        std::snprintf(text, sizeof text, "%lld:%02lld", static_cast<long long>(whole / 60),
                      static_cast<long long>(whole % 60));
    }
    return text;
}

}  // namespace

bool stream_is_terminal(FILE *stream) {
    return stream != nullptr && isatty(fileno(stream)) == 1;
}

Progress::Progress(std::string label, int64_t total, std::ostream &out, bool terminal)
    : label_(std::move(label)),
      total_(total),
      out_(out),
      terminal_(terminal),
      start_(Clock::now()),
      last_redraw_(start_) {
    if (total_ < 1) {
        throw Error("Progress \"" + label_ + "\": expected a total of at least 1 step, got " +
                    std::to_string(total_));
    }
}

void Progress::update(int64_t done, const std::string &fields) {
    done = std::clamp<int64_t>(done, 0, total_);
    const double elapsed = elapsed_seconds();
    const std::string eta =
        done > 0 ? "ETA " + format_duration(elapsed * double(total_ - done) / double(done))
                 : "ETA --:--";
    if (terminal_) {
        const Clock::time_point now = Clock::now();
        if (drawn_ && done < total_ && now - last_redraw_ < kRedrawInterval) {
            return;
        }
        last_redraw_ = now;
        drawn_ = true;
        // "\033[K" clears what a longer previous line left to the right.
        out_ << '\r' << line(done, fields, eta) << "\033[K" << std::flush;
        return;
    }
    const int tenths = static_cast<int>(10.0 * double(done) / double(total_));
    if (tenths > printed_tenths_) {
        printed_tenths_ = tenths;
        out_ << line(done, fields, eta) << '\n' << std::flush;
    }
}

void Progress::finish(const std::string &fields) {
    const std::string final_line = line(total_, fields, "in " + format_duration(elapsed_seconds()));
    if (terminal_) {
        out_ << '\r' << final_line << "\033[K\n" << std::flush;
    } else {
        out_ << final_line << '\n' << std::flush;
    }
    drawn_ = false;
}

std::string Progress::line(int64_t done, const std::string &fields,
                           const std::string &timing) const {
    const int percent = static_cast<int>(100.0 * double(done) / double(total_));
    std::string text = label_ + " ";
    if (terminal_) {
        const int filled = static_cast<int>(kBarWidth * double(done) / double(total_));
        text += "[" + std::string(filled, '#') + std::string(kBarWidth - filled, '.') + "] ";
    }
    char counts[64];
    std::snprintf(counts, sizeof counts, "%3d%% (%lld/%lld)", percent, static_cast<long long>(done),
                  static_cast<long long>(total_));
    text += counts;
    if (!fields.empty()) {
        text += "  " + fields;
    }
    return text + "  " + timing;
}

double Progress::elapsed_seconds() const {
    return std::chrono::duration<double>(Clock::now() - start_).count();
}

}  // namespace lenet
