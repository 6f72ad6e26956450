// SPDX-License-Identifier: GPL-2.0-or-later
// c10k-doctor with a crash point: the same CLI, linked with the seam that the
// shipped binary leaves empty. With C10K_CRASH_AFTER_WRITES=K in its
// environment, `profile apply` stops after its K-th verified sysctl write,
// prints "stopped after K writes, journal ID" and sleeps until the test kills
// it: every position a crash can come at, reached without a hook in what ships.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "commands.hpp"

int main(int argc, char** argv) {
    c10k::cli::Seams seams;
    if (const char* k = std::getenv("C10K_CRASH_AFTER_WRITES")) {
        size_t at = std::strtoul(k, nullptr, 10);
        seams.after_sysctl_write = [at](size_t written, const std::string& journal) {
            if (written != at) return;
            std::printf("stopped after %zu writes, journal %s\n", written, journal.c_str());
            std::fflush(stdout);
            std::this_thread::sleep_for(std::chrono::seconds(60));
        };
    }
    return c10k::cli::run(argc, argv, seams);
}
