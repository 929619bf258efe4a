#include "file_io.hpp"

#include "error.hpp"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace lenet {
namespace {

std::string system_reason() {
    return std::strerror(errno);
}

// Closes the descriptor on every path out, errors included.
class FileDescriptor {
public:
    explicit FileDescriptor(int fd) : fd_(fd) {}
    FileDescriptor(const FileDescriptor &) = delete;
    FileDescriptor &operator=(const FileDescriptor &) = delete;
    ~FileDescriptor() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    int get() const { return fd_; }
    // Closes now, so that the caller can check for a deferred write error.
    bool close() {
        const int fd = fd_;
        fd_ = -1;
        return ::close(fd) == 0;
    }

private:
    int fd_;
};

}  // namespace

std::vector<uint8_t> read_file_bytes(const std::string &path, uint64_t max_bytes) {
    FileDescriptor file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (file.get() < 0) {
        throw Error("cannot open " + path + ": " + system_reason());
    }
    struct stat status {};
    if (::fstat(file.get(), &status) != 0) {
        throw Error("cannot inspect " + path + ": " + system_reason());
    }
    if (!S_ISREG(status.st_mode)) {
        throw Error("expected a regular file at " + path + ", found " +
                    (S_ISDIR(status.st_mode) ? "a directory" : "something else"));
    }
    const auto size = static_cast<uint64_t>(status.st_size);
    if (size > max_bytes) {
        throw Error(path + " has " + std::to_string(size) + " bytes: expected at most " +
                    std::to_string(max_bytes));
    }
    std::vector<uint8_t> bytes(size);
    size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t got = ::read(file.get(), bytes.data() + done, bytes.size() - done);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            throw Error("cannot read " + path + ": " + system_reason());
        }
        if (got == 0) {  // shrank while we read it
            bytes.resize(done);
            break;
        }
        done += static_cast<size_t>(got);
    }
    return bytes;
}

void write_file_atomically(const std::string &path, const std::vector<uint8_t> &bytes) {
    // Unique among this process's writes, and O_EXCL keeps other processes'
    // files safe. open() applies the umask, as it would to `path` itself.
    static std::atomic<int> writes{0};
    const std::string temporary =
        path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(writes++);
    FileDescriptor file(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666));
    if (file.get() < 0) {
        throw Error("cannot write " + path + ": creating " + temporary + ": " + system_reason());
    }
    const auto fail = [&](const char *step) {
        const std::string reason = system_reason();
        ::unlink(temporary.c_str());
        throw Error("cannot write " + path + ": " + step + " " + temporary + ": " + reason);
    };
    size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t wrote = ::write(file.get(), bytes.data() + done, bytes.size() - done);
        if (wrote < 0 && errno == EINTR) {
            continue;
        }
        if (wrote < 0) {
            fail("writing");
        }
        done += static_cast<size_t>(wrote);
    }
    if (::fsync(file.get()) != 0) {
        fail("syncing");
    }
    if (!file.close()) {
        fail("closing");
    }
    if (std::rename(temporary.c_str(), path.c_str()) != 0) {
        fail("renaming");
    }
}

}  // namespace lenet
