// SPDX-License-Identifier: GPL-2.0-or-later
// Profiles as an administrator (or an attacker with write access to
// /etc/c10k-doctor/profiles) could write them: the parser over one file, and
// include resolution over three that name each other. The input is split at
// lines "--- b" and "--- c" into a.conf, b.conf and c.conf.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>

#include "c10k/profile/profile.hpp"
#include "c10k/profile/profile_store.hpp"
#include "c10k/text.hpp"
#include "fuzz_check.hpp"

using namespace c10k;
namespace fs = std::filesystem;

namespace {

fs::path scratch_dir() {
    // Never destroyed, so the exit handler below can still read it.
    static const fs::path* dir = [] {
        std::string tmpl = (fs::temp_directory_path() / "c10k-fuzz-profile.XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) std::abort();
        auto* made = new fs::path(tmpl);
        // libFuzzer ends a bounded run with exit(): the scratch files go with it.
        std::atexit([] {
            std::error_code ec;
            fs::remove_all(scratch_dir(), ec);
        });
        return made;
    }();
    return *dir;
}

void write_file(const fs::path& p, std::string_view text) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
}

void check(const Result<ProfileFile>& f) {
    if (!f) {
        fuzz::require(!f.error().message().empty(), "a parse error says what is wrong");
        return;
    }
    for (const auto& e : f->entries) {
        fuzz::require(!invalid_key_reason(e.key).has_value(), "parsed keys are valid");
        fuzz::require(e.key.size() <= kMaxSysctlKey, "parsed keys are bounded");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    check(parse_profile(text, "a.conf", "a"));

    auto b = text.find("\n--- b\n");
    auto a_text = text.substr(0, b);
    std::string_view rest = b == std::string_view::npos ? "" : text.substr(b + 7);
    auto c = rest.find("\n--- c\n");
    auto b_text = rest.substr(0, c);
    std::string_view c_text = c == std::string_view::npos ? "" : rest.substr(c + 7);

    auto dir = scratch_dir();
    write_file(dir / "a.conf", a_text);
    write_file(dir / "b.conf", b_text);
    write_file(dir / "c.conf", c_text);
    ProfileStore store({dir});
    if (auto p = store.resolve("a")) {
        fuzz::require(!p->chain.empty() && p->chain.back() == "a",
                      "the chain ends at the profile asked for");
        fuzz::require(p->chain.size() <= static_cast<size_t>(kMaxIncludeDepth) + 1,
                      "include depth is bounded");
    } else {
        fuzz::require(!p.error().message().empty(), "a resolve error says what is wrong");
    }
    for (const auto& l : store.list())
        fuzz::require(fuzz::is_printable_utf8(l.description) || !l.error.empty(),
                      "listed descriptions are printable");
    return 0;
}
