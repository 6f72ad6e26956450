// SPDX-License-Identifier: GPL-2.0-or-later
// How an enum becomes text: one array of names in the enum's order, looked up
// by value (systemd's string tables), instead of a switch per enum. The
// array's size is checked against the enum's last value where it is declared.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

namespace c10k {

template <typename E, size_t N>
constexpr const char* enum_name(const std::array<const char*, N>& names, E value) {
    auto i = static_cast<size_t>(value);
    return i < N ? names[i] : "?";
}

template <typename E, size_t N>
constexpr std::optional<E> enum_from_name(const std::array<const char*, N>& names,
                                          std::string_view name) {
    for (size_t i = 0; i < N; ++i)
        if (name == names[i]) return static_cast<E>(i);
    return std::nullopt;
}

// Whether a table names every value up to `last` (use in a static_assert).
template <typename E, size_t N>
constexpr bool names_every(const std::array<const char*, N>&, E last) {
    return N == static_cast<size_t>(last) + 1;
}

}  // namespace c10k
