// SPDX-License-Identifier: GPL-2.0-or-later
#include "exposition.hpp"

#include <fmt/format.h>

#include <cctype>
#include <cmath>

#include "c10k/report/output.hpp"
#include "c10k/text.hpp"

namespace c10k::exposition {

namespace {

std::string escape_help(std::string_view v) {
    std::string out;
    for (char c : printable(v)) {
        if (c == '\\')
            out += "\\\\";
        else
            out += c;
    }
    return out;
}

std::string value_text(double v) {
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    if (std::isnan(v)) return "NaN";
    // Six significant digits hide a start time's seconds (1.79646e+09).
    if (std::fabs(v) >= 1e6 && !whole_number(v)) return fmt::format("{:.3f}", v);
    return machine_number(v);
}

std::string metric_safe(std::string_view key) {
    std::string out;
    for (char c : key)
        out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
    return out;
}

// "reply_p99_ms" -> "reply_p99_seconds": promtool wants base units.
std::string in_seconds(std::string key, std::string_view suffix) {
    if (key.ends_with(suffix)) key.resize(key.size() - suffix.size());
    return key + "_seconds";
}

}  // namespace

std::string escape_label(std::string_view v) {
    std::string out;
    for (char c : printable(v)) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else
            out += c;
    }
    return out;
}

std::string labels(std::initializer_list<std::pair<std::string_view, std::string_view>> pairs) {
    std::string out;
    for (const auto& [k, v] : pairs) {
        if (!out.empty()) out += ',';
        out += fmt::format("{}=\"{}\"", k, escape_label(v));
    }
    return out;
}

std::optional<Sample> sample_of(const Evidence& e, bool keep_rates) {
    bool rate = e.unit.dim == Dim::per_second || e.unit.dim == Dim::seconds_per_second;
    if (rate && !keep_rates) return std::nullopt;
    Sample s{metric_safe(e.key), e.value, e.label, e.unit.dim == Dim::since_boot};
    std::string unit(e.unit.name());
    switch (e.unit.dim) {
        case Dim::percent:
            if (s.key.ends_with("_percent")) s.key.resize(s.key.size() - 8);
            s.key += "_ratio";
            s.value /= 100;
            unit = "0..1";
            break;
        case Dim::milliseconds:
            s.key = in_seconds(s.key, "_ms");
            s.value /= 1e3;
            unit = "s";
            break;
        case Dim::microseconds:
            s.key = in_seconds(s.key, "_us");
            s.value /= 1e6;
            unit = "s";
            break;
        default:
            break;
    }
    // "threads (threads)" says nothing twice.
    if (!unit.empty() && s.help.find(unit) == std::string::npos) s.help += " (" + unit + ")";
    return s;
}

void Writer::family(const std::string& name, std::string_view help, bool counter) {
    auto [it, fresh] = families_.try_emplace(name);
    if (!fresh) return;
    order_.push_back(name);
    it->second.help = escape_help(help);
    it->second.counter = counter;
}

void Writer::add(const std::string& name, const std::string& labels, double value) {
    auto series = fmt::format("{}{{{}}}", name, labels);
    if (!seen_.insert(series).second) return;
    families_[name].samples.push_back(series + " " + value_text(value));
}

std::string Writer::text() const {
    std::string out;
    for (const auto& name : order_) {
        const auto& fam = families_.at(name);
        if (fam.samples.empty()) continue;
        out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, fam.help, name,
                           fam.counter ? "counter" : "gauge");
        for (const auto& s : fam.samples)
            out += s + "\n";
    }
    return out;
}

}  // namespace c10k::exposition
