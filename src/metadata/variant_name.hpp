// Names of build/<variant>/ directories. kget's own grammar is `kget<ABI>-<backend>-<cpu>-<os>`;
// the Python `kernels` grammars (torch, torch-stable-abi, tvm-ffi, noarch, universal) are
// recognised so that they can be rejected with the right reason instead of "unknown".
#pragma once

#include "metadata/metadata.hpp"
#include "util/strings.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace kget::metadata {

enum class BackendType { cpu, cuda };

struct Backend {
  BackendType type = BackendType::cpu;
  util::MajorMinor cuda_toolkit; // cu130 -> 13.0; only for cuda
};

// kget1-cu130-x86_64-linux
struct KgetVariantName {
  int abi_major = 0;
  Backend backend;
  std::string cpu; // x86_64, aarch64
  std::string os;  // linux
};

// A variant built for another framework; `reason` says which and why kget cannot load it.
struct ForeignVariantName {
  std::string reason;
};

// A name that follows no known grammar, or a kget name with a backend kget does not support.
struct UnrecognisedVariantName {
  std::string reason;
};

using ParsedVariantName =
    std::variant<KgetVariantName, ForeignVariantName, UnrecognisedVariantName>;

ParsedVariantName parse_variant_name(std::string_view name);

// Squashed CUDA versions put the minor in the last digit: "130" -> 13.0, "118" -> 11.8,
// "90" -> 9.0 (as in cu130 and sm_90). nullopt unless at least two digits.
std::optional<util::MajorMinor> parse_squashed_version(std::string_view digits);

// "cu130" for CUDA 13.0, "cpu" for the CPU.
std::string backend_token(const Backend& backend);
std::string format_variant_name(const KgetVariantName& name);

// How `meta` contradicts the variant's name (backend, ABI major, CUDA toolkit, a minimum driver
// below the toolkit's major), e.g. "the name says ABI 1, $.kget.abi.major says 2"; nullopt when
// they agree. The name is what the Hub and mirrors see, so metadata must not contradict it.
std::optional<std::string> name_contradiction(const KgetVariantName& name,
                                              const VariantMetadata& meta);

} // namespace kget::metadata
