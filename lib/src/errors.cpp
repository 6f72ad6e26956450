// SPDX-License-Identifier: GPL-2.0-or-later
#include <cstring>
#include <string>

#include "c10k/result.hpp"

namespace c10k {

std::string errno_name(int code) {
    const char* name = ::strerrorname_np(code);
    return name ? std::string(name) : "errno " + std::to_string(code);
}

std::string errno_text(int code) {
    return errno_name(code) + ": " + std::strerror(code);
}

}  // namespace c10k
