// SPDX-License-Identifier: GPL-2.0-or-later
#include <gtest/gtest.h>

#include "c10k/sources/host_stat.hpp"
#include "c10k/sources/proc_net.hpp"
#include "c10k/sources/process.hpp"
#include "c10k/sources/sysctl.hpp"
#include "c10k/text.hpp"
#include "fixture_root.hpp"

using namespace c10k;

// Connections opened both ways, from the Tcp lines alone, wherever they are.
TEST(SnmpPairs, TcpOpensAreActivePlusPassive) {
    EXPECT_EQ(parse_tcp_opens("Ip: Forwarding DefaultTTL\nIp: 1 64\n"
                              "Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens\n"
                              "Tcp: 1 200 120000 -1 40 2\n"
                              "Udp: InDatagrams\nUdp: 5\n"),
              42u);
    EXPECT_FALSE(parse_tcp_opens("Tcp: RtoAlgorithm ActiveOpens\nTcp: 1 40\n"));  // no PassiveOpens
    EXPECT_FALSE(parse_tcp_opens("Tcp: ActiveOpens PassiveOpens\nTcp: 40\n"));    // unpaired
    EXPECT_FALSE(parse_tcp_opens("Ip: Forwarding\nIp: 1\n"));
    EXPECT_FALSE(parse_tcp_opens(""));
}

TEST(SnmpPairs, ParsesHeaderAndValueLines) {
    auto r = parse_snmp_pairs(
        "TcpExt: SyncookiesSent ListenOverflows ListenDrops\n"
        "TcpExt: 3 17 19\n"
        "Tcp: RtoAlgorithm MaxConn ActiveOpens\n"
        "Tcp: 1 -1 12345\n");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->get("TcpExt.ListenOverflows"), 17);
    EXPECT_EQ(r->get("TcpExt.ListenDrops"), 19);
    EXPECT_EQ(r->get("Tcp.MaxConn"), -1);
    EXPECT_EQ(r->get("Tcp.ActiveOpens"), 12345);
    EXPECT_FALSE(r->get("TcpExt.Nope"));
}

TEST(SnmpPairs, RejectsMismatchedLinesWithLineNumber) {
    auto r = parse_snmp_pairs("TcpExt: A B\nTcpExt: 1\n");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("line 1"), std::string::npos) << r.error().message();
    auto bad = parse_snmp_pairs("TcpExt: A B\nTcpExt: 1 x\n");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message().find("line 2"), std::string::npos) << bad.error().message();
}

TEST(Sockstat, ParsesKeyValuePairs) {
    auto r = parse_sockstat(
        "sockets: used 9\nTCP: inuse 1 orphan 0 tw 35 alloc 1 mem 192\nUDP: inuse 0 mem 4\n");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->get("TCP.tw"), 35);
    EXPECT_EQ(r->get("TCP.mem"), 192);
    EXPECT_EQ(r->get("UDP.mem"), 4);
    EXPECT_EQ(r->get("sockets.used"), 9);
    EXPECT_FALSE(parse_sockstat("TCP: inuse\n"));
}

TEST(Softnet, SumsHexColumnsAcrossCpus) {
    auto r = parse_softnet("0000000f 00000002 00000001 0\n000002a7 00000010 00000000 0\n");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->get("softnet.processed"), 0xf + 0x2a7);
    EXPECT_EQ(r->get("softnet.dropped"), 0x12);
    EXPECT_EQ(r->get("softnet.time_squeeze"), 1);
    EXPECT_FALSE(parse_softnet("zz 1 2\n"));
}

// The table's count once (every CPU's row repeats it), its events summed.
TEST(NfConntrackStat, CountOnceAndEventsSummedAcrossCpus) {
    auto r = parse_nf_conntrack_stat(
        "entries  clashres found new invalid ignore delete chainlength insert insert_failed drop "
        "early_drop icmp_error  expect_new expect_create expect_delete search_restart\n"
        "00040000  00000000 00000003 00000000 00000000 00000000 00000000 00000000 00000000 "
        "00000001 0000000a 00000002 00000000  00000000 00000000 00000000 00000000\n"
        "00040000  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 "
        "00000000 00000010 00000000 00000000  00000000 00000000 00000000 00000000\n");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->get("Conntrack.entries"), 0x40000);
    EXPECT_EQ(r->get("Conntrack.drop"), 0x1a);
    EXPECT_EQ(r->get("Conntrack.early_drop"), 2);
    EXPECT_EQ(r->get("Conntrack.insert_failed"), 1);
    EXPECT_FALSE(r->get("Conntrack.found")) << "only the columns a rule reads";
    auto short_row = parse_nf_conntrack_stat("entries drop\n00000001\n");
    ASSERT_FALSE(short_row);
    EXPECT_NE(short_row.error().message().find("line 2"), std::string::npos);
    EXPECT_FALSE(parse_nf_conntrack_stat("entries drop\n0000000g 00000000\n"));
}

TEST(ProcStat, ReadsContextSwitchesCpusAndTicks) {
    auto r = parse_proc_stat(
        "cpu  100 0 50 800 10 5 5 0 0 0\ncpu0 50 0 25 400 5 2 3 0 0 0\ncpu1 50 0 25 400 5 3 2 0 0 "
        "0\n"
        "ctxt 987654\nbtime 1\nprocs_running 3\nprocs_blocked 1\n");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->context_switches, 987654u);
    EXPECT_EQ(r->cpus, 2u);
    EXPECT_EQ(r->busy_ticks, 160u);
    EXPECT_EQ(r->total_ticks, 970u);
    EXPECT_EQ(r->procs_running, 3u);
    EXPECT_FALSE(parse_proc_stat("cpu 1 2 3\n"));  // no ctxt
}

TEST(LoadAvg, ReadsTotalThreads) {
    auto r = parse_loadavg("0.61 0.25 0.08 3/1077 2889\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->threads_total, 1077u);
    EXPECT_DOUBLE_EQ(r->load1, 0.61);
    EXPECT_FALSE(parse_loadavg("0.1 0.2\n"));
}

TEST(Pressure, ReadsSomeLine) {
    auto r = parse_cpu_pressure(
        "some avg10=12.50 avg60=3.00 avg300=0.49 total=1\nfull avg10=0.00 avg60=0.00 avg300=0.00 "
        "total=0\n");
    ASSERT_TRUE(r);
    EXPECT_DOUBLE_EQ(r->some_avg10, 12.5);
    EXPECT_DOUBLE_EQ(r->some_avg60, 3.0);
}

TEST(MemInfo, ReadsTotalAndAvailable) {
    auto r =
        parse_meminfo("MemTotal:       24684000 kB\nMemFree: 1 kB\nMemAvailable:   20000000 kB\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->total_bytes, 24684000ull * 1024);
    EXPECT_EQ(r->available_bytes, 20000000ull * 1024);
}

TEST(Limits, ParsesMaxOpenFilesIncludingUnlimited) {
    auto r = parse_nofile_limit(
        "Limit Soft Hard Units\nMax open files            1024                 4096                "
        " files\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->soft, 1024u);
    EXPECT_EQ(r->hard, 4096u);
    auto u = parse_nofile_limit("Max open files unlimited unlimited files\n");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->hard, kUnlimited);
    EXPECT_FALSE(parse_nofile_limit("Max processes 1 2 processes\n"));
}

TEST(Limits, FindsLastLimitNofileInUnitText) {
    EXPECT_EQ(find_limit_nofile("[Service]\nLimitNOFILE=1024\nLimitNOFILE=65536:524288\n"),
              "65536:524288");
    EXPECT_FALSE(find_limit_nofile("[Service]\nExecStart=/bin/true\n"));
}

TEST(Sysctl, ReadsKeysAndKeepsReasonsForMissingOnes) {
    auto root = test::fixture_root("healthy");
    auto v = read_sysctls(
        root.root(), {"net.core.somaxconn", "net.ipv4.tcp_mem", "net.netfilter.nf_conntrack_max"});
    EXPECT_EQ(v.integer("net.core.somaxconn"), 4096);
    auto mem = v.integers("net.ipv4.tcp_mem");
    ASSERT_TRUE(mem);
    EXPECT_EQ(mem->size(), 3u);
    EXPECT_EQ((*mem)[1], 383867);
    EXPECT_FALSE(v.integer("net.netfilter.nf_conntrack_max"));
    EXPECT_NE(v.error("net.netfilter.nf_conntrack_max").find("No such file"), std::string::npos);
}

TEST(NetCounters, ReadsAllFilesOfAFixture) {
    auto root = test::fixture_root("healthy");
    auto c = read_net_counters(root.root().proc("net"));
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_TRUE(c->get("TcpExt.ListenOverflows"));
    EXPECT_TRUE(c->get("Tcp.ActiveOpens"));
    EXPECT_EQ(c->get("TCP.tw"), 35);
    EXPECT_TRUE(c->get("softnet.dropped"));
}

TEST(Process, ReadsFixtureProcess) {
    auto root = test::fixture_root("healthy");
    root.add_process({.pid = 4242,
                      .comm = "nginx",
                      .soft = 256,
                      .hard = 4096,
                      .fds = 240,
                      .threads = 3,
                      .unit = "nginx.service",
                      .unit_limit = "256:4096"});
    auto p = read_process(root.root(), 4242);
    ASSERT_TRUE(p) << p.error().message();
    EXPECT_EQ(p->comm, "nginx");
    ASSERT_TRUE(p->nofile);
    EXPECT_EQ(p->nofile->soft, 256u);
    ASSERT_TRUE(p->fds) << p->fds.error().message();
    EXPECT_EQ(p->fds->open, 240u);
    EXPECT_EQ(p->fds->socket_inodes.size(), 240u / 2);
    ASSERT_TRUE(p->threads);
    EXPECT_EQ(p->threads->threads, 3u);
    EXPECT_EQ(p->threads->voluntary_switches, 3u * 100);
    EXPECT_NE(p->nofile_origin.find("nginx.service"), std::string::npos) << p->nofile_origin;
    EXPECT_NE(p->nofile_origin.find("256:4096"), std::string::npos) << p->nofile_origin;
    auto missing = read_process(root.root(), 999999);
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().message().find("no process with pid 999999"), std::string::npos);
}

// Process names are whatever the process chose: they reach terminals, JSON and
// Prometheus labels, so nothing in them may forge a line or break an encoder.
TEST(Printable, EscapesControlBytesAndBrokenUtf8AndKeepsTheRest) {
    EXPECT_EQ(printable("nginx: worker"), "nginx: worker");
    EXPECT_EQ(printable("caf\xc3\xa9"), "caf\xc3\xa9");            // UTF-8 kept
    EXPECT_EQ(printable("a\nOK b\x1b[2J"), "a\\x0aOK b\\x1b[2J");  // newline, escape
    EXPECT_EQ(printable("x\x7f"), "x\\x7f");
    // A 15-byte comm cut in the middle of a 3-byte character.
    EXPECT_EQ(printable("worker-\xe2\x82"), "worker-\\xe2\\x82");
    EXPECT_EQ(printable("\xc0\xaf"), "\\xc0\\xaf");           // overlong '/'
    EXPECT_EQ(printable("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a surrogate
    EXPECT_EQ(printable(std::string("a\0b", 3)), "a\\x00b");
}
