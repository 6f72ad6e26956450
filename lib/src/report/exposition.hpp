// SPDX-License-Identifier: GPL-2.0-or-later
// Prometheus text exposition (0.0.4) for both check's and probe's metrics,
// by Prometheus's naming rules (what `promtool check metrics` checks):
// families in first-seen order, one HELP and TYPE each, a series written once;
// label values and help made printable and escaped, so nothing that came from
// outside (a process name, a path) can break the file.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "c10k/finding.hpp"

namespace c10k::exposition {

std::string escape_label(std::string_view v);

// `name="value"` pairs joined by commas, values escaped.
std::string labels(std::initializer_list<std::pair<std::string_view, std::string_view>> pairs);

// An evidence value as Prometheus wants it: named in base units (seconds, a
// 0..1 ratio), a kernel counter typed counter.
struct Sample {
    std::string key;  // without the c10k_doctor_ prefix
    double value = 0;
    std::string help;
    bool counter = false;
};
// Rates over the window are left out when `keep_rates` is false: check's
// textfile has the counters, and Prometheus computes rates from them. A
// probe's rates are its measurement (no counter stands behind them) and stay.
std::optional<Sample> sample_of(const Evidence& e, bool keep_rates);

class Writer {
  public:
    // A family: one HELP and TYPE line before its first sample.
    void family(const std::string& name, std::string_view help, bool counter = false);
    // `labels` already joined; a series seen before is dropped.
    void add(const std::string& name, const std::string& labels, double value);
    std::string text() const;

  private:
    struct Family {
        std::string help;
        bool counter = false;
        std::vector<std::string> samples;
    };
    std::vector<std::string> order_;
    std::map<std::string, Family> families_;
    std::set<std::string> seen_;
};

}  // namespace c10k::exposition
