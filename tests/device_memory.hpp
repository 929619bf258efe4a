// Test memory on the device under test: plain host memory for the CPU, GPU
// memory in the device's primary context for CUDA (where cudaMalloc would
// put it), with the copies in and out.
#pragma once

#include <cstddef>
#include <string>

#include <normgen/normgen.hpp>

namespace normgen::testing {

// Whether the tests can run on `device`; if not, why.
bool device_usable(Device device, std::string *reason);

class DeviceMemory {
public:
    DeviceMemory(Device device, size_t bytes);
    ~DeviceMemory();
    DeviceMemory(const DeviceMemory &) = delete;
    DeviceMemory &operator=(const DeviceMemory &) = delete;

    void *data() const { return data_; }
    void upload(const void *host, size_t bytes);
    void download(void *host, size_t bytes) const;

private:
    Device device_;
    void *data_ = nullptr;
};

// Waits for everything enqueued on `stream` (CUDA; nothing to do on the CPU).
void synchronize(Device device, void *stream);

// A CUDA stream of the test's own while alive (nullptr on the CPU).
class TestStream {
public:
    explicit TestStream(Device device);
    ~TestStream();
    TestStream(const TestStream &) = delete;
    TestStream &operator=(const TestStream &) = delete;
    void *get() const { return stream_; }

private:
    Device device_;
    void *stream_ = nullptr;
};

}  // namespace normgen::testing
