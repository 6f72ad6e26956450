// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/sources/taskstats.hpp"

#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/taskstats.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string_view>
#include <vector>

namespace c10k {

namespace {

// nvcsw and nivcsw sit in the middle of struct taskstats, which only ever grows
// at its end: a kernel's struct of any version that reaches past them has them here.
constexpr size_t kSwitchesEnd = offsetof(taskstats, nivcsw) + sizeof(uint64_t);

// Calls `each(type, payload)` for the netlink attributes in `buf`; false when
// one is cut off.
template <typename Each>
bool walk_attrs(std::span<const uint8_t> buf, Each each) {
    size_t at = 0;
    while (buf.size() - at >= NLA_HDRLEN) {
        nlattr a{};
        std::memcpy(&a, buf.data() + at, sizeof a);
        if (a.nla_len < NLA_HDRLEN || a.nla_len > buf.size() - at) return false;
        each(static_cast<uint16_t>(a.nla_type & NLA_TYPE_MASK),
             buf.subspan(at + NLA_HDRLEN, a.nla_len - NLA_HDRLEN));
        at += std::min<size_t>(NLA_ALIGN(a.nla_len), buf.size() - at);
    }
    return true;
}

// One request: nlmsghdr, genlmsghdr, then one attribute of `value`.
std::vector<uint8_t> request(uint16_t family, uint8_t cmd, uint32_t seq, uint16_t attr_type,
                             std::span<const uint8_t> value) {
    std::vector<uint8_t> msg(NLMSG_LENGTH(GENL_HDRLEN + NLA_HDRLEN + NLA_ALIGN(value.size())));
    auto* h = reinterpret_cast<nlmsghdr*>(msg.data());
    h->nlmsg_len = static_cast<uint32_t>(msg.size());
    h->nlmsg_type = family;
    h->nlmsg_flags = NLM_F_REQUEST;
    h->nlmsg_seq = seq;
    genlmsghdr g{};
    g.cmd = cmd;
    g.version = 1;
    std::memcpy(msg.data() + NLMSG_HDRLEN, &g, sizeof g);
    nlattr a{};
    a.nla_type = attr_type;
    a.nla_len = static_cast<uint16_t>(NLA_HDRLEN + value.size());
    std::memcpy(msg.data() + NLMSG_HDRLEN + GENL_HDRLEN, &a, sizeof a);
    std::memcpy(msg.data() + NLMSG_HDRLEN + GENL_HDRLEN + NLA_HDRLEN, value.data(), value.size());
    return msg;
}

// Sends `msg` and returns the answer's genetlink payload; an NLMSG_ERROR
// answer becomes that errno.
Result<std::vector<uint8_t>> round_trip(int fd, const std::vector<uint8_t>& msg,
                                        std::string_view what) {
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (::sendto(fd, msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
                 sizeof kernel) < 0)
        return sys_error(std::string(what) + ": send");
    std::vector<uint8_t> buf(8192);
    ssize_t n;
    do {
        n = ::recv(fd, buf.data(), buf.size(), 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return sys_error(std::string(what) + ": recv");
    auto got = static_cast<size_t>(n);
    if (got < NLMSG_HDRLEN) return make_error(std::string(what) + ": short answer");
    nlmsghdr h{};
    std::memcpy(&h, buf.data(), sizeof h);
    if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > got)
        return make_error(std::string(what) + ": malformed answer");
    if (h.nlmsg_type == NLMSG_ERROR) {
        nlmsgerr e{};
        if (h.nlmsg_len < NLMSG_LENGTH(sizeof e))
            return make_error(std::string(what) + ": truncated error");
        std::memcpy(&e, buf.data() + NLMSG_HDRLEN, sizeof e);
        return sys_error(std::string(what), -e.error);
    }
    if (h.nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN))
        return make_error(std::string(what) + ": answer without a genetlink header");
    return std::vector<uint8_t>(buf.begin() + NLMSG_LENGTH(GENL_HDRLEN), buf.begin() + h.nlmsg_len);
}

}  // namespace

Result<GroupSwitches> parse_taskstats_tgid(std::span<const uint8_t> payload) {
    std::span<const uint8_t> stats;
    bool whole = walk_attrs(payload, [&](uint16_t type, std::span<const uint8_t> v) {
        if (type == TASKSTATS_TYPE_AGGR_TGID)
            walk_attrs(v, [&](uint16_t inner, std::span<const uint8_t> s) {
                if (inner == TASKSTATS_TYPE_STATS) stats = s;
            });
    });
    if (!whole) return make_error("taskstats: an attribute runs past the answer");
    if (stats.empty()) return make_error("taskstats: no thread-group statistics in the answer");
    if (stats.size() < kSwitchesEnd)
        return make_error("taskstats: statistics of " + std::to_string(stats.size()) +
                          " bytes end before the context switches");
    GroupSwitches g;
    std::memcpy(&g.voluntary, stats.data() + offsetof(taskstats, nvcsw), sizeof g.voluntary);
    std::memcpy(&g.involuntary, stats.data() + offsetof(taskstats, nivcsw), sizeof g.involuntary);
    return g;
}

Result<TaskstatsReader> TaskstatsReader::open() {
    UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC));
    if (!fd) return sys_error("taskstats: socket");
    // The family's number is the kernel's choice at boot: ask the controller.
    std::string_view name = TASKSTATS_GENL_NAME;
    std::vector<uint8_t> value(name.begin(), name.end());
    value.push_back(0);
    auto answer = round_trip(
        fd.get(), request(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, CTRL_ATTR_FAMILY_NAME, value),
        "taskstats: the kernel's family");
    if (!answer) return answer.error();  // ENOENT: a kernel without CONFIG_TASKSTATS
    uint16_t family = 0;
    walk_attrs(*answer, [&](uint16_t type, std::span<const uint8_t> v) {
        if (type == CTRL_ATTR_FAMILY_ID && v.size() >= sizeof family)
            std::memcpy(&family, v.data(), sizeof family);
    });
    if (family == 0) return make_error("taskstats: the controller named no family id");
    return TaskstatsReader(std::move(fd), family);
}

Result<GroupSwitches> TaskstatsReader::read(pid_t tgid) {
    auto id = static_cast<uint32_t>(tgid);
    std::span<const uint8_t> value(reinterpret_cast<const uint8_t*>(&id), sizeof id);
    // EPERM: without CAP_NET_ADMIN; ESRCH: no such process.
    auto answer = round_trip(
        fd_.get(), request(family_, TASKSTATS_CMD_GET, ++seq_, TASKSTATS_CMD_ATTR_TGID, value),
        "taskstats: process " + std::to_string(tgid));
    if (!answer) return answer.error();
    return parse_taskstats_tgid(*answer);
}

}  // namespace c10k
