// SPDX-License-Identifier: GPL-2.0-or-later
// From evidence to a ranked verdict in the design's bottleneck vocabulary:
// root causes above the symptoms they drag along.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "c10k/finding.hpp"
#include "c10k/probe/evidence.hpp"

namespace c10k {

struct Verdict {
    std::vector<Finding> findings;        // ranked; the first is the answer ("healthy" when none)
    std::vector<std::string> unobserved;  // what this run could not see, and why
    // --follow: the dependency's own verdict, and the line that links the two
    // ("waits 85% on 127.0.0.1:5432 -> postgres (PID 812) is cpu-saturated").
    std::shared_ptr<const Verdict> followed;
    std::string chain;
};

Verdict judge(const ProbeEvidence& e);

}  // namespace c10k
