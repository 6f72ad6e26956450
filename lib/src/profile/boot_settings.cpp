// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/profile/boot_settings.hpp"

#include <algorithm>
#include <set>
#include <system_error>

#include "c10k/text.hpp"

namespace c10k {

namespace fs = std::filesystem;

std::string sysctl_d_key(std::string_view key) {
    std::string k(key);
    auto slash = k.find('/');
    auto dot = k.find('.');
    if (slash != std::string::npos && (dot == std::string::npos || slash < dot))
        for (char& c : k)
            c = c == '/' ? '.' : c == '.' ? '/' : c;
    return k;
}

namespace {

void read_file(const fs::path& path, const std::string& shown, BootSettings& out) {
    auto text = read_text(path);
    if (!text) return;
    int lineno = 0;
    for (auto raw : split_lines(*text)) {
        ++lineno;
        auto line = trim(raw);
        if (line.empty() || line.front() == '#' || line.front() == ';') continue;
        auto eq = line.find('=');
        if (eq == std::string_view::npos) continue;
        auto key = trim(line.substr(0, eq));
        if (!key.empty() && key.front() == '-') key.remove_prefix(1);
        out[sysctl_d_key(key)].push_back({shown, lineno, std::string(trim(line.substr(eq + 1)))});
    }
}

}  // namespace

BootSettings read_boot_settings(const SysRoot& root) {
    static const char* dirs[] = {"etc/sysctl.d", "run/sysctl.d", "usr/local/lib/sysctl.d",
                                 "usr/lib/sysctl.d", "lib/sysctl.d"};
    std::map<std::string, fs::path> by_name;  // first directory wins
    for (const char* d : dirs) {
        std::error_code ec;
        for (fs::directory_iterator it(root.path(d), ec), end; !ec && it != end; it.increment(ec)) {
            if (it->path().extension() != ".conf") continue;
            by_name.emplace(it->path().filename().string(), it->path());
        }
    }
    BootSettings out;
    std::set<fs::path> seen;  // Debian's 99-sysctl.conf is a link to /etc/sysctl.conf
    auto shown = [&](const fs::path& p) {
        auto rel = fs::relative(p, root.root);
        std::string shown = "/";  // operator+("/", string&&) trips GCC 12's -Wrestrict
        shown += rel.string();
        return shown;
    };
    for (const auto& [_, path] : by_name) {
        std::error_code ec;
        auto canon = fs::weakly_canonical(path, ec);
        if (!seen.insert(ec ? path : canon).second) continue;
        read_file(path, shown(path), out);
    }
    auto conf = root.path("etc/sysctl.conf");
    std::error_code ec;
    auto canon = fs::weakly_canonical(conf, ec);
    if (!seen.count(ec ? conf : canon)) read_file(conf, shown(conf), out);
    return out;
}

}  // namespace c10k
