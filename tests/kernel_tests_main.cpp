// The runner of the kernel test programs. CTest runs every test once per CPU
// variant, forced through NORMGEN_CPU_VARIANT, and the device tests also on
// CUDA (NORMGEN_TEST_DEVICE=cuda). Where the CPU cannot run the forced
// variant, or CUDA cannot run, the runner reports a skip (exit code 77, the
// tests' SKIP_RETURN_CODE) with the reason rather than a failure. Listing
// the tests must work everywhere, because catch_discover_tests lists them
// at build time.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <normgen/normgen.hpp>

#include "device_memory.hpp"

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

namespace {

constexpr int kSkipReturnCode = 77;

bool only_listing(const Catch::ConfigData &config) {
    return config.listTests || config.listTestNamesOnly || config.listTags ||
           config.listReporters;
}

}  // namespace

int main(int argc, char *argv[]) {
    Catch::Session session;
    if (const int status = session.applyCommandLine(argc, argv); status != 0) {
        return status;
    }
    const char *forced_variant = std::getenv("NORMGEN_CPU_VARIANT");
    if (forced_variant && *forced_variant && !only_listing(session.configData())) {
        const std::vector<std::string> supported = normgen::supported_cpu_variants();
        if (std::find(supported.begin(), supported.end(), forced_variant) == supported.end()) {
            std::string supported_list;
            for (const std::string &variant : supported) {
                supported_list += (supported_list.empty() ? "" : ", ") + variant;
            }
            std::cout << "SKIPPED: this CPU cannot run the " << forced_variant
                      << " variant (it supports: " << supported_list << ")\n";
            return kSkipReturnCode;
        }
    }
    const char *device = std::getenv("NORMGEN_TEST_DEVICE");
    std::string reason;
    if (device && std::string(device) == "cuda" && !only_listing(session.configData()) &&
        !normgen::testing::device_usable(normgen::Device::cuda, &reason)) {
        std::cout << "SKIPPED: no GPU test can run here: " << reason << "\n";
        return kSkipReturnCode;
    }
    return session.run();
}
