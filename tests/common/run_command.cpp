// SPDX-License-Identifier: GPL-2.0-or-later
#include "run_command.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>

extern char** environ;

namespace c10k::test {

namespace {
// Starts argv with stdin from /dev/null and stdout/stderr on the given fds
// (-1: inherited). Returns the pid, or -1.
pid_t spawn(const std::vector<std::string>& argv, int out_fd, int err_fd) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (out_fd >= 0) posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    if (err_fd >= 0) posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    std::vector<char*> args;
    for (const auto& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = -1;
    int rc = ::posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    return rc == 0 ? pid : -1;
}
}  // namespace

CommandResult run_command(const std::vector<std::string>& argv, int timeout_s) {
    CommandResult r;
    int out_pipe[2], err_pipe[2];
    if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) return r;
    pid_t pid = spawn(argv, out_pipe[1], err_pipe[1]);
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    if (pid < 0) {
        ::close(out_pipe[0]);
        ::close(err_pipe[0]);
        r.err = "spawn failed";
        return r;
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    int open = 2;
    char buf[65536];
    while (open > 0) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now())
                        .count();
        if (left <= 0) {
            ::kill(pid, SIGKILL);
            break;
        }
        if (::poll(fds, 2, static_cast<int>(left)) <= 0) continue;
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP))) continue;
            ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
            if (n <= 0) {
                ::close(fds[i].fd);
                fds[i].fd = -1;
                --open;
            } else {
                (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(n));
            }
        }
    }
    for (auto& p : fds)
        if (p.fd >= 0) ::close(p.fd);
    int status = 0;
    ::waitpid(pid, &status, 0);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

CommandResult run_doctor(const std::vector<std::string>& args, int timeout_s) {
    std::vector<std::string> argv{C10K_DOCTOR_PATH};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, timeout_s);
}

}  // namespace c10k::test

namespace c10k::test {

Background::Background(const std::vector<std::string>& argv, int ready_timeout_s) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return;
    pid_ = spawn(argv, p[1], -1);
    ::close(p[1]);
    if (pid_ < 0) {
        ::close(p[0]);
        return;
    }
    out_ = p[0];
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(ready_timeout_s);
    std::string buf;
    while (buf.find('\n') == std::string::npos) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now())
                        .count();
        if (left <= 0) return;
        pollfd pfd{out_, POLLIN, 0};
        if (::poll(&pfd, 1, static_cast<int>(left)) <= 0) continue;
        char c[256];
        ssize_t n = ::read(out_, c, sizeof c);
        if (n <= 0) return;
        buf.append(c, static_cast<size_t>(n));
    }
    line_ = buf.substr(0, buf.find('\n'));
}

int Background::ready_port() const {
    auto sp = line_.find(' ');
    return sp == std::string::npos ? -1 : std::atoi(line_.c_str() + sp + 1);
}

int Background::wait(int timeout_s) {
    if (pid_ < 0) return -1;
    for (int i = 0; i < timeout_s * 20; ++i) {
        int status = 0;
        pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
            pid_ = -1;
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        ::usleep(50000);
    }
    return -1;
}

Background::~Background() {
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) ::close(out_);
}

}  // namespace c10k::test
