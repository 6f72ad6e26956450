// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/profile/profile_store.hpp"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <system_error>
#include <unordered_map>

#include "c10k/sources/sys_root.hpp"

namespace c10k {

namespace fs = std::filesystem;

std::filesystem::path shipped_profile_dir() {
    if (const char* env = std::getenv("C10K_DOCTOR_PROFILE_DIR"); env && *env) return env;
    // A binary running from its build tree uses the profiles of its source tree,
    // even when an older version is installed.
    std::error_code ec;
    auto exe = fs::read_symlink("/proc/self/exe", ec).string();
    std::string build_dir = C10K_BUILD_DIR;
    if (!ec && exe.compare(0, build_dir.size() + 1, build_dir + "/") == 0)
        return C10K_SOURCE_PROFILE_DIR;
    if (fs::is_directory(C10K_INSTALLED_PROFILE_DIR, ec)) return C10K_INSTALLED_PROFILE_DIR;
    return C10K_SOURCE_PROFILE_DIR;
}

std::vector<ProfileListing> ProfileStore::list() const {
    std::map<std::string, ProfileListing> by_name;
    for (size_t i = 0; i < dirs_.size(); ++i) {
        std::error_code ec;
        for (fs::directory_iterator it(dirs_[i], ec), end; !ec && it != end; it.increment(ec)) {
            const auto& p = it->path();
            if (p.extension() != ".conf") continue;
            std::string name = p.stem().string();
            if (!valid_profile_name(name)) continue;
            if (auto found = by_name.find(name); found != by_name.end()) {
                found->second.overrides_shipped = true;
                continue;
            }
            ProfileListing l{name, p.string(), "", false, ""};
            auto pf = load_file(name);
            if (pf)
                l.description = pf->description;
            else
                l.error = pf.error().message();
            by_name.emplace(name, std::move(l));
        }
    }
    std::vector<ProfileListing> out;
    for (auto& [_, l] : by_name)
        out.push_back(std::move(l));
    return out;
}

Result<ProfileFile> ProfileStore::load_file(const std::string& name) const {
    if (!valid_profile_name(name))
        return make_error("'" + name + "' is not a profile name (letters, digits, '_', '-')");
    for (const auto& dir : dirs_) {
        auto path = dir / (name + ".conf");
        std::error_code ec;
        if (!fs::exists(path, ec)) continue;
        auto size = fs::file_size(path, ec);
        if (!ec && size > kMaxProfileBytes)
            return make_error(path.string() + ": " + std::to_string(size) +
                              " bytes; a profile may be " + std::to_string(kMaxProfileBytes) +
                              " at most");
        auto text = read_text(path);
        if (!text) return text.error();
        return parse_profile(*text, path.string(), name);
    }
    std::string where;
    for (const auto& d : dirs_)
        where += (where.empty() ? "" : ", ") + d.string();
    return make_error("no profile named '" + name + "' (looked in " + where +
                      "; `c10k-doctor profile list` shows them)");
}

Status ProfileStore::merge(const std::string& name, std::vector<std::string>& stack, Profile& out,
                           const SourceLine* included_from) const {
    auto prefix = [&] { return included_from ? included_from->str() + ": " : std::string(); };
    if (std::find(stack.begin(), stack.end(), name) != stack.end()) {
        std::string cycle;
        for (const auto& s : stack)
            cycle += s + " -> ";
        return make_error(prefix() + "include cycle: " + cycle + name);
    }
    if (static_cast<int>(stack.size()) >= kMaxIncludeDepth)
        return make_error(prefix() + "includes nest deeper than " +
                          std::to_string(kMaxIncludeDepth));
    auto pf = load_file(name);
    if (!pf) {
        if (included_from)
            return make_error(prefix() + "include of '" + name + "': " + pf.error().message());
        return pf.error();
    }
    stack.push_back(name);
    for (const auto& [inc, line] : pf->includes) {
        auto st = merge(inc, stack, out, &line);
        if (!st) return st;
    }
    stack.pop_back();

    if (std::find(out.chain.begin(), out.chain.end(), name) == out.chain.end())
        out.chain.push_back(name);
    if (pf->nofile) {
        // The includer's own statement wins; among includes the largest need wins.
        if (stack.empty() || !out.nofile || *pf->nofile > *out.nofile) {
            out.nofile = pf->nofile;
            out.nofile_origin = pf->nofile_origin->str();
        }
    }
    // Indexed, not scanned: profiles may hold hundreds of thousands of keys.
    std::unordered_map<std::string, size_t> index;
    for (size_t i = 0; i < out.entries.size(); ++i)
        index.emplace(out.entries[i].key, i);
    for (auto& e : pf->entries) {
        auto it = index.find(e.key);
        if (it == index.end()) {
            index.emplace(e.key, out.entries.size());
            out.entries.push_back(e);
        } else {
            auto& prev = out.entries[it->second];
            e.overrides = prev.origin.str();
            if (e.why.empty()) e.why = prev.why;  // an override keeps the reason it refines
            prev = e;
        }
    }
    if (stack.empty()) {
        out.name = pf->name;
        out.path = pf->path;
        out.description = pf->description;
    }
    return ok_status();
}

Result<Profile> ProfileStore::resolve(const std::string& name) const {
    Profile out;
    std::vector<std::string> stack;
    auto st = merge(name, stack, out, nullptr);
    if (!st) return st.error();
    return out;
}

}  // namespace c10k
