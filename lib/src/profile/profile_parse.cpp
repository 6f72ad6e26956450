// SPDX-License-Identifier: GPL-2.0-or-later
#include <algorithm>
#include <cctype>
#include <unordered_map>

#include "c10k/profile/key_rules.hpp"
#include "c10k/profile/profile.hpp"
#include "c10k/text.hpp"

namespace c10k {

namespace {

bool key_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
}

Error at(const std::string& path, int line, const std::string& message) {
    return make_error(path + ":" + std::to_string(line) + ": " + message);
}

// A value from the file, escaped and cut for an error message.
std::string shown(std::string_view s, size_t limit = 60) {
    std::string out = printable(s.substr(0, limit));
    if (s.size() > limit) out += "...";
    return out;
}

}  // namespace

std::optional<std::string> invalid_key_reason(std::string_view key) {
    if (key.empty()) return "empty key";
    if (key.size() > kMaxSysctlKey)
        return "key is " + std::to_string(key.size()) + " bytes long (limit " +
               std::to_string(kMaxSysctlKey) + ")";
    if (key.find('/') != std::string_view::npos)
        return "key '" + shown(key) + "' contains '/': keys are dotted sysctl names, not paths";
    if (key.find('*') != std::string_view::npos || key.find('?') != std::string_view::npos)
        return "key '" + shown(key) + "' is a glob; profiles name each key";
    if (key.find("..") != std::string_view::npos || key.front() == '.' || key.back() == '.')
        return "key '" + shown(key) + "' has an empty component";
    for (char c : key) {
        if (c == '.') continue;
        if (!key_char(c))
            return "key '" + shown(key) + "' contains " +
                   (std::isprint(static_cast<unsigned char>(c)) ? std::string("'") + c + "'"
                                                                : "a control character") +
                   "; allowed: letters, digits, '_', '-', '.'";
    }
    if (key.find('.') == std::string_view::npos)
        return "key '" + shown(key) + "' has no '.': not a sysctl name";
    return std::nullopt;
}

std::optional<std::string> invalid_value_reason(std::string_view key, std::string_view value) {
    if (value.empty()) return "empty value for " + std::string(key);
    for (char c : value)
        if (std::iscntrl(static_cast<unsigned char>(c)) && c != '\t')
            return "value of " + std::string(key) + " contains a control character";
    auto fields = split_ws(value);
    auto ints = [&](size_t n) -> std::optional<std::vector<int64_t>> {
        if (fields.size() != n) return std::nullopt;
        std::vector<int64_t> out;
        for (auto f : fields) {
            auto v = parse_int(f);
            if (!v || *v < 0) return std::nullopt;
            out.push_back(*v);
        }
        return out;
    };
    switch (key_kind(key)) {
        case KeyKind::port_range: {
            auto v = ints(2);
            if (!v)
                return std::string(key) + " needs two port numbers \"LOW HIGH\", got '" +
                       shown(value) + "'";
            if ((*v)[0] < 1 || (*v)[1] > 65535)
                return std::string(key) + " ports must be within 1-65535, got '" + shown(value) +
                       "'";
            if ((*v)[0] >= (*v)[1])
                return std::string(key) + " needs LOW < HIGH, got '" + shown(value) + "'";
            return std::nullopt;
        }
        case KeyKind::vector_minimum: {
            auto v = ints(3);
            if (!v)
                return std::string(key) + " needs three integers \"MIN DEFAULT MAX\", got '" +
                       shown(value) + "'";
            if (!((*v)[0] <= (*v)[1] && (*v)[1] <= (*v)[2]))
                return std::string(key) + " needs ascending values (min <= default <= max), got '" +
                       shown(value) + "'";
            return std::nullopt;
        }
        case KeyKind::minimum: {
            auto v = ints(1);
            if (!v)
                return std::string(key) + " needs one non-negative integer, got '" + shown(value) +
                       "'";
            return std::nullopt;
        }
        case KeyKind::exact:
            return std::nullopt;
    }
    return std::nullopt;
}

bool valid_profile_name(std::string_view name) {
    if (name.empty() || name.size() > 64) return false;
    if (!std::isalnum(static_cast<unsigned char>(name.front()))) return false;
    return std::all_of(name.begin(), name.end(), key_char);
}

std::string normalize_value(std::string_view value) {
    std::string out;
    for (auto f : split_ws(value)) {
        if (!out.empty()) out += ' ';
        out.append(f);
    }
    return out;
}

Result<ProfileFile> parse_profile(std::string_view text, const std::string& path,
                                  const std::string& name) {
    ProfileFile pf;
    std::unordered_map<std::string, int> line_of_key;
    pf.name = name;
    pf.path = path;
    if (text.size() > kMaxProfileBytes)
        return make_error(path + ": " + std::to_string(text.size()) + " bytes; a profile may be " +
                          std::to_string(kMaxProfileBytes) + " at most");
    if (text.find('\0') != std::string_view::npos) {
        auto nul = text.find('\0');
        int line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + nul, '\n'));
        return at(path, line, "NUL byte: a profile is text");
    }

    // A comment block explains every key of the paragraph below it, up to the
    // next blank line or comment.
    std::string comment_block;
    bool after_key = false;
    int lineno = 0;
    size_t pos = 0;
    while (pos <= text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        std::string_view raw = text.substr(pos, end - pos);
        pos = end + 1;
        ++lineno;
        if (end == text.size() && raw.empty()) break;
        if (raw.size() > kMaxProfileLine)
            return at(path, lineno,
                      "line is " + std::to_string(raw.size()) + " bytes long (limit " +
                          std::to_string(kMaxProfileLine) + ")");
        if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
        std::string_view line = trim(raw);
        if (line.empty()) {
            comment_block.clear();
            after_key = false;
            continue;
        }
        if (line.front() == '#' || line.front() == ';') {
            if (after_key) comment_block.clear();
            after_key = false;
            std::string_view body = trim(line.substr(1));
            auto meta = [&](std::string_view tag) -> std::optional<std::string_view> {
                if (!starts_with(body, tag)) return std::nullopt;
                return trim(body.substr(tag.size()));
            };
            if (auto d = meta("description:")) {
                pf.description = printable(*d);  // shown on terminals and in JSON
            } else if (auto inc = meta("include:")) {
                std::string list(*inc);
                std::replace(list.begin(), list.end(), ',', ' ');
                if (split_ws(list).empty()) return at(path, lineno, "include: names no profile");
                for (auto n : split_ws(list)) {
                    if (!valid_profile_name(n))
                        return at(path, lineno,
                                  "include: '" + shown(n) +
                                      "' is not a profile name (letters, digits, '_', '-')");
                    pf.includes.emplace_back(std::string(n), SourceLine{path, lineno});
                }
            } else if (auto nf = meta("nofile:")) {
                auto v = parse_uint(*nf);
                if (!v || *v < 1024 || *v > (uint64_t{1} << 30))
                    return at(path, lineno,
                              "nofile: needs an integer between 1024 and 1073741824, got '" +
                                  shown(*nf) + "'");
                if (pf.nofile) return at(path, lineno, "nofile: given twice");
                pf.nofile = *v;
                pf.nofile_origin = SourceLine{path, lineno};
            } else {
                if (!comment_block.empty()) comment_block += ' ';
                comment_block += std::string(body);
            }
            continue;
        }
        auto eq = line.find('=');
        if (eq == std::string_view::npos)
            return at(path, lineno, "expected 'key = value', found '" + shown(line) + "'");
        std::string_view key = trim(line.substr(0, eq));
        std::string_view value = trim(line.substr(eq + 1));
        ProfileEntry e;
        if (!key.empty() && key.front() == '-') {
            e.optional = true;
            key.remove_prefix(1);
        }
        if (auto why = invalid_key_reason(key)) return at(path, lineno, *why);
        if (auto why = invalid_value_reason(key, value)) return at(path, lineno, *why);
        // An index, not a scan: a 4 MiB file may hold 300,000 keys.
        auto [prev, fresh] = line_of_key.try_emplace(std::string(key), lineno);
        if (!fresh)
            return at(path, lineno,
                      "duplicate key " + std::string(key) + " (first set at line " +
                          std::to_string(prev->second) + ")");
        e.key = std::string(key);
        e.value = normalize_value(value);
        e.origin = SourceLine{path, lineno};
        e.why = comment_block;
        after_key = true;
        pf.entries.push_back(std::move(e));
    }
    return pf;
}

}  // namespace c10k
