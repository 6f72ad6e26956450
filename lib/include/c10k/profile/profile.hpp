// SPDX-License-Identifier: GPL-2.0-or-later
// A sysctl profile: sysctl.d syntax ("key = value", '#' comments) plus metadata
// comments ("# description:", "# include:", "# nofile:"), so `sysctl -p` can load
// one and a person can read it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "c10k/result.hpp"

namespace c10k {

// Where a line came from, for messages: "profiles/c10k.conf:12".
struct SourceLine {
    std::string file;
    int line = 0;
    std::string str() const { return file + ":" + std::to_string(line); }
};

struct ProfileEntry {
    std::string key;
    std::string value;  // as written, whitespace collapsed
    SourceLine origin;
    std::string why;        // the comment block right above the key
    bool optional = false;  // sysctl.d's "-key = value": never fatal when absent
    std::string overrides;  // origin of an included value this one replaced
};

// One file, as parsed; includes not yet followed.
struct ProfileFile {
    std::string name;
    std::string path;
    std::string description;
    std::vector<std::pair<std::string, SourceLine>> includes;
    std::optional<uint64_t> nofile;
    std::optional<SourceLine> nofile_origin;
    std::vector<ProfileEntry> entries;
};

// A profile with its includes expanded; later definitions win.
struct Profile {
    std::string name;
    std::string path;
    std::string description;
    std::vector<std::string> chain;  // this profile and everything it includes
    std::optional<uint64_t> nofile;
    std::string nofile_origin;
    std::vector<ProfileEntry> entries;
};

inline constexpr size_t kMaxProfileLine = 4096;
inline constexpr size_t kMaxProfileBytes = 4 * 1024 * 1024;
inline constexpr size_t kMaxSysctlKey = 200;
inline constexpr int kMaxIncludeDepth = 16;

// Every syntax and shape error is "file:line: message"; the first one wins.
Result<ProfileFile> parse_profile(std::string_view text, const std::string& path,
                                  const std::string& name);

// Key names are sysctl names, never paths: dotted components of letters,
// digits, '_' and '-'. Returns the reason when not.
std::optional<std::string> invalid_key_reason(std::string_view key);
std::optional<std::string> invalid_value_reason(std::string_view key, std::string_view value);
bool valid_profile_name(std::string_view name);

// "4096\t87380   6291456" -> "4096 87380 6291456": how the kernel and a profile
// spell the same vector differ only in whitespace.
std::string normalize_value(std::string_view value);

}  // namespace c10k
