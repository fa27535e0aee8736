// Results inside libkget: std::expected with a typed failure. Exceptions appear only at the public
// API (kget::Error), converted by value_or_throw.
#pragma once

#include <expected>
#include <fmt/format.h>
#include <kget/kget.hpp>
#include <string>
#include <utility>

namespace kget {

struct Failure {
  ErrorKind kind;
  std::string message;
};

template <class T>
using Result = std::expected<T, Failure>;

inline std::unexpected<Failure> fail(ErrorKind kind, std::string message) {
  return std::unexpected(Failure{kind, std::move(message)});
}

template <class... Args>
std::unexpected<Failure> fail(ErrorKind kind, fmt::format_string<Args...> format, Args&&... args) {
  return fail(kind, fmt::format(format, std::forward<Args>(args)...));
}

// The boundary between expected-style code and the public API.
template <class T>
T value_or_throw(Result<T>&& result) {
  if (!result) {
    throw Error(result.error().kind, result.error().message);
  }
  if constexpr (!std::is_void_v<T>) {
    return std::move(*result);
  }
}

} // namespace kget

#define KGET_CONCAT_INNER(a, b) a##b
#define KGET_CONCAT(a, b) KGET_CONCAT_INNER(a, b)

// Return the failure of `expr` from the enclosing function, which must return a Result.
#define KGET_TRY(expr)                                                                             \
  do {                                                                                             \
    auto&& kget_try_result_ = (expr);                                                              \
    if (!kget_try_result_) {                                                                       \
      return std::unexpected(std::move(kget_try_result_).error());                                 \
    }                                                                                              \
  } while (false)

// `KGET_TRY_ASSIGN(auto x, f());` declares x from f()'s value or returns f()'s failure.
#define KGET_TRY_ASSIGN(decl, expr)                                                                \
  KGET_TRY_ASSIGN_IMPL(KGET_CONCAT(kget_try_, __LINE__), decl, expr)
#define KGET_TRY_ASSIGN_IMPL(tmp, decl, expr)                                                      \
  auto tmp = (expr);                                                                               \
  if (!tmp) {                                                                                      \
    return std::unexpected(std::move(tmp).error());                                                \
  }                                                                                                \
  decl = std::move(*tmp)
