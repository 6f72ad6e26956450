// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/sources/sysctl.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "c10k/unique_fd.hpp"

#include "c10k/text.hpp"

namespace c10k {

std::filesystem::path sysctl_path(const SysRoot& root, std::string_view key) {
    std::string rel(key);
    std::replace(rel.begin(), rel.end(), '.', '/');
    return root.proc("sys") / rel;
}

Result<std::string> read_sysctl(const SysRoot& root, std::string_view key) {
    auto text = read_text(sysctl_path(root, key));
    if (!text) return text.error();
    return std::string(trim(*text));
}

SysctlAccess sysctl_access(const SysRoot& root, std::string_view key) {
    struct stat st {};
    if (::stat(sysctl_path(root, key).c_str(), &st) != 0 || !S_ISREG(st.st_mode))
        return SysctlAccess::missing;
    return (st.st_mode & 0222) ? SysctlAccess::writable : SysctlAccess::read_only;
}

Status write_sysctl(const SysRoot& root, std::string_view key, std::string_view value) {
    auto path = sysctl_path(root, key);
    auto fail = [&](int err) {
        return sys_error(std::string(key) + " = " + std::string(value), err);
    };
    // O_TRUNC matters only for fixture trees; procfs ignores it.
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
    if (!fd) return fail(errno);
    std::string line(value);
    line += '\n';
    ssize_t n;
    do {
        n = ::write(fd.get(), line.data(), line.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0) return fail(errno);
    if (static_cast<size_t>(n) != line.size()) return fail(EIO);
    return ok_status();
}

std::optional<std::string> SysctlValues::text(std::string_view key) const {
    auto it = values.find(key);
    if (it == values.end()) return std::nullopt;
    return it->second;
}

std::optional<int64_t> SysctlValues::integer(std::string_view key) const {
    auto it = values.find(key);
    if (it == values.end()) return std::nullopt;
    return parse_int(it->second);
}

std::optional<std::vector<int64_t>> SysctlValues::integers(std::string_view key) const {
    auto it = values.find(key);
    if (it == values.end()) return std::nullopt;
    std::vector<int64_t> out;
    for (auto field : split_ws(it->second)) {
        auto v = parse_int(field);
        if (!v) return std::nullopt;
        out.push_back(*v);
    }
    return out;
}

std::string SysctlValues::error(std::string_view key) const {
    auto it = errors.find(key);
    if (it != errors.end()) return it->second.message();
    return std::string(key) + " was not read";
}

SysctlValues read_sysctls(const SysRoot& root, const std::vector<std::string>& keys) {
    SysctlValues out;
    for (const auto& key : keys) {
        auto v = read_sysctl(root, key);
        if (v)
            out.values.emplace(key, std::move(*v));
        else
            out.errors.emplace(key, v.error());
    }
    return out;
}

}  // namespace c10k
