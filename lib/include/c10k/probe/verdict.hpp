// From evidence to a ranked verdict in the design's bottleneck vocabulary:
// root causes above the symptoms they drag along.
#pragma once

#include <string>
#include <vector>

#include "c10k/finding.hpp"
#include "c10k/probe/evidence.hpp"

namespace c10k {

struct Verdict {
    std::vector<Finding> findings;        // ranked; the first is the answer ("healthy" when none)
    std::vector<std::string> unobserved;  // what this run could not see, and why
};

Verdict judge(const ProbeEvidence& e);

}  // namespace c10k
