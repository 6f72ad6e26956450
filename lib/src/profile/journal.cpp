// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/profile/journal.hpp"
#include "c10k/enum_names.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <system_error>

#include "c10k/sources/sys_root.hpp"

namespace c10k {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {
constexpr std::array<const char*, 4> kStateNames = {"pending", "applied", "failed", "rolled-back"};
static_assert(names_every(kStateNames, JournalState::rolled_back));
}  // namespace

const char* journal_state_name(JournalState s) {
    return enum_name(kStateNames, s);
}

std::string journal_to_json(const Journal& j) {
    json out = {{"schema", Journal::kSchema},
                {"id", j.id},
                {"created_unix", j.created_unix},
                {"profile", j.profile},
                {"state", journal_state_name(j.state)},
                {"root", j.root},
                {"netns_path", j.netns_path},
                {"netns_inode", j.netns_inode},
                {"message", j.message},
                {"sysctls", json::array()},
                {"files", json::array()},
                {"rlimits", json::array()}};
    for (const auto& s : j.sysctls)
        out["sysctls"].push_back({{"key", s.key}, {"before", s.before}, {"after", s.after}});
    for (const auto& f : j.files)
        out["files"].push_back({{"path", f.path},
                                {"existed", f.existed},
                                {"before", f.before},
                                {"mode", f.mode},
                                {"after", f.after}});
    for (const auto& r : j.rlimits)
        out["rlimits"].push_back({{"pid", r.pid},
                                  {"start_time", r.start_time},
                                  {"before_soft", r.before_soft},
                                  {"before_hard", r.before_hard},
                                  {"after_soft", r.after_soft},
                                  {"after_hard", r.after_hard}});
    return out.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

Result<Journal> journal_from_json(const std::string& text, const std::string& path) {
    try {
        auto in = json::parse(text);
        if (in.at("schema").get<int>() != Journal::kSchema)
            return make_error(path + ": journal schema " + in.at("schema").dump() +
                              " is not one this version reads");
        Journal j;
        j.id = in.at("id").get<std::string>();
        j.created_unix = in.at("created_unix").get<int64_t>();
        j.profile = in.at("profile").get<std::string>();
        auto state = in.at("state").get<std::string>();
        // An unknown state reads as pending: rollback may still act on it.
        j.state = enum_from_name<JournalState>(kStateNames, state).value_or(JournalState::pending);
        j.root = in.at("root").get<std::string>();
        j.netns_path = in.at("netns_path").get<std::string>();
        j.netns_inode = in.at("netns_inode").get<uint64_t>();
        j.message = in.value("message", "");
        for (const auto& s : in.at("sysctls"))
            j.sysctls.push_back({s.at("key").get<std::string>(), s.at("before").get<std::string>(),
                                 s.at("after").get<std::string>()});
        for (const auto& f : in.at("files"))
            j.files.push_back({f.at("path").get<std::string>(), f.at("existed").get<bool>(),
                               f.at("before").get<std::string>(), f.at("mode").get<uint32_t>(),
                               f.at("after").get<std::string>()});
        for (const auto& r : in.at("rlimits"))
            j.rlimits.push_back(
                {r.at("pid").get<pid_t>(), r.at("start_time").get<uint64_t>(),
                 r.at("before_soft").get<uint64_t>(), r.at("before_hard").get<uint64_t>(),
                 r.at("after_soft").get<uint64_t>(), r.at("after_hard").get<uint64_t>()});
        return j;
    } catch (const json::exception& e) {
        return make_error(path + ": not a c10k-doctor journal: " + e.what());
    }
}

namespace {

Status fsync_dir(const fs::path& dir) {
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd || ::fsync(fd.get()) != 0) return sys_error(dir.string() + ": fsync");
    return ok_status();
}

}  // namespace

Status write_file_atomic(const fs::path& path, const std::string& content, uint32_t mode) {
    auto dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
    std::string tmp_name = ".";
    tmp_name += path.filename().string();
    tmp_name += ".tmp." + std::to_string(::getpid());
    auto tmp = dir / tmp_name;
    auto fail = [&](const std::string& what) {
        int err = errno;
        ::unlink(tmp.c_str());
        return sys_error(what, err);
    };
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                       static_cast<mode_t>(mode)));
    if (!fd) return sys_error("cannot create a file in " + dir.string());
    if (::fchmod(fd.get(), static_cast<mode_t>(mode)) != 0) return fail(tmp.string());
    size_t off = 0;
    while (off < content.size()) {
        ssize_t n = ::write(fd.get(), content.data() + off, content.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return fail(tmp.string() + ": write");
        off += static_cast<size_t>(n);
    }
    if (::fsync(fd.get()) != 0) return fail(tmp.string() + ": fsync");
    fd.reset();
    if (::rename(tmp.c_str(), path.c_str()) != 0) return fail("rename to " + path.string());
    return fsync_dir(dir);
}

Status remove_file_durable(const fs::path& path) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return sys_error(path.string());
    return fsync_dir(path.parent_path());
}

Result<StateDir> StateDir::open(const fs::path& dir) {
    struct stat st {};
    if (::lstat(dir.c_str(), &st) != 0) {
        if (errno != ENOENT) return sys_error(dir.string());
        std::error_code ec;
        fs::create_directories(dir.parent_path(), ec);
        if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
            return sys_error("cannot create state directory " + dir.string());
        if (::lstat(dir.c_str(), &st) != 0) return sys_error(dir.string());
    }
    if (S_ISLNK(st.st_mode))
        return make_error("refusing state directory " + dir.string() +
                          ": it is a symbolic link (journals decide what is written to the "
                          "kernel; give the real path)");
    if (!S_ISDIR(st.st_mode))
        return make_error("refusing state directory " + dir.string() + ": not a directory");
    if (st.st_uid != ::geteuid())
        return make_error("refusing state directory " + dir.string() + ": owned by uid " +
                          std::to_string(st.st_uid) + ", not by us (uid " +
                          std::to_string(::geteuid()) + ")");
    if (st.st_mode & 022) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
        return make_error("refusing state directory " + dir.string() + ": mode " + mode +
                          " lets others write journals; chmod go-w it");
    }
    return StateDir(dir);
}

Status StateDir::lock() {
    if (lock_) return ok_status();  // held already: tune applies several times under one lock
    auto path = dir_ / "lock";
    auto fd = std::make_shared<UniqueFd>(
        ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!*fd) return sys_error(path.string());
    if (::flock(fd->get(), LOCK_EX | LOCK_NB) != 0)
        return make_error("another c10k-doctor apply or rollback holds " + path.string());
    lock_ = std::move(fd);
    return ok_status();
}

Status StateDir::write(const Journal& j) const {
    return write_file_atomic(dir_ / (j.id + ".json"), journal_to_json(j), 0600);
}

namespace {

// Each of `later`'s entries updates the one of `into` it is the same thing
// as (`same`): its value after is the later one's, its value before stays the
// first apply's. One `into` has not seen is added as it is.
template <typename T, typename Same, typename Update>
void merge_entries(std::vector<T>& into, const std::vector<T>& later, Same same, Update update) {
    for (const auto& l : later) {
        auto it = std::find_if(into.begin(), into.end(), [&](const T& x) { return same(x, l); });
        if (it == into.end())
            into.push_back(l);
        else
            update(*it, l);
    }
}

}  // namespace

void merge_journal(Journal& into, const Journal& later) {
    merge_entries(
        into.sysctls, later.sysctls,
        [](const JournalSysctl& a, const JournalSysctl& b) { return a.key == b.key; },
        [](JournalSysctl& a, const JournalSysctl& b) { a.after = b.after; });
    merge_entries(
        into.rlimits, later.rlimits,
        [](const JournalRlimit& a, const JournalRlimit& b) {
            return a.pid == b.pid && a.start_time == b.start_time;
        },
        [](JournalRlimit& a, const JournalRlimit& b) {
            a.after_soft = b.after_soft;
            a.after_hard = b.after_hard;
        });
    merge_entries(
        into.files, later.files,
        [](const JournalFile& a, const JournalFile& b) { return a.path == b.path; },
        [](JournalFile& a, const JournalFile& b) { a.after = b.after; });
}

Status StateDir::remove(const std::string& id) const {
    auto path = dir_ / (id + ".json");
    if (::unlink(path.c_str()) != 0) return sys_error(path.string());
    UniqueFd dir(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir) ::fsync(dir.get());  // the removal is durable, like a write
    return ok_status();
}

Result<Journal> StateDir::load(const std::string& id) const {
    bool sane = !id.empty() && id.size() < 64 && std::all_of(id.begin(), id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
    });
    if (!sane) return make_error("'" + id + "' is not a backup id (see `profile backups`)");
    auto path = dir_ / (id + ".json");
    auto text = read_text(path);
    if (!text) return make_error("no backup '" + id + "' in " + dir_.string());
    return journal_from_json(*text, path.string());
}

std::vector<Result<Journal>> StateDir::list() const {
    std::vector<std::string> ids;
    std::error_code ec;
    for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
        auto name = it->path().filename().string();
        if (it->path().extension() == ".json" && name.front() != '.')
            ids.push_back(it->path().stem().string());
    }
    std::sort(ids.begin(), ids.end());  // ids start with a UTC timestamp
    std::vector<Result<Journal>> out;
    for (const auto& id : ids)
        out.push_back(load(id));
    return out;
}

std::string StateDir::new_id() const {
    auto now = std::chrono::system_clock::now();
    auto t = std::chrono::system_clock::to_time_t(now);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[40];
    std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%S", &tm);
    char id[64];
    std::snprintf(id, sizeof id, "%s%03dZ-%d", buf, static_cast<int>(ms.count()), ::getpid());
    return id;
}

}  // namespace c10k
