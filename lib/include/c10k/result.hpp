// SPDX-License-Identifier: GPL-2.0-or-later
// Errors as values: the library never throws across its API.
// Shaped like std::expected so it can be swapped for it once the toolchain has it.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace c10k {

struct Error {
    std::string message;
};

template <typename T>
class Result {
  public:
    Result(T value) : v_(std::move(value)) {}
    Result(Error error) : v_(std::move(error)) {}

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() { return value(); }
    const T& operator*() const { return value(); }

    const Error& error() const { return std::get<1>(v_); }

    template <typename U>
    T value_or(U&& fallback) const {
        return ok() ? value() : static_cast<T>(std::forward<U>(fallback));
    }

  private:
    std::variant<T, Error> v_;
};

// For operations that produce nothing but may fail.
struct Unit {};
using Status = Result<Unit>;
inline Status ok_status() {
    return Unit{};
}

inline Error make_error(std::string message) {
    return Error{std::move(message)};
}

}  // namespace c10k
