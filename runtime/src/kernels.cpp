#include "kernels.hpp"

#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <iterator>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "HalideRuntimeCuda.h"
#include "checks.hpp"
#include "cuda.hpp"
#include "thread_pool.hpp"
#include "normgen/normgen.hpp"

namespace normgen::detail {

namespace {

// 1.0 in each dtype's bits.
uint32_t one_bits(DType dtype) {
    switch (dtype) {
    case DType::float32: return 0x3F800000u;
    case DType::float16: return 0x3C00u;
    case DType::bfloat16: return 0x3F80u;
    }
    throw std::logic_error("unknown dtype");
}

halide_type_t halide_type_of(DType dtype) {
    switch (dtype) {
    case DType::float32: return halide_type_t(halide_type_float, 32);
    case DType::float16: return halide_type_t(halide_type_float, 16);
    case DType::bfloat16: return halide_type_t(halide_type_uint, 16);  // see generators/element_types.h
    }
    throw std::logic_error("unknown dtype");
}

}  // namespace

void KernelBuffer::describe(const KernelDims &dims, DType dtype) {
    int d = 0;
    for (auto [extent, stride] : dims) {
        dims_[d++] = halide_dimension_t(0, static_cast<int32_t>(extent),
                                        static_cast<int32_t>(stride));
    }
    buffer_.type = halide_type_of(dtype);
    buffer_.dimensions = d;
    buffer_.dim = dims_.data();
}

KernelBuffer::KernelBuffer(const void *data, const KernelDims &dims, DType dtype, Device device) {
    describe(dims, dtype);
    if (device == Device::cpu) {
        buffer_.host = static_cast<uint8_t *>(const_cast<void *>(data));
        return;
    }
    // No host pointer: Halide sees current device memory and copies nothing.
    check_kernel_status(
        halide_cuda_wrap_device_ptr(nullptr, &buffer_, reinterpret_cast<uintptr_t>(data)),
        "halide_cuda_wrap_device_ptr");
    wrapped_ = true;
}

KernelBuffer::KernelBuffer(const KernelDims &dims, DType dtype, Device device, Fill fill) {
    describe(dims, dtype);
    const size_t count = buffer_.number_of_elements();
    const uint32_t bits = fill == Fill::zeros ? 0u : one_bits(dtype);
    if (device == Device::cpu) {
        const size_t size = element_size(dtype);
        owned_ = ScratchMemory(count * size);
        uint8_t *memory = owned_.data();
        if (fill != Fill::unset) {
            for (size_t i = 0; i < count; ++i) std::memcpy(memory + i * size, &bits, size);
        }
        buffer_.host = memory;
        return;
    }
    // Halide takes a buffer without host memory for a bounds query: give it
    // a host pointer it never touches (nothing is copied to or from it).
    owned_ = ScratchMemory(1);
    buffer_.host = owned_.data();
    check_kernel_status(halide_device_malloc(nullptr, &buffer_, halide_cuda_device_interface()),
                        "halide_device_malloc");
    if (fill != Fill::unset) fill_device_memory(buffer_.device, count, dtype, bits);
}

namespace {

// The blocks each thread's finished calls gave back, largest last; a few
// at most, since a call needs a few.
struct ScratchPool {
    static constexpr size_t kept = 4;
    std::vector<std::pair<size_t, std::unique_ptr<uint8_t[]>>> blocks;
};
thread_local ScratchPool scratch_pool;

}  // namespace

ScratchMemory::ScratchMemory(size_t bytes) {
    auto &blocks = scratch_pool.blocks;
    for (auto it = blocks.begin(); it != blocks.end(); ++it) {
        if (it->first >= bytes) {
            capacity_ = it->first;
            block_ = std::move(it->second);
            blocks.erase(it);
            return;
        }
    }
    capacity_ = bytes;
    block_.reset(new uint8_t[bytes]);  // not zeroed: callers fill what they read
}

ScratchMemory::~ScratchMemory() {
    if (!block_) return;
    auto &blocks = scratch_pool.blocks;
    blocks.emplace_back(capacity_, std::move(block_));
    std::sort(blocks.begin(), blocks.end(),
              [](const auto &a, const auto &b) { return a.first < b.first; });
    if (blocks.size() > ScratchPool::kept) blocks.erase(blocks.begin());
}

namespace {

// The kernels' own scratch (a pipeline's intermediate buffers: LayerNorm
// backward's per-block partial sums of the parameter gradients take 2 MiB
// on 16384x1024) comes from the same per-thread pool where it is large:
// glibc serves such blocks by mmap and takes them back by munmap, so every
// call paid their page faults and zeroing (LayerNorm backward 64x11520, 2
// threads: 0.575x the time with the pool; 16384x1024: 0.95x). Smaller ones
// stay with malloc. Halide allocates and frees a buffer on the same thread.
// What Halide asks of a block: 64-byte alignment on x86, a size that is a
// multiple of it, and 8 readable bytes on each side.
constexpr size_t halide_alignment = 64;
constexpr size_t pooled_from_bytes = size_t{64} << 10;

// Stored just below the pointer handed to Halide.
struct HalideBlock {
    ScratchMemory *pooled = nullptr;
    void *unpooled = nullptr;
};

void *halide_scratch_malloc(void *, size_t bytes) {
    const size_t rounded = (bytes + halide_alignment - 1) / halide_alignment * halide_alignment;
    const size_t total = rounded + sizeof(HalideBlock) + 2 * halide_alignment;
    HalideBlock block;
    uint8_t *base = nullptr;
    try {
        if (bytes >= pooled_from_bytes) {
            block.pooled = new ScratchMemory(total);
            base = block.pooled->data();
        } else {
            block.unpooled = std::malloc(total);
            base = static_cast<uint8_t *>(block.unpooled);
        }
    } catch (const std::bad_alloc &) {
        delete block.pooled;
        return nullptr;  // Halide reports the failed allocation
    }
    if (base == nullptr) return nullptr;
    const auto first = reinterpret_cast<uintptr_t>(base + sizeof(HalideBlock));
    const uintptr_t start = (first + halide_alignment - 1) & ~uintptr_t{halide_alignment - 1};
    std::memcpy(reinterpret_cast<void *>(start - sizeof(HalideBlock)), &block, sizeof block);
    return reinterpret_cast<void *>(start);
}

void halide_scratch_free(void *, void *pointer) {
    if (pointer == nullptr) return;
    HalideBlock block;
    std::memcpy(&block, static_cast<uint8_t *>(pointer) - sizeof(HalideBlock), sizeof block);
    delete block.pooled;
    std::free(block.unpooled);
}

const bool halide_allocator_and_pool_installed = [] {
    halide_set_custom_malloc(halide_scratch_malloc);
    halide_set_custom_free(halide_scratch_free);
    detail::install_thread_pool();
    return true;
}();

}  // namespace

void fill_with_zeros(const TensorView &tensor) {
    const auto count = static_cast<size_t>(tensor.numel());
    if (tensor.device == Device::cpu) {
        std::memset(tensor.data, 0, count * element_size(tensor.dtype));
    } else {
        fill_device_memory(reinterpret_cast<uintptr_t>(tensor.data), count, tensor.dtype, 0);
    }
}

const void *KernelBuffer::data() const {
    if (buffer_.device != 0) return reinterpret_cast<const void *>(buffer_.device);
    return buffer_.host;
}

KernelBuffer::~KernelBuffer() {
    if (wrapped_) {
        halide_cuda_detach_device_ptr(nullptr, &buffer_);
    } else if (buffer_.device != 0) {
        halide_device_free(nullptr, &buffer_);
    }
}

namespace {

// The CPU variants in dispatch order, as built: {name, Halide features}.
struct CpuVariant {
    const char *name;
    const char *features;
};
constexpr CpuVariant built_variants[] = {
#include "cpu_variants.inc"
};

constexpr int feature_words = (halide_target_feature_end + 63) / 64;
using FeatureMask = std::array<uint64_t, feature_words>;

// The x86 features a variant may name: those Halide's dispatch checks.
FeatureMask parse_features(const std::string &names) {
    static const std::pair<const char *, halide_target_feature_t> known[] = {
        {"sse41", halide_target_feature_sse41},
        {"avx", halide_target_feature_avx},
        {"avx2", halide_target_feature_avx2},
        {"fma", halide_target_feature_fma},
        {"f16c", halide_target_feature_f16c},
        {"avx512", halide_target_feature_avx512},
        {"avx512_skylake", halide_target_feature_avx512_skylake},
    };
    FeatureMask mask{};
    size_t start = 0;
    while (start < names.size()) {
        size_t end = names.find('-', start);
        std::string name = names.substr(start, end == std::string::npos ? end : end - start);
        bool found = false;
        for (auto [known_name, feature] : known) {
            if (name == known_name) {
                mask[feature / 64] |= uint64_t{1} << (feature % 64);
                found = true;
            }
        }
        if (!found) {
            throw std::logic_error("normgen was built with CPU feature '" + name +
                                   "', which its dispatch does not know");
        }
        start = end == std::string::npos ? names.size() : end + 1;
    }
    return mask;
}

constexpr size_t variant_count = std::size(built_variants);

// The feature masks of built_variants, parsed once.
const FeatureMask &mask_of(const CpuVariant &variant) {
    static const auto masks = [] {
        std::array<FeatureMask, variant_count> parsed;
        for (size_t i = 0; i < variant_count; ++i) parsed[i] = parse_features(built_variants[i].features);
        return parsed;
    }();
    return masks[static_cast<size_t>(&variant - built_variants)];
}

bool cpu_supports(const CpuVariant &variant) {
    const FeatureMask &mask = mask_of(variant);
    return halide_default_can_use_target_features(feature_words, mask.data()) != 0;
}

// What the kernels run on: the index of a built variant, or the reason none
// can run (an invalid NORMGEN_CPU_VARIANT, until set_cpu_variant mends it).
struct CpuChoice {
    size_t variant = 0;
    std::string error;
};

std::string list(const std::vector<std::string> &names) {
    std::string out;
    for (const auto &name : names) out += (out.empty() ? "" : ", ") + name;
    return out;
}

// The choice for `forced` (empty: the best variant this CPU runs).
CpuChoice choose_cpu_variant(const std::string &forced, const std::string &source) {
    if (forced.empty()) {
        for (size_t i = 0; i < variant_count; ++i) {
            if (cpu_supports(built_variants[i])) return {i, ""};
        }
        // Halide's baseline for x86-64; every variant needs more than that.
        return {variant_count - 1, ""};
    }
    for (size_t i = 0; i < variant_count; ++i) {
        if (forced != built_variants[i].name) continue;
        if (!cpu_supports(built_variants[i])) {
            return {0, source + "=" + forced + " cannot run on this CPU; it supports: " +
                           list(supported_cpu_variants())};
        }
        return {i, ""};
    }
    std::vector<std::string> built;
    for (const CpuVariant &variant : built_variants) built.push_back(variant.name);
    return {0, source + "=" + forced + " names no CPU variant; expected one of: " + list(built)};
}

std::mutex cpu_choice_mutex;

CpuChoice &cpu_choice() {
    static CpuChoice choice = [] {
        const char *forced = std::getenv("NORMGEN_CPU_VARIANT");
        return choose_cpu_variant(forced ? forced : "", "NORMGEN_CPU_VARIANT");
    }();
    return choice;
}

std::mutex halide_error_mutex;
std::string last_halide_error;

void capture_halide_error(void *, const char *message) {
    std::lock_guard<std::mutex> lock(halide_error_mutex);
    last_halide_error = message;
}

}  // namespace

size_t prepare_cpu_kernels() {
    static std::once_flag once;
    std::call_once(once, [] { halide_set_error_handler(capture_halide_error); });
    std::lock_guard<std::mutex> lock(cpu_choice_mutex);
    const CpuChoice &choice = cpu_choice();
    if (!choice.error.empty()) {
        fail(choice.error);
    }
    return choice.variant;
}

void check_kernel_status(int status, const char *kernel) {
    if (status == 0) {
        return;
    }
    std::lock_guard<std::mutex> lock(halide_error_mutex);
    throw std::runtime_error(std::string("normgen: kernel ") + kernel + " failed (Halide error " +
                             std::to_string(status) + "): " + last_halide_error);
}

}  // namespace normgen::detail

namespace normgen {

std::vector<std::string> supported_cpu_variants() {
    std::vector<std::string> names;
    for (const auto &variant : detail::built_variants) {
        if (detail::cpu_supports(variant)) names.push_back(variant.name);
    }
    return names;
}

std::string cpu_variant() {
    return detail::built_variants[detail::prepare_cpu_kernels()].name;
}

void set_cpu_variant(const std::string &variant) {
    detail::CpuChoice choice = detail::choose_cpu_variant(variant, "set_cpu_variant: variant");
    if (!choice.error.empty()) {
        detail::fail(choice.error);
    }
    std::lock_guard<std::mutex> lock(detail::cpu_choice_mutex);
    detail::cpu_choice() = choice;
}

void set_num_threads(int n) {
    if (n < 1) {
        detail::fail("set_num_threads expects n >= 1, got " + std::to_string(n));
    }
    detail::set_thread_pool_size(n);
}

}  // namespace normgen
