// Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017): 28x28 grayscale images of
// clothing in ten classes, 60000 for training and 10000 for testing, read
// from the gzip-compressed IDX files that the dataset is distributed as.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lenet {

enum class Split { train, test };

struct Dataset {
    int64_t count = 0;
    int rows = 0;
    int cols = 0;
    std::vector<uint8_t> pixels;  // count * rows * cols, row-major per image, 0 = background
    std::vector<uint8_t> labels;  // count, each 0..9
};

// Reads <directory>/train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz
// (Split::train) or the t10k-... pair (Split::test). Uncompressed files under
// the same names are read too. Throws lenet::Error naming the file where one
// is missing, is not an IDX file of the expected kind, is truncated or has
// trailing data, where the two files' counts differ, or where a label is not
// 0..9.
Dataset load_fashion_mnist(const std::string &directory, Split split);

// $LENET_DATA where set and not empty, else /usr/share/datasets/fashion-mnist
// (where Debian's dataset-fashion-mnist package installs the files).
std::string default_fashion_mnist_directory();

// "T-shirt/top", "Trouser", ... "Ankle boot" for labels 0..9; throws
// lenet::Error for any other label.
const char *fashion_mnist_class_name(int label);

}  // namespace lenet
