// The C API: the same library for languages that speak C. Failures become a status plus a
// thread-local message; no exception crosses this boundary.
#include "host/host.hpp"
#include "metadata/local_tree.hpp"
#include "resolve/resolver.hpp"

#include <cstddef>
#include <cstring>
#include <kget/kget.h>
#include <kget/kget.hpp>
#include <string>
#include <type_traits>
#include <vector>

// The handle behind kget_kernel: the C++ Kernel (which keeps the library and its strings alive)
// and its ops, listed once so that indexing them is cheap.
struct kget_kernel {
  kget::Kernel kernel;
  std::vector<kget::Op> ops;
};

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

// Whether the caller's kget_options (struct_size bytes, maybe an older and shorter struct) has the
// field at `offset`. Only offsets are compared: the fields past struct_size may not exist at all.
bool has_field(const kget_options& options, size_t offset, size_t size) {
  return options.struct_size >= offset + size;
}

#define KGET_HAS_FIELD(options, field)                                                             \
  has_field(options, offsetof(kget_options, field), sizeof(kget_options::field))

std::string text_or_empty(const char* text) {
  return text != nullptr ? text : "";
}

kget::Result<kget::Options> options_from(const kget_options* c_options) {
  kget::Options options;
  if (c_options == nullptr) {
    return options;
  }
  const kget_options& in = *c_options;
  if (in.struct_size < sizeof(in.struct_size)) {
    return kget::fail(kget::ErrorKind::usage,
                      "kget_options.struct_size is {}; expected sizeof(kget_options) ({} in this "
                      "libkget): initialize options with KGET_OPTIONS_INIT",
                      in.struct_size, sizeof(kget_options));
  }
  if (KGET_HAS_FIELD(in, endpoint)) {
    options.endpoint = text_or_empty(in.endpoint);
  }
  if (KGET_HAS_FIELD(in, cache_dir)) {
    options.cache_dir = text_or_empty(in.cache_dir);
  }
  if (KGET_HAS_FIELD(in, token)) {
    options.token = text_or_empty(in.token);
  }
  if (KGET_HAS_FIELD(in, offline)) {
    if (in.offline < -1 || in.offline > 1) {
      return kget::fail(kget::ErrorKind::usage,
                        "kget_options.offline is {}; expected -1 (from the environment), 0 or 1",
                        in.offline);
    }
    if (in.offline >= 0) {
      options.offline = in.offline == 1;
    }
  }
  if (KGET_HAS_FIELD(in, device)) {
    options.device = text_or_empty(in.device);
  }
  if (KGET_HAS_FIELD(in, verify_full)) {
    options.verify_full = in.verify_full != 0;
  }
  if (KGET_HAS_FIELD(in, lock_file)) {
    options.lock_file = text_or_empty(in.lock_file);
  }
  return options;
}

// A kget_arg as the C++ API's Arg, bit for bit: converting through Arg's typed constructors would
// normalize what the schema check must see as the caller wrote it (a bool of 2, an unknown kind).
// Arg holds exactly one kget_arg, so its object representation is that of the kget_arg.
kget::Arg arg_from(const kget_arg& raw) {
  static_assert(std::is_trivially_copyable_v<kget::Arg> && std::is_standard_layout_v<kget::Arg> &&
                sizeof(kget::Arg) == sizeof(kget_arg));
  kget::Arg arg(std::nullopt);
  std::memcpy(static_cast<void*>(&arg), &raw, sizeof raw);
  return arg;
}

const kget::Op* find_op(const kget_kernel& kernel, const char* name) {
  for (const auto& op : kernel.ops) {
    if (op.name() == name) {
      return &op;
    }
  }
  return nullptr;
}

// Runs `body`, turning what it throws into a status and this thread's message.
template <class Body>
kget_status guarded(const char* function, Body&& body) {
  try {
    return body();
  } catch (const kget::Error& error) {
    return record({error.kind(), error.what()});
  } catch (const std::bad_alloc&) {
    return record({kget::ErrorKind::internal, std::string(function) + ": out of memory"});
  } catch (const std::exception& error) {
    return record({kget::ErrorKind::internal, std::string(function) + ": " + error.what()});
  }
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

kget_status kget_get_kernel(const char* reference, const kget_options* options,
                            kget_kernel** kernel) {
  t_last_error.clear();
  if (kernel != nullptr) {
    *kernel = nullptr;
  }
  if (reference == nullptr || kernel == nullptr) {
    return record(
        {kget::ErrorKind::usage, "kget_get_kernel: reference and kernel must not be NULL"});
  }
  return guarded("kget_get_kernel", [&] {
    auto cxx_options = options_from(options);
    if (!cxx_options) {
      return record(cxx_options.error());
    }
    auto loaded = kget::get_kernel(reference, *cxx_options);
    auto ops = loaded.ops();
    *kernel = new kget_kernel{std::move(loaded), std::move(ops)};
    return KGET_OK;
  });
}

void kget_kernel_free(kget_kernel* kernel) {
  delete kernel;
}

const char* kget_kernel_repo_id(const kget_kernel* kernel) {
  return kernel != nullptr ? kernel->kernel.repo_id().c_str() : nullptr;
}

const char* kget_kernel_variant(const kget_kernel* kernel) {
  return kernel != nullptr ? kernel->kernel.variant().c_str() : nullptr;
}

const char* kget_kernel_commit(const kget_kernel* kernel) {
  return kernel != nullptr ? kernel->kernel.commit().c_str() : nullptr;
}

const char* kget_kernel_reason(const kget_kernel* kernel) {
  return kernel != nullptr ? kernel->kernel.reason().c_str() : nullptr;
}

const char* kget_kernel_source(const kget_kernel* kernel) {
  return kernel != nullptr ? kernel->kernel.source().c_str() : nullptr;
}

const char* kget_kernel_path(const kget_kernel* kernel) {
  return kernel != nullptr ? kernel->kernel.path().c_str() : nullptr;
}

const char* kget_kernel_library_path(const kget_kernel* kernel) {
  return kernel != nullptr ? kernel->kernel.library_path().c_str() : nullptr;
}

size_t kget_kernel_op_count(const kget_kernel* kernel) {
  return kernel != nullptr ? kernel->ops.size() : 0;
}

const char* kget_kernel_op_name(const kget_kernel* kernel, size_t i) {
  return kernel != nullptr && i < kernel->ops.size() ? kernel->ops[i].name().c_str() : nullptr;
}

const char* kget_kernel_op_schema(const kget_kernel* kernel, size_t i) {
  return kernel != nullptr && i < kernel->ops.size() ? kernel->ops[i].schema().c_str() : nullptr;
}

kget_status kget_kernel_call(const kget_kernel* kernel, const char* op, const kget_arg* args,
                             size_t nargs) {
  t_last_error.clear();
  if (kernel == nullptr || op == nullptr) {
    return record({kget::ErrorKind::usage, "kget_kernel_call: kernel and op must not be NULL"});
  }
  if (args == nullptr && nargs > 0) {
    return record({kget::ErrorKind::usage, "kget_kernel_call: " + std::string(op) +
                                               ": args is NULL with " + std::to_string(nargs) +
                                               " arguments"});
  }
  return guarded("kget_kernel_call", [&] {
    const kget::Op* found = find_op(*kernel, op);
    if (found == nullptr) {
      kernel->kernel.op(op); // throws not_found, naming the ops the kernel has
      return record({kget::ErrorKind::internal, "kget_kernel_call: op lookup disagrees"});
    }
    std::vector<kget::Arg> packed;
    packed.reserve(nargs);
    for (size_t i = 0; i < nargs; ++i) {
      packed.push_back(arg_from(args[i]));
    }
    found->call(packed.data(), nargs);
    return KGET_OK;
  });
}

} // extern "C"
