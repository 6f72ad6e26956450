// SPDX-License-Identifier: GPL-2.0-or-later
// Sysctl names and values as profiles and the kernel spell them: the number
// parsers, key and value validation, normalisation and the apply decision, and
// `printable`, which every string from outside goes through before any output.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "c10k/profile/key_rules.hpp"
#include "c10k/profile/profile.hpp"
#include "c10k/text.hpp"
#include "fuzz_check.hpp"

using namespace c10k;

namespace {

const char* const kKeys[] = {"net.core.somaxconn",         "net.ipv4.ip_local_port_range",
                             "net.ipv4.tcp_rmem",          "net.ipv4.tcp_mem",
                             "net.ipv4.tcp_congestion_control", "fs.file-max"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);

    (void)parse_int(text);
    (void)parse_uint(text);
    (void)parse_uint(text, 16);
    (void)parse_double(text);
    (void)trim(text);
    for (auto f : split_ws(text)) fuzz::require(!f.empty(), "split_ws yields no empty field");

    auto shown = printable(text);
    fuzz::require(fuzz::is_printable_utf8(shown), "printable output is printable UTF-8");
    fuzz::require(printable(shown) == shown, "printable is idempotent");

    (void)invalid_key_reason(text);
    (void)valid_profile_name(text);
    auto normal = normalize_value(text);
    fuzz::require(normalize_value(normal) == normal, "normalize_value is idempotent");

    // The first line is the host's value, the rest the profile's.
    auto nl = text.find('\n');
    auto current = normalize_value(text.substr(0, nl));
    auto wanted = nl == std::string_view::npos ? std::string() : normalize_value(text.substr(nl + 1));
    for (const char* key : kKeys) {
        if (invalid_value_reason(key, wanted)) continue;
        auto d = decide_key(key, current, wanted, false);
        if (d.action == Action::keep) continue;
        if (is_write(d.action))
            fuzz::require(!invalid_value_reason(key, d.target).has_value() ||
                              key_kind(key) == KeyKind::exact,
                          "a decided write is a valid value");
    }
    return 0;
}
