// SPDX-License-Identifier: GPL-2.0-or-later
// Strings from outside - a process's own name, a profile's text - reach every
// subcommand and output format valid and escaped, and are never fatal: any
// local user can name a process "bad\x83\xff" and must not blind the
// monitoring of the host with it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "../common/run_command.hpp"
#include "netns_env.hpp"

using namespace c10k::test;
using nlohmann::json;

namespace {

// Every byte sequence valid UTF-8 (no overlongs, surrogates or past U+10FFFF).
bool valid_utf8(const std::string& s) {
    for (size_t i = 0; i < s.size();) {
        auto c = static_cast<unsigned char>(s[i]);
        size_t n = c < 0x80                 ? 1
                   : c >= 0xc2 && c <= 0xdf ? 2
                   : c >= 0xe0 && c <= 0xef ? 3
                   : c >= 0xf0 && c <= 0xf4 ? 4
                                            : 0;
        if (n == 0 || i + n > s.size()) return false;
        for (size_t k = 1; k < n; ++k)
            if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return false;
        if (n == 3 && ((c == 0xe0 && static_cast<unsigned char>(s[i + 1]) < 0xa0) ||
                       (c == 0xed && static_cast<unsigned char>(s[i + 1]) > 0x9f)))
            return false;
        if (n == 4 && ((c == 0xf0 && static_cast<unsigned char>(s[i + 1]) < 0x90) ||
                       (c == 0xf4 && static_cast<unsigned char>(s[i + 1]) > 0x8f)))
            return false;
        i += n;
    }
    return true;
}

// A name with bytes that are not UTF-8, a newline that would forge a line
// and a terminal escape: 15 bytes, the most a comm holds.
constexpr const char* kHostile = "b\\x83\\xff\\x0aOK x\\x1b[2J";

void expect_clean(const CommandResult& r, const std::string& what) {
    EXPECT_TRUE(r.exit_code >= 0 && r.exit_code <= 2)
        << what << " exit " << r.exit_code << ": " << r.err;
    EXPECT_TRUE(valid_utf8(r.out)) << what << " wrote bytes that are not UTF-8";
    EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << what << " passed a terminal escape on";
    EXPECT_EQ(r.out.find("\nOK x"), std::string::npos) << what << " let the name forge a line";
}

}  // namespace

TEST(HostileInput, ProcessNamesReachEveryFormatEscaped) {
    REQUIRE_PRIVATE_NETNS();
    Background named({C10K_TESTKIT_PATH, "named", kHostile, "30"});
    ASSERT_TRUE(named.ok());
    std::string pid = std::to_string(named.pid());
    for (const auto& fmt : {"text", "json", "prometheus", "nagios"}) {
        auto r = run_doctor({"check", "--pid", pid, "--interval", "0", "--format", fmt});
        expect_clean(r, std::string("check --format ") + fmt);
        if (std::string(fmt) == "json") {
            auto doc = json::parse(r.out, nullptr, false);
            EXPECT_FALSE(doc.is_discarded()) << "check --json does not parse";
        }
    }
    for (const auto& json_flag : {false, true}) {
        std::vector<std::string> argv = {"probe",      "--pid", pid,      "--duration", "500ms",
                                         "--interval", "250ms", "--mode", "sample"};
        if (json_flag) argv.push_back("--json");
        auto r = run_doctor(argv);
        expect_clean(r, json_flag ? "probe --json" : "probe");
        if (json_flag) {
            auto doc = json::parse(r.out, nullptr, false);
            ASSERT_FALSE(doc.is_discarded()) << "probe --json does not parse";
            // Escaped, not dropped: the readable part of the name is still there.
            EXPECT_NE(doc["target"]["comm"].get<std::string>().find("OK x"), std::string::npos)
                << doc["target"];
        }
    }
}

TEST(HostileInput, ProfileTextThatIsNotUtf8IsNeverFatal) {
    REQUIRE_PRIVATE_NETNS();
    namespace fs = std::filesystem;
    fs::path dir = fs::temp_directory_path() / ("c10k-hostile-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::ofstream(dir / "bad.conf") << "# description: caf\xe9 \x83\xff\x1b[2J\n"
                                    << "net.core.somaxconn = 4096\n";
    for (const auto& sub : {"list", "show", "diff"}) {
        std::vector<std::string> argv = {"profile", sub};
        if (std::string(sub) != "list") argv.push_back("bad");
        argv.insert(argv.end(), {"--profile-dir", dir.string()});
        for (bool as_json : {false, true}) {
            auto a = argv;
            if (as_json) a.push_back("--json");
            auto r = run_doctor(a);
            std::string what = std::string("profile ") + sub + (as_json ? " --json" : "");
            EXPECT_TRUE(r.exit_code >= 0 && r.exit_code <= 3) << what << ": " << r.err;
            EXPECT_TRUE(valid_utf8(r.out)) << what << " wrote bytes that are not UTF-8";
            EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << what << " passed an escape on";
            if (as_json) {
                EXPECT_FALSE(json::parse(r.out, nullptr, false).is_discarded()) << what;
            }
        }
    }
    fs::remove_all(dir);
}
