// SPDX-License-Identifier: GPL-2.0-or-later
// tune's journey for people (a table, then why) and for programs (JSON,
// schema c10k-doctor/tune v1).
#pragma once

#include <string>

#include "c10k/tune/journey.hpp"

namespace c10k {

std::string render_tune_text(const tune::TuneJourney& j, const std::string& state_dir);
std::string render_tune_json(const tune::TuneJourney& j);
// The changes a round would make, one per line, before asking to make them.
std::string render_fix_plan_text(const tune::FixPlan& p);

}  // namespace c10k
