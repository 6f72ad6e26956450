// SPDX-License-Identifier: GPL-2.0-or-later
// Text and JSON for the profile subcommands (JSON: lib/schema/profile-v1.schema.json).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "c10k/profile/profile_store.hpp"
#include "c10k/profile/transaction.hpp"

namespace c10k {

std::string render_list_text(const std::vector<ProfileListing>& list);
nlohmann::json render_list_json(const std::vector<ProfileListing>& list);

// The resolved profile, in sysctl.d syntax with where each key came from.
std::string render_show_text(const Profile& p);
nlohmann::json render_show_json(const Profile& p);

std::string render_plan_text(const ApplyPlan& plan, bool colour);
nlohmann::json render_plan_json(const ApplyPlan& plan);

std::string render_backups_text(const std::vector<Result<Journal>>& all);
nlohmann::json render_backups_json(const std::vector<Result<Journal>>& all);

nlohmann::json journal_summary_json(const Journal& j);

// verify: the plan with whether the host is at the profile and what drifts.
std::string render_verify_text(const ApplyPlan& plan, bool exact);
nlohmann::json render_verify_json(const ApplyPlan& plan);

// apply: the plan, then what the transaction did (or, dry, would do).
struct ApplyView {
    bool colour = false;
    bool persist = false;
    std::string state_dir;
};
std::string render_dry_run_text(const ApplyPlan& plan, bool colour);
nlohmann::json render_dry_run_json(const ApplyPlan& plan);
std::string render_apply_text(const ApplyPlan& plan, const ApplyOutcome& done,
                              const ApplyView& view);
// `changed` is the plan's before the apply ran: Ansible's changed_when.
nlohmann::json render_apply_json(const ApplyPlan& plan, bool changed, const ApplyOutcome& done);

// rollback: the journal, what was restored, what was not (retryable), notes.
std::string render_rollback_text(const RollbackOutcome& r);
nlohmann::json render_rollback_json(const RollbackOutcome& r);

inline constexpr int kProfileSchemaVersion = 1;

}  // namespace c10k
