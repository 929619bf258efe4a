#include "kernels.hpp"

#include <cstdlib>
#include <iterator>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "checks.hpp"
#include "normgen/normgen.hpp"

namespace normgen::detail {

KernelBuffer::KernelBuffer(const void *data, const KernelDims &dims) {
    int d = 0;
    for (auto [extent, stride] : dims) {
        dims_[d++] = halide_dimension_t(0, static_cast<int32_t>(extent),
                                        static_cast<int32_t>(stride));
    }
    buffer_.host = static_cast<uint8_t *>(const_cast<void *>(data));
    buffer_.type = halide_type_t(halide_type_float, 32);
    buffer_.dimensions = d;
    buffer_.dim = dims_.data();
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

// The built variant a dispatch candidate is: the first (best) one whose
// features the candidate has.
const CpuVariant *identify(int count, const uint64_t *candidate) {
    for (const CpuVariant &variant : built_variants) {
        const FeatureMask &mask = mask_of(variant);
        bool subset = true;
        for (int w = 0; w < feature_words; ++w) {
            uint64_t have = w < count ? candidate[w] : 0;
            subset = subset && (mask[w] & ~have) == 0;
        }
        if (subset) return &variant;
    }
    return nullptr;
}

struct CpuChoice {
    std::string forced;       // from NORMGEN_CPU_VARIANT; empty: best supported
    std::string setup_error;  // why kernels cannot run, if they cannot
};

CpuChoice &cpu_choice() {
    static CpuChoice choice;
    return choice;
}

int can_use_target_features(int count, const uint64_t *features) {
    const std::string &forced = cpu_choice().forced;
    if (forced.empty()) {
        return halide_default_can_use_target_features(count, features);
    }
    const CpuVariant *candidate = identify(count, features);
    return candidate != nullptr && forced == candidate->name;
}

std::mutex halide_error_mutex;
std::string last_halide_error;

void capture_halide_error(void *, const char *message) {
    std::lock_guard<std::mutex> lock(halide_error_mutex);
    last_halide_error = message;
}

std::string list(const std::vector<std::string> &names) {
    std::string out;
    for (const auto &name : names) out += (out.empty() ? "" : ", ") + name;
    return out;
}

void install_hooks() {
    halide_set_error_handler(capture_halide_error);
    CpuChoice &choice = cpu_choice();
    const char *forced = std::getenv("NORMGEN_CPU_VARIANT");
    if (forced == nullptr || *forced == '\0') {
        return;
    }
    choice.forced = forced;
    std::vector<std::string> built;
    for (const CpuVariant &variant : built_variants) built.push_back(variant.name);
    const CpuVariant *named = nullptr;
    for (const CpuVariant &variant : built_variants) {
        if (choice.forced == variant.name) named = &variant;
    }
    if (named == nullptr) {
        choice.setup_error = "NORMGEN_CPU_VARIANT=" + choice.forced +
                             " names no CPU variant; expected one of: " + list(built);
    } else if (!cpu_supports(*named)) {
        choice.setup_error = "NORMGEN_CPU_VARIANT=" + choice.forced +
                             " cannot run on this CPU; it supports: " +
                             list(supported_cpu_variants());
    }
    halide_set_custom_can_use_target_features(can_use_target_features);
}

}  // namespace

void prepare_cpu_kernels() {
    static std::once_flag once;
    std::call_once(once, install_hooks);
    if (!cpu_choice().setup_error.empty()) {
        fail(cpu_choice().setup_error);
    }
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
    detail::prepare_cpu_kernels();
    const std::string &forced = detail::cpu_choice().forced;
    if (!forced.empty()) {
        return forced;
    }
    // Halide runs the last variant without checking the CPU at all.
    std::vector<std::string> supported = supported_cpu_variants();
    return supported.empty() ? std::end(detail::built_variants)[-1].name : supported.front();
}

void set_num_threads(int n) {
    if (n < 1) {
        detail::fail("set_num_threads expects n >= 1, got " + std::to_string(n));
    }
    halide_set_num_threads(n);
}

}  // namespace normgen
