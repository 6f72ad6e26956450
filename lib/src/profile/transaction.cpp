// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/profile/transaction.hpp"

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "c10k/sources/netns.hpp"
#include "c10k/sources/sysctl.hpp"
#include "c10k/text.hpp"

namespace c10k {

namespace fs = std::filesystem;

std::optional<uint64_t> process_start_time(const SysRoot& root, pid_t pid) {
    auto text = read_text(root.proc(std::to_string(pid) + "/stat"));
    if (!text) return std::nullopt;
    auto fields = stat_fields(*text);
    if (fields.size() < 20) return std::nullopt;  // start time is field 22
    return parse_uint(fields[19]);
}

size_t ApplyPlan::writes() const {
    return static_cast<size_t>(std::count_if(
        rows.begin(), rows.end(), [](const PlanRow& r) { return is_write(r.decision.action); }));
}

bool ApplyPlan::changes() const {
    if (writes() > 0 || (nofile && is_write(nofile->action))) return true;
    return std::any_of(files.begin(), files.end(),
                       [](const JournalFile& f) { return !f.existed || f.before != f.after; });
}

std::vector<std::string> ApplyPlan::drift() const {
    std::vector<std::string> out;
    for (const auto& r : rows)
        if (is_write(r.decision.action))
            out.push_back(r.entry.key + ": " + (r.current ? *r.current : "?") + ", profile " +
                          r.entry.value + " (" + action_name(r.decision.action) + " to " +
                          r.decision.target + ")");
    if (nofile && is_write(nofile->action))
        out.push_back("RLIMIT_NOFILE of PID " + std::to_string(nofile->pid) + ": " +
                      std::to_string(nofile->current.soft) + ", profile " +
                      std::to_string(nofile->wanted));
    return out;
}

Result<NamespaceTarget> enter_target_namespace(const ApplyOptions& o) {
    NamespaceTarget t;
    if (!o.root.is_live()) return t;
    auto own = netns_inode_of("/proc/self/ns/net");
    t.inode = own.value_or(0);
    std::string spec;
    if (o.pid) {
        if (::kill(*o.pid, 0) != 0 && errno == ESRCH)
            return make_error("no process with PID " + std::to_string(*o.pid));
        spec = "/proc/" + std::to_string(*o.pid) + "/ns/net";
    } else if (!o.netns.empty()) {
        spec = netns_path(o.netns);
    } else {
        return t;
    }
    auto fd = open_netns(spec);
    if (!fd) return fd.error();
    t.path = spec;
    struct stat st {};
    if (::fstat(fd->get(), &st) == 0) t.inode = st.st_ino;
    t.is_other = !own || t.inode != *own;
    if (t.is_other) {
        auto st2 = enter_netns(fd->get(), spec);
        if (!st2) return st2.error();
    }
    return t;
}

namespace {

std::string drop_in_unit(std::string unit) {
    if (unit.find('.') == std::string::npos) unit += ".service";
    return unit;
}

bool valid_unit(std::string_view unit) {
    if (unit.empty() || unit.size() > 255) return false;
    return std::all_of(unit.begin(), unit.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || std::strchr(":_.@-\\", c);
    });
}

std::string persist_content(const ApplyPlan& plan) {
    std::string out = "# Written by c10k-doctor from profile '" + plan.profile.name +
                      "'.\n# `c10k-doctor profile rollback` restores what was here before.\n"
                      "# Capacity keys hold the larger of the host's value and the profile's.\n";
    for (const auto& r : plan.rows) {
        if (r.decision.action == Action::missing || r.decision.action == Action::read_only ||
            r.decision.action == Action::host_wide)
            continue;
        out += r.entry.key + " = " + r.decision.target + "\n";
    }
    return out;
}

// The last boot setting applied after 90-c10k-doctor.conf (a sysctl.d file
// sorting after it, or /etc/sysctl.conf): the value a reboot really ends with.
std::optional<BootSetting> applied_after_ours(const std::vector<BootSetting>& boot) {
    std::string ours = fs::path(kPersistFile).filename().string();
    std::optional<BootSetting> last;
    for (const auto& b : boot) {
        auto name = fs::path(b.file).filename().string();
        if (b.file == "/" + std::string(kPersistFile)) continue;
        if (b.file == "/etc/sysctl.conf" || name > ours) last = b;
    }
    return last;
}

std::string fmt_boot_override(const std::string& key, const BootSetting& b) {
    return "--persist: at boot " + b.file + ":" + std::to_string(b.line) + " sets " + key + " = " +
           b.value + " after 90-c10k-doctor.conf, so a reboot ends with that value; " +
           "edit or remove that line";
}

JournalFile file_change(const fs::path& path, std::string after, uint32_t mode) {
    JournalFile f;
    f.path = path.string();
    f.after = std::move(after);
    f.mode = mode;
    auto before = read_text(path);
    f.existed = before.ok();
    if (before) {
        f.before = *before;
        struct stat st {};
        if (::stat(path.c_str(), &st) == 0) f.mode = st.st_mode & 07777;
    }
    return f;
}

}  // namespace

Result<ApplyPlan> make_plan(const Profile& profile, const NamespaceTarget& ns,
                            const ApplyOptions& o) {
    ApplyPlan plan;
    plan.profile = profile;
    plan.ns = ns;
    auto boot = read_boot_settings(o.root);
    bool targeted = o.pid.has_value() || !o.netns.empty();
    for (const auto& e : profile.entries) {
        PlanRow r;
        r.entry = e;
        if (auto it = boot.find(e.key); it != boot.end()) r.boot = it->second;
        if (targeted && !is_namespaced_key(e.key)) {
            r.decision = {Action::host_wide, ""};
            if (auto v = read_sysctl(o.root, e.key)) r.current = normalize_value(*v);
            r.note = "host-wide key: applying it for one namespace would change every process";
            plan.rows.push_back(std::move(r));
            continue;
        }
        auto access = sysctl_access(o.root, e.key);
        if (targeted && access == SysctlAccess::missing && o.root.is_live()) {
            // Missing in the target's namespace but present in the host's: a
            // host-wide key (netdev_max_backlog, tcp_mem, ...), not a missing one.
            auto host = read_host_sysctls({e.key});
            if (auto it = host.values.find(e.key); it != host.values.end()) {
                r.decision = {Action::host_wide, ""};
                r.current = normalize_value(it->second);
                r.note = "host-wide key: applying it for one namespace would change every process";
                plan.rows.push_back(std::move(r));
                continue;
            }
        }
        if (access == SysctlAccess::missing) {
            r.decision = {Action::missing, ""};
            r.note = is_namespaced_key(e.key)
                         ? "not on this kernel, or not in this network namespace (host-wide "
                           "net keys show only in the host's)"
                         : "this kernel has no such key";
        } else {
            auto cur = read_sysctl(o.root, e.key);
            if (!cur) {
                r.decision = {Action::missing, ""};
                r.note = cur.error().message();
            } else {
                r.current = normalize_value(*cur);
                r.decision = decide_key(e.key, *r.current, e.value, o.exact);
                if (access == SysctlAccess::read_only && is_write(r.decision.action)) {
                    r.decision.action = Action::read_only;
                    r.note = "read-only in this network namespace";
                }
            }
        }
        if (o.strict && !e.optional &&
            (r.decision.action == Action::missing || r.decision.action == Action::read_only))
            return make_error(e.origin.str() + ": " + e.key + ": " + r.note + " (--strict)");
        plan.rows.push_back(std::move(r));
    }

    if (profile.nofile && o.pid) {
        auto proc = read_process(o.root, *o.pid, false);
        if (!proc) return proc.error();
        if (!proc->nofile)
            return make_error("PID " + std::to_string(*o.pid) + ": " +
                              proc->nofile.error().message());
        NofilePlan n;
        n.pid = *o.pid;
        n.comm = proc->comm;
        n.start_time = process_start_time(o.root, *o.pid).value_or(0);
        n.current = *proc->nofile;
        n.wanted = *profile.nofile;
        n.action = n.current.soft >= n.wanted ? Action::keep : Action::raise;
        plan.nofile = n;
    } else if (profile.nofile && o.unit.empty()) {
        plan.notes.push_back("the profile asks for " + std::to_string(*profile.nofile) +
                             " open files per process (" + profile.nofile_origin +
                             "): give --pid PID to raise a running server, or --persist --unit "
                             "UNIT for its systemd service");
    }

    if (o.persist) {
        if (targeted && ns.is_other) {
            plan.notes.push_back(
                "--persist: sysctl.d files configure the host's namespace at boot, not this "
                "one; set a container's sysctls in its runtime configuration");
        } else {
            plan.files.push_back(
                file_change(o.root.path(kPersistFile), persist_content(plan), 0644));
            for (const auto& r : plan.rows) {
                if (r.decision.action == Action::missing ||
                    r.decision.action == Action::read_only ||
                    r.decision.action == Action::host_wide)
                    continue;
                if (auto later = applied_after_ours(r.boot);
                    later && normalize_value(later->value) != r.decision.target)
                    plan.notes.push_back(fmt_boot_override(r.entry.key, *later));
            }
        }
        if (!o.unit.empty()) {
            if (!valid_unit(o.unit))
                return make_error("--unit '" + o.unit + "' is not a unit name");
            if (!profile.nofile)
                return make_error("--unit: profile '" + profile.name +
                                  "' states no nofile limit to persist");
            auto unit = drop_in_unit(o.unit);
            auto path = o.root.path("etc/systemd/system/" + unit + ".d/90-c10k-doctor.conf");
            plan.files.push_back(file_change(
                path,
                "# Written by c10k-doctor from profile '" + profile.name + "'.\n[Service]\n" +
                    "LimitNOFILE=" + std::to_string(*profile.nofile) + "\n",
                0644));
            plan.notes.push_back("takes effect for " + unit +
                                 " after `systemctl daemon-reload && systemctl restart " + unit +
                                 "`");
        }
    } else if (!o.unit.empty()) {
        return make_error("--unit writes a systemd drop-in and needs --persist");
    }
    return plan;
}

namespace {

Status write_verified(const SysRoot& root, const std::string& key, const std::string& value) {
    auto st = write_sysctl(root, key, value);
    if (!st) return st;
    auto back = read_sysctl(root, key);
    if (!back)
        return make_error(key + ": written, but reading it back failed: " + back.error().message());
    if (normalize_value(*back) != normalize_value(value))
        return make_error(key + ": wrote '" + value + "' but the kernel reads back '" +
                          normalize_value(*back) + "'");
    return ok_status();
}

Status set_nofile(pid_t pid, uint64_t soft, uint64_t hard) {
    struct rlimit64 want {
        soft, hard
    };
    if (::prlimit64(pid, RLIMIT_NOFILE, &want, nullptr) != 0) {
        return sys_error("prlimit(" + std::to_string(pid) + ", RLIMIT_NOFILE, " +
                         std::to_string(soft) + ":" + std::to_string(hard) + ")");
    }
    return ok_status();
}

Status restore_file(const JournalFile& f) {
    if (f.existed) return write_file_atomic(f.path, f.before, f.mode);
    auto st = remove_file_durable(f.path);
    // A drop-in directory we created is removed again when it is left empty.
    auto dir = fs::path(f.path).parent_path();
    if (dir.filename().string().ends_with(".d")) ::rmdir(dir.c_str());
    return st;
}

// How far an apply got, in its order: sysctls, then rlimits, then files.
struct Progress {
    size_t sysctls = 0, rlimits = 0, files = 0;
};

struct Restored {
    std::vector<std::string> restored;  // put back as it was
    std::vector<std::string> problems;  // not put back: a retry is still owed
    std::vector<std::string> notes;     // put back, with something worth saying
};

// The one rule for a journal's state once its changes were walked back, by the
// undo of a failed apply (`settled` = failed) or by rollback (rolled_back):
// settled only when every change is back; anything left (a write refused, a
// namespace out of reach) keeps it pending, so `rollback` retries it.
JournalState state_after_restore(JournalState settled, const Restored& r) {
    return r.problems.empty() ? settled : JournalState::pending;
}

// The one way back, for the undo of a failed apply and for `rollback`: the
// changes made so far, last first (files, rlimits, sysctls: the apply's order
// reversed). `net_reachable` false skips net.* keys of a namespace we cannot
// enter; a value changed since the apply is restored anyway, and said.
Restored restore_changes(const Journal& j, const SysRoot& root, Progress done, bool net_reachable) {
    Restored out;
    for (size_t i = done.files; i-- > 0;) {
        const auto& f = j.files[i];
        if (auto s = restore_file(f); !s)
            out.problems.push_back(s.error().message());
        else
            out.restored.push_back(f.existed ? f.path + " restored" : f.path + " removed");
    }
    for (size_t i = done.rlimits; i-- > 0;) {
        const auto& r = j.rlimits[i];
        auto start = process_start_time(SysRoot{}, r.pid);
        if (!start || *start != r.start_time) {
            out.restored.push_back("PID " + std::to_string(r.pid) +
                                   " has exited; its raised nofile limit went with it");
            continue;
        }
        if (auto s = set_nofile(r.pid, r.before_soft, r.before_hard); !s)
            out.problems.push_back(s.error().message());
        else
            out.restored.push_back("PID " + std::to_string(r.pid) +
                                   " nofile = " + std::to_string(r.before_soft) + ":" +
                                   std::to_string(r.before_hard));
    }
    for (size_t i = done.sysctls; i-- > 0;) {
        const auto& s = j.sysctls[i];
        if (!net_reachable && is_namespaced_key(s.key)) continue;
        auto cur = read_sysctl(root, s.key);
        if (cur && normalize_value(*cur) != normalize_value(s.after) &&
            normalize_value(*cur) != normalize_value(s.before))
            out.notes.push_back(s.key + " was changed since the apply (now '" +
                                normalize_value(*cur) + "'); restored anyway");
        if (auto w = write_verified(root, s.key, s.before); !w)
            out.problems.push_back(w.error().message());
        else
            out.restored.push_back(s.key + " = " + s.before);
    }
    return out;
}

}  // namespace

Result<ApplyOutcome> apply_plan(const ApplyPlan& plan, const ApplyOptions& o, StateDir& state) {
    auto locked = state.lock();
    if (!locked) return locked.error();

    Journal j;
    j.id = state.new_id();
    j.created_unix = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    j.profile = plan.profile.name;
    j.root = o.root.root.string();
    j.netns_path = plan.ns.path;
    j.netns_inode = plan.ns.inode;
    for (const auto& r : plan.rows)
        if (is_write(r.decision.action))
            j.sysctls.push_back({r.entry.key, *r.current, r.decision.target});
    if (plan.nofile && plan.nofile->action == Action::raise) {
        const auto& n = *plan.nofile;
        j.rlimits.push_back({n.pid, n.start_time, n.current.soft, n.current.hard, n.wanted,
                             std::max(n.current.hard, n.wanted)});
    }
    j.files = plan.files;
    if (j.sysctls.empty() && j.rlimits.empty() && j.files.empty())
        return ApplyOutcome{"", 0, {"nothing to change: the host already meets the profile"}};

    // Durable before the first write: a crash from here on is recoverable.
    auto st = state.write(j);
    if (!st) return make_error("cannot write the backup journal: " + st.error().message());

    ApplyOutcome out;
    out.journal_id = j.id;
    Progress done;
    auto undo = [&](const std::string& why) -> Error {
        auto back = restore_changes(j, o.root, done, true);
        j.state = state_after_restore(JournalState::failed, back);
        j.message = why;
        std::string msg = why;
        if (back.problems.empty()) {
            msg += "; restored the " + std::to_string(done.sysctls) +
                   " key(s) already written, nothing else changed";
            for (const auto& n : back.notes)
                msg += "; " + n;
        } else {
            msg += "; COULD NOT RESTORE: ";
            for (const auto& u : back.problems)
                msg += u + "; ";
            msg += "`c10k-doctor profile rollback " + j.id + "` retries";
        }
        (void)state.write(j);
        return make_error(msg);
    };

    for (const auto& s : j.sysctls) {
        if (auto w = write_verified(o.root, s.key, s.after); !w) return undo(w.error().message());
        ++done.sysctls;
        if (o.after_write) o.after_write(done.sysctls, j.id);
    }
    for (auto& r : j.rlimits) {
        auto s = set_nofile(r.pid, r.after_soft, r.after_hard);
        if (!s && r.after_hard > r.before_hard) {
            // Raising a hard limit needs CAP_SYS_RESOURCE; the soft limit can
            // still go up to the hard one.
            uint64_t soft = std::max(r.before_soft, std::min(r.after_soft, r.before_hard));
            if (soft > r.before_soft && set_nofile(r.pid, soft, r.before_hard)) {
                out.notes.push_back("PID " + std::to_string(r.pid) + ": soft nofile raised to " +
                                    std::to_string(soft) + ", its hard limit; the profile asks " +
                                    std::to_string(r.after_soft) +
                                    " (raising a hard limit needs CAP_SYS_RESOURCE)");
                r.after_soft = soft;
                r.after_hard = r.before_hard;
                s = ok_status();
            }
        }
        if (!s) return undo(s.error().message());
        ++done.rlimits;
    }
    for (const auto& f : j.files) {
        auto parent = fs::path(f.path).parent_path();
        std::error_code ec;
        fs::create_directories(parent, ec);
        if (ec) return undo(parent.string() + ": " + ec.message());
        if (auto w = write_file_atomic(f.path, f.after, f.mode); !w)
            return undo(w.error().message());
        ++done.files;
    }
    j.state = JournalState::applied;
    if (auto w = state.write(j); !w)
        out.notes.push_back("applied, but the journal could not be marked so: " +
                            w.error().message());
    out.written = done.sysctls;
    return out;
}

Result<RollbackOutcome> rollback(StateDir& state, const std::optional<std::string>& id) {
    auto locked = state.lock();
    if (!locked) return locked.error();
    Journal j;
    if (id) {
        auto loaded = state.load(*id);
        if (!loaded) return loaded.error();
        j = *loaded;
        if (j.state == JournalState::rolled_back || j.state == JournalState::failed)
            return make_error("backup " + j.id + " has nothing left to restore (" +
                              journal_state_name(j.state) + ")");
    } else {
        auto all = state.list();
        bool found = false;
        for (auto it = all.rbegin(); it != all.rend() && !found; ++it) {
            if (!*it) continue;
            if ((*it)->state == JournalState::applied || (*it)->state == JournalState::pending) {
                j = **it;
                found = true;
            }
        }
        if (!found)
            return make_error("nothing to roll back in " + state.path().string() +
                              " (`profile backups` lists what is there)");
    }

    RollbackOutcome out;
    Restored back;
    SysRoot root{j.root};
    bool has_net = std::any_of(j.sysctls.begin(), j.sysctls.end(),
                               [](const JournalSysctl& s) { return is_namespaced_key(s.key); });
    bool net_reachable = true;
    if (root.is_live() && has_net) {
        auto own = netns_inode_of("/proc/self/ns/net").value_or(0);
        if (own != j.netns_inode) {
            // Entered only when the recorded path still names the same namespace (inode).
            auto fd = j.netns_path.empty() ? Result<UniqueFd>(make_error("no path recorded"))
                                           : open_netns(j.netns_path);
            struct stat st {};
            net_reachable = fd && ::fstat(fd->get(), &st) == 0 && st.st_ino == j.netns_inode &&
                            enter_netns(fd->get(), j.netns_path).ok();
            if (!net_reachable) {
                back.problems.push_back(
                    "the network namespace the profile was applied in (inode " +
                    std::to_string(j.netns_inode) +
                    (j.netns_path.empty() ? "" : ", " + j.netns_path) +
                    ") is not reachable from here; its net.* keys were not restored");
            }
        }
    }

    auto walked = restore_changes(j, root, {j.sysctls.size(), j.rlimits.size(), j.files.size()},
                                  net_reachable);
    for (auto list : {&Restored::restored, &Restored::problems, &Restored::notes})
        (back.*list).insert((back.*list).end(), (walked.*list).begin(), (walked.*list).end());
    j.state = state_after_restore(JournalState::rolled_back, back);
    if (!back.problems.empty()) {
        j.message.clear();
        for (const auto& p : back.problems)
            j.message += p + "; ";
        j.message += "`c10k-doctor profile rollback " + j.id + "` retries";
    }
    if (auto w = state.write(j); !w) back.problems.push_back(w.error().message());
    out.journal = j;
    out.restored = std::move(back.restored);
    out.problems = std::move(back.problems);
    out.notes = std::move(back.notes);
    return out;
}

}  // namespace c10k
