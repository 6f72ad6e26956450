// SPDX-License-Identifier: GPL-2.0-or-later
// The probe's verdict for people (text, log2 histograms) and for programs (JSON).
#pragma once

#include <string>

#include "c10k/diagnose/verdict.hpp"
#include "c10k/probe/evidence.hpp"

namespace c10k {

inline constexpr int kProbeSchemaVersion = 2;

std::string render_probe_text(const ProbeEvidence& e, const Verdict& v, bool colour);
std::string render_probe_json(const ProbeEvidence& e, const Verdict& v);
// For node_exporter's textfile collector: labelled by command name and unit.
std::string render_probe_prometheus(const ProbeEvidence& e, const Verdict& v);
// "     usecs          : count    distribution" bars, like the tools users know.
std::string render_log2_hist(const Log2Hist& h, const std::string& title);

}  // namespace c10k
