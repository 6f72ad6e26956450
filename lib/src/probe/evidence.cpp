// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/probe/evidence.hpp"

#include <sys/syscall.h>

#include <algorithm>
#include <numeric>

#include "c10k/enum_names.hpp"

namespace c10k {

uint64_t Log2Hist::count() const {
    return std::accumulate(slots.begin(), slots.end(), uint64_t{0});
}

uint64_t Log2Hist::percentile_ns(double p) const {
    uint64_t total = count();
    if (total == 0) return 0;
    auto want = static_cast<uint64_t>(p * static_cast<double>(total) + 0.5);
    if (want == 0) want = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < slots.size(); ++i) {
        seen += slots[i];
        if (seen >= want) return uint64_t{1} << (i + 1);
    }
    return uint64_t{1} << slots.size();
}

void Log2Hist::add(const Log2Hist& o) {
    for (size_t i = 0; i < slots.size(); ++i)
        slots[i] += o.slots[i];
}

void Log2Hist::record(uint64_t ns) {
    size_t slot = ns == 0 ? 0 : static_cast<size_t>(63 - __builtin_clzll(ns));
    ++slots[std::min(slot, slots.size() - 1)];
}

namespace {
constexpr std::array<const char*, 4> kGroupNames = {"sched", "tcp", "tcp_probe", "syscalls"};
static_assert(names_every(kGroupNames, ProbeGroup::syscalls));
constexpr std::array<const char*, 2> kHowNames = {"raw_tp", "tracepoint"};
static_assert(names_every(kHowNames, AttachHow::tracepoint));
constexpr std::array<const char*, 3> kStatusNames = {"attached", "partial", "failed"};
static_assert(names_every(kStatusNames, AttachStatus::failed));
}  // namespace

const char* probe_group_name(ProbeGroup g) {
    return enum_name(kGroupNames, g);
}

const char* attach_how_name(AttachHow h) {
    return enum_name(kHowNames, h);
}

const char* attach_status_name(AttachStatus s) {
    return enum_name(kStatusNames, s);
}

std::string describe(const GroupAttach& a) {
    std::string name = probe_group_name(a.group);
    if (a.status == AttachStatus::failed) return name + " (" + a.error + ")";
    std::string out = name + ": " + attach_how_name(a.how);
    for (const auto& f : a.fallbacks)
        out += " after " + f;
    if (a.duty_cycled) out += ", duty-cycled";
    if (a.status == AttachStatus::partial) out += " (not attached: " + a.error + ")";
    return out;
}

void merge_attach(GroupAttach& into, const GroupAttach& again) {
    if (into.error.empty()) into.error = again.error;
    for (const auto& f : again.fallbacks)
        if (std::find(into.fallbacks.begin(), into.fallbacks.end(), f) == into.fallbacks.end())
            into.fallbacks.push_back(f);
    if (into.status != again.status) into.status = AttachStatus::partial;
    into.how = again.how;
}

const SyscallStat* BpfEvidence::syscall(std::string_view name) const {
    for (const auto& s : syscalls)
        if (s.name == name) return &s;
    return nullptr;
}

uint64_t BpfEvidence::errno_count(int err) const {
    uint64_t n = 0;
    for (const auto& s : syscalls)
        if (auto it = s.errnos.find(err); it != s.errnos.end()) n += it->second;
    return n;
}

uint64_t BpfEvidence::total_syscall_ns() const {
    uint64_t n = 0;
    for (const auto& s : syscalls)
        n += s.total_ns;
    return n;
}

uint64_t BpfEvidence::total_syscall_errors() const {
    uint64_t n = 0;
    for (const auto& s : syscalls)
        n += s.errors;
    return n;
}

namespace {
template <typename Field>
uint64_t sum_over(const BpfEvidence& b, BpfEvidence::Names names, Field field) {
    uint64_t n = 0;
    for (auto name : names)
        if (auto* s = b.syscall(name)) n += s->*field;
    return n;
}
}  // namespace

uint64_t BpfEvidence::calls_of(Names names) const {
    return sum_over(*this, names, &SyscallStat::count);
}

uint64_t BpfEvidence::ns_of(Names names) const {
    return sum_over(*this, names, &SyscallStat::total_ns);
}

uint64_t BpfEvidence::bytes_of(Names names) const {
    return sum_over(*this, names, &SyscallStat::bytes);
}

uint64_t BpfEvidence::errors_of(Names names) const {
    return sum_over(*this, names, &SyscallStat::errors);
}

uint64_t BpfEvidence::total_syscalls() const {
    uint64_t n = 0;
    for (const auto& s : syscalls)
        n += s.count;
    return n;
}

double syn_queue_drops(const SampledEvidence& s) {
    auto rate = [&](const char* key) {
        auto it = s.counter_rates.find(key);
        return it == s.counter_rates.end() ? 0.0 : it->second;
    };
    return std::max(0.0, rate("TcpExt.ListenDrops") - rate("TcpExt.ListenOverflows"));
}

}  // namespace c10k
