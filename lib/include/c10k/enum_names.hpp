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

// Whether a table of rows, each naming its enum value in `key`, lists every value
// up to `last` once and in enum order, so that a row is found by indexing with
// the value (use in a static_assert where the table is declared).
template <typename Row, size_t N, typename E>
constexpr bool rows_in_enum_order(const Row (&rows)[N], E Row::*key, E last) {
    for (size_t i = 0; i < N; ++i)
        if (static_cast<size_t>(rows[i].*key) != i) return false;
    return N == static_cast<size_t>(last) + 1;
}

}  // namespace c10k
