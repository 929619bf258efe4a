#include "checkpoint.hpp"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <unistd.h>

#include "checks.hpp"
#include "support/error.hpp"

namespace lenet {

namespace {

using normgen::detail::format_shape;

constexpr char magic[8] = {'N', 'G', 'L', 'E', 'N', 'E', 'T', '\x1a'};
constexpr uint32_t format_version = 1;

// The FNV-1a hash of the first `size` bytes.
uint64_t fnv1a(const std::string &bytes, size_t size) {
    uint64_t hash = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < size; i++) {
        hash ^= static_cast<unsigned char>(bytes[i]);
        hash *= 0x100000001b3ull;
    }
    return hash;
}

// Little-endian fields appended to a byte string (x86 is little-endian).
class Writer {
public:
    template <typename T>
    void put(T value) {
        bytes_.append(reinterpret_cast<const char *>(&value), sizeof value);
    }
    void put_bytes(const void *data, size_t size) {
        bytes_.append(static_cast<const char *>(data), size);
    }
    std::string &bytes() { return bytes_; }

private:
    std::string bytes_;
};

// Reads fields back, refusing to read past the end.
class Reader {
public:
    Reader(const std::string &path, const std::string &bytes, size_t end)
        : path_(path), bytes_(bytes), end_(end) {}
    template <typename T>
    T get(const char *what) {
        T value;
        get_bytes(&value, sizeof value, what);
        return value;
    }
    void get_bytes(void *out, size_t size, const std::string &what) {
        if (size > end_ - position_) {
            fail("truncated: " + what + " needs " + std::to_string(size) + " bytes at offset " +
                 std::to_string(position_) + ", but only " + std::to_string(end_ - position_) +
                 " remain");
        }
        std::memcpy(out, bytes_.data() + position_, size);
        position_ += size;
    }
    size_t remaining() const { return end_ - position_; }
    [[noreturn]] void fail(const std::string &problem) const {
        throw Error(path_ + ": not a valid LeNet checkpoint: " + problem);
    }

private:
    const std::string &path_;
    const std::string &bytes_;
    size_t end_;
    size_t position_ = 0;
};

}  // namespace

void save_checkpoint(const std::string &path, LeNet &model, int64_t epochs_trained) {
    Writer out;
    out.put_bytes(magic, sizeof magic);
    out.put<uint32_t>(format_version);
    out.put<uint32_t>(static_cast<uint32_t>(model.norm()));
    out.put<int64_t>(model.batch_norm_steps());
    out.put<int64_t>(epochs_trained);
    std::vector<std::pair<std::string, const Tensor *>> tensors;
    for (const Parameter &p : model.parameters()) tensors.emplace_back(p.name, &p.value);
    for (const State &s : model.states()) tensors.emplace_back(s.name, &s.value);
    out.put<uint32_t>(static_cast<uint32_t>(tensors.size()));
    for (const auto &[name, tensor] : tensors) {
        out.put<uint32_t>(static_cast<uint32_t>(name.size()));
        out.put_bytes(name.data(), name.size());
        out.put<uint32_t>(static_cast<uint32_t>(tensor->shape().size()));
        for (int64_t size : tensor->shape()) out.put<int64_t>(size);
        out.put_bytes(tensor->data(), sizeof(float) * tensor->numel());
    }
    out.put<uint64_t>(fnv1a(out.bytes(), out.bytes().size()));

    const std::string temporary = path + ".tmp-" + std::to_string(getpid());
    {
        std::ofstream file(temporary, std::ios::binary | std::ios::trunc);
        file.write(out.bytes().data(), static_cast<std::streamsize>(out.bytes().size()));
        file.close();
        if (!file) {
            std::remove(temporary.c_str());
            throw Error("could not write the checkpoint " + path + " (through " + temporary +
                        "): " + std::strerror(errno));
        }
    }
    if (std::rename(temporary.c_str(), path.c_str()) != 0) {
        const std::string reason = std::strerror(errno);
        std::remove(temporary.c_str());
        throw Error("could not move the checkpoint into place at " + path + ": " + reason);
    }
}

LeNet load_checkpoint(const std::string &path, CheckpointInfo *info) {
    std::ifstream file(path, std::ios::binary);
    if (!file) {
        throw Error("cannot open the checkpoint " + path + ": " + std::strerror(errno) +
                    " (make one with: lenet train --out " + path + ")");
    }
    const std::string bytes((std::istreambuf_iterator<char>(file)),
                            std::istreambuf_iterator<char>());
    constexpr size_t hash_size = sizeof(uint64_t);
    if (bytes.size() < sizeof magic || std::memcmp(bytes.data(), magic, sizeof magic) != 0) {
        throw Error(path + ": not a LeNet checkpoint (expected the magic bytes \"NGLENET\\x1a\" "
                    "at its start)");
    }
    if (bytes.size() < sizeof magic + hash_size) {
        throw Error(path + ": not a valid LeNet checkpoint: truncated (" +
                    std::to_string(bytes.size()) + " bytes)");
    }
    const size_t body = bytes.size() - hash_size;
    Reader in(path, bytes, body);
    uint64_t stored_hash;
    std::memcpy(&stored_hash, bytes.data() + body, hash_size);

    char skipped_magic[sizeof magic];
    in.get_bytes(skipped_magic, sizeof magic, "the magic bytes");
    const auto version = in.get<uint32_t>("the format version");
    if (version != format_version) {
        in.fail("format version " + std::to_string(version) + ", expected " +
                std::to_string(format_version));
    }
    const auto kind = in.get<uint32_t>("the norm kind");
    if (kind > static_cast<uint32_t>(NormKind::batch_norm)) {
        in.fail("norm kind " + std::to_string(kind) + ", expected 0 (none), 1 (ln) or 2 (bn)");
    }
    if (fnv1a(bytes, body) != stored_hash) {
        in.fail("its checksum does not match its contents (the file is corrupt or was cut "
                "short)");
    }
    const auto norm = static_cast<NormKind>(kind);
    const auto batch_norm_steps = in.get<int64_t>("num_batches_tracked");
    const auto epochs = in.get<int64_t>("the epochs trained");
    LeNet model(norm, 0);
    std::vector<std::pair<std::string, Tensor *>> tensors;
    for (Parameter &p : model.parameters()) tensors.emplace_back(p.name, &p.value);
    for (State &s : model.states()) tensors.emplace_back(s.name, &s.value);
    const auto count = in.get<uint32_t>("the tensor count");
    if (count != tensors.size()) {
        in.fail(std::to_string(count) + " tensors, expected " + std::to_string(tensors.size()) +
                " for LeNet with norm " + to_string(norm));
    }
    for (const auto &[name, tensor] : tensors) {
        const auto name_length = in.get<uint32_t>("a tensor name's length");
        if (name_length > in.remaining()) in.fail("truncated in the name of tensor " + name);
        std::string stored_name(name_length, '\0');
        in.get_bytes(stored_name.data(), name_length, "the name of tensor " + name);
        if (stored_name != name) in.fail("tensor '" + stored_name + "' where " + name + " belongs");
        const auto rank = in.get<uint32_t>("a rank");
        if (rank != tensor->shape().size()) {
            in.fail(name + " has rank " + std::to_string(rank) + ", expected " +
                    std::to_string(tensor->shape().size()));
        }
        std::vector<int64_t> shape(rank);
        for (int64_t &size : shape) size = in.get<int64_t>("a size");
        if (shape != tensor->shape()) {
            in.fail(name + " has shape " + format_shape(shape) + ", expected " +
                    format_shape(tensor->shape()));
        }
        in.get_bytes(tensor->data(), sizeof(float) * tensor->numel(), "the values of " + name);
    }
    if (in.remaining() != 0) {
        in.fail(std::to_string(in.remaining()) + " unexpected bytes after the last tensor");
    }
    model.set_batch_norm_steps(batch_norm_steps);
    if (info) *info = {norm, epochs};
    return model;
}

}  // namespace lenet
