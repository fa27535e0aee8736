// The C API: the same library for languages that speak C. Failures become a status plus a
// thread-local message; no exception crosses this boundary.
#include "host/host.hpp"
#include "metadata/local_tree.hpp"
#include "resolve/resolver.hpp"

#include <cstring>
#include <kget/kget.h>
#include <kget/kget.hpp>
#include <string>

namespace {

thread_local std::string t_last_error;

kget_status record(const kget::Failure& failure) {
  t_last_error = failure.message;
  return static_cast<kget_status>(failure.kind);
}

kget::Result<std::string> resolve_local(const char* variants_dir) {
  auto env = kget::settings::Environment::process();
  KGET_TRY_ASSIGN(auto device, kget::resolve::device_choice_from(env));
  KGET_TRY_ASSIGN(auto host, kget::host::detect(env));
  KGET_TRY_ASSIGN(auto variants, kget::metadata::read_local_variants(variants_dir));
  auto resolution = kget::resolve::resolve(
      variants_dir, kget::resolve::candidates_from(std::move(variants)), host, device);
  KGET_TRY_ASSIGN(auto chosen, kget::resolve::choose(resolution));
  return chosen.variant;
}

} // namespace

extern "C" {

const char* kget_version(void) {
  return kget::version();
}

const char* kget_last_error(void) {
  return t_last_error.c_str();
}

kget_status kget_resolve_local(const char* variants_dir, char* variant,
                               unsigned long variant_size) {
  t_last_error.clear();
  if (variants_dir == nullptr || variant == nullptr || variant_size == 0) {
    return record({kget::ErrorKind::usage,
                   "kget_resolve_local: variants_dir and variant must not be NULL, and "
                   "variant_size must be positive"});
  }
  try {
    auto chosen = resolve_local(variants_dir);
    if (!chosen) {
      return record(chosen.error());
    }
    if (chosen->size() + 1 > variant_size) {
      return record({kget::ErrorKind::usage, "kget_resolve_local: the variant name \"" + *chosen +
                                                 "\" needs " + std::to_string(chosen->size() + 1) +
                                                 " bytes; variant_size is " +
                                                 std::to_string(variant_size)});
    }
    std::memcpy(variant, chosen->c_str(), chosen->size() + 1);
    return KGET_OK;
  } catch (const std::exception& error) {
    return record({kget::ErrorKind::internal, error.what()});
  }
}

} // extern "C"
