// SPDX-License-Identifier: GPL-2.0-or-later
// The sock_diag (inet_diag) message parsers, over what a netlink recv could
// hold: truncated headers, lengths that point past the buffer, attributes of
// any size, NLMSG_ERROR and NLMSG_DONE anywhere.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "c10k/sources/sockets.hpp"
#include "c10k/sources/tcp_conns.hpp"

using namespace c10k;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // A recv buffer is aligned for nlmsghdr; libFuzzer's copy need not be.
    std::vector<uint32_t> aligned((size + 3) / 4);
    if (size) std::memcpy(aligned.data(), data, size);
    std::span<const uint8_t> buf(reinterpret_cast<const uint8_t*>(aligned.data()), size);

    SocketSummaryBuilder summary({1, 2, 3});
    (void)parse_inet_diag_buffer(buf, summary);
    (void)summary.listening_ports();
    (void)std::move(summary).finish(32768, 60999);

    size_t conns = 0;
    (void)parse_tcp_conns(buf, [&](const TcpConn& c) {
        ++conns;
        (void)c.local.port;
    });
    return 0;
}
