// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/probe/task_files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <string>

#include "c10k/text.hpp"

namespace c10k {

namespace {

constexpr const char* kNames[TaskFiles::kFiles] = {"stat", "schedstat", "syscall"};
// A thread's stat is under 512 bytes, its syscall line under 200.
constexpr size_t kReadSize = 4096;

bool read_at_start(int fd, std::string& into) {
    into.resize(kReadSize);
    ssize_t n = ::pread(fd, into.data(), into.size(), 0);
    if (n < 0) return false;
    into.resize(static_cast<size_t>(n));
    return true;
}

}  // namespace

std::optional<std::string_view> TaskFiles::read(pid_t pid, uint32_t tid, File f) {
    auto& fds = open_[tid];
    if (fds[f]) {
        if (read_at_start(fds[f].get(), buf_)) return std::string_view(buf_);
        fds[f] = UniqueFd();  // gone (ESRCH): the thread exited
        --used_;
        return std::nullopt;
    }
    auto path = "/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/" + kNames[f];
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return std::nullopt;
    bool ok = read_at_start(fd.get(), buf_);
    if (ok && used_ < budget_) {
        fds[f] = std::move(fd);
        ++used_;
    }
    if (!ok) return std::nullopt;
    return std::string_view(buf_);
}

void TaskFiles::keep_only(const std::unordered_set<uint32_t>& alive) {
    for (auto it = open_.begin(); it != open_.end();) {
        if (alive.count(it->first)) {
            ++it;
            continue;
        }
        for (const auto& fd : it->second)
            if (fd) --used_;
        it = open_.erase(it);
    }
}

size_t spare_fds(size_t reserve) {
    rlimit r{};
    if (::getrlimit(RLIMIT_NOFILE, &r) != 0) return 0;
    if (r.rlim_cur < r.rlim_max) {
        rlimit raised = r;
        raised.rlim_cur = r.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) r = raised;
    }
    size_t open = 0;
    if (DIR* d = ::opendir("/proc/self/fd")) {
        while (::readdir(d))
            ++open;
        ::closedir(d);
    }
    size_t limit = r.rlim_cur == RLIM_INFINITY ? 1u << 20 : static_cast<size_t>(r.rlim_cur);
    return limit > open + reserve ? limit - open - reserve : 0;
}

// The socket inode behind fd `fd` of `pid`, from its /proc/PID/fd link.
std::optional<uint64_t> socket_inode_of(pid_t pid, uint64_t fd) {
    char link[64];
    auto path = "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd);
    ssize_t n = ::readlink(path.c_str(), link, sizeof link - 1);
    if (n <= 0) return std::nullopt;
    std::string_view text(link, static_cast<size_t>(n));
    if (!starts_with(text, "socket:[") || text.back() != ']') return std::nullopt;
    return parse_uint(text.substr(8, text.size() - 9));
}

}  // namespace c10k
