#include "images.hpp"

#include "error.hpp"
#include "file_io.hpp"

#include <png.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstring>

namespace lenet {
namespace {

constexpr int kMaxSide = 16384;
// A 16384x16384 16-bit PGM is 512 MiB; plain (P2) text may take 3 times as
// much per sample before it is implausible.
constexpr uint64_t kMaxFileBytes = uint64_t{3} << 30;
constexpr uint8_t kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

bool starts_with(const std::vector<uint8_t> &bytes, const char *prefix) {
    const size_t length = std::strlen(prefix);
    return bytes.size() >= length && std::memcmp(bytes.data(), prefix, length) == 0;
}

void check_size(int width, int height, const std::string &what) {
    if (width < 1 || height < 1 || width > kMaxSide || height > kMaxSide) {
        throw Error(what + ": expected a size of 1x1 to " + std::to_string(kMaxSide) + "x" +
                    std::to_string(kMaxSide) + " pixels, got " + std::to_string(width) + "x" +
                    std::to_string(height));
    }
}

void check_image(const GrayImage &image, const std::string &what) {
    check_size(image.width, image.height, what);
    const size_t expected = size_t(image.width) * size_t(image.height);
    if (image.pixels.size() != expected) {
        throw Error(what + ": a " + std::to_string(image.width) + "x" +
                    std::to_string(image.height) + " image needs " + std::to_string(expected) +
                    " pixels, got " + std::to_string(image.pixels.size()));
    }
}

// ---- PGM -------------------------------------------------------------------------

// Reads the netpbm grayscale format from memory. The header is tokens
// separated by whitespace and '#' comments to the end of a line; P5 pixels
// follow the single whitespace character after maxval, P2 pixels are more
// tokens.
class PgmParser {
public:
    PgmParser(const std::vector<uint8_t> &bytes, const std::string &path)
        : bytes_(bytes), path_(path) {}

    GrayImage parse() {
        const bool binary = bytes_[1] == '5';
        position_ = 2;
        const uint32_t width = read_number("width", kMaxSide);
        const uint32_t height = read_number("height", kMaxSide);
        const uint32_t maxval = read_number("maxval", 65535);
        GrayImage image;
        image.width = static_cast<int>(width);
        image.height = static_cast<int>(height);
        check_size(image.width, image.height, path_);
        if (maxval == 0) {
            fail("expected a maxval of 1 to 65535, found 0");
        }
        if (binary) {
            // The single whitespace character that ends the header.
            position_ = std::min(position_ + 1, bytes_.size());
        }
        // Checked before allocating, so that a 20-byte file claiming 16384x16384
        // pixels fails at once: a binary sample takes 1 or 2 bytes, a plain one
        // at least a digit and a separator.
        const size_t count = size_t(width) * height;
        const size_t sample_bytes = maxval > 255 ? 2 : 1;
        const size_t needed = binary ? count * sample_bytes : 2 * count - 1;
        const size_t available = bytes_.size() - position_;
        if (available < needed) {
            fail("expected " + std::string(binary ? "" : "at least ") + std::to_string(needed) +
                 " bytes of " + std::to_string(width) + "x" + std::to_string(height) +
                 " pixels after the header, found " + std::to_string(available) + " (truncated)");
        }
        image.pixels.resize(count);
        if (binary) {
            read_binary_samples(image, sample_bytes, maxval);
        } else {
            for (size_t i = 0; i < image.pixels.size(); ++i) {
                image.pixels[i] = scaled(read_number("a pixel value", 65535), maxval, i, image);
            }
        }
        return image;
    }

private:
    [[noreturn]] void fail(const std::string &message) const {
        throw Error(path_ + ": corrupt PGM: " + message);
    }

    void skip_space_and_comments() {
        while (position_ < bytes_.size()) {
            if (bytes_[position_] == '#') {
                while (position_ < bytes_.size() && bytes_[position_] != '\n') {
                    ++position_;
                }
            } else if (std::isspace(bytes_[position_])) {
                ++position_;
            } else {
                return;
            }
        }
    }

    uint32_t read_number(const char *what, uint32_t max) {
        skip_space_and_comments();
        if (position_ >= bytes_.size()) {
            fail(std::string("expected ") + what + ", found the end of the file (truncated?)");
        }
        if (!std::isdigit(bytes_[position_])) {
            fail(std::string("expected ") + what + " at byte " + std::to_string(position_) +
                 ", found '" + static_cast<char>(bytes_[position_]) + "'");
        }
        uint64_t value = 0;
        while (position_ < bytes_.size() && std::isdigit(bytes_[position_])) {
            value = std::min<uint64_t>(value * 10 + (bytes_[position_++] - '0'), uint64_t{1} << 40);
        }
        if (value > max) {
            fail(std::string("expected ") + what + " of at most " + std::to_string(max) +
                 ", found " + std::to_string(value));
        }
        return static_cast<uint32_t>(value);
    }

    void read_binary_samples(GrayImage &image, size_t sample_bytes, uint32_t maxval) {
        const uint8_t *samples = bytes_.data() + position_;
        for (size_t i = 0; i < image.pixels.size(); ++i) {
            const uint32_t sample =
                sample_bytes == 2 ? uint32_t{samples[2 * i]} << 8 | samples[2 * i + 1] : samples[i];
            image.pixels[i] = scaled(sample, maxval, i, image);
        }
    }

    uint8_t scaled(uint32_t sample, uint32_t maxval, size_t index, const GrayImage &image) const {
        if (sample > maxval) {
            fail("pixel (" + std::to_string(index % image.width) + ", " +
                 std::to_string(index / image.width) + ") is " + std::to_string(sample) +
                 ", above maxval " + std::to_string(maxval));
        }
        return static_cast<uint8_t>((sample * 255 + maxval / 2) / maxval);
    }

    const std::vector<uint8_t> &bytes_;
    const std::string &path_;
    size_t position_ = 0;
};

// ---- PNG -------------------------------------------------------------------------

// libpng reports an error by calling on_png_error, which copies the message
// into the source and longjmps back to the setjmp of the read step that was
// running. The read steps and the callbacks hold only trivially
// destructible locals, so the jump skips no C++ destructor; the caller,
// back in ordinary C++, turns a failed step into a lenet::Error.
struct PngSource {
    const uint8_t *data;
    size_t size;
    size_t offset;
    char error[256];
};

void on_png_error(png_structp png, png_const_charp message) {
    auto *source = static_cast<PngSource *>(png_get_error_ptr(png));
    std::snprintf(source->error, sizeof source->error, "%s", message);
    png_longjmp(png, 1);
}

// Warnings are about ancillary chunks, which libpng skips; the pixels are
// still right.
void on_png_warning(png_structp, png_const_charp) {}

void read_png_bytes(png_structp png, png_bytep out, png_size_t count) {
    auto *source = static_cast<PngSource *>(png_get_io_ptr(png));
    if (count > source->size - source->offset) {
        png_error(png, "unexpected end of file (truncated)");
    }
    std::memcpy(out, source->data + source->offset, count);
    source->offset += count;
}

struct PngLayout {
    png_uint_32 width;
    png_uint_32 height;
    size_t row_bytes;
    int channels;  // 1: gray, 2: gray and alpha
    int bit_depth;
};

// Reads the header and sets the transforms that turn any PNG into 8-bit
// gray, with alpha where the file has transparency.
bool read_png_header(png_structp png, png_infop info, PngLayout *layout) {
    if (setjmp(png_jmpbuf(png))) {
        return false;
    }
    png_set_user_limits(png, kMaxSide, kMaxSide);
    // With a colour space known, libpng would turn colour to gray in linear
    // light, so that the same samples gave different grays in files with
    // and without these chunks. Without them it weighs samples as stored.
    static const png_byte kColourSpaceChunks[] = "cHRM\0gAMA\0iCCP\0sRGB";
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, kColourSpaceChunks, 4);
    png_read_info(png, info);
    png_set_expand(png);  // palette to RGB, gray below 8 bits to 8, tRNS to alpha
    png_set_scale_16(png);
    if (png_get_color_type(png, info) & PNG_COLOR_MASK_COLOR) {
        // Rec. 709 weights, in units of 1e-5.
        png_set_rgb_to_gray_fixed(png, PNG_ERROR_ACTION_NONE, 21260, 71520);
    }
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    layout->width = png_get_image_width(png, info);
    layout->height = png_get_image_height(png, info);
    layout->row_bytes = png_get_rowbytes(png, info);
    layout->channels = png_get_channels(png, info);
    layout->bit_depth = png_get_bit_depth(png, info);
    return true;
}

bool read_png_rows(png_structp png, png_infop info, png_bytepp rows) {
    if (setjmp(png_jmpbuf(png))) {
        return false;
    }
    png_read_image(png, rows);
    png_read_end(png, info);
    return true;
}

// Owns libpng's read structures, so that they are freed on every path out.
class PngReader {
public:
    explicit PngReader(PngSource *source) {
        png_ = png_create_read_struct(PNG_LIBPNG_VER_STRING, source, on_png_error, on_png_warning);
        info_ = png_ != nullptr ? png_create_info_struct(png_) : nullptr;
        if (info_ != nullptr) {
            png_set_read_fn(png_, source, read_png_bytes);
        }
    }
    PngReader(const PngReader &) = delete;
    PngReader &operator=(const PngReader &) = delete;
    ~PngReader() { png_destroy_read_struct(&png_, &info_, nullptr); }

    bool ready() const { return info_ != nullptr; }
    png_structp png() const { return png_; }
    png_infop info() const { return info_; }

private:
    png_structp png_ = nullptr;
    png_infop info_ = nullptr;
};

GrayImage read_png(const std::vector<uint8_t> &bytes, const std::string &path) {
    PngSource source{bytes.data(), bytes.size(), 0, {}};
    PngReader reader(&source);
    if (!reader.ready()) {
        throw Error("cannot read " + path + ": libpng could not start (out of memory)");
    }
    const auto fail = [&] { throw Error(path + ": invalid or unsupported PNG: " + source.error); };
    PngLayout layout{};
    if (!read_png_header(reader.png(), reader.info(), &layout)) {
        fail();
    }
    GrayImage image;
    image.width = static_cast<int>(layout.width);
    image.height = static_cast<int>(layout.height);
    check_size(image.width, image.height, path);
    if (layout.bit_depth != 8 || layout.channels < 1 || layout.channels > 2 ||
        layout.row_bytes != size_t(layout.channels) * layout.width) {
        throw Error(path + ": libpng gave " + std::to_string(layout.channels) + " channels of " +
                    std::to_string(layout.bit_depth) +
                    " bits: expected 8-bit gray, with or without alpha");
    }
    // Deflate compresses at most about 1032:1, so a file too small to hold
    // the pixels fails here rather than after a large allocation.
    const uint64_t decoded_bytes = uint64_t{layout.row_bytes} * layout.height;
    if (decoded_bytes > uint64_t{bytes.size()} * 1032) {
        throw Error(path + ": invalid PNG: " + std::to_string(bytes.size()) +
                    " bytes cannot hold " + std::to_string(layout.width) + "x" +
                    std::to_string(layout.height) + " pixels (truncated)");
    }
    std::vector<uint8_t> decoded(decoded_bytes);
    std::vector<png_bytep> rows(layout.height);
    for (size_t y = 0; y < rows.size(); ++y) {
        rows[y] = decoded.data() + y * layout.row_bytes;
    }
    if (!read_png_rows(reader.png(), reader.info(), rows.data())) {
        fail();
    }
    if (layout.channels == 1) {
        image.pixels = std::move(decoded);
    } else {
        image.pixels.resize(decoded.size() / 2);
        for (size_t i = 0; i < image.pixels.size(); ++i) {
            const uint32_t gray = decoded[2 * i];
            const uint32_t alpha = decoded[2 * i + 1];
            image.pixels[i] = static_cast<uint8_t>((gray * alpha + 127) / 255);
        }
    }
    return image;
}

// What a file that is neither PGM nor PNG probably is, for the error.
std::string guess_format(const std::vector<uint8_t> &bytes) {
    if (bytes.empty()) {
        return "an empty file";
    }
    if (starts_with(bytes, "\xFF\xD8\xFF")) {
        return "a JPEG file";
    }
    if (starts_with(bytes, "GIF8")) {
        return "a GIF file";
    }
    if (starts_with(bytes, "BM")) {
        return "a BMP file";
    }
    if (starts_with(bytes, "RIFF") && bytes.size() >= 12 &&
        std::memcmp(bytes.data() + 8, "WEBP", 4) == 0) {
        return "a WebP file";
    }
    if (bytes.size() >= 2 && bytes[0] == 'P' && std::strchr("1346", bytes[1]) != nullptr) {
        return std::string("a netpbm P") + static_cast<char>(bytes[1]) + " (PBM or PPM) file";
    }
    return "a file of unknown format";
}

}  // namespace

GrayImage read_gray_image(const std::string &path) {
    const std::vector<uint8_t> bytes = read_file_bytes(path, kMaxFileBytes);
    if (bytes.size() >= sizeof kPngSignature &&
        std::memcmp(bytes.data(), kPngSignature, sizeof kPngSignature) == 0) {
        return read_png(bytes, path);
    }
    if ((starts_with(bytes, "P2") || starts_with(bytes, "P5")) &&
        (bytes.size() == 2 || std::isspace(bytes[2]) || bytes[2] == '#')) {
        return PgmParser(bytes, path).parse();
    }
    throw Error(path + " is " + guess_format(bytes) +
                ": expected a PGM (P2 or P5) or PNG image; convert it to one of those");
}

namespace {

// One output pixel's share of the input along one axis: the input pixels
// first .. first + weights.size() - 1, weighted by their overlap with it.
struct Footprint {
    int first;
    std::vector<double> weights;  // sum to 1
};

std::vector<Footprint> footprints(int input_size, int output_size) {
    std::vector<Footprint> result(output_size);
    const double scale = double(input_size) / output_size;
    for (int out = 0; out < output_size; ++out) {
        const double begin = out * scale;
        const double end = (out + 1) * scale;
        Footprint &footprint = result[out];
        footprint.first = static_cast<int>(std::floor(begin));
        const int last = std::min(input_size - 1, static_cast<int>(std::ceil(end)) - 1);
        for (int in = footprint.first; in <= last; ++in) {
            const double overlap = std::min(end, in + 1.0) - std::max(begin, double(in));
            footprint.weights.push_back(std::max(overlap, 0.0) / scale);
        }
    }
    return result;
}

}  // namespace

GrayImage resize_to(const GrayImage &image, int width, int height) {
    check_image(image, "resize_to: the input image");
    check_size(width, height, "resize_to: the output size");
    const std::vector<Footprint> columns = footprints(image.width, width);
    const std::vector<Footprint> rows = footprints(image.height, height);

    // Columns first, into an image.height x width intermediate.
    std::vector<double> narrowed(size_t(image.height) * width, 0.0);
    for (int y = 0; y < image.height; ++y) {
        const uint8_t *in = image.pixels.data() + size_t(y) * image.width;
        for (int x = 0; x < width; ++x) {
            double sum = 0.0;
            for (size_t k = 0; k < columns[x].weights.size(); ++k) {
                sum += columns[x].weights[k] * in[columns[x].first + k];
            }
            narrowed[size_t(y) * width + x] = sum;
        }
    }
    GrayImage resized{width, height, std::vector<uint8_t>(size_t(width) * height)};
    for (int y = 0; y < height; ++y) {
        for (int x = 0; x < width; ++x) {
            double sum = 0.0;
            for (size_t k = 0; k < rows[y].weights.size(); ++k) {
                sum += rows[y].weights[k] * narrowed[(rows[y].first + k) * width + x];
            }
            resized.pixels[size_t(y) * width + x] =
                static_cast<uint8_t>(std::lround(std::clamp(sum, 0.0, 255.0)));
        }
    }
    return resized;
}

void write_gray_pgm(const std::string &path, const GrayImage &image) {
    check_image(image, "write_gray_pgm(" + path + ")");
    const std::string header =
        "P5\n" + std::to_string(image.width) + " " + std::to_string(image.height) + "\n255\n";
    std::vector<uint8_t> bytes(header.begin(), header.end());
    bytes.insert(bytes.end(), image.pixels.begin(), image.pixels.end());
    write_file_atomically(path, bytes);
}

}  // namespace lenet
