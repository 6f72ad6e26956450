// SPDX-License-Identifier: GPL-2.0-or-later
// The backup journal of one apply: everything needed to put the host back,
// written durably before the first change, so a rollback works even after the
// apply was killed half way.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "c10k/result.hpp"
#include "c10k/unique_fd.hpp"

namespace c10k {

struct JournalSysctl {
    std::string key;
    std::string before;
    std::string after;
};

struct JournalFile {
    std::string path;  // absolute, below `root`
    bool existed = false;
    std::string before;
    uint32_t mode = 0644;
    std::string after;
};

struct JournalRlimit {
    pid_t pid = 0;
    uint64_t start_time = 0;  // /proc/PID/stat field 22: tells a reused PID apart
    uint64_t before_soft = 0, before_hard = 0;
    uint64_t after_soft = 0, after_hard = 0;
};

enum class JournalState { pending, applied, failed, rolled_back };
const char* journal_state_name(JournalState s);

struct Journal {
    static constexpr int kSchema = 1;
    std::string id;
    int64_t created_unix = 0;
    std::string profile;
    JournalState state = JournalState::pending;
    std::string root = "/";
    std::string netns_path;  // empty: the namespace apply ran in, see netns_inode
    uint64_t netns_inode = 0;
    std::vector<JournalSysctl> sysctls;
    std::vector<JournalFile> files;
    std::vector<JournalRlimit> rlimits;
    std::string message;  // why it failed, or what rollback could not restore
};

std::string journal_to_json(const Journal& j);
// Adds `later`'s changes to `into`, applied after it: a key or process that
// `into` already changed keeps `into`'s value from before both.
void merge_journal(Journal& into, const Journal& later);
Result<Journal> journal_from_json(const std::string& text, const std::string& path);

// The state directory holding journals. Opened only if it is a real directory
// owned by us and not writable by group or others (a journal there is trusted to
// say what to write into the kernel); created 0700 when absent.
class StateDir {
  public:
    static Result<StateDir> open(const std::filesystem::path& dir);

    // One apply or rollback at a time (flock on DIR/lock).
    Status lock();
    // Temp file, fsync, rename, fsync of the directory; mode 0600.
    Status write(const Journal& j) const;
    Result<Journal> load(const std::string& id) const;
    // Deletes a journal (tune, once its changes are merged into another).
    Status remove(const std::string& id) const;
    // Every journal, oldest first; unreadable ones are reported as errors.
    std::vector<Result<Journal>> list() const;
    std::string new_id() const;
    const std::filesystem::path& path() const { return dir_; }

  private:
    explicit StateDir(std::filesystem::path dir) : dir_(std::move(dir)) {}
    std::filesystem::path dir_;
    std::shared_ptr<UniqueFd> lock_;
};

// Atomic replace of a small file: temp in the same directory, fsync, rename,
// fsync of the directory.
Status write_file_atomic(const std::filesystem::path& path, const std::string& content,
                         uint32_t mode);
Status remove_file_durable(const std::filesystem::path& path);

}  // namespace c10k
