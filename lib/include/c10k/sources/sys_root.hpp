// SPDX-License-Identifier: GPL-2.0-or-later
// Where the sources read the system from. "/" in production; a fixture tree in tests,
// the way iproute2 honours PROC_ROOT.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "c10k/result.hpp"

namespace c10k {

struct SysRoot {
    std::filesystem::path root = "/";

    std::filesystem::path proc(std::string_view rel) const { return root / "proc" / rel; }
    std::filesystem::path path(std::string_view rel) const { return root / rel; }
    bool is_live() const { return root == "/"; }
};

// Whole small file as text (procfs files report size 0, so read until EOF).
// Errors name the path and the errno text.
Result<std::string> read_text(const std::filesystem::path& path);

}  // namespace c10k
