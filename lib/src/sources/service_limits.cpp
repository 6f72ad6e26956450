// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/sources/service_limits.hpp"

#include <algorithm>
#include <filesystem>
#include <vector>

#include "c10k/text.hpp"

namespace c10k {

namespace fs = std::filesystem;

std::optional<NofileLimit> parse_nofile_value(std::string_view value) {
    auto one = [](std::string_view v) -> std::optional<uint64_t> {
        v = trim(v);
        if (v == "infinity") return kUnlimited;
        return parse_uint(v);
    };
    value = trim(value);
    auto colon = value.find(':');
    auto soft = one(value.substr(0, colon));
    auto hard = colon == std::string_view::npos ? soft : one(value.substr(colon + 1));
    if (!soft || !hard || *soft > *hard) return std::nullopt;
    return NofileLimit{*soft, *hard};
}

std::optional<ServiceNofile> read_service_default_nofile(const SysRoot& root) {
    // systemd reads system.conf, then drop-ins from these directories in name
    // order (a name in an earlier directory shadows the same name in a later one).
    std::vector<fs::path> files = {root.path("etc/systemd/system.conf")};
    std::vector<std::pair<std::string, fs::path>> dropins;
    for (const char* dir :
         {"etc/systemd/system.conf.d", "run/systemd/system.conf.d",
          "usr/local/lib/systemd/system.conf.d", "usr/lib/systemd/system.conf.d"}) {
        std::error_code ec;
        for (const auto& e : fs::directory_iterator(root.path(dir), ec)) {
            auto name = e.path().filename().string();
            if (e.path().extension() != ".conf") continue;
            if (std::none_of(dropins.begin(), dropins.end(),
                             [&](const auto& d) { return d.first == name; }))
                dropins.emplace_back(name, e.path());
        }
    }
    std::sort(dropins.begin(), dropins.end());
    for (const auto& [_, p] : dropins)
        files.push_back(p);

    std::optional<ServiceNofile> found;
    for (const auto& f : files) {
        auto text = read_text(f);
        if (!text) continue;
        for (auto line : split_lines(*text)) {
            line = trim(line);
            if (!starts_with(line, "DefaultLimitNOFILE=")) continue;
            if (auto v = parse_nofile_value(line.substr(19)))
                found = ServiceNofile{*v, "DefaultLimitNOFILE in " + f.string()};
        }
    }
    if (found) return found;
    std::error_code ec;
    if (fs::is_directory(root.path("run/systemd/system"), ec))
        return ServiceNofile{{1024, 524288}, "systemd's built-in DefaultLimitNOFILE (v240+)"};
    return std::nullopt;
}

}  // namespace c10k
