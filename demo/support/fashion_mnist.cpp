#include "fashion_mnist.hpp"

#include "error.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace lenet {
namespace {

// IDX magic numbers: two zero bytes, the element type (0x08, unsigned
// byte), then the number of dimensions.
constexpr uint32_t kImagesMagic = 0x00000803;
constexpr uint32_t kLabelsMagic = 0x00000801;
constexpr int kClassCount = 10;

std::string hex32(uint32_t value) {
    char text[16];
    std::snprintf(text, sizeof text, "0x%08x", value);
    return text;
}

std::string describe_magic(uint32_t magic) {
    if (magic == kImagesMagic) {
        return hex32(magic) + " (an IDX images file)";
    }
    if (magic == kLabelsMagic) {
        return hex32(magic) + " (an IDX labels file)";
    }
    return hex32(magic);
}

// A gzip-compressed file read through zlib, closed on every path out. zlib
// reads an uncompressed file as it is, so a gunzipped copy works too.
class GzipFile {
public:
    explicit GzipFile(std::string path) : path_(std::move(path)) {
        errno = 0;
        file_ = gzopen(path_.c_str(), "rb");
        if (file_ == nullptr) {
            const std::string reason = errno != 0 ? std::strerror(errno) : "out of memory";
            throw Error("cannot open " + path_ + ": " + reason +
                        "; install Debian's dataset-fashion-mnist (sudo apt-get install "
                        "dataset-fashion-mnist) or pass --data DIR");
        }
    }
    GzipFile(const GzipFile &) = delete;
    GzipFile &operator=(const GzipFile &) = delete;
    ~GzipFile() { gzclose(file_); }

    const std::string &path() const { return path_; }

    // Exactly `size` bytes of `what`. The buffer grows as data arrives, so a
    // corrupt header that claims terabytes fails as truncated, not as an
    // allocation failure.
    std::vector<uint8_t> read(uint64_t size, const std::string &what) {
        constexpr uint64_t kChunk = uint64_t{1} << 20;
        std::vector<uint8_t> bytes;
        while (bytes.size() < size) {
            const size_t offset = bytes.size();
            const auto wanted = static_cast<unsigned>(std::min(kChunk, size - offset));
            bytes.resize(offset + wanted);
            const int got = gzread(file_, bytes.data() + offset, wanted);
            check_stream();
            bytes.resize(offset + static_cast<size_t>(std::max(got, 0)));
            if (got <= 0) {
                throw Error(path_ + " is truncated: expected " + std::to_string(size) +
                            " bytes of " + what + ", found " + std::to_string(bytes.size()));
            }
        }
        return bytes;
    }

    // Throws unless the file ends here: data after the last item means the
    // header's count is wrong.
    void expect_end(uint64_t expected_bytes) {
        uint8_t extra;
        const int got = gzread(file_, &extra, 1);
        check_stream();
        if (got > 0) {
            throw Error(path_ + " has data after the " + std::to_string(expected_bytes) +
                        " bytes its header accounts for");
        }
    }

private:
    // A truncated gzip stream is reported as Z_BUF_ERROR, and left to the
    // byte count in read(); anything else is corrupt compressed data.
    void check_stream() {
        int status = Z_OK;
        const char *message = gzerror(file_, &status);
        if (status == Z_ERRNO) {
            throw Error("cannot read " + path_ + ": " + std::strerror(errno));
        }
        if (status != Z_OK && status != Z_BUF_ERROR) {
            throw Error(path_ + " is not valid gzip data: " + message);
        }
    }

    std::string path_;
    gzFile file_;
};

uint32_t big_endian_u32(const uint8_t *bytes) {
    return uint32_t{bytes[0]} << 24 | uint32_t{bytes[1]} << 16 | uint32_t{bytes[2]} << 8 |
           uint32_t{bytes[3]};
}

// The header's magic and dimensions, after checking the magic.
std::vector<uint32_t> read_idx_header(GzipFile &file, uint32_t expected_magic, int dimensions) {
    const uint32_t magic = big_endian_u32(file.read(4, "IDX magic").data());
    if (magic != expected_magic) {
        throw Error(file.path() + ": expected IDX magic " + describe_magic(expected_magic) +
                    ", found " + describe_magic(magic));
    }
    const std::vector<uint8_t> header = file.read(4 * dimensions, "IDX header");
    std::vector<uint32_t> sizes;
    for (int i = 0; i < dimensions; ++i) {
        sizes.push_back(big_endian_u32(header.data() + 4 * i));
    }
    return sizes;
}

}  // namespace

Dataset load_fashion_mnist(const std::string &directory, Split split) {
    const std::string prefix = directory + "/" + (split == Split::train ? "train" : "t10k");
    Dataset dataset;

    GzipFile images(prefix + "-images-idx3-ubyte.gz");
    const std::vector<uint32_t> sizes = read_idx_header(images, kImagesMagic, 3);
    constexpr uint32_t kMaxSide = std::numeric_limits<int>::max();
    if (sizes[1] == 0 || sizes[2] == 0 || sizes[1] > kMaxSide || sizes[2] > kMaxSide) {
        throw Error(images.path() + ": expected images of at least 1x1 pixels, found " +
                    std::to_string(sizes[1]) + "x" + std::to_string(sizes[2]));
    }
    dataset.count = sizes[0];
    dataset.rows = static_cast<int>(sizes[1]);
    dataset.cols = static_cast<int>(sizes[2]);
    const uint64_t image_bytes = uint64_t{sizes[1]} * sizes[2];
    if (uint64_t{sizes[0]} > std::numeric_limits<uint64_t>::max() / image_bytes) {
        throw Error(images.path() + ": header claims " + std::to_string(sizes[0]) + " images of " +
                    std::to_string(sizes[1]) + "x" + std::to_string(sizes[2]) +
                    " pixels, more bytes than can be addressed");
    }
    const uint64_t pixel_bytes = sizes[0] * image_bytes;
    dataset.pixels = images.read(pixel_bytes, "pixels");
    images.expect_end(16 + pixel_bytes);

    GzipFile labels(prefix + "-labels-idx1-ubyte.gz");
    const uint32_t label_count = read_idx_header(labels, kLabelsMagic, 1)[0];
    if (label_count != dataset.count) {
        throw Error(images.path() + " has " + std::to_string(dataset.count) + " images but " +
                    labels.path() + " has " + std::to_string(label_count) +
                    " labels: expected one label per image");
    }
    dataset.labels = labels.read(label_count, "labels");
    labels.expect_end(8 + uint64_t{label_count});
    const auto bad = std::find_if(dataset.labels.begin(), dataset.labels.end(),
                                  [](uint8_t label) { return label >= kClassCount; });
    if (bad != dataset.labels.end()) {
        throw Error(labels.path() + ": label " + std::to_string(*bad) + " of image " +
                    std::to_string(bad - dataset.labels.begin()) + " is outside 0..9");
    }
    return dataset;
}

std::string default_fashion_mnist_directory() {
    const char *directory = std::getenv("LENET_DATA");
    if (directory != nullptr && directory[0] != '\0') {
        return directory;
    }
    return "/usr/share/datasets/fashion-mnist";
}

const char *fashion_mnist_class_name(int label) {
    static const std::array<const char *, kClassCount> kNames = {
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
    if (label < 0 || label >= kClassCount) {
        throw Error("expected a Fashion-MNIST label in 0..9, got " + std::to_string(label));
    }
    return kNames[label];
}

}  // namespace lenet
