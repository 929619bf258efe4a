// LeNet checkpoints: the trained model (parameters and BatchNorm running
// statistics, not the optimizer state) in one little-endian binary file.
//
//   offset  size  field
//   0       8     magic "NGLENET\x1a"
//   8       4     u32 format version (1)
//   12      4     u32 norm kind: 0 none, 1 LayerNorm, 2 BatchNorm
//   16      8     i64 BatchNorm num_batches_tracked (0 otherwise)
//   24      8     i64 epochs trained
//   32      4     u32 tensor count T
//   then T tensors, in the model's order:
//           4     u32 name length L, then L bytes of ASCII name (e.g. "conv1.weight")
//           4     u32 rank R, then R x i64 sizes
//           4*n   f32 values, n = product of the sizes, row-major
//   last    8     u64 FNV-1a hash of every byte before it
//
// Loading checks every field against the network the norm kind defines, so a
// truncated, corrupt or foreign file is an error that says what is wrong.
#pragma once

#include <string>

#include "network.hpp"

namespace lenet {

struct CheckpointInfo {
    NormKind norm;
    int64_t epochs_trained;
};

// Writes `model` to `path` through a temporary file in the same directory,
// renamed into place: a failed save leaves any earlier file intact.
void save_checkpoint(const std::string &path, LeNet &model, int64_t epochs_trained);

// The model a checkpoint holds; throws lenet::Error naming the path and
// the problem.
LeNet load_checkpoint(const std::string &path, CheckpointInfo *info = nullptr);

}  // namespace lenet
