#include "metadata/metadata.hpp"

#include "metadata/variant_name.hpp"

#include <nlohmann/json.hpp>
#include <set>

namespace kget::metadata {

namespace {

using nlohmann::json;

const char* type_name(const json& value) {
  switch (value.type()) {
  case json::value_t::null:
    return "null";
  case json::value_t::object:
    return "an object";
  case json::value_t::array:
    return "an array";
  case json::value_t::string:
    return "a string";
  case json::value_t::boolean:
    return "a boolean";
  case json::value_t::number_integer:
  case json::value_t::number_unsigned:
    return "an integer";
  case json::value_t::number_float:
    return "a number";
  default:
    return "something else";
  }
}

// A short rendering of a wrong-typed value. Containers are summarised, not dumped: dump() recurses,
// and a hostile document can nest deeply enough to exhaust the stack.
std::string preview(const json& value) {
  if (value.is_array() || value.is_object()) {
    return fmt::format("with {} {}", value.size(), value.is_array() ? "elements" : "keys");
  }
  std::string text = value.dump();
  if (text.size() > 40) {
    text = text.substr(0, 37) + "...";
  }
  return text;
}

std::unexpected<Failure> wrong_type(const std::string& path, std::string_view expected,
                                    const json& found) {
  return fail(ErrorKind::invalid_metadata, "metadata.json {}: expected {}, found {} {}", path,
              expected, type_name(found), preview(found));
}

std::unexpected<Failure> invalid(const std::string& path, std::string_view what) {
  return fail(ErrorKind::invalid_metadata, "metadata.json {}: {}", path, what);
}

// Field access that knows where it is in the document.
class Node {
public:
  Node(const json& value, std::string path) : m_value(value), m_path(std::move(path)) {}

  const json& value() const { return m_value; }
  const std::string& path() const { return m_path; }

  Result<Node> field(std::string_view key) const {
    auto it = m_value.find(key);
    if (it == m_value.end()) {
      return invalid(child_path(key), "missing (required)");
    }
    return Node(*it, child_path(key));
  }
  std::optional<Node> optional_field(std::string_view key) const {
    auto it = m_value.find(key);
    if (it == m_value.end()) {
      return std::nullopt;
    }
    return Node(*it, child_path(key));
  }
  Node element(size_t index) const {
    return Node(m_value[index], fmt::format("{}[{}]", m_path, index));
  }

  Result<void> expect_object() const {
    if (!m_value.is_object()) {
      return wrong_type(m_path, "an object", m_value);
    }
    return {};
  }
  Result<std::string> as_string(bool allow_empty = false) const {
    if (!m_value.is_string()) {
      return wrong_type(m_path, "a string", m_value);
    }
    auto text = m_value.get<std::string>();
    if (text.empty() && !allow_empty) {
      return invalid(m_path, "must not be empty");
    }
    return text;
  }
  Result<int> as_int(int min, int max) const {
    if (!m_value.is_number_integer()) {
      return wrong_type(m_path, "an integer", m_value);
    }
    auto number = m_value.get<long long>();
    if (number < min || number > max) {
      return invalid(m_path, fmt::format("{} is out of range [{}, {}]", number, min, max));
    }
    return static_cast<int>(number);
  }
  Result<std::vector<std::string>> as_string_array() const {
    if (!m_value.is_array()) {
      return wrong_type(m_path, "an array of strings", m_value);
    }
    std::vector<std::string> out;
    for (size_t i = 0; i < m_value.size(); ++i) {
      KGET_TRY_ASSIGN(auto text, element(i).as_string());
      out.push_back(std::move(text));
    }
    return out;
  }

private:
  std::string child_path(std::string_view key) const { return fmt::format("{}.{}", m_path, key); }

  const json& m_value;
  std::string m_path;
};

Result<util::MajorMinor> as_major_minor(const Node& node) {
  KGET_TRY_ASSIGN(auto text, node.as_string());
  auto version = util::parse_major_minor(text);
  if (!version) {
    return invalid(node.path(),
                   fmt::format("\"{}\" is not a MAJOR.MINOR version such as \"13.0\"", text));
  }
  return *version;
}

// A variant-relative file path: no way out of the variant directory and nothing ambiguous.
std::optional<std::string> path_problem(std::string_view path) {
  if (path.empty()) {
    return "an empty path";
  }
  if (path.front() == '/') {
    return "an absolute path";
  }
  if (path.find('\\') != std::string_view::npos) {
    return "a backslash";
  }
  if (path.find('\0') != std::string_view::npos) {
    return "a NUL byte";
  }
  for (auto part : util::split(path, '/')) {
    if (part.empty() || part == "." || part == "..") {
      return fmt::format("the path component \"{}\"", part);
    }
  }
  return std::nullopt;
}

size_t base64_decoded_size(std::string_view text) {
  // Returns 0 for anything that is not canonical padded base64.
  if (text.empty() || text.size() % 4 != 0) {
    return 0;
  }
  size_t padding = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (c == '=') {
      if (i < text.size() - 2) {
        return 0;
      }
      ++padding;
    } else if (padding > 0 || !(alnum || c == '+' || c == '/')) {
      return 0;
    }
  }
  return text.size() / 4 * 3 - padding;
}

Result<void> parse_backend(const Node& root, VariantMetadata& out) {
  KGET_TRY_ASSIGN(auto backend, root.field("backend"));
  KGET_TRY(backend.expect_object());
  KGET_TRY_ASSIGN(auto type, backend.field("type"));
  KGET_TRY_ASSIGN(out.backend_type, type.as_string());
  if (out.backend_type != "cuda" && out.backend_type != "cpu") {
    return invalid(type.path(), fmt::format("\"{}\" is not a backend kget loads (cuda or cpu)",
                                            out.backend_type));
  }
  if (auto archs = backend.optional_field("archs")) {
    KGET_TRY_ASSIGN(out.backend_archs, archs->as_string_array());
  }
  return {};
}

Result<void> parse_digest(const Node& root, VariantMetadata& out) {
  KGET_TRY_ASSIGN(auto digest, root.field("digest"));
  KGET_TRY(digest.expect_object());
  KGET_TRY_ASSIGN(auto algorithm, digest.field("algorithm"));
  KGET_TRY_ASSIGN(out.digest_algorithm, algorithm.as_string());
  size_t expected_bytes = 0;
  if (out.digest_algorithm == "sha256") {
    expected_bytes = 32;
  } else if (out.digest_algorithm == "sha512") {
    expected_bytes = 64;
  } else {
    return invalid(algorithm.path(),
                   fmt::format("\"{}\" is not a digest algorithm kget knows (sha256, sha512)",
                               out.digest_algorithm));
  }
  KGET_TRY_ASSIGN(auto files, digest.field("files"));
  KGET_TRY(files.expect_object());
  if (files.value().empty()) {
    return invalid(files.path(), "lists no files");
  }
  for (const auto& [path, value] : files.value().items()) {
    Node file(value, fmt::format("{}[\"{}\"]", files.path(), path));
    if (auto problem = path_problem(path)) {
      return invalid(file.path(), fmt::format("the file path contains {}", *problem));
    }
    KGET_TRY_ASSIGN(auto encoded, file.as_string());
    if (base64_decoded_size(encoded) != expected_bytes) {
      return invalid(file.path(), fmt::format("\"{}\" is not a base64 {} digest ({} bytes)",
                                              encoded, out.digest_algorithm, expected_bytes));
    }
    out.digest_files[path] = encoded;
  }
  return {};
}

Result<std::vector<CudaTarget>> parse_targets(const Node& node, CudaTarget::Kind kind) {
  KGET_TRY_ASSIGN(auto texts, node.as_string_array());
  std::vector<CudaTarget> out;
  for (size_t i = 0; i < texts.size(); ++i) {
    auto target = parse_cuda_target(texts[i]);
    if (!target || target->kind != kind) {
      return invalid(node.element(i).path(),
                     fmt::format("\"{}\" is not a {} target such as \"{}\"", texts[i],
                                 kind == CudaTarget::Kind::sass ? "SASS" : "PTX",
                                 kind == CudaTarget::Kind::sass ? "sm_90a" : "compute_90"));
    }
    out.push_back(*target);
  }
  return out;
}

Result<CudaRequirements> parse_cuda(const Node& cuda) {
  KGET_TRY(cuda.expect_object());
  CudaRequirements out;
  KGET_TRY_ASSIGN(auto toolkit, cuda.field("toolkit"));
  KGET_TRY_ASSIGN(out.toolkit, as_major_minor(toolkit));
  KGET_TRY_ASSIGN(auto min_driver, cuda.field("min_driver"));
  KGET_TRY_ASSIGN(out.min_driver, as_major_minor(min_driver));
  KGET_TRY_ASSIGN(auto sass, cuda.field("sass"));
  KGET_TRY_ASSIGN(out.sass, parse_targets(sass, CudaTarget::Kind::sass));
  KGET_TRY_ASSIGN(auto ptx, cuda.field("ptx"));
  KGET_TRY_ASSIGN(out.ptx, parse_targets(ptx, CudaTarget::Kind::ptx));
  if (out.sass.empty() && out.ptx.empty()) {
    return invalid(cuda.path(), "lists neither SASS nor PTX targets");
  }
  return out;
}

Result<std::vector<Op>> parse_ops(const Node& ops) {
  if (!ops.value().is_array()) {
    return wrong_type(ops.path(), "an array of ops", ops.value());
  }
  std::vector<Op> out;
  std::set<std::string> seen;
  for (size_t i = 0; i < ops.value().size(); ++i) {
    Node op = ops.element(i);
    KGET_TRY(op.expect_object());
    KGET_TRY_ASSIGN(auto name, op.field("name"));
    KGET_TRY_ASSIGN(auto schema, op.field("schema"));
    Op parsed;
    KGET_TRY_ASSIGN(parsed.name, name.as_string());
    KGET_TRY_ASSIGN(parsed.schema, schema.as_string());
    if (!seen.insert(parsed.name).second) {
      return invalid(name.path(), fmt::format("op \"{}\" is listed twice", parsed.name));
    }
    if (!util::starts_with(parsed.schema, parsed.name + "(")) {
      return invalid(schema.path(), fmt::format("the schema \"{}\" does not start with \"{}(\"",
                                                parsed.schema, parsed.name));
    }
    out.push_back(std::move(parsed));
  }
  if (out.empty()) {
    return invalid(ops.path(), "lists no ops");
  }
  return out;
}

// Feature names are compared verbatim with the host's, so "AVX2" would never match.
bool is_feature_name(std::string_view name) {
  if (name.empty()) {
    return false;
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
    if (!ok) {
      return false;
    }
  }
  return true;
}

Result<void> parse_requires(const Node& kget, KgetSection& out) {
  auto requires_node = kget.optional_field("requires");
  if (!requires_node) {
    return {};
  }
  KGET_TRY(requires_node->expect_object());
  if (auto versions = requires_node->optional_field("symbol_versions")) {
    KGET_TRY_ASSIGN(out.symbol_versions, versions->as_string_array());
    for (size_t i = 0; i < out.symbol_versions.size(); ++i) {
      if (!parse_symbol_version(out.symbol_versions[i])) {
        return invalid(versions->element(i).path(),
                       fmt::format("\"{}\" is not a GLIBC_x.y, GLIBCXX_x.y.z or CXXABI_x.y.z "
                                   "symbol version",
                                   out.symbol_versions[i]));
      }
    }
  }
  if (auto features = requires_node->optional_field("cpu_features")) {
    KGET_TRY_ASSIGN(out.cpu_features, features->as_string_array());
    for (size_t i = 0; i < out.cpu_features.size(); ++i) {
      if (!is_feature_name(out.cpu_features[i])) {
        return invalid(features->element(i).path(),
                       fmt::format("\"{}\" is not a CPU feature name as kget env prints them "
                                   "(lower case, e.g. \"avx2\", \"avx512f\", \"amx-tile\")",
                                   out.cpu_features[i]));
      }
    }
  }
  return {};
}

Result<void> parse_kget_section(const Node& root, VariantMetadata& out) {
  KGET_TRY_ASSIGN(auto kget, root.field("kget"));
  KGET_TRY(kget.expect_object());
  KGET_TRY_ASSIGN(auto abi, kget.field("abi"));
  KGET_TRY(abi.expect_object());
  KGET_TRY_ASSIGN(auto abi_major, abi.field("major"));
  KGET_TRY_ASSIGN(out.kget.abi_major, abi_major.as_int(1, 1000));
  KGET_TRY_ASSIGN(auto abi_minor, abi.field("minor"));
  KGET_TRY_ASSIGN(out.kget.abi_minor, abi_minor.as_int(0, 1000000));

  KGET_TRY_ASSIGN(auto library, kget.field("library"));
  KGET_TRY_ASSIGN(out.kget.library, library.as_string());
  if (auto problem = path_problem(out.kget.library)) {
    return invalid(library.path(), fmt::format("the path contains {}", *problem));
  }
  if (!out.digest_files.contains(out.kget.library)) {
    return invalid(library.path(),
                   fmt::format("\"{}\" is not listed in $.digest.files", out.kget.library));
  }
  KGET_TRY_ASSIGN(auto ops, kget.field("ops"));
  KGET_TRY_ASSIGN(out.kget.ops, parse_ops(ops));

  auto cuda = kget.optional_field("cuda");
  if (out.backend_type == "cuda" && !cuda) {
    return invalid(kget.path() + ".cuda", "missing (required when $.backend.type is \"cuda\")");
  }
  if (out.backend_type != "cuda" && cuda) {
    return invalid(cuda->path(), "present, but $.backend.type is not \"cuda\"");
  }
  if (cuda) {
    KGET_TRY_ASSIGN(out.kget.cuda, parse_cuda(*cuda));
  }
  return parse_requires(kget, out.kget);
}

} // namespace

std::optional<CudaTarget> parse_cuda_target(std::string_view text) {
  CudaTarget target;
  std::string_view rest;
  if (util::starts_with(text, "sm_")) {
    target.kind = CudaTarget::Kind::sass;
    rest = text.substr(3);
  } else if (util::starts_with(text, "compute_")) {
    target.kind = CudaTarget::Kind::ptx;
    rest = text.substr(8);
  } else {
    return std::nullopt;
  }
  if (!rest.empty() && (rest.back() == 'a' || rest.back() == 'f')) {
    target.suffix =
        rest.back() == 'a' ? CudaTarget::Suffix::arch_specific : CudaTarget::Suffix::family;
    rest.remove_suffix(1);
  }
  if (rest.size() > 3 || (!rest.empty() && rest.front() == '0')) {
    return std::nullopt;
  }
  auto capability = parse_squashed_version(rest);
  if (!capability) {
    return std::nullopt;
  }
  target.capability = *capability;
  return target;
}

std::string to_string(const CudaTarget& target) {
  const char* suffix = target.suffix == CudaTarget::Suffix::arch_specific ? "a"
                       : target.suffix == CudaTarget::Suffix::family      ? "f"
                                                                          : "";
  return fmt::format("{}_{}{}{}", target.kind == CudaTarget::Kind::sass ? "sm" : "compute",
                     target.capability.major, target.capability.minor, suffix);
}

std::optional<SymbolVersion> parse_symbol_version(std::string_view text) {
  auto underscore = text.find('_');
  if (underscore == std::string_view::npos) {
    return std::nullopt;
  }
  std::string family(text.substr(0, underscore));
  if (family != "GLIBC" && family != "GLIBCXX" && family != "CXXABI") {
    return std::nullopt;
  }
  auto version = util::parse_dotted(text.substr(underscore + 1));
  if (!version || version->size() < 2) {
    return std::nullopt;
  }
  return SymbolVersion{family, *version};
}

Result<VariantMetadata> parse_metadata(std::string_view json_text) {
  json document;
  try {
    document = json::parse(json_text);
  } catch (const json::parse_error& error) {
    return fail(ErrorKind::invalid_metadata, "metadata.json is not valid JSON: {}", error.what());
  }
  Node root(document, "$");
  KGET_TRY(root.expect_object());
  VariantMetadata out;
  KGET_TRY_ASSIGN(auto name, root.field("name"));
  KGET_TRY_ASSIGN(out.name, name.as_string());
  if (auto id = root.optional_field("id")) {
    KGET_TRY_ASSIGN(out.id, id->as_string());
  }
  KGET_TRY_ASSIGN(auto version, root.field("version"));
  KGET_TRY_ASSIGN(out.version, version.as_int(0, 1000000));
  if (auto license = root.optional_field("license")) {
    KGET_TRY_ASSIGN(out.license, license->as_string());
  }
  KGET_TRY(parse_backend(root, out));
  KGET_TRY(parse_digest(root, out));
  KGET_TRY(parse_kget_section(root, out));
  return out;
}

} // namespace kget::metadata
