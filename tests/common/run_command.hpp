// SPDX-License-Identifier: GPL-2.0-or-later
// Runs a program with a time limit and captures what it prints.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace c10k::test {

struct CommandResult {
    int exit_code = -1;  // -1: killed (timeout or signal)
    std::string out;
    std::string err;
};

CommandResult run_command(const std::vector<std::string>& argv, int timeout_s = 60);

// `c10k-doctor ARGS...` from the build tree.
CommandResult run_doctor(const std::vector<std::string>& args, int timeout_s = 60);

}  // namespace c10k::test

namespace c10k::test {

// A helper process kept alive for the length of a test; killed on destruction.
class Background {
  public:
    // Waits (bounded) for its first stdout line, e.g. "ready 8080".
    Background(const std::vector<std::string>& argv, int ready_timeout_s = 30);
    ~Background();
    Background(const Background&) = delete;
    Background& operator=(const Background&) = delete;

    pid_t pid() const { return pid_; }
    const std::string& ready_line() const { return line_; }
    int ready_port() const;
    bool ok() const { return !line_.empty(); }
    // Waits for it to exit by itself (bounded); returns its exit code or -1.
    int wait(int timeout_s = 30);

  private:
    pid_t pid_ = -1;
    int out_ = -1;
    std::string line_;
};

}  // namespace c10k::test
