// The public C++ headers compile as C++17 (this file is built with -std=c++17) and the public
// error type behaves as documented.
#include <cstdio>
#include <cstring>
#include <kget/kernel_abi.h>
#include <kget/kget.h>
#include <kget/kget.hpp>

static_assert(__cplusplus == 201703L, "this test must be compiled as C++17");

int main() {
  int failures = 0;
  try {
    throw kget::Error(kget::ErrorKind::no_compatible_variant, "nothing fits");
  } catch (const kget::Error& error) {
    failures += error.kind() != kget::ErrorKind::no_compatible_variant;
    failures += std::strcmp(error.what(), "nothing fits") != 0;
    failures += std::strcmp(kget::to_string(error.kind()), "no_compatible_variant") != 0;
  }
  failures +=
      static_cast<int>(kget::ErrorKind::no_compatible_variant) != KGET_ERROR_NO_COMPATIBLE_VARIANT;
  failures += std::strcmp(kget::version(), kget_version()) != 0;
  std::printf("%d passed, %d failed\n", 5 - failures, failures);
  return failures == 0 ? 0 : 1;
}
