// SPDX-License-Identifier: GPL-2.0-or-later
// Errors as values: the library never throws across its API.
// Shaped like std::expected so it can be swapped for it once the toolchain has it.
#pragma once

#include <cerrno>
#include <string>
#include <utility>
#include <variant>

namespace c10k {

// "EINVAL: Invalid argument": the one way an errno is written for people;
// errno_name alone ("EINVAL", or "errno 4095" for one libc has no name for)
// where the errno is a key (histograms, JSON).
std::string errno_text(int code);
std::string errno_name(int code);

// What failed (`context`: the path, key or call, with what was being done) and,
// when a system call failed, its errno. Code decides on `code`, never on text.
struct Error {
    std::string context;
    int code = 0;  // errno; 0 when no system call failed
    std::string message() const { return code ? context + ": " + errno_text(code) : context; }
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

// A failure that is not a system call's (bad input, a parse error).
inline Error make_error(std::string context) {
    return Error{std::move(context), 0};
}

// A system call failed: its errno (by default the current one) goes with it.
inline Error sys_error(std::string context, int code = errno) {
    return Error{std::move(context), code};
}

}  // namespace c10k
