// The one exception type of the LeNet demo's support code.
#pragma once

#include <stdexcept>

namespace lenet {

// Thrown for every failure: a missing or malformed file, an invalid
// argument. what() names the path involved, what was expected and what was
// found.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace lenet
