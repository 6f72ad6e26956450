// SPDX-License-Identifier: GPL-2.0-or-later
// Parsers for the per-network-namespace counter files under /proc/net.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "c10k/result.hpp"
#include "c10k/sources/sys_root.hpp"

namespace c10k {

// Named counters, keyed "Group.Name": "TcpExt.ListenOverflows", "Tcp.ActiveOpens",
// "TCP.tw" (sockstat), "softnet.dropped".
struct Counters {
    std::unordered_map<std::string, int64_t> values;

    std::optional<int64_t> get(std::string_view key) const;
    void merge(const Counters& other);
};

// /proc/net/netstat and /proc/net/snmp: header line of names, then a line of values.
Result<Counters> parse_snmp_pairs(std::string_view text);
// /proc/net/sockstat: "TCP: inuse 1 orphan 0 tw 0 alloc 1 mem 192".
Result<Counters> parse_sockstat(std::string_view text);
// /proc/net/softnet_stat: hex columns per CPU; summed into softnet.processed/dropped/time_squeeze.
Result<Counters> parse_softnet(std::string_view text);

// /proc/net/stat/nf_conntrack: a header of names, then hex columns per CPU.
// Conntrack.entries is the namespace's table count (the same in every row);
// the event columns are summed: Conntrack.drop (a new connection's packet
// dropped because the table is full and nothing could be evicted),
// Conntrack.early_drop (an unreplied entry evicted to make room),
// Conntrack.insert_failed.
Result<Counters> parse_nf_conntrack_stat(std::string_view text);

// Connections opened in the namespace so far, both ways (Tcp ActiveOpens +
// PassiveOpens of /proc/net/snmp): every new TCP socket that is not a
// listener counts in one of them when the kernel hashes it.
std::optional<uint64_t> parse_tcp_opens(std::string_view snmp);

// Reads netstat + snmp + sockstat (+ softnet and stat/nf_conntrack when
// present) below `net_dir`
// (normally <root>/proc/net, or <root>/proc/PID/net for another namespace).
Result<Counters> read_net_counters(const std::filesystem::path& net_dir);

}  // namespace c10k
