// SPDX-License-Identifier: GPL-2.0-or-later
// Small parsing helpers shared by the /proc parsers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace c10k {

std::vector<std::string_view> split_ws(std::string_view s);
std::vector<std::string_view> split_lines(std::string_view s);
std::string_view trim(std::string_view s);
std::optional<int64_t> parse_int(std::string_view s);
std::optional<uint64_t> parse_uint(std::string_view s, int base = 10);
std::optional<double> parse_double(std::string_view s);
bool starts_with(std::string_view s, std::string_view prefix);
// "10s", "500ms", "2m", or plain seconds; nothing for anything else or <= 0.
std::optional<double> parse_seconds(std::string_view s);
// For a terminal or a log line: control bytes and bytes that are not valid
// UTF-8 (a 15-byte comm cut mid-character, or a name chosen to forge lines)
// become \xNN; everything else, UTF-8 included, is kept as it is.
std::string printable(std::string_view s);

}  // namespace c10k
