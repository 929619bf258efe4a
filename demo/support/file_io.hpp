// Whole-file reads and atomic writes, shared by the image and plot writers.
// Internal to lenet_support.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lenet {

// The bytes of the regular file at `path`. Throws lenet::Error naming the
// path and the system's reason where it cannot be read, or where it is
// larger than `max_bytes` (a guard against reading a disk image by mistake).
std::vector<uint8_t> read_file_bytes(const std::string &path, uint64_t max_bytes);

// Replaces `path` with `bytes` so that no reader ever sees a partial file:
// writes a temporary file beside it, syncs it, then renames it over `path`.
// On failure the temporary file is removed and `path` is left as it was.
void write_file_atomically(const std::string &path, const std::vector<uint8_t> &bytes);

}  // namespace lenet
