// SPDX-License-Identifier: GPL-2.0-or-later
// What applying one key means. Capacity keys are minimums (never lower a limit
// the host already has higher); vectors are raised element by element; a port
// range is only ever widened; everything else is set exactly.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace c10k {

enum class KeyKind { exact, minimum, vector_minimum, port_range };

KeyKind key_kind(std::string_view key);
const char* key_kind_name(KeyKind kind);

// fs.*, kernel.*, vm.* and the net.core keys that are not per namespace:
// changing one from inside a container's namespace changes the whole host.
bool is_namespaced_key(std::string_view key);

enum class Action {
    raise,      // current below the profile: raised to it
    keep,       // already at (or, for minimums, above) the profile
    set,        // exact key with another value, set to the profile's
    missing,    // the running kernel has no such key (or not in this namespace)
    read_only,  // present, not writable here (e.g. nf_conntrack_max outside init_net)
    host_wide,  // not per namespace; skipped when a namespace is the target
};
const char* action_name(Action action);
bool is_write(Action action);

struct KeyDecision {
    Action action = Action::keep;
    std::string target;  // value the key will have after apply (normalized)
};

// Pure: current value (normalized) vs the profile's; `exact` forces the
// profile's value even when the host has more.
KeyDecision decide_key(std::string_view key, std::string_view current, std::string_view wanted,
                       bool exact);

}  // namespace c10k
