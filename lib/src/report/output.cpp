// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/report/output.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace c10k {

bool colour_for(int fd) {
    const char* no_colour = std::getenv("NO_COLOR");
    if (no_colour && *no_colour) return false;
    const char* term = std::getenv("TERM");
    if (term && std::strcmp(term, "dumb") == 0) return false;
    return ::isatty(fd) != 0;
}

nlohmann::json json_header(std::string_view document, int version) {
    return {{"schema", "c10k-doctor/" + std::string(document)},
            {"schema_version", version},
            {"tool_version", kVersion}};
}

std::string json_text(const nlohmann::json& doc) {
    return doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::optional<int64_t> whole_number(double v) {
    if (std::isfinite(v) && std::fabs(v - std::round(v)) < 1e-9 && std::fabs(v) < 9e15)
        return static_cast<int64_t>(std::round(v));
    return std::nullopt;
}

std::string number_text(double v) {
    if (std::isinf(v)) return v > 0 ? "unlimited" : "-unlimited";
    if (std::isnan(v)) return "?";
    if (auto n = whole_number(v)) return fmt::format("{}", *n);
    return fmt::format("{:.2f}", v);
}

std::string machine_number(double v) {
    if (auto n = whole_number(v)) return fmt::format("{}", *n);
    return fmt::format("{:.6g}", v);
}

std::string duration_text(uint64_t ns) {
    if (ns < 1000) return fmt::format("{}ns", ns);
    if (ns < 1000'000) return fmt::format("{:.1f}us", static_cast<double>(ns) / 1e3);
    if (ns < 1000'000'000) return fmt::format("{:.1f}ms", static_cast<double>(ns) / 1e6);
    return fmt::format("{:.1f}s", static_cast<double>(ns) / 1e9);
}

std::string bytes_text(double bytes) {
    if (bytes >= 1024 * 1024) return fmt::format("{:.1f} MiB", bytes / (1024 * 1024));
    return number_text(bytes) + " bytes";
}

std::string measured_text(double value, Measure unit) {
    if (std::isinf(value)) return "unlimited";
    std::string v = number_text(value);
    switch (unit.dim) {
        case Dim::plain:
            return v;
        case Dim::bytes:
            return bytes_text(value);
        case Dim::ratio:
            return fmt::format("{:.2f}", value);
        case Dim::percent:
        case Dim::per_second:
            return v + std::string(unit.name());
        default:
            return v + " " + std::string(unit.name());
    }
}

std::string evidence_text(const Evidence& e) {
    return measured_text(e.value, e.unit);
}

std::string wrap(std::string_view text, size_t indent, size_t width) {
    std::string out, line;
    std::string pad(indent, ' ');
    size_t i = 0;
    while (i < text.size()) {
        size_t j = text.find(' ', i);
        if (j == std::string_view::npos) j = text.size();
        auto word = text.substr(i, j - i);
        if (!line.empty() && indent + line.size() + 1 + word.size() > width) {
            out += line + "\n" + pad;
            line.clear();
        }
        if (!line.empty()) line += ' ';
        line += word;
        i = j + 1;
    }
    return out + line;
}

std::string wrap_prefixed(std::string_view text, std::string_view prefix, size_t width) {
    if (text.find_first_not_of(' ') == std::string_view::npos) return "";
    std::string body = wrap(text, prefix.size(), width);
    std::string pad = "\n" + std::string(prefix.size(), ' ');
    std::string out(prefix);
    for (size_t i = 0; i < body.size();) {
        if (body.compare(i, pad.size(), pad) == 0) {
            out += "\n";
            out += prefix;
            i += pad.size();
        } else {
            out += body[i++];
        }
    }
    return out + "\n";
}

std::string table(const std::vector<std::vector<std::string>>& rows) {
    std::vector<size_t> width;
    for (const auto& r : rows)
        for (size_t i = 0; i < r.size(); ++i) {
            if (width.size() <= i) width.push_back(0);
            width[i] = std::max(width[i], r[i].size());
        }
    std::string out;
    for (const auto& r : rows) {
        std::string line;
        for (size_t i = 0; i < r.size(); ++i) {
            line += r[i];
            if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
        }
        while (!line.empty() && line.back() == ' ')
            line.pop_back();
        out += line + "\n";
    }
    return out;
}

}  // namespace c10k
