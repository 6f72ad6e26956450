// SPDX-License-Identifier: GPL-2.0-or-later
// What every subcommand's output shares, decided in one place: whether to use
// colour, the JSON header and serialisation, and how numbers and long text are
// written for people. check (report/text, json, prometheus, nagios), probe
// (report/probe_render) and profile (report/profile_render) all render through these.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "c10k/finding.hpp"

namespace c10k {

inline constexpr const char* kVersion = "0.1.0";

// Colour only for a terminal, and never when NO_COLOR is set (no-color.org) or
// TERM is "dumb".
bool colour_for(int fd);

// {"schema": "c10k-doctor/DOCUMENT", "schema_version": V, "tool_version": ...}:
// the first three members of every JSON document, each with a schema file
// lib/schema/DOCUMENT-vV.schema.json.
nlohmann::json json_header(std::string_view document, int version);

// Two-space JSON and a newline; bytes that are not UTF-8 are replaced, never
// thrown on (a process may name itself anything).
std::string json_text(const nlohmann::json& doc);

// The integer a double holds (an integer count read as a double), when it
// holds one exactly and within the 53 bits a double keeps exact.
std::optional<int64_t> whole_number(double v);
// 4096 -> "4096", 0.125 -> "0.12", +Inf -> "unlimited".
std::string number_text(double v);
// For programs (Prometheus, perfdata): whole numbers as integers, others with
// six significant digits, never in the locale's format. Finite values only.
std::string machine_number(double v);
// "512ns", "1.0us", "2.1ms", "1.1s": log2 slot bounds stay readable at every scale.
std::string duration_text(uint64_t ns);
// "512 bytes", "12.0 MiB".
std::string bytes_text(double bytes);
// A number with its unit as people read it: "240 fds", "12.0 MiB", "3.50/s".
std::string measured_text(double value, Measure unit);
std::string evidence_text(const Evidence& e);

// Words wrapped to `width` columns; lines after the first indented by `indent`.
std::string wrap(std::string_view text, size_t indent, size_t width);
// Words wrapped to `width` columns, every line begun with `prefix` (a comment's
// "# ") and ended with a newline.
std::string wrap_prefixed(std::string_view text, std::string_view prefix, size_t width);
// Columns aligned two spaces apart; trailing spaces trimmed.
std::string table(const std::vector<std::vector<std::string>>& rows);

}  // namespace c10k
