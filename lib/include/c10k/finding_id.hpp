// SPDX-License-Identifier: GPL-2.0-or-later
// What a finding is about, typed: one of check's limits (CheckId) or one of
// probe's bottlenecks (Bottleneck, diagnose/bottleneck.hpp), each declared
// once in its table with its stable name. Code compares ids as enums; the
// names are for JSON, Prometheus labels and people.
#pragma once

#include <fmt/format.h>

#include <optional>
#include <ostream>
#include <string_view>
#include <variant>

#include "c10k/diagnose/bottleneck.hpp"

namespace c10k {

// The areas a host check covers, in the order check prints them, and probe's.
enum class Area { fd, backlog, ports, timewait, buffers, sched, conntrack, probe };
std::string_view to_string(Area a);   // "fd", stable
std::string_view area_title(Area a);  // "fd limits", for people

// Every limit `check` judges. Names are stable (JSON, alert rules): add, never rename.
enum class CheckId {
    fd_shell_nofile,
    fd_nr_open,
    fd_file_max,
    fd_process_nofile,
    backlog_somaxconn,
    backlog_syn,
    backlog_listen_overflows,
    backlog_syn_queue,
    backlog_listener,
    backlog_netdev,
    ports_range,
    ports_destination,
    timewait_buckets,
    buffers_tcp_mem,
    buffers_capacity,
    buffers_limits,
    sched_context_switches,
    sched_run_queue,
    sched_threads,
    sched_process,
    conntrack_table,
};
std::string_view to_string(CheckId id);  // "fd.shell-nofile"
Area area_of(CheckId id);
std::optional<CheckId> check_id_from(std::string_view name);

class FindingId {
  public:
    FindingId(CheckId id) : v_(id) {}
    FindingId(Bottleneck id) : v_(id) {}

    std::string_view name() const;
    Area area() const;
    std::optional<Bottleneck> bottleneck() const;

    bool operator==(const FindingId&) const = default;
    bool operator==(CheckId id) const { return v_ == decltype(v_)(id); }
    bool operator==(Bottleneck id) const { return v_ == decltype(v_)(id); }
    // By stable name: what a script, or a test, holds.
    bool operator==(std::string_view name) const { return this->name() == name; }

  private:
    std::variant<CheckId, Bottleneck> v_;
};

inline std::ostream& operator<<(std::ostream& os, const FindingId& id) {
    return os << id.name();
}

}  // namespace c10k

template <>
struct fmt::formatter<c10k::FindingId> : fmt::formatter<std::string_view> {
    auto format(const c10k::FindingId& id, fmt::format_context& ctx) const {
        return fmt::formatter<std::string_view>::format(id.name(), ctx);
    }
};
