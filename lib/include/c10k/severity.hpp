// SPDX-License-Identifier: GPL-2.0-or-later
// How bad a finding is: shared by every finding and by the tables that say
// what each finding is (the probe's vocabulary), so it stands alone.
#pragma once

#include <string_view>

namespace c10k {

// Ordered so that max() gives the worst of OK, WARN and CRIT.
// UNKNOWN sits apart: it says "could not look", not "looked and it is bad".
enum class Severity { ok = 0, warn = 1, crit = 2, unknown = 3 };

std::string_view to_string(Severity s);

}  // namespace c10k
