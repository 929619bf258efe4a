// The LeNet demo's support library (demo/support): Fashion-MNIST IDX files,
// image files and resizing, line plots and progress lines. Every bad input
// must throw lenet::Error whose message names the file involved; the test
// files are written here, into a temporary directory, with zlib and libpng.
#include <catch2/catch.hpp>

#include "support/error.hpp"
#include "support/fashion_mnist.hpp"
#include "support/images.hpp"
#include "support/plot.hpp"
#include "support/progress.hpp"

#include <png.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using Catch::Matchers::Contains;

// A fresh directory, removed with its contents when the test ends.
class TemporaryDirectory {
public:
    TemporaryDirectory() {
        std::string pattern = (fs::temp_directory_path() / "lenet_support_tests.XXXXXX").string();
        if (mkdtemp(pattern.data()) == nullptr) {
            throw std::runtime_error("mkdtemp failed for " + pattern);
        }
        path_ = pattern;
    }
    TemporaryDirectory(const TemporaryDirectory &) = delete;
    TemporaryDirectory &operator=(const TemporaryDirectory &) = delete;
    ~TemporaryDirectory() {
        std::error_code ignored;
        fs::remove_all(path_, ignored);
    }

    std::string file(const std::string &name) const { return (path_ / name).string(); }
    std::string path() const { return path_.string(); }
    std::vector<std::string> names() const {
        std::vector<std::string> result;
        for (const auto &entry : fs::directory_iterator(path_)) {
            result.push_back(entry.path().filename().string());
        }
        std::sort(result.begin(), result.end());
        return result;
    }

private:
    fs::path path_;
};

// Runs `call`, which must throw lenet::Error with every fragment in its
// message.
template <typename Call>
void check_rejected(Call &&call, const std::vector<std::string> &fragments) {
    try {
        call();
    } catch (const lenet::Error &error) {
        const std::string message = error.what();
        INFO("message: " << message);
        for (const std::string &fragment : fragments) {
            CHECK_THAT(message, Contains(fragment));
        }
        return;
    }
    FAIL_CHECK("no lenet::Error was thrown");
}

void write_bytes(const std::string &path, const std::vector<uint8_t> &bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char *>(bytes.data()), std::streamsize(bytes.size()));
    REQUIRE(out.good());
}

std::vector<uint8_t> read_bytes(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// ---- Fashion-MNIST ---------------------------------------------------------------

void write_gzip(const std::string &path, const std::vector<uint8_t> &bytes) {
    gzFile file = gzopen(path.c_str(), "wb");
    REQUIRE(file != nullptr);
    const int wrote = bytes.empty() ? 0 : gzwrite(file, bytes.data(), unsigned(bytes.size()));
    REQUIRE(gzclose(file) == Z_OK);
    REQUIRE(wrote == int(bytes.size()));
}

// An IDX file: the magic and the dimensions, big-endian, then the data.
std::vector<uint8_t> idx(uint32_t magic, const std::vector<uint32_t> &sizes,
                         const std::vector<uint8_t> &data) {
    std::vector<uint8_t> bytes;
    std::vector<uint32_t> header{magic};
    header.insert(header.end(), sizes.begin(), sizes.end());
    for (uint32_t word : header) {
        for (int shift = 24; shift >= 0; shift -= 8) {
            bytes.push_back(uint8_t(word >> shift));
        }
    }
    bytes.insert(bytes.end(), data.begin(), data.end());
    return bytes;
}

constexpr uint32_t kImagesMagic = 0x00000803;
constexpr uint32_t kLabelsMagic = 0x00000801;

// Three 2x3 images, pixel values 0..17, labelled 0, 9 and 4.
struct SmallDataset {
    std::vector<uint8_t> pixels, labels{0, 9, 4};
    SmallDataset() {
        for (int i = 0; i < 18; ++i) {
            pixels.push_back(uint8_t(i * 10));
        }
    }
    std::vector<uint8_t> images_file() const { return idx(kImagesMagic, {3, 2, 3}, pixels); }
    std::vector<uint8_t> labels_file() const { return idx(kLabelsMagic, {3}, labels); }
};

void write_split(const TemporaryDirectory &directory, const std::string &prefix,
                 const std::vector<uint8_t> &images, const std::vector<uint8_t> &labels) {
    write_gzip(directory.file(prefix + "-images-idx3-ubyte.gz"), images);
    write_gzip(directory.file(prefix + "-labels-idx1-ubyte.gz"), labels);
}

TEST_CASE("load_fashion_mnist reads gzip-compressed IDX files of either split") {
    TemporaryDirectory directory;
    const SmallDataset small;
    write_split(directory, "train", small.images_file(), small.labels_file());
    std::vector<uint8_t> test_labels = small.labels;
    test_labels[0] = 5;
    write_split(directory, "t10k", small.images_file(), idx(kLabelsMagic, {3}, test_labels));

    const lenet::Dataset train = lenet::load_fashion_mnist(directory.path(), lenet::Split::train);
    CHECK(train.count == 3);
    CHECK(train.rows == 2);
    CHECK(train.cols == 3);
    CHECK(train.pixels == small.pixels);
    CHECK(train.labels == small.labels);
    const lenet::Dataset test = lenet::load_fashion_mnist(directory.path(), lenet::Split::test);
    CHECK(test.labels == test_labels);
}

TEST_CASE("load_fashion_mnist names the missing file and how to get the dataset") {
    TemporaryDirectory directory;
    check_rejected([&] { lenet::load_fashion_mnist(directory.path(), lenet::Split::test); },
                   {directory.file("t10k-images-idx3-ubyte.gz"), "No such file",
                    "sudo apt-get install dataset-fashion-mnist", "--data DIR"});
}

TEST_CASE("load_fashion_mnist rejects malformed IDX files, naming the file") {
    TemporaryDirectory directory;
    const SmallDataset small;
    const std::string images = directory.file("train-images-idx3-ubyte.gz");
    const std::string labels = directory.file("train-labels-idx1-ubyte.gz");
    const auto load = [&] { lenet::load_fashion_mnist(directory.path(), lenet::Split::train); };

    SECTION("a labels file where the images belong") {
        write_split(directory, "train", small.labels_file(), small.labels_file());
        check_rejected(load, {images, "expected IDX magic 0x00000803", "found 0x00000801"});
    }
    SECTION("an unknown magic in the labels file") {
        write_split(directory, "train", small.images_file(), idx(0x12345678, {3}, small.labels));
        check_rejected(load, {labels, "0x00000801", "0x12345678"});
    }
    SECTION("pixels cut short") {
        std::vector<uint8_t> cut = small.images_file();
        cut.resize(cut.size() - 5);
        write_split(directory, "train", cut, small.labels_file());
        check_rejected(load, {images, "truncated", "expected 18 bytes of pixels, found 13"});
    }
    SECTION("a header cut short") {
        write_split(directory, "train", {0, 0, 8, 3, 0, 0}, small.labels_file());
        check_rejected(load, {images, "truncated", "IDX header"});
    }
    SECTION("a header that claims more images than the file holds") {
        write_split(directory, "train", idx(kImagesMagic, {4000000000u, 28, 28}, small.pixels),
                    small.labels_file());
        check_rejected(load, {images, "truncated"});
    }
    SECTION("data after the last image") {
        std::vector<uint8_t> longer = small.images_file();
        longer.push_back(7);
        write_split(directory, "train", longer, small.labels_file());
        check_rejected(load, {images, "data after"});
    }
    SECTION("empty images") {
        write_split(directory, "train", idx(kImagesMagic, {3, 0, 28}, {}), small.labels_file());
        check_rejected(load, {images, "at least 1x1", "0x28"});
    }
    SECTION("fewer labels than images") {
        write_split(directory, "train", small.images_file(),
                    idx(kLabelsMagic, {2}, {small.labels[0], small.labels[1]}));
        check_rejected(load, {images, labels, "3 images", "2 labels"});
    }
    SECTION("a label outside 0..9") {
        write_split(directory, "train", small.images_file(), idx(kLabelsMagic, {3}, {1, 10, 2}));
        check_rejected(load, {labels, "label 10 of image 1", "outside 0..9"});
    }
    SECTION("a gzip stream cut short") {
        write_split(directory, "train", small.images_file(), small.labels_file());
        std::vector<uint8_t> compressed = read_bytes(images);
        compressed.resize(compressed.size() / 2);
        write_bytes(images, compressed);
        check_rejected(load, {images});
    }
    SECTION("corrupt compressed data") {
        write_split(directory, "train", small.images_file(), small.labels_file());
        std::vector<uint8_t> compressed = read_bytes(images);
        for (size_t i = 10; i < compressed.size(); ++i) {  // after the gzip header
            compressed[i] ^= 0x5A;
        }
        write_bytes(images, compressed);
        check_rejected(load, {images});
    }
}

TEST_CASE("The real Fashion-MNIST files load with the published sizes") {
    const std::string directory = lenet::default_fashion_mnist_directory();
    if (!fs::exists(fs::path(directory) / "train-images-idx3-ubyte.gz")) {
        std::cout << "SKIPPED: no Fashion-MNIST at " << directory
                  << " (sudo apt-get install dataset-fashion-mnist, or set LENET_DATA)\n";
        return;
    }
    const lenet::Dataset train = lenet::load_fashion_mnist(directory, lenet::Split::train);
    const lenet::Dataset test = lenet::load_fashion_mnist(directory, lenet::Split::test);
    CHECK(train.count == 60000);
    CHECK(test.count == 10000);
    for (const lenet::Dataset *dataset : {&train, &test}) {
        CHECK(dataset->rows == 28);
        CHECK(dataset->cols == 28);
        CHECK(dataset->pixels.size() == size_t(dataset->count) * 28 * 28);
        // Both splits are balanced: a tenth of the images in each class.
        for (uint8_t label = 0; label < 10; ++label) {
            INFO("label " << int(label));
            CHECK(std::count(dataset->labels.begin(), dataset->labels.end(), label) ==
                  dataset->count / 10);
        }
    }
    CHECK(train.labels[0] == 9);
    CHECK(std::string(lenet::fashion_mnist_class_name(train.labels[0])) == "Ankle boot");
}

TEST_CASE("default_fashion_mnist_directory follows LENET_DATA") {
    const char *saved = std::getenv("LENET_DATA");
    const std::string saved_value = saved ? saved : "";
    setenv("LENET_DATA", "/somewhere/else", 1);
    CHECK(lenet::default_fashion_mnist_directory() == "/somewhere/else");
    setenv("LENET_DATA", "", 1);
    CHECK(lenet::default_fashion_mnist_directory() == "/usr/share/datasets/fashion-mnist");
    unsetenv("LENET_DATA");
    CHECK(lenet::default_fashion_mnist_directory() == "/usr/share/datasets/fashion-mnist");
    if (saved) {
        setenv("LENET_DATA", saved_value.c_str(), 1);
    }
}

TEST_CASE("fashion_mnist_class_name names the ten classes and rejects others") {
    CHECK(std::string(lenet::fashion_mnist_class_name(0)) == "T-shirt/top");
    CHECK(std::string(lenet::fashion_mnist_class_name(6)) == "Shirt");
    CHECK(std::string(lenet::fashion_mnist_class_name(9)) == "Ankle boot");
    check_rejected([] { lenet::fashion_mnist_class_name(10); }, {"0..9", "10"});
    check_rejected([] { lenet::fashion_mnist_class_name(-1); }, {"0..9", "-1"});
}

// ---- Images ----------------------------------------------------------------------

// Writes `samples` (width x height, `format`'s channels per pixel) with
// libpng's simplified API; PNG_FORMAT_FLAG_LINEAR formats take 16-bit
// samples.
template <typename Sample>
void write_png(const std::string &path, png_uint_32 format, int width, int height,
               const std::vector<Sample> &samples, const void *colormap = nullptr,
               int colormap_entries = 0) {
    png_image image{};
    image.version = PNG_IMAGE_VERSION;
    image.width = png_uint_32(width);
    image.height = png_uint_32(height);
    image.format = format;
    image.colormap_entries = png_uint_32(colormap_entries);
    REQUIRE(png_image_write_to_file(&image, path.c_str(), 0, samples.data(), 0, colormap));
}

lenet::GrayImage gradient_image(int width, int height) {
    lenet::GrayImage image{width, height, {}};
    for (int y = 0; y < height; ++y) {
        for (int x = 0; x < width; ++x) {
            image.pixels.push_back(uint8_t((x * 7 + y * 13) % 256));
        }
    }
    return image;
}

TEST_CASE("read_gray_image reads plain PGM with comments, scaling maxval to 255") {
    TemporaryDirectory directory;
    const std::string path = directory.file("plain.pgm");
    std::ofstream(path) << "P2\n# made by hand\n3 2 # size\n15\n0 5 10\n15 # comment\n 1 14\n";
    const lenet::GrayImage image = lenet::read_gray_image(path);
    CHECK(image.width == 3);
    CHECK(image.height == 2);
    // round(v * 255 / 15) = 17 v
    CHECK(image.pixels == std::vector<uint8_t>{0, 85, 170, 255, 17, 238});
}

TEST_CASE("write_gray_pgm and read_gray_image round-trip a binary PGM") {
    TemporaryDirectory directory;
    const std::string path = directory.file("image.pgm");
    const lenet::GrayImage written = gradient_image(31, 17);
    lenet::write_gray_pgm(path, written);
    CHECK(directory.names() == std::vector<std::string>{"image.pgm"});
    const lenet::GrayImage read = lenet::read_gray_image(path);
    CHECK(read.width == 31);
    CHECK(read.height == 17);
    CHECK(read.pixels == written.pixels);
}

TEST_CASE("read_gray_image scales 16-bit binary PGM samples") {
    TemporaryDirectory directory;
    const std::string path = directory.file("deep.pgm");
    write_bytes(path, {'P', '5', ' ', '3', ' ', '1', ' ', '6', '5', '5', '3', '5', '\n',  //
                       0x00, 0x00, 0x80, 0x00, 0xFF, 0xFF});
    CHECK(lenet::read_gray_image(path).pixels == std::vector<uint8_t>{0, 128, 255});
}

TEST_CASE("read_gray_image rejects malformed PGM files, naming the file") {
    TemporaryDirectory directory;
    const std::string path = directory.file("bad.pgm");
    SECTION("binary pixels cut short") {
        write_bytes(path, {'P', '5', '\n', '4', ' ', '4', '\n', '2', '5', '5', '\n', 1, 2, 3});
        check_rejected([&] { lenet::read_gray_image(path); },
                       {path, "expected 16 bytes of 4x4 pixels", "found 3", "truncated"});
    }
    SECTION("plain pixels cut short") {
        std::ofstream(path) << "P2 2 2 255 1 2 3          ";
        check_rejected([&] { lenet::read_gray_image(path); }, {path, "end of the file"});
    }
    SECTION("a sample above maxval") {
        std::ofstream(path) << "P2 2 1 100 50 101";
        check_rejected([&] { lenet::read_gray_image(path); },
                       {path, "pixel (1, 0) is 101", "maxval 100"});
    }
    SECTION("a maxval of 0") {
        std::ofstream(path) << "P2 1 1 0 0";
        check_rejected([&] { lenet::read_gray_image(path); }, {path, "maxval"});
    }
    SECTION("a maxval above 65535") {
        std::ofstream(path) << "P2 1 1 70000 0";
        check_rejected([&] { lenet::read_gray_image(path); }, {path, "at most 65535", "70000"});
    }
    SECTION("a size the file is far too small for") {
        std::ofstream(path) << "P2 16384 16384 255 0 0";
        check_rejected([&] { lenet::read_gray_image(path); },
                       {path, "at least 536870911 bytes of 16384x16384 pixels", "truncated"});
    }
    SECTION("a size beyond the limit") {
        std::ofstream(path) << "P5 100000 2 255\n";
        check_rejected([&] { lenet::read_gray_image(path); }, {path, "width", "100000"});
    }
    SECTION("no size at all") {
        std::ofstream(path) << "P5 x";
        check_rejected([&] { lenet::read_gray_image(path); }, {path, "expected width"});
    }
}

TEST_CASE("read_gray_image reads 8-bit gray PNG exactly, whatever the file is named") {
    TemporaryDirectory directory;
    const std::string path = directory.file("actually_a_png.pgm");
    const lenet::GrayImage written = gradient_image(29, 11);
    write_png(path, PNG_FORMAT_GRAY, written.width, written.height, written.pixels);
    const lenet::GrayImage read = lenet::read_gray_image(path);
    CHECK(read.width == 29);
    CHECK(read.height == 11);
    CHECK(read.pixels == written.pixels);
}

TEST_CASE("read_gray_image turns RGB PNG to gray by Rec. 709 luma") {
    TemporaryDirectory directory;
    const std::string path = directory.file("colours.png");
    // red, green, blue, white, mid gray
    write_png(path, PNG_FORMAT_RGB, 5, 1,
              std::vector<uint8_t>{255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255, 90, 90, 90});
    const lenet::GrayImage read = lenet::read_gray_image(path);
    REQUIRE(read.pixels.size() == 5);
    CHECK(std::abs(read.pixels[0] - 54) <= 1);   // 0.2126 * 255
    CHECK(std::abs(read.pixels[1] - 182) <= 1);  // 0.7152 * 255
    CHECK(std::abs(read.pixels[2] - 18) <= 1);   // 0.0722 * 255
    CHECK(read.pixels[3] == 255);
    CHECK(std::abs(read.pixels[4] - 90) <= 1);
}

TEST_CASE("read_gray_image composites PNG alpha on black") {
    TemporaryDirectory directory;
    const std::string path = directory.file("alpha.png");
    // (gray, alpha) pairs: opaque, transparent, half
    write_png(path, PNG_FORMAT_GA, 3, 1, std::vector<uint8_t>{200, 255, 200, 0, 200, 128});
    const lenet::GrayImage read = lenet::read_gray_image(path);
    REQUIRE(read.pixels.size() == 3);
    CHECK(read.pixels[0] == 200);
    CHECK(read.pixels[1] == 0);
    CHECK(std::abs(read.pixels[2] - 100) <= 1);
}

TEST_CASE("read_gray_image reads 16-bit and palette PNG") {
    TemporaryDirectory directory;
    SECTION("16-bit gray, scaled to 8 bits") {
        const std::string path = directory.file("deep.png");
        write_png(path, PNG_FORMAT_LINEAR_Y, 3, 1, std::vector<uint16_t>{0, 32768, 65535});
        CHECK(lenet::read_gray_image(path).pixels == std::vector<uint8_t>{0, 128, 255});
    }
    SECTION("a colour palette") {
        const std::string path = directory.file("palette.png");
        const std::vector<uint8_t> colormap{0, 0, 0, 255, 255, 255, 0, 255, 0};
        write_png(path, PNG_FORMAT_RGB_COLORMAP, 4, 1, std::vector<uint8_t>{0, 1, 2, 1},
                  colormap.data(), 3);
        const lenet::GrayImage read = lenet::read_gray_image(path);
        REQUIRE(read.pixels.size() == 4);
        CHECK(read.pixels[0] == 0);
        CHECK(read.pixels[1] == 255);
        CHECK(std::abs(read.pixels[2] - 182) <= 1);
        CHECK(read.pixels[3] == 255);
    }
}

TEST_CASE("read_gray_image rejects missing, unsupported and corrupt files, naming them") {
    TemporaryDirectory directory;
    const std::string path = directory.file("picture.png");
    const auto read = [&] { lenet::read_gray_image(path); };
    SECTION("missing") { check_rejected(read, {path, "No such file"}); }
    SECTION("a directory") {
        check_rejected([&] { lenet::read_gray_image(directory.path()); },
                       {directory.path(), "a directory"});
    }
    SECTION("empty") {
        write_bytes(path, {});
        check_rejected(read, {path, "an empty file", "PGM", "PNG"});
    }
    SECTION("JPEG") {
        write_bytes(path, {0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, 'J', 'F', 'I', 'F'});
        check_rejected(read, {path, "JPEG", "expected a PGM (P2 or P5) or PNG"});
    }
    SECTION("colour PPM") {
        std::ofstream(path) << "P6 1 1 255\nabc";
        check_rejected(read, {path, "P6"});
    }
    const lenet::GrayImage image = gradient_image(64, 64);
    write_png(path, PNG_FORMAT_GRAY, 64, 64, image.pixels);
    std::vector<uint8_t> bytes = read_bytes(path);
    SECTION("PNG cut short") {
        bytes.resize(bytes.size() / 2);
        write_bytes(path, bytes);
        check_rejected(read, {path, "PNG", "truncated"});
    }
    SECTION("PNG cut inside its header") {
        bytes.resize(20);
        write_bytes(path, bytes);
        check_rejected(read, {path, "PNG"});
    }
    SECTION("PNG whose header claims more pixels than the file can hold") {
        // IHDR follows the 8-byte signature: length, type, width, height, ...,
        // then a CRC of type and data.
        bytes[18] = 0x40, bytes[19] = 0x00;  // width 16384
        bytes[22] = 0x40, bytes[23] = 0x00;  // height 16384
        const uLong crc = crc32(0, bytes.data() + 12, 17);
        for (int i = 0; i < 4; ++i) {
            bytes[29 + i] = uint8_t(crc >> (24 - 8 * i));
        }
        write_bytes(path, bytes);
        check_rejected(read, {path, "cannot hold 16384x16384 pixels"});
    }
    SECTION("PNG with a damaged chunk") {
        bytes[bytes.size() / 2] ^= 0xFF;  // inside IDAT: its CRC no longer matches
        write_bytes(path, bytes);
        check_rejected(read, {path, "PNG"});
    }
}

// ---- Resizing --------------------------------------------------------------------

TEST_CASE("resize_to keeps a constant image constant, shrinking or enlarging") {
    for (const auto &[width, height] : std::vector<std::pair<int, int>>{{97, 61}, {5, 3}}) {
        const lenet::GrayImage constant{width, height,
                                        std::vector<uint8_t>(size_t(width) * height, 77)};
        const lenet::GrayImage resized = lenet::resize_to(constant, 28, 28);
        CHECK(resized.width == 28);
        CHECK(resized.height == 28);
        CHECK(resized.pixels == std::vector<uint8_t>(28 * 28, 77));
    }
}

TEST_CASE("resize_to keeps a gradient monotonic and averages areas") {
    lenet::GrayImage gradient{100, 40, {}};
    for (int y = 0; y < 40; ++y) {
        for (int x = 0; x < 100; ++x) {
            gradient.pixels.push_back(uint8_t(x * 255 / 99));
        }
    }
    const lenet::GrayImage resized = lenet::resize_to(gradient, 28, 28);
    for (int y = 0; y < 28; ++y) {
        const auto row = resized.pixels.begin() + y * 28;
        CHECK(std::is_sorted(row, row + 28));
        CHECK(std::equal(row, row + 28, resized.pixels.begin()));  // rows alike
    }
    CHECK(resized.pixels[0] < 10);
    CHECK(resized.pixels[27] > 245);

    // 4x1 to 2x1 is the mean of each pair.
    const lenet::GrayImage pairs = lenet::resize_to({4, 1, {0, 100, 200, 250}}, 2, 1);
    CHECK(pairs.pixels == std::vector<uint8_t>{50, 225});
}

TEST_CASE("resize_to rejects empty sizes and inconsistent images") {
    const lenet::GrayImage image = gradient_image(8, 8);
    check_rejected([&] { lenet::resize_to(image, 0, 28); }, {"output size", "0x28"});
    check_rejected([&] { lenet::resize_to({8, 8, {1, 2, 3}}, 28, 28); },
                   {"needs 64 pixels", "got 3"});
}

// ---- Plots -----------------------------------------------------------------------

struct RgbImage {
    int width = 0, height = 0;
    std::vector<uint8_t> pixels;  // RGB
};

RgbImage read_rgb_png(const std::string &path) {
    png_image image{};
    image.version = PNG_IMAGE_VERSION;
    REQUIRE(png_image_begin_read_from_file(&image, path.c_str()));
    image.format = PNG_FORMAT_RGB;
    RgbImage result{int(image.width), int(image.height),
                    std::vector<uint8_t>(PNG_IMAGE_SIZE(image))};
    REQUIRE(png_image_finish_read(&image, nullptr, result.pixels.data(), 0, nullptr));
    return result;
}

size_t count_colour(const RgbImage &image, uint8_t r, uint8_t g, uint8_t b) {
    size_t count = 0;
    for (size_t i = 0; i + 2 < image.pixels.size(); i += 3) {
        count += image.pixels[i] == r && image.pixels[i + 1] == g && image.pixels[i + 2] == b;
    }
    return count;
}

std::vector<lenet::Panel> training_panels() {
    lenet::Panel loss{"Training loss", "epoch", "loss", {}};
    lenet::Panel accuracy{"Test accuracy", "epoch", "accuracy (%)", {}};
    for (const char *variant : {"plain", "BatchNorm", "LayerNorm"}) {
        lenet::Series loss_curve{variant, {}, {}};
        lenet::Series accuracy_curve{variant, {}, {}};
        for (int epoch = 1; epoch <= 10; ++epoch) {
            loss_curve.x.push_back(epoch);
            loss_curve.y.push_back(2.0 / epoch + loss.series.size() * 0.1);
            accuracy_curve.x.push_back(epoch);
            accuracy_curve.y.push_back(90.0 - 20.0 / epoch - accuracy.series.size());
        }
        loss.series.push_back(loss_curve);
        accuracy.series.push_back(accuracy_curve);
    }
    return {loss, accuracy};
}

TEST_CASE("write_line_plot_png draws the panels side by side in a valid PNG") {
    TemporaryDirectory directory;
    const std::string path = directory.file("curves.png");
    lenet::write_line_plot_png(path, training_panels(), 320, 240);
    CHECK(directory.names() == std::vector<std::string>{"curves.png"});  // no temporary left
    const RgbImage image = read_rgb_png(path);
    CHECK(image.width == 640);
    CHECK(image.height == 240);
    // Mostly white background, dark text and axes, and the three series'
    // colours (matplotlib's tab10 blue, orange, green) in both panels.
    CHECK(count_colour(image, 255, 255, 255) > image.pixels.size() / 3 / 2);
    CHECK(count_colour(image, 40, 40, 40) > 500);
    for (int panel = 0; panel < 2; ++panel) {
        RgbImage half{320, 240, {}};
        for (int y = 0; y < 240; ++y) {
            const auto row = image.pixels.begin() + (y * 640 + panel * 320) * 3;
            half.pixels.insert(half.pixels.end(), row, row + 320 * 3);
        }
        INFO("panel " << panel);
        CHECK(count_colour(half, 31, 119, 180) > 100);
        CHECK(count_colour(half, 255, 127, 14) > 100);
        CHECK(count_colour(half, 44, 160, 44) > 100);
    }
}

TEST_CASE("write_line_plot_png copes with empty, single, constant and NaN series") {
    TemporaryDirectory directory;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double infinity = std::numeric_limits<double>::infinity();
    const std::vector<lenet::Panel> panels = {
        {"nothing at all", "", "", {}},
        {"empty and unlabelled", "x", "y", {{"", {}, {}}, {"empty", {}, {}}}},
        {"one point", "x", "y", {{"single", {3.0}, {0.5}}}},
        {"constant", "x", "y", {{"flat", {1, 2, 3}, {7, 7, 7}}, {"zero", {1, 2}, {0, 0}}}},
        {"gaps", "x", "y",
         {{"nan", {1, 2, 3, 4, 5}, {1, nan, 3, infinity, 5}}, {"all nan", {nan, 1}, {2, nan}}}},
    };
    const std::string path = directory.file("edge.png");
    lenet::write_line_plot_png(path, panels, 200, 150);
    const RgbImage image = read_rgb_png(path);
    CHECK(image.width == 1000);
    CHECK(image.height == 150);
    CHECK(count_colour(image, 31, 119, 180) > 0);  // the single point and the isolated ones
}

TEST_CASE("write_line_plot_png rejects bad arguments and leaves no file behind") {
    TemporaryDirectory directory;
    const std::string path = directory.file("plot.png");
    check_rejected([&] { lenet::write_line_plot_png(path, {}); }, {path, "at least one panel"});
    check_rejected([&] { lenet::write_line_plot_png(path, training_panels(), 100, 100); },
                   {path, "panel size", "100x100"});
    check_rejected(
        [&] {
            lenet::write_line_plot_png(path, {{"Loss", "", "", {{"bad", {1, 2, 3}, {1, 2}}}}});
        },
        {path, "\"Loss\"", "\"bad\"", "3 x and 2 y"});
    const double huge = std::numeric_limits<double>::max();
    check_rejected(
        [&] {
            lenet::write_line_plot_png(path, {{"wide", "", "", {{"", {0, 1}, {-huge, huge}}}}});
        },
        {"too wide to plot"});
    const std::string unwritable = directory.file("no/such/dir/plot.png");
    check_rejected([&] { lenet::write_line_plot_png(unwritable, training_panels()); },
                   {unwritable, "No such file"});
    CHECK(directory.names().empty());
}

// ---- Progress --------------------------------------------------------------------

size_t count_of(const std::string &text, char character) {
    return size_t(std::count(text.begin(), text.end(), character));
}

TEST_CASE("Progress off a terminal logs one line per tenth, then the final line") {
    std::ostringstream out;
    lenet::Progress progress("epoch 1", 100, out, false);
    for (int done = 1; done <= 100; ++done) {
        progress.update(done, "loss 0.512  acc 81.2%");
    }
    const std::string updates = out.str();
    CHECK(count_of(updates, '\n') == 10);
    CHECK(count_of(updates, '\r') == 0);
    CHECK_THAT(updates, Contains("epoch 1  10% (10/100)  loss 0.512  acc 81.2%  ETA"));
    CHECK_THAT(updates, Contains("100% (100/100)"));
    progress.finish("loss 0.400");
    const std::string all = out.str();
    CHECK(count_of(all, '\n') == 11);
    CHECK_THAT(all.substr(updates.size()), Contains("epoch 1 100% (100/100)  loss 0.400  in 0:00"));
}

TEST_CASE("Progress on a terminal redraws one line, at most 10 times a second") {
    std::ostringstream out;
    lenet::Progress progress("train", 1000, out, true);
    for (int done = 0; done <= 1000; ++done) {
        progress.update(done, "acc 50.0%");
    }
    const std::string updates = out.str();
    CHECK(count_of(updates, '\n') == 0);
    // The first update and the last (complete) one, and one per 100 ms
    // between: far fewer than the 1001 updates.
    CHECK(count_of(updates, '\r') >= 2);
    CHECK(count_of(updates, '\r') <= 20);
    CHECK_THAT(updates, Contains("train [####################] 100% (1000/1000)  acc 50.0%"));
    progress.finish("done");
    CHECK(out.str().back() == '\n');
    CHECK(count_of(out.str(), '\n') == 1);
}

TEST_CASE("Progress clamps out-of-range steps and rejects an empty total") {
    std::ostringstream out;
    lenet::Progress progress("x", 10, out, false);
    progress.update(-5, "");
    progress.update(50, "");
    CHECK_THAT(out.str(), Contains("100% (10/10)"));
    check_rejected([&] { lenet::Progress("epoch", 0, out, false); }, {"epoch", "at least 1", "0"});
}

}  // namespace
