// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/sources/proc_net.hpp"

#include <algorithm>
#include <iterator>

#include "c10k/text.hpp"

namespace c10k {

std::optional<int64_t> Counters::get(std::string_view key) const {
    auto it = values.find(std::string(key));
    if (it == values.end()) return std::nullopt;
    return it->second;
}

void Counters::merge(const Counters& other) {
    for (const auto& [k, v] : other.values)
        values[k] = v;
}

Result<Counters> parse_snmp_pairs(std::string_view text) {
    Counters out;
    auto lines = split_lines(text);
    for (size_t i = 0; i + 1 < lines.size(); i += 2) {
        auto names = split_ws(lines[i]);
        auto vals = split_ws(lines[i + 1]);
        if (names.empty()) continue;
        if (vals.empty() || names[0] != vals[0] || names.size() != vals.size() ||
            names[0].back() != ':') {
            return make_error("line " + std::to_string(i + 1) +
                              ": header and value lines do not pair up");
        }
        std::string group(names[0].substr(0, names[0].size() - 1));
        for (size_t k = 1; k < names.size(); ++k) {
            auto v = parse_int(vals[k]);
            if (!v) {
                return make_error("line " + std::to_string(i + 2) + ": '" + std::string(vals[k]) +
                                  "' is not a number");
            }
            out.values[group + "." + std::string(names[k])] = *v;
        }
    }
    return out;
}

std::optional<uint64_t> parse_tcp_opens(std::string_view snmp) {
    // Read many times a second: the Tcp header and value lines only.
    auto lines = split_lines(snmp);
    for (size_t i = 0; i + 1 < lines.size(); ++i) {
        auto names = split_ws(lines[i]);
        if (names.empty() || names[0] != "Tcp:") continue;
        auto vals = split_ws(lines[i + 1]);
        if (vals.size() != names.size() || vals[0] != "Tcp:") return std::nullopt;
        std::optional<uint64_t> active, passive;
        for (size_t k = 1; k < names.size(); ++k) {
            auto v = parse_int(vals[k]);
            if (!v || *v < 0) continue;
            if (names[k] == "ActiveOpens") active = static_cast<uint64_t>(*v);
            if (names[k] == "PassiveOpens") passive = static_cast<uint64_t>(*v);
        }
        if (!active || !passive) return std::nullopt;
        return *active + *passive;
    }
    return std::nullopt;
}

Result<Counters> parse_sockstat(std::string_view text) {
    Counters out;
    size_t lineno = 0;
    for (auto line : split_lines(text)) {
        ++lineno;
        auto f = split_ws(line);
        if (f.empty()) continue;
        if (f[0].back() != ':' || f.size() % 2 != 1) {
            return make_error("line " + std::to_string(lineno) +
                              ": expected 'PROTO: key value ...'");
        }
        std::string group(f[0].substr(0, f[0].size() - 1));
        for (size_t k = 1; k + 1 < f.size(); k += 2) {
            auto v = parse_int(f[k + 1]);
            if (!v) {
                return make_error("line " + std::to_string(lineno) + ": '" + std::string(f[k + 1]) +
                                  "' is not a number");
            }
            out.values[group + "." + std::string(f[k])] = *v;
        }
    }
    return out;
}

Result<Counters> parse_softnet(std::string_view text) {
    // Columns (all hex): processed, dropped, time_squeeze, ...
    int64_t processed = 0, dropped = 0, squeezed = 0;
    size_t lineno = 0;
    for (auto line : split_lines(text)) {
        ++lineno;
        auto f = split_ws(line);
        if (f.empty()) continue;
        if (f.size() < 3) return make_error("line " + std::to_string(lineno) + ": too few columns");
        auto p = parse_uint(f[0], 16), d = parse_uint(f[1], 16), s = parse_uint(f[2], 16);
        if (!p || !d || !s) return make_error("line " + std::to_string(lineno) + ": not hex");
        processed += static_cast<int64_t>(*p);
        dropped += static_cast<int64_t>(*d);
        squeezed += static_cast<int64_t>(*s);
    }
    Counters out;
    out.values["softnet.processed"] = processed;
    out.values["softnet.dropped"] = dropped;
    out.values["softnet.time_squeeze"] = squeezed;
    return out;
}

Result<Counters> parse_nf_conntrack_stat(std::string_view text) {
    auto lines = split_lines(text);
    if (lines.empty()) return make_error("empty");
    auto names = split_ws(lines[0]);
    if (names.empty() || names[0] != "entries") return make_error("line 1: no 'entries' header");
    Counters out;
    const std::string_view kSummed[] = {"drop", "early_drop", "insert_failed"};
    for (size_t i = 1; i < lines.size(); ++i) {
        auto f = split_ws(lines[i]);
        if (f.empty()) continue;
        if (f.size() != names.size())
            return make_error("line " + std::to_string(i + 1) + ": " + std::to_string(f.size()) +
                              " columns under a header of " + std::to_string(names.size()));
        for (size_t k = 0; k < f.size(); ++k) {
            bool summed =
                std::find(std::begin(kSummed), std::end(kSummed), names[k]) != std::end(kSummed);
            if (k != 0 && !summed) continue;
            // The kernel prints each as %08x of an unsigned int.
            auto v = parse_uint(f[k], 16);
            if (!v || *v > UINT32_MAX)
                return make_error("line " + std::to_string(i + 1) + ": '" + std::string(f[k]) +
                                  "' is not a 32-bit hex count");
            std::string key = "Conntrack." + std::string(names[k]);
            if (k == 0)
                out.values.try_emplace(key, static_cast<int64_t>(*v));
            else
                out.values[key] += static_cast<int64_t>(*v);
        }
    }
    return out;
}

namespace {
Status merge_file(Counters& into, const std::filesystem::path& path,
                  Result<Counters> (*parse)(std::string_view)) {
    auto text = read_text(path);
    if (!text) return text.error();
    auto parsed = parse(*text);
    if (!parsed) return make_error(path.string() + ": " + parsed.error().message());
    into.merge(*parsed);
    return ok_status();
}
}  // namespace

Result<Counters> read_net_counters(const std::filesystem::path& net_dir) {
    Counters out;
    for (auto [name, parser] :
         {std::pair{"netstat", &parse_snmp_pairs}, std::pair{"snmp", &parse_snmp_pairs},
          std::pair{"sockstat", &parse_sockstat}}) {
        auto st = merge_file(out, net_dir / name, parser);
        if (!st) return st.error();
    }
    // softnet_stat is per host, not per namespace, and absent in some containers.
    (void)merge_file(out, net_dir / "softnet_stat", &parse_softnet);
    // Only while nf_conntrack is loaded.
    (void)merge_file(out, net_dir / "stat" / "nf_conntrack", &parse_nf_conntrack_stat);
    return out;
}

}  // namespace c10k
