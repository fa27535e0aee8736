#include "metadata/variant_name.hpp"

#include <cctype>
#include <fmt/format.h>
#include <optional>
#include <vector>

namespace kget::metadata {

namespace {

bool all_digits(std::string_view text) {
  if (text.empty()) {
    return false;
  }
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

// Torch versions squash the other way: torch212 = 2.12 (the first digit is the major).
std::string torch_version(std::string_view digits) {
  if (digits.size() < 2) {
    return std::string(digits);
  }
  return fmt::format("{}.{}", digits.substr(0, 1), digits.substr(1));
}

std::string describe_backend(std::string_view token) {
  if (token == "cpu") {
    return "CPU";
  }
  if (util::starts_with(token, "cu")) {
    if (auto version = parse_squashed_version(token.substr(2))) {
      return fmt::format("CUDA {}.{}", version->major, version->minor);
    }
  }
  if (util::starts_with(token, "rocm")) {
    if (auto version = parse_squashed_version(token.substr(4))) {
      return fmt::format("ROCm {}.{}", version->major, version->minor);
    }
  }
  return std::string(token);
}

std::string_view strip_digits_prefix(std::string_view text, std::string_view prefix,
                                     std::string_view& digits) {
  std::string_view rest = text.substr(prefix.size());
  size_t n = 0;
  while (n < rest.size() && std::isdigit(static_cast<unsigned char>(rest[n]))) {
    ++n;
  }
  digits = rest.substr(0, n);
  return rest.substr(n);
}

ForeignVariantName foreign_arch(std::string_view framework, std::string_view rest_parts) {
  // rest_parts is "-<backend>-<cpu>-<os>" (possibly with a cxx11 tag first)
  auto parts = util::split(rest_parts.substr(rest_parts.empty() ? 0 : 1), '-');
  std::string detail;
  if (!parts.empty() && (parts[0] == "cxx11" || parts[0] == "cxx98")) {
    parts.erase(parts.begin());
  }
  if (parts.size() == 3) {
    detail = fmt::format(", {}, {}-{}", describe_backend(parts[0]), parts[1], parts[2]);
  }
  return {fmt::format("built for {}{}, not kget's C ABI", framework, detail)};
}

std::optional<ParsedVariantName> parse_python_grammar(std::string_view name) {
  std::string_view digits;
  if (util::starts_with(name, "torch-stable-abi")) {
    auto rest = strip_digits_prefix(name, "torch-stable-abi", digits);
    return foreign_arch(fmt::format("PyTorch/Python (torch stable ABI {})", torch_version(digits)),
                        rest);
  }
  if (util::starts_with(name, "tvm-ffi")) {
    auto rest = strip_digits_prefix(name, "tvm-ffi", digits);
    return foreign_arch(fmt::format("PyTorch/Python (TVM-FFI {} module)", torch_version(digits)),
                        rest);
  }
  if (name == "torch-universal") {
    return ForeignVariantName{"built for PyTorch/Python (torch-universal, pure Python), not "
                              "kget's C ABI"};
  }
  if (util::starts_with(name, "torch-")) {
    return ForeignVariantName{
        fmt::format("built for PyTorch/Python (noarch {}), not kget's C ABI", name)};
  }
  if (util::starts_with(name, "torch")) {
    auto rest = strip_digits_prefix(name, "torch", digits);
    if (!digits.empty()) {
      return foreign_arch(fmt::format("PyTorch/Python (torch {})", torch_version(digits)), rest);
    }
  }
  return std::nullopt;
}

UnrecognisedVariantName unrecognised(std::string_view name, std::string_view why) {
  return {fmt::format("\"{}\" is not a variant name kget knows ({}); expected "
                      "kget<ABI>-<cpu|cuXY>-<arch>-<os>, e.g. kget1-cu130-x86_64-linux",
                      name, why)};
}

bool is_token(std::string_view text) {
  if (text.empty()) {
    return false;
  }
  for (char c : text) {
    if (!std::islower(static_cast<unsigned char>(c)) &&
        !std::isdigit(static_cast<unsigned char>(c)) && c != '_') {
      return false;
    }
  }
  return true;
}

ParsedVariantName parse_kget_grammar(std::string_view name) {
  std::string_view digits;
  std::string_view rest = strip_digits_prefix(name, "kget", digits);
  auto abi = util::parse_uint(digits);
  if (!abi || (digits.size() > 1 && digits[0] == '0')) {
    return unrecognised(name, "no ABI major after \"kget\"");
  }
  auto parts = util::split(rest, '-');
  // rest starts with '-', so parts[0] is empty
  if (parts.size() != 4 || !parts[0].empty()) {
    return unrecognised(name, "expected four '-'-separated parts");
  }
  KgetVariantName out;
  out.abi_major = *abi;
  std::string_view backend = parts[1];
  if (backend == "cpu") {
    out.backend.type = BackendType::cpu;
  } else if (util::starts_with(backend, "cu") && parse_squashed_version(backend.substr(2))) {
    out.backend.type = BackendType::cuda;
    out.backend.cuda_toolkit = *parse_squashed_version(backend.substr(2));
  } else {
    return UnrecognisedVariantName{
        fmt::format("backend \"{}\" ({}) is not supported by kget; supported: cpu, cuXY", backend,
                    describe_backend(backend))};
  }
  if (!is_token(parts[2]) || !is_token(parts[3])) {
    return unrecognised(name, "the CPU and OS parts must be lower-case tokens");
  }
  out.cpu = std::string(parts[2]);
  out.os = std::string(parts[3]);
  return out;
}

} // namespace

std::optional<util::MajorMinor> parse_squashed_version(std::string_view digits) {
  if (digits.size() < 2 || !all_digits(digits)) {
    return std::nullopt;
  }
  auto major = util::parse_uint(digits.substr(0, digits.size() - 1));
  auto minor = util::parse_uint(digits.substr(digits.size() - 1));
  if (!major || !minor) {
    return std::nullopt;
  }
  return util::MajorMinor{*major, *minor};
}

ParsedVariantName parse_variant_name(std::string_view name) {
  if (util::starts_with(name, "kget")) {
    return parse_kget_grammar(name);
  }
  if (auto python = parse_python_grammar(name)) {
    return *python;
  }
  return unrecognised(name, "unknown framework prefix");
}

std::string backend_token(const Backend& backend) {
  if (backend.type == BackendType::cpu) {
    return "cpu";
  }
  return fmt::format("cu{}{}", backend.cuda_toolkit.major, backend.cuda_toolkit.minor);
}

std::string format_variant_name(const KgetVariantName& name) {
  return fmt::format("kget{}-{}-{}-{}", name.abi_major, backend_token(name.backend), name.cpu,
                     name.os);
}

std::optional<std::string> name_contradiction(const KgetVariantName& name,
                                              const VariantMetadata& meta) {
  bool name_is_cuda = name.backend.type == BackendType::cuda;
  if (name_is_cuda != (meta.backend_type == "cuda")) {
    return fmt::format("the name says {}, $.backend.type says \"{}\"", backend_token(name.backend),
                       meta.backend_type);
  }
  if (name.abi_major != meta.kget.abi_major) {
    return fmt::format("the name says ABI {}, $.kget.abi.major says {}", name.abi_major,
                       meta.kget.abi_major);
  }
  if (!name_is_cuda) {
    return std::nullopt;
  }
  const auto& cuda = *meta.kget.cuda;
  if (cuda.toolkit != name.backend.cuda_toolkit) {
    return fmt::format("the name says CUDA {}, $.kget.cuda.toolkit says {}",
                       util::to_string(name.backend.cuda_toolkit), util::to_string(cuda.toolkit));
  }
  if (cuda.min_driver < util::MajorMinor{cuda.toolkit.major, 0}) {
    return fmt::format("$.kget.cuda.min_driver {} is below {}.0, the least a CUDA {} build needs",
                       util::to_string(cuda.min_driver), cuda.toolkit.major,
                       util::to_string(cuda.toolkit));
  }
  return std::nullopt;
}

} // namespace kget::metadata
