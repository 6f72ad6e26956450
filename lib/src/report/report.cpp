// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/report/report.hpp"

namespace c10k {

CheckReport make_check_report(const Snapshot& now, double interval_s, Target target,
                              std::vector<Finding> findings) {
    CheckReport r;
    r.hostname = now.hostname;
    r.kernel = now.kernel_release;
    r.netns = now.netns_label;
    r.target = target;
    r.interval_s = interval_s;
    if (now.process) {
        r.pid = now.process->pid;
        r.process_name = now.process->comm;
    }
    r.notes = now.notes;
    r.findings = std::move(findings);
    return r;
}

}  // namespace c10k
