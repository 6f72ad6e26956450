// SPDX-License-Identifier: GPL-2.0-or-later
// A thread's /proc files kept open between looks and read again with pread:
// for a target with many threads, opening and closing three files per thread
// per look (a path walk and a pid lookup each) costs more than reading them.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "c10k/unique_fd.hpp"

namespace c10k {

class TaskFiles {
  public:
    enum File { stat, schedstat, syscall, kFiles };

    // Keeps at most `max_fds` files open; past that, a file is opened, read
    // and closed each time, as before.
    explicit TaskFiles(size_t max_fds) : budget_(max_fds) {}

    // The file's text, valid until the next read; nothing when the thread is gone.
    std::optional<std::string_view> read(pid_t pid, uint32_t tid, File f);
    // Closes the files of threads not in `alive` (they exited).
    void keep_only(const std::unordered_set<uint32_t>& alive);
    size_t open_files() const { return used_; }

  private:
    std::unordered_map<uint32_t, std::array<UniqueFd, kFiles>> open_;
    size_t budget_;
    size_t used_ = 0;
    std::string buf_;
};

// The socket inode behind fd `fd` of `pid`, from its /proc/PID/fd link;
// nothing when that fd is not a socket (or is gone).
std::optional<uint64_t> socket_inode_of(pid_t pid, uint64_t fd);

// The file descriptors this process may still open: its soft RLIMIT_NOFILE,
// raised to the hard one first (nothing here uses select(), which breaks past
// 1024), less those open and a reserve for everything else the probe opens.
size_t spare_fds(size_t reserve);

}  // namespace c10k
