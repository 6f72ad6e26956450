// SPDX-License-Identifier: GPL-2.0-or-later
// The calling thread's CPU time, for what one step of the prober costs.
#pragma once

#include <time.h>

namespace c10k {

// User + sys of this thread, in seconds, to the nanosecond (getrusage's are
// microseconds and, for a thread, scaled from ticks).
inline double thread_cpu_now() {
    timespec ts{};
    if (::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace c10k
