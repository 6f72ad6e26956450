// SPDX-License-Identifier: GPL-2.0-or-later
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "c10k/checks/check_input.hpp"
#include "c10k/checks/check_keys.hpp"
#include "c10k/report/report.hpp"

using namespace c10k;

namespace {
CheckReport sample_report() {
    CheckReport r;
    r.hostname = "h";
    r.kernel = "6.18.0";
    r.netns = "host";
    r.interval_s = 1;
    Finding a = make_finding(CheckId::fd_process_nofile, Severity::crit, "240 of 256 fds open");
    a.subject = "pid 7 (say \"hi\")";
    add_evidence(a, check_keys::fds_open, 240, "fds open");
    add_evidence(a, check_keys::nofile_hard, std::numeric_limits<double>::infinity(), "hard");
    a.why = "because";
    a.fix = {"prlimit --pid 7 --nofile=1024:1024"};
    Finding b = make_finding(CheckId::backlog_somaxconn, Severity::ok, "somaxconn 4096");
    add_evidence(b, check_keys::somaxconn, 4096, "net.core.somaxconn");
    r.findings = {a, b};
    return r;
}
}  // namespace

TEST(Render, JsonCarriesSchemaStatusAndNullForUnlimited) {
    auto doc = nlohmann::json::parse(render_json(sample_report()));
    EXPECT_EQ(doc["schema"], "c10k-doctor/check");
    EXPECT_EQ(doc["schema_version"], 1);
    EXPECT_EQ(doc["status"], "CRIT");
    EXPECT_EQ(doc["summary"]["crit"], 1);
    EXPECT_EQ(doc["summary"]["ok"], 1);
    EXPECT_EQ(doc["findings"][0]["evidence"][0]["value"], 240);
    EXPECT_TRUE(doc["findings"][0]["evidence"][1]["value"].is_null());
    EXPECT_EQ(doc["findings"][0]["subject"], "pid 7 (say \"hi\")");
}

TEST(Render, TextGroupsByAreaAndQuietHidesOk) {
    auto r = sample_report();
    auto text = render_text(r, {});
    EXPECT_NE(text.find("fd limits"), std::string::npos);
    EXPECT_NE(text.find("accept and SYN backlogs"), std::string::npos);
    EXPECT_NE(text.find("fix: prlimit --pid 7"), std::string::npos);
    EXPECT_NE(text.find("hard unlimited"), std::string::npos);
    EXPECT_EQ(text.find("\033["), std::string::npos);  // no colour unless asked
    auto quiet = render_text(r, {.colour = false, .quiet = true});
    EXPECT_EQ(quiet.find("somaxconn 4096"), std::string::npos);
    EXPECT_NE(quiet.find("240 of 256"), std::string::npos);
    EXPECT_NE(render_text(r, {.colour = true}).find("\033[1;31m"), std::string::npos);
}

TEST(Render, PrometheusEscapesLabelsAndUsesInf) {
    auto text = render_prometheus(sample_report());
    EXPECT_NE(text.find("c10k_doctor_status{netns=\"host\"} 2"), std::string::npos);
    // A process is labelled by its comm (escaped), never by its PID.
    EXPECT_NE(text.find("comm=\"say \\\"hi\\\"\""), std::string::npos) << text;
    EXPECT_EQ(text.find("pid 7"), std::string::npos) << text;
    EXPECT_NE(text.find("c10k_doctor_process_nofile_hard{"), std::string::npos);
    EXPECT_NE(text.find("} +Inf"), std::string::npos);
    EXPECT_NE(text.find("# TYPE c10k_doctor_somaxconn gauge"), std::string::npos);
}

// By Prometheus's naming rules: counters typed counter, rates left to the
// server, percentages as 0..1 ratios, one meaning (and HELP) per name.
TEST(Render, PrometheusCountersRatiosAndNoRates) {
    CheckReport r;
    r.netns = "host";
    Finding a = make_finding(CheckId::backlog_listen_overflows, Severity::warn, "drops");
    a.subject = "host";
    add_evidence_at(a, check_keys::counter_total, "listen_overflows", 42,
                    "ListenOverflows since boot");
    add_evidence_at(a, check_keys::counter_per_second, "listen_overflows", 3.5,
                    "ListenOverflows rate");
    Finding b = make_finding(CheckId::sched_run_queue, Severity::ok, "fine");
    add_evidence(b, check_keys::cpu_pressure_some_avg10_percent, 16.5, "PSI some avg10");
    add_evidence(b, check_keys::threads, 300, "threads on the host");
    Finding c = make_finding(CheckId::sched_process, Severity::ok, "fine");
    c.subject = "pid 9 (nginx)";
    add_evidence(c, check_keys::threads, 4, "threads");
    r.findings = {a, b, c};
    auto text = render_prometheus(r);
    EXPECT_NE(text.find("# TYPE c10k_doctor_listen_overflows_total counter\n"), std::string::npos)
        << text;
    EXPECT_EQ(text.find("per_second"), std::string::npos) << text;
    EXPECT_NE(text.find("c10k_doctor_cpu_pressure_some_avg10_ratio{"), std::string::npos) << text;
    EXPECT_NE(text.find("} 0.165\n"), std::string::npos) << text;
    EXPECT_EQ(text.find("_percent"), std::string::npos) << text;
    EXPECT_NE(text.find("c10k_doctor_threads{id=\"sched.run-queue\""), std::string::npos);
    EXPECT_NE(text.find("c10k_doctor_process_threads{id=\"sched.process\",area=\"sched\","
                        "comm=\"nginx\"} 4"),
              std::string::npos)
        << text;
}

// The monitoring-plugin format: a status line whose word follows the exit code,
// perfdata in 'label'=value[UOM];warn;crit;min;max, then one line per problem.
TEST(Render, NagiosStatusLinePerfdataAndLongOutput) {
    auto r = sample_report();
    r.findings[0].title = "240 of 256 fds | open";  // '|' would start perfdata
    Finding c = make_finding(CheckId::backlog_listen_overflows, Severity::warn, "drops");
    c.subject = "it's=odd";
    add_evidence_at(c, check_keys::counter_total, "listen_overflows", 12, "since boot");
    add_evidence_at(c, check_keys::counter_per_second, "listen_overflows", 0.5, "rate");
    r.findings.push_back(c);
    auto text = render_nagios(r, Severity::crit);
    auto nl = text.find('\n');
    ASSERT_NE(nl, std::string::npos);
    std::string first = text.substr(0, nl);
    EXPECT_EQ(first.rfind("C10K CRITICAL - 240 of 256 fds / open [fd.process-nofile] | ", 0), 0u)
        << first;
    EXPECT_EQ(std::count(first.begin(), first.end(), '|'), 1) << first;
    EXPECT_NE(first.find("'fd.process-nofile[pid 7 (say \"hi\")].fds_open'=240;;;;"),
              std::string::npos)
        << first;
    EXPECT_NE(first.find(".nofile_hard'=U;;;;"), std::string::npos) << first;  // unlimited
    // A quote in a label is doubled, '=' is not allowed; counters are "c".
    EXPECT_NE(first.find("'backlog.listen-overflows[it''s:odd].listen_overflows_total'=12c;;;;"),
              std::string::npos)
        << first;
    EXPECT_NE(first.find("listen_overflows_per_second'=0.5;;;;"), std::string::npos) << first;
    std::string rest = text.substr(nl + 1);
    EXPECT_NE(rest.find("CRIT fd.process-nofile: 240 of 256 fds / open -- fix: prlimit"),
              std::string::npos)
        << rest;
    EXPECT_NE(rest.find("WARN backlog.listen-overflows: drops"), std::string::npos) << rest;
    EXPECT_EQ(rest.find("somaxconn"), std::string::npos) << rest;  // OK findings stay out

    // --fail-on crit turns a WARN host's exit code into 0, and the word with it.
    r.findings.erase(r.findings.begin());
    EXPECT_EQ(render_nagios(r, Severity::ok).rfind("C10K OK - drops [backlog.listen-overflows]", 0),
              0u);
}

TEST(Severity, OverallIgnoresUnknownUnlessAlone) {
    std::vector<Finding> fs{make_finding(CheckId::fd_nr_open, Severity::unknown, ""),
                            make_finding(CheckId::fd_file_max, Severity::warn, "")};
    EXPECT_EQ(overall_severity(fs), Severity::warn);
    fs.pop_back();
    EXPECT_EQ(overall_severity(fs), Severity::unknown);
    EXPECT_EQ(overall_severity({}), Severity::ok);
}
