// SPDX-License-Identifier: GPL-2.0-or-later
// Where profiles live: the override directory (/etc/c10k-doctor/profiles) first,
// then the shipped one. A file NAME.conf there is profile NAME.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "c10k/profile/profile.hpp"
#include "c10k/result.hpp"

namespace c10k {

struct ProfileListing {
    std::string name;
    std::string path;
    std::string description;
    bool overrides_shipped = false;
    std::string error;  // set when the file does not parse
};

class ProfileStore {
  public:
    // Searched in order; the first directory holding NAME.conf wins.
    explicit ProfileStore(std::vector<std::filesystem::path> dirs) : dirs_(std::move(dirs)) {}

    std::vector<ProfileListing> list() const;
    Result<ProfileFile> load_file(const std::string& name) const;
    // Includes expanded depth first (included values first, the includer's win);
    // cycles, unknown names and depth are errors naming file:line.
    Result<Profile> resolve(const std::string& name) const;

    const std::vector<std::filesystem::path>& dirs() const { return dirs_; }

  private:
    Status merge(const std::string& name, std::vector<std::string>& stack, Profile& out,
                 const SourceLine* included_from) const;
    std::vector<std::filesystem::path> dirs_;
};

// The shipped directory: $C10K_DOCTOR_PROFILE_DIR, else the installed one if it
// exists, else the source tree's (running from a build directory).
std::filesystem::path shipped_profile_dir();

}  // namespace c10k
