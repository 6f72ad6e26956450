// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/finding_id.hpp"

#include <array>

#include "c10k/enum_names.hpp"

namespace c10k {

namespace {

struct AreaRow {
    Area area;
    std::string_view name;
    std::string_view title;
};

constexpr AreaRow kAreas[] = {
    {Area::fd, "fd", "fd limits"},
    {Area::backlog, "backlog", "accept and SYN backlogs"},
    {Area::ports, "ports", "ephemeral ports"},
    {Area::timewait, "timewait", "TIME_WAIT"},
    {Area::buffers, "buffers", "socket buffers and TCP memory"},
    {Area::sched, "sched", "context switches, run queue, threads"},
    {Area::conntrack, "conntrack", "connection tracking"},
    {Area::probe, "probe", "live bottleneck"},
};

struct CheckRow {
    CheckId id;
    std::string_view name;
    Area area;
};

using C = CheckId;
constexpr CheckRow kChecks[] = {
    {C::fd_shell_nofile, "fd.shell-nofile", Area::fd},
    {C::fd_nr_open, "fd.nr-open", Area::fd},
    {C::fd_file_max, "fd.file-max", Area::fd},
    {C::fd_process_nofile, "fd.process-nofile", Area::fd},
    {C::backlog_somaxconn, "backlog.somaxconn", Area::backlog},
    {C::backlog_syn, "backlog.syn", Area::backlog},
    {C::backlog_listen_overflows, "backlog.listen-overflows", Area::backlog},
    {C::backlog_syn_queue, "backlog.syn-queue", Area::backlog},
    {C::backlog_listener, "backlog.listener", Area::backlog},
    {C::backlog_netdev, "backlog.netdev", Area::backlog},
    {C::ports_range, "ports.range", Area::ports},
    {C::ports_destination, "ports.destination", Area::ports},
    {C::timewait_buckets, "timewait.buckets", Area::timewait},
    {C::buffers_tcp_mem, "buffers.tcp-mem", Area::buffers},
    {C::buffers_capacity, "buffers.capacity", Area::buffers},
    {C::buffers_limits, "buffers.limits", Area::buffers},
    {C::sched_context_switches, "sched.context-switches", Area::sched},
    {C::sched_run_queue, "sched.run-queue", Area::sched},
    {C::sched_threads, "sched.threads", Area::sched},
    {C::sched_process, "sched.process", Area::sched},
    {C::conntrack_table, "conntrack.table", Area::conntrack},
};

static_assert(rows_in_enum_order(kChecks, &CheckRow::id, C::conntrack_table),
              "kChecks must list every CheckId once, in enum order");

static_assert(rows_in_enum_order(kAreas, &AreaRow::area, Area::probe),
              "kAreas must list every Area once, in enum order");

}  // namespace

std::string_view to_string(Area a) {
    return kAreas[static_cast<size_t>(a)].name;
}

std::string_view area_title(Area a) {
    return kAreas[static_cast<size_t>(a)].title;
}

std::string_view to_string(CheckId id) {
    return kChecks[static_cast<size_t>(id)].name;
}

Area area_of(CheckId id) {
    return kChecks[static_cast<size_t>(id)].area;
}

std::optional<CheckId> check_id_from(std::string_view name) {
    for (const auto& r : kChecks)
        if (r.name == name) return r.id;
    return std::nullopt;
}

std::string_view FindingId::name() const {
    return std::visit([](auto id) { return to_string(id); }, v_);
}

Area FindingId::area() const {
    if (auto* c = std::get_if<CheckId>(&v_)) return area_of(*c);
    return Area::probe;
}

std::optional<Bottleneck> FindingId::bottleneck() const {
    if (auto* b = std::get_if<Bottleneck>(&v_)) return *b;
    return std::nullopt;
}

}  // namespace c10k
