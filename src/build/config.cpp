// build.toml and matrix.toml through toml++. Every value is checked for its type and range here,
// so that the builder never meets a half-valid spec; unknown keys are refused because a misspelt
// key would otherwise be silently ignored.
#include "build/config.hpp"

#include "build/deps.hpp"
#include "metadata/variant_name.hpp"
#include "util/fs.hpp"

#include <algorithm>
#include <set>
#include <toml++/toml.h>

namespace kget::build {

namespace fs = std::filesystem;

namespace {

// Where values come from, for "file:line: key: ..." messages.
class Document {
public:
  explicit Document(fs::path file) : m_file(std::move(file)) {}

  const fs::path& file() const { return m_file; }
  fs::path directory() const { return m_file.parent_path(); }

  template <class... Args>
  std::unexpected<Failure> error(const toml::node* node, std::string_view key,
                                 fmt::format_string<Args...> format, Args&&... args) const {
    std::string where = m_file.string();
    if (node != nullptr && node->source().begin.line > 0) {
      where += fmt::format(":{}", node->source().begin.line);
    }
    return fail(ErrorKind::invalid_metadata, "{}: {}: {}", where, key,
                fmt::format(format, std::forward<Args>(args)...));
  }

private:
  fs::path m_file;
};

std::string type_name(const toml::node& node) {
  switch (node.type()) {
  case toml::node_type::string:
    return "a string";
  case toml::node_type::integer:
    return "an integer";
  case toml::node_type::floating_point:
    return "a float";
  case toml::node_type::boolean:
    return "a boolean";
  case toml::node_type::array:
    return "an array";
  case toml::node_type::table:
    return "a table";
  default:
    return "a date or time";
  }
}

Result<void> refuse_unknown_keys(const Document& doc, const toml::table& table,
                                 std::string_view table_name,
                                 std::initializer_list<std::string_view> known) {
  for (const auto& [key, value] : table) {
    if (std::find(known.begin(), known.end(), key.str()) == known.end()) {
      std::vector<std::string> names(known.begin(), known.end());
      return doc.error(&value, fmt::format("{}.{}", table_name, key.str()),
                       "unknown key; expected one of {}", util::join(names, ", "));
    }
  }
  return {};
}

Result<const toml::table*> required_table(const Document& doc, const toml::table& parent,
                                          std::string_view key, std::string_view shown) {
  const toml::node* node = parent.get(key);
  if (node == nullptr) {
    return doc.error(&parent, shown, "missing table [{}]", shown);
  }
  if (!node->is_table()) {
    return doc.error(node, shown, "expected a table, found {}", type_name(*node));
  }
  return node->as_table();
}

Result<std::optional<std::string>> optional_string(const Document& doc, const toml::table& table,
                                                   std::string_view key, std::string_view shown) {
  const toml::node* node = table.get(key);
  if (node == nullptr) {
    return std::nullopt;
  }
  if (!node->is_string()) {
    return doc.error(node, shown, "expected a string, found {}", type_name(*node));
  }
  return node->as_string()->get();
}

Result<std::string> required_string(const Document& doc, const toml::table& table,
                                    std::string_view key, std::string_view shown) {
  KGET_TRY_ASSIGN(auto value, optional_string(doc, table, key, shown));
  if (!value) {
    return doc.error(&table, shown, "missing; expected a string");
  }
  if (value->empty()) {
    return doc.error(table.get(key), shown, "expected a non-empty string");
  }
  return *value;
}

Result<std::vector<std::string>> string_array(const Document& doc, const toml::table& table,
                                              std::string_view key, std::string_view shown) {
  std::vector<std::string> values;
  const toml::node* node = table.get(key);
  if (node == nullptr) {
    return values;
  }
  const toml::array* array = node->as_array();
  if (array == nullptr) {
    return doc.error(node, shown, "expected an array of strings, found {}", type_name(*node));
  }
  for (size_t i = 0; i < array->size(); ++i) {
    const toml::node& element = *array->get(i);
    if (!element.is_string()) {
      return doc.error(&element, fmt::format("{}[{}]", shown, i), "expected a string, found {}",
                       type_name(element));
    }
    values.push_back(element.as_string()->get());
  }
  return values;
}

// Paths relative to the document's directory, made absolute; each must exist.
Result<std::vector<fs::path>> path_array(const Document& doc, const toml::table& table,
                                         std::string_view key, std::string_view shown) {
  KGET_TRY_ASSIGN(auto names, string_array(doc, table, key, shown));
  std::vector<fs::path> paths;
  const toml::node* node = table.get(key);
  for (size_t i = 0; i < names.size(); ++i) {
    fs::path path = (doc.directory() / names[i]).lexically_normal();
    std::error_code error;
    if (!fs::exists(path, error)) {
      return doc.error(node->as_array()->get(i), fmt::format("{}[{}]", shown, i),
                       "\"{}\" does not exist (looked for {})", names[i], path.string());
    }
    paths.push_back(std::move(path));
  }
  return paths;
}

Result<int> integer_in_range(const Document& doc, const toml::table& table, std::string_view key,
                             std::string_view shown, int64_t low, int64_t high) {
  const toml::node* node = table.get(key);
  if (node == nullptr) {
    return doc.error(&table, shown, "missing; expected an integer");
  }
  if (!node->is_integer()) {
    return doc.error(node, shown, "expected an integer, found {}", type_name(*node));
  }
  int64_t value = node->as_integer()->get();
  if (value < low || value > high) {
    return doc.error(node, shown, "expected {}..{}, found {}", low, high, value);
  }
  return static_cast<int>(value);
}

// "9.0a" -> SASS sm_90a; the form of cuda-capabilities and of the matrix's sass lists.
Result<metadata::CudaTarget> parse_capability(const Document& doc, const toml::node* node,
                                              std::string_view shown, std::string_view text) {
  std::string_view numbers = text;
  std::string suffix;
  if (!numbers.empty() && (numbers.back() == 'a' || numbers.back() == 'f')) {
    suffix = numbers.back();
    numbers.remove_suffix(1);
  }
  auto version = util::parse_major_minor(numbers);
  std::optional<metadata::CudaTarget> target;
  if (version && version->minor < 10) {
    target = metadata::parse_cuda_target(
        fmt::format("sm_{}{}{}", version->major, version->minor, suffix));
  }
  if (!target) {
    return doc.error(node, shown, "\"{}\" is not a CUDA capability such as \"9.0\" or \"9.0a\"",
                     text);
  }
  return *target;
}

// `lines`, when given, receives the line of each element (for errors the builder reports later).
Result<std::vector<metadata::CudaTarget>>
capability_array(const Document& doc, const toml::table& table, std::string_view key,
                 std::string_view shown, std::vector<int>* lines = nullptr) {
  KGET_TRY_ASSIGN(auto texts, string_array(doc, table, key, shown));
  std::vector<metadata::CudaTarget> targets;
  for (size_t i = 0; i < texts.size(); ++i) {
    const toml::node* element = table.get(key)->as_array()->get(i);
    KGET_TRY_ASSIGN(auto target,
                    parse_capability(doc, element, fmt::format("{}[{}]", shown, i), texts[i]));
    if (std::find(targets.begin(), targets.end(), target) != targets.end()) {
      return doc.error(element, fmt::format("{}[{}]", shown, i), "\"{}\" is listed twice",
                       texts[i]);
    }
    targets.push_back(target);
    if (lines != nullptr) {
      lines->push_back(static_cast<int>(element->source().begin.line));
    }
  }
  return targets;
}

Result<toml::table> parse_toml(std::string_view text, const fs::path& file) {
  try {
    return toml::parse(text, file.string());
  } catch (const toml::parse_error& error) {
    return fail(ErrorKind::invalid_metadata, "{}:{}: not valid TOML: {}", file.string(),
                error.source().begin.line, error.description());
  }
}

Result<std::vector<metadata::Op>> parse_ops(const Document& doc, const toml::table& root) {
  const toml::node* node = root.get("ops");
  if (node == nullptr || !node->is_array_of_tables() || node->as_array()->empty()) {
    return doc.error(node != nullptr ? node : &root, "ops",
                     "expected one or more [[ops]] tables with name and schema");
  }
  std::vector<metadata::Op> ops;
  std::set<std::string> names;
  const toml::array& array = *node->as_array();
  for (size_t i = 0; i < array.size(); ++i) {
    const toml::table& table = *array.get(i)->as_table();
    std::string shown = fmt::format("ops[{}]", i);
    KGET_TRY(refuse_unknown_keys(doc, table, shown, {"name", "schema"}));
    metadata::Op op;
    KGET_TRY_ASSIGN(op.name, required_string(doc, table, "name", shown + ".name"));
    KGET_TRY_ASSIGN(op.schema, required_string(doc, table, "schema", shown + ".schema"));
    if (!op.schema.starts_with(op.name + "(")) {
      return doc.error(table.get("schema"), shown + ".schema", "\"{}\" does not start with \"{}(\"",
                       op.schema, op.name);
    }
    if (!names.insert(op.name).second) {
      return doc.error(&table, shown + ".name", "op \"{}\" is listed twice", op.name);
    }
    ops.push_back(std::move(op));
  }
  return ops;
}

Result<int> parse_language(const Document& doc, const toml::table& table, std::string_view shown) {
  KGET_TRY_ASSIGN(auto language, optional_string(doc, table, "language", shown));
  if (!language) {
    return 17;
  }
  auto standard =
      language->starts_with("c++") ? util::parse_uint(language->substr(3)) : std::optional<int>{};
  if (!standard || (*standard != 17 && *standard != 20 && *standard != 23)) {
    return doc.error(table.get("language"), shown,
                     "expected \"c++17\", \"c++20\" or \"c++23\", found \"{}\"", *language);
  }
  return *standard;
}

Result<IsaPath> parse_isa(const Document& doc, const std::string& name, const toml::table& table,
                          std::string_view shown) {
  KGET_TRY(refuse_unknown_keys(doc, table, shown, {"arch", "src", "cxx-flags", "define"}));
  IsaPath isa;
  isa.name = name;
  KGET_TRY_ASSIGN(isa.arch, string_array(doc, table, "arch", fmt::format("{}.arch", shown)));
  KGET_TRY_ASSIGN(isa.sources, path_array(doc, table, "src", fmt::format("{}.src", shown)));
  KGET_TRY_ASSIGN(isa.cxx_flags,
                  string_array(doc, table, "cxx-flags", fmt::format("{}.cxx-flags", shown)));
  KGET_TRY_ASSIGN(auto define,
                  optional_string(doc, table, "define", fmt::format("{}.define", shown)));
  isa.define = define.value_or("");
  if (isa.arch.empty() || isa.sources.empty()) {
    return doc.error(&table, shown, "needs arch and src");
  }
  return isa;
}

bool is_group_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

Result<CudaGroup> parse_group(const Document& doc, std::string_view name, const toml::table& table,
                              std::string_view shown) {
  KGET_TRY(refuse_unknown_keys(doc, table, shown, {"capabilities", "ptx", "src", "cuda-flags"}));
  auto key = [&](std::string_view part) { return fmt::format("{}.{}", shown, part); };
  CudaGroup group;
  group.name = name;
  if (!is_group_name(name)) {
    return doc.error(&table, shown,
                     "a group name is lower-case letters, digits and '_' (it becomes the define "
                     "KGET_CUDA_PATH_<NAME>), found \"{}\"",
                     name);
  }
  KGET_TRY_ASSIGN(
      group.capabilities,
      capability_array(doc, table, "capabilities", key("capabilities"), &group.capability_lines));
  if (group.capabilities.empty()) {
    return doc.error(table.contains("capabilities") ? table.get("capabilities") : &table,
                     key("capabilities"),
                     "a group needs the CUDA capabilities its sources are built for, e.g. "
                     "[\"9.0a\"]");
  }
  KGET_TRY_ASSIGN(group.sources, path_array(doc, table, "src", key("src")));
  if (group.sources.empty()) {
    return doc.error(table.contains("src") ? table.get("src") : &table, key("src"),
                     "a group needs at least one .cu source");
  }
  for (size_t i = 0; i < group.sources.size(); ++i) {
    if (group.sources[i].extension() != ".cu") {
      return doc.error(table.get("src")->as_array()->get(i), fmt::format("{}[{}]", key("src"), i),
                       "\"{}\" is not a .cu file; C++ sources have no CUDA target and belong "
                       "in [kernel.cuda] src",
                       group.sources[i].filename().string());
    }
  }
  KGET_TRY_ASSIGN(group.cuda_flags, string_array(doc, table, "cuda-flags", key("cuda-flags")));
  if (const toml::node* ptx = table.get("ptx")) {
    if (!ptx->is_boolean()) {
      return doc.error(ptx, key("ptx"), "expected true or false, found {}", type_name(*ptx));
    }
    group.ptx = ptx->as_boolean()->get();
    const metadata::CudaTarget& newest =
        *std::max_element(group.capabilities.begin(), group.capabilities.end());
    if (group.ptx && newest.suffix != metadata::CudaTarget::Suffix::none) {
      return doc.error(ptx, key("ptx"),
                       "the group's newest capability is {}, whose PTX runs on that GPU "
                       "family only, which its SASS already covers; drop ptx or add a plain "
                       "capability",
                       metadata::to_string(newest));
    }
  }
  return group;
}

// The CUDA-only keys of [kernel.cuda]: flags, deps, and either cuda-capabilities (one set of
// targets for every source) or groups.
Result<void> parse_cuda_keys(const Document& doc, const toml::table& table,
                             BackendSources& sources) {
  KGET_TRY_ASSIGN(sources.cuda_flags,
                  string_array(doc, table, "cuda-flags", "kernel.cuda.cuda-flags"));
  KGET_TRY_ASSIGN(sources.deps, string_array(doc, table, "deps", "kernel.cuda.deps"));
  for (size_t i = 0; i < sources.deps.size(); ++i) {
    if (find_dependency(sources.deps[i]) == nullptr) {
      return doc.error(table.get("deps")->as_array()->get(i),
                       fmt::format("kernel.cuda.deps[{}]", i),
                       "unknown dependency \"{}\"; kget provides {}", sources.deps[i],
                       util::join(dependency_names(), ", "));
    }
  }
  const toml::node* groups = table.get("group");
  if (groups == nullptr) {
    KGET_TRY_ASSIGN(sources.cuda_capabilities, capability_array(doc, table, "cuda-capabilities",
                                                                "kernel.cuda.cuda-capabilities"));
    if (sources.cuda_capabilities.empty()) {
      return doc.error(&table, "kernel.cuda.cuda-capabilities",
                       "expected the CUDA capabilities to build for, e.g. [\"8.0\", \"9.0a\"], "
                       "or [kernel.cuda.group.<name>] tables");
    }
    return {};
  }
  if (table.contains("cuda-capabilities")) {
    return doc.error(table.get("cuda-capabilities"), "kernel.cuda.cuda-capabilities",
                     "with [kernel.cuda.group.<name>] tables the capabilities belong to the "
                     "groups; the shared sources are built for all of theirs");
  }
  if (!groups->is_table() || groups->as_table()->empty()) {
    return doc.error(groups, "kernel.cuda.group",
                     "expected one or more tables [kernel.cuda.group.<name>]");
  }
  std::set<fs::path> seen(sources.sources.begin(), sources.sources.end());
  for (const auto& [name, value] : *groups->as_table()) {
    std::string shown = fmt::format("kernel.cuda.group.{}", name.str());
    if (!value.is_table()) {
      return doc.error(&value, shown, "expected a table, found {}", type_name(value));
    }
    KGET_TRY_ASSIGN(auto group, parse_group(doc, name.str(), *value.as_table(), shown));
    for (size_t i = 0; i < group.sources.size(); ++i) {
      if (!seen.insert(group.sources[i]).second) {
        return doc.error(value.as_table()->get("src")->as_array()->get(i),
                         fmt::format("{}.src[{}]", shown, i),
                         "\"{}\" is already a source of [kernel.cuda] or of another group; a "
                         "file is compiled for one set of targets",
                         group.sources[i].filename().string());
      }
    }
    sources.groups.push_back(std::move(group));
  }
  return {};
}

Result<BackendSources> parse_backend(const Document& doc, std::string_view backend,
                                     const toml::table& table) {
  std::string shown = fmt::format("kernel.{}", backend);
  auto key = [&](std::string_view name) { return fmt::format("{}.{}", shown, name); };
  if (backend == "cpu") {
    KGET_TRY(refuse_unknown_keys(doc, table, shown,
                                 {"language", "src", "include", "define", "cxx-flags", "link-flags",
                                  "version-script", "isa"}));
  } else {
    KGET_TRY(refuse_unknown_keys(doc, table, shown,
                                 {"language", "src", "include", "define", "cxx-flags", "link-flags",
                                  "version-script", "cuda-flags", "cuda-capabilities", "deps",
                                  "group"}));
  }
  BackendSources sources;
  KGET_TRY_ASSIGN(sources.cxx_standard, parse_language(doc, table, key("language")));
  KGET_TRY_ASSIGN(sources.sources, path_array(doc, table, "src", key("src")));
  // With groups the shared sources may be none: every file can belong to a group.
  if (sources.sources.empty() && !(backend == "cuda" && table.contains("group"))) {
    return doc.error(&table, key("src"), "expected at least one source file");
  }
  KGET_TRY_ASSIGN(sources.include, path_array(doc, table, "include", key("include")));
  KGET_TRY_ASSIGN(sources.defines, string_array(doc, table, "define", key("define")));
  KGET_TRY_ASSIGN(sources.cxx_flags, string_array(doc, table, "cxx-flags", key("cxx-flags")));
  KGET_TRY_ASSIGN(sources.link_flags, string_array(doc, table, "link-flags", key("link-flags")));
  KGET_TRY_ASSIGN(auto script,
                  optional_string(doc, table, "version-script", key("version-script")));
  if (script) {
    fs::path path = (doc.directory() / *script).lexically_normal();
    std::error_code error;
    if (!fs::is_regular_file(path, error)) {
      return doc.error(table.get("version-script"), key("version-script"),
                       "\"{}\" is not a file (looked for {})", *script, path.string());
    }
    sources.version_script = path;
  }
  if (const toml::node* isa = table.get("isa")) {
    if (!isa->is_table()) {
      return doc.error(isa, key("isa"), "expected tables [{}.isa.<name>]", shown);
    }
    for (const auto& [name, value] : *isa->as_table()) {
      std::string isa_shown = fmt::format("{}.isa.{}", shown, name.str());
      if (!value.is_table()) {
        return doc.error(&value, isa_shown, "expected a table, found {}", type_name(value));
      }
      KGET_TRY_ASSIGN(auto path,
                      parse_isa(doc, std::string(name.str()), *value.as_table(), isa_shown));
      sources.isa.push_back(std::move(path));
    }
  }
  if (backend == "cuda") {
    KGET_TRY(parse_cuda_keys(doc, table, sources));
  }
  return sources;
}

} // namespace

Result<KernelSpec> parse_kernel_spec(std::string_view text, const fs::path& file) {
  Document doc(fs::absolute(file).lexically_normal());
  KGET_TRY_ASSIGN(auto root, parse_toml(text, doc.file()));
  KGET_TRY(refuse_unknown_keys(doc, root, "(top level)", {"general", "ops", "kernel"}));
  KGET_TRY_ASSIGN(const toml::table* general, required_table(doc, root, "general", "general"));
  KGET_TRY(refuse_unknown_keys(doc, *general, "general",
                               {"name", "version", "license", "repo-id", "abi", "backends"}));
  KernelSpec spec;
  spec.file = doc.file();
  spec.directory = doc.directory();
  KGET_TRY_ASSIGN(spec.name, required_string(doc, *general, "name", "general.name"));
  KGET_TRY_ASSIGN(spec.version,
                  integer_in_range(doc, *general, "version", "general.version", 0, 1000000));
  KGET_TRY_ASSIGN(auto license, optional_string(doc, *general, "license", "general.license"));
  spec.license = license.value_or("");
  KGET_TRY_ASSIGN(auto repo_id, optional_string(doc, *general, "repo-id", "general.repo-id"));
  spec.repo_id = repo_id.value_or("");
  KGET_TRY_ASSIGN(auto abi_text, required_string(doc, *general, "abi", "general.abi"));
  auto abi = util::parse_major_minor(abi_text);
  if (!abi || abi->major < 1) {
    return doc.error(
        general->get("abi"), "general.abi",
        "expected the kernel C ABI version as \"MAJOR.MINOR\", e.g. \"1.0\", found \"{}\"",
        abi_text);
  }
  spec.abi_major = abi->major;
  spec.abi_minor = abi->minor;
  KGET_TRY_ASSIGN(spec.backends, string_array(doc, *general, "backends", "general.backends"));
  if (spec.backends.empty()) {
    return doc.error(general, "general.backends",
                     "expected a non-empty list such as [\"cpu\", \"cuda\"]");
  }
  KGET_TRY_ASSIGN(spec.ops, parse_ops(doc, root));

  const toml::node* kernel = root.get("kernel");
  if (kernel != nullptr && !kernel->is_table()) {
    return doc.error(kernel, "kernel", "expected tables [kernel.cpu], [kernel.cuda]");
  }
  if (kernel != nullptr) {
    KGET_TRY(refuse_unknown_keys(doc, *kernel->as_table(), "kernel", {"cpu", "cuda"}));
    for (const auto& [name, value] : *kernel->as_table()) {
      std::string backend(name.str());
      if (!value.is_table()) {
        return doc.error(&value, "kernel." + backend, "expected a table, found {}",
                         type_name(value));
      }
      KGET_TRY_ASSIGN(auto sources, parse_backend(doc, backend, *value.as_table()));
      (backend == "cpu" ? spec.cpu : spec.cuda) = std::move(sources);
    }
  }
  for (size_t i = 0; i < spec.backends.size(); ++i) {
    const std::string& backend = spec.backends[i];
    const toml::node* element = general->get("backends")->as_array()->get(i);
    if (backend != "cpu" && backend != "cuda") {
      return doc.error(element, fmt::format("general.backends[{}]", i),
                       "\"{}\" is not a backend kget builds; expected \"cpu\" or \"cuda\"",
                       backend);
    }
    if ((backend == "cpu" && !spec.cpu) || (backend == "cuda" && !spec.cuda)) {
      return doc.error(element, fmt::format("general.backends[{}]", i),
                       "\"{}\" is listed but there is no [kernel.{}] table", backend, backend);
    }
  }
  return spec;
}

Result<KernelSpec> load_kernel_spec(const fs::path& path) {
  std::error_code error;
  fs::path file = fs::is_directory(path, error) ? path / "build.toml" : path;
  auto text = util::read_file(file);
  if (!text) {
    if (text.error().kind == ErrorKind::not_found) {
      return fail(ErrorKind::not_found,
                  "{} not found; a kernel directory holds build.toml (docs/build.md)",
                  file.string());
    }
    return std::unexpected(text.error());
  }
  return parse_kernel_spec(*text, file);
}

namespace {

Result<util::MajorMinor> required_major_minor(const Document& doc, const toml::table& table,
                                              std::string_view key, std::string_view shown) {
  KGET_TRY_ASSIGN(auto text, required_string(doc, table, key, shown));
  auto version = util::parse_major_minor(text);
  if (!version) {
    return doc.error(table.get(key), shown, "expected \"MAJOR.MINOR\", e.g. \"13.0\", found \"{}\"",
                     text);
  }
  return *version;
}

Result<MatrixCell> parse_cell(const Document& doc, const toml::table& table, size_t index) {
  std::string shown = fmt::format("cell[{}]", index);
  auto key = [&](std::string_view name) { return fmt::format("{}.{}", shown, name); };
  KGET_TRY(
      refuse_unknown_keys(doc, table, shown,
                          {"name", "backend", "cpu", "os", "cxx", "cxx-flags", "link-flags",
                           "cuda-root", "nvcc-wheel", "toolkit", "min-driver", "sass", "ptx"}));
  MatrixCell cell;
  cell.line = static_cast<int>(table.source().begin.line);
  KGET_TRY_ASSIGN(cell.name, required_string(doc, table, "name", key("name")));
  KGET_TRY_ASSIGN(cell.backend, required_string(doc, table, "backend", key("backend")));
  if (cell.backend != "cpu" && cell.backend != "cuda") {
    return doc.error(table.get("backend"), key("backend"),
                     "expected \"cpu\" or \"cuda\", found \"{}\"", cell.backend);
  }
  KGET_TRY_ASSIGN(auto cpu, optional_string(doc, table, "cpu", key("cpu")));
  cell.cpu = cpu.value_or("x86_64");
  KGET_TRY_ASSIGN(auto os, optional_string(doc, table, "os", key("os")));
  cell.os = os.value_or("linux");
  KGET_TRY_ASSIGN(auto cxx, optional_string(doc, table, "cxx", key("cxx")));
  cell.cxx = cxx.value_or("c++");
  KGET_TRY_ASSIGN(cell.cxx_flags, string_array(doc, table, "cxx-flags", key("cxx-flags")));
  KGET_TRY_ASSIGN(cell.link_flags, string_array(doc, table, "link-flags", key("link-flags")));
  if (cell.backend == "cpu") {
    for (const char* cuda_key :
         {"cuda-root", "nvcc-wheel", "toolkit", "min-driver", "sass", "ptx"}) {
      if (table.contains(cuda_key)) {
        return doc.error(table.get(cuda_key), key(cuda_key), "only cuda cells take this key");
      }
    }
    return cell;
  }
  KGET_TRY_ASSIGN(auto root, optional_string(doc, table, "cuda-root", key("cuda-root")));
  KGET_TRY_ASSIGN(auto wheel, optional_string(doc, table, "nvcc-wheel", key("nvcc-wheel")));
  if (root.has_value() == wheel.has_value()) {
    return doc.error(&table, shown, "a cuda cell needs exactly one of cuda-root and nvcc-wheel");
  }
  cell.cuda_root = root.value_or("");
  cell.nvcc_wheel = wheel.value_or("");
  KGET_TRY_ASSIGN(cell.toolkit, required_major_minor(doc, table, "toolkit", key("toolkit")));
  if (table.contains("min-driver")) {
    KGET_TRY_ASSIGN(cell.min_driver,
                    required_major_minor(doc, table, "min-driver", key("min-driver")));
  } else {
    cell.min_driver = {cell.toolkit.major, 0};
  }
  if (cell.min_driver < util::MajorMinor{cell.toolkit.major, 0}) {
    return doc.error(table.get("min-driver"), key("min-driver"),
                     "must be at least {}.0 for a {} toolkit", cell.toolkit.major,
                     util::to_string(cell.toolkit));
  }
  KGET_TRY_ASSIGN(cell.sass, capability_array(doc, table, "sass", key("sass")));
  if (cell.sass.empty()) {
    return doc.error(&table, key("sass"), "expected the SASS capabilities this toolkit builds");
  }
  KGET_TRY_ASSIGN(auto ptx, optional_string(doc, table, "ptx", key("ptx")));
  if (ptx && *ptx != "newest" && *ptx != "none") {
    return doc.error(table.get("ptx"), key("ptx"), "expected \"newest\" or \"none\", found \"{}\"",
                     *ptx);
  }
  cell.ptx_newest = ptx.value_or("newest") == "newest";
  return cell;
}

} // namespace

Result<Matrix> parse_matrix(std::string_view text, const fs::path& file) {
  Document doc(fs::absolute(file).lexically_normal());
  KGET_TRY_ASSIGN(auto root, parse_toml(text, doc.file()));
  KGET_TRY(refuse_unknown_keys(doc, root, "(top level)", {"cell"}));
  const toml::node* cells = root.get("cell");
  if (cells == nullptr || !cells->is_array_of_tables()) {
    return doc.error(cells != nullptr ? cells : &root, "cell", "expected [[cell]] tables");
  }
  Matrix matrix;
  matrix.file = doc.file();
  std::set<std::string> names;
  const toml::array& array = *cells->as_array();
  for (size_t i = 0; i < array.size(); ++i) {
    KGET_TRY_ASSIGN(auto cell, parse_cell(doc, *array.get(i)->as_table(), i));
    if (!names.insert(cell.name).second) {
      return doc.error(array.get(i), fmt::format("cell[{}].name", i), "cell \"{}\" is listed twice",
                       cell.name);
    }
    matrix.cells.push_back(std::move(cell));
  }
  return matrix;
}

Result<Matrix> load_matrix(const fs::path& path) {
  KGET_TRY_ASSIGN(auto text, util::read_file(path));
  return parse_matrix(text, path);
}

std::string variant_name(const KernelSpec& kernel, const MatrixCell& cell) {
  metadata::KgetVariantName name;
  name.abi_major = kernel.abi_major;
  name.backend.type =
      cell.backend == "cuda" ? metadata::BackendType::cuda : metadata::BackendType::cpu;
  name.backend.cuda_toolkit = cell.toolkit;
  name.cpu = cell.cpu;
  name.os = cell.os;
  return metadata::format_variant_name(name);
}

} // namespace kget::build
