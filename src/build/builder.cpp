#include "build/builder.hpp"

#include "build/deps.hpp"
#include "build/elf_inspect.hpp"
#include "build/glibc_pins.hpp"
#include "build/process.hpp"
#include "digest/digest.hpp"
#include "metadata/variant_name.hpp"
#include "publish/publish.hpp"
#include "util/fs.hpp"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sys/utsname.h>
#include <thread>

namespace kget::build {

namespace fs = std::filesystem;

namespace {

constexpr size_t k_max_library_size = size_t{4} << 30;
constexpr size_t k_log_lines_shown = 40;

constexpr double k_gib = 1024.0 * 1024.0 * 1024.0;
// What an nvcc unit without heavy headers peaks at, with margin (docs/build.md, "Memory").
constexpr uint64_t k_default_unit_memory = uint64_t{3} << 29; // 1.5 GiB

// MemAvailable, capped by a cgroup v2 limit where one is set; 8 GiB when neither can be read.
uint64_t available_memory() {
  uint64_t available = uint64_t{8} << 30;
  if (auto meminfo = util::read_file("/proc/meminfo")) {
    std::smatch match;
    static const std::regex line(R"(MemAvailable:\s+(\d+) kB)");
    if (std::regex_search(*meminfo, match, line)) {
      available = std::stoull(match[1]) * 1024;
    }
  }
  auto max = util::read_file("/sys/fs/cgroup/memory.max");
  auto current = util::read_file("/sys/fs/cgroup/memory.current");
  if (max && current) {
    uint64_t limit = 0;
    uint64_t used = 0;
    std::string_view max_text = util::trim(*max);
    std::string_view used_text = util::trim(*current);
    // "max" (no limit) does not parse, and leaves MemAvailable alone.
    if (std::from_chars(max_text.data(), max_text.data() + max_text.size(), limit).ec ==
            std::errc{} &&
        std::from_chars(used_text.data(), used_text.data() + used_text.size(), used).ec ==
            std::errc{} &&
        limit > used) {
      available = std::min(available, limit - used);
    }
  }
  return available;
}

// "ccache" when it runs (found the way every child process is, through PATH), else empty.
std::string find_ccache() {
  return capture_output({"ccache", "--version"}) ? "ccache" : "";
}

std::string host_cpu() {
  utsname name{};
  if (::uname(&name) != 0) {
    return "unknown";
  }
  return name.machine;
}

// A CMake bracket argument: no escaping needed whatever the path holds.
std::string cmake_quote(const std::string& text) {
  std::string equals = "=";
  while (text.find("]" + equals + "]") != std::string::npos) {
    equals += "=";
  }
  return fmt::format("[{}[{}]{}]", equals, text, equals);
}

std::string cmake_list(const std::vector<std::string>& items) {
  std::vector<std::string> quoted;
  for (const auto& item : items) {
    quoted.push_back(cmake_quote(item));
  }
  return util::join(quoted, " ");
}

std::vector<std::string> path_strings(const std::vector<fs::path>& paths) {
  std::vector<std::string> strings;
  for (const auto& path : paths) {
    strings.push_back(path.string());
  }
  return strings;
}

// The CUDA sources of one set of targets: a [kernel.cuda.group.<name>], or (name empty) every
// .cu of a kernel without groups.
struct BuiltGroup {
  std::string name;
  std::vector<metadata::CudaTarget> targets; // SASS, then PTX
  std::vector<fs::path> sources;
  std::vector<std::string> cuda_flags;
};

// The CUDA toolchain of a cell, once found, and what the kernel builds with it.
struct CudaToolchain {
  fs::path nvcc;
  fs::path cudart_static;
  fs::path include;
  std::vector<BuiltGroup> groups;
  std::vector<metadata::CudaTarget> shared_targets; // of [kernel.cuda] src in group mode
};

struct Plan {
  const MatrixCell* cell = nullptr;
  std::string variant;
  std::string skipped;
  std::optional<CudaToolchain> cuda;
};

// Options of the generated project that are not in build.toml or the matrix.
struct ProjectSettings {
  std::vector<fs::path> dep_includes;
  std::vector<std::string> dep_cuda_flags;
  int nvcc_jobs = 1;    // the Ninja pool nvcc units run in
  std::string launcher; // ccache, or empty
};

std::string gencode(const metadata::CudaTarget& target) {
  std::string numbers = fmt::format("{}{}", target.capability.major, target.capability.minor);
  std::string suffix = target.suffix == metadata::CudaTarget::Suffix::arch_specific ? "a"
                       : target.suffix == metadata::CudaTarget::Suffix::family      ? "f"
                                                                                    : "";
  if (target.kind == metadata::CudaTarget::Kind::ptx) {
    return fmt::format("-gencode=arch=compute_{0}{1},code=compute_{0}{1}", numbers, suffix);
  }
  return fmt::format("-gencode=arch=compute_{0}{1},code=sm_{0}{1}", numbers, suffix);
}

Result<util::MajorMinor> nvcc_release(const fs::path& nvcc) {
  KGET_TRY_ASSIGN(auto output, capture_output({nvcc.string(), "--version"}));
  std::smatch match;
  static const std::regex release(R"(release (\d+)\.(\d+))");
  if (!std::regex_search(output, match, release)) {
    return fail(ErrorKind::io, "{} --version does not say \"release X.Y\"", nvcc.string());
  }
  return util::MajorMinor{std::stoi(match[1]), std::stoi(match[2])};
}

// nvcc and the static CUDA runtime from pip wheels in a venv of the build tree.
Result<CudaToolchain> wheel_toolchain(const MatrixCell& cell, const fs::path& work) {
  fs::path venv = work / fmt::format("venv-{}", cell.name);
  fs::path log = work / fmt::format("venv-{}.log", cell.name);
  KGET_TRY(util::create_directories(work));
  if (!fs::exists(venv / "bin" / "python")) {
    KGET_TRY_ASSIGN(int status, run_process({{"python3", "-m", "venv", venv.string()}, log}));
    if (status != 0) {
      return fail(ErrorKind::not_found, "python3 -m venv failed (see {})", log.string());
    }
  }
  auto find = [&](const std::string& relative) -> std::optional<fs::path> {
    std::error_code error;
    for (fs::recursive_directory_iterator it(venv / "lib", error), end; !error && it != end;
         it.increment(error)) {
      if (it->path().generic_string().ends_with(relative)) {
        return it->path();
      }
    }
    return std::nullopt;
  };
  if (!find("nvidia/cuda_nvcc/bin/nvcc")) {
    // nvidia-cuda-nvcc-cu12==12.9.* -> nvidia-cuda-runtime-cu12==12.9.* (headers, cudart)
    std::string runtime = cell.nvcc_wheel;
    if (auto at = runtime.find("cuda-nvcc"); at != std::string::npos) {
      runtime.replace(at, 9, "cuda-runtime");
    }
    KGET_TRY_ASSIGN(int status, run_process({{(venv / "bin" / "pip").string(), "install", "--quiet",
                                              cell.nvcc_wheel, runtime},
                                             log}));
    if (status != 0) {
      return fail(ErrorKind::not_found, "pip install {} failed (no index reachable?); see {}",
                  cell.nvcc_wheel, log.string());
    }
  }
  auto nvcc = find("nvidia/cuda_nvcc/bin/nvcc");
  auto cudart = find("nvidia/cuda_runtime/lib/libcudart_static.a");
  if (!nvcc) {
    // nvidia-cuda-nvcc-cu12 12.x holds ptxas, libnvvm and libdevice only (for JIT compilers).
    return fail(ErrorKind::not_found,
                "the {} wheel holds no bin/nvcc (only what JIT compilers need, such as ptxas), so "
                "it cannot compile CUDA C++; install the toolkit and name it with cuda-root",
                cell.nvcc_wheel);
  }
  if (!cudart) {
    return fail(ErrorKind::not_found,
                "no libcudart_static.a in the venv (the runtime wheel ships only libcudart.so, "
                "which a kernel must not need)");
  }
  return CudaToolchain{*nvcc, *cudart, cudart->parent_path().parent_path() / "include", {}, {}};
}

bool arch_wanted(const std::vector<util::MajorMinor>& filter, const metadata::CudaTarget& target) {
  return filter.empty() ||
         std::find(filter.begin(), filter.end(), target.capability) != filter.end();
}

std::string joined_targets(const std::vector<metadata::CudaTarget>& targets,
                           std::string_view separator) {
  std::vector<std::string> names;
  for (const auto& target : targets) {
    names.push_back(metadata::to_string(target));
  }
  return util::join(names, separator);
}

// Why the cell's toolkit cannot build `wanted`, or empty. The cell's sass list is what its
// toolkit builds (by capability); suffixes need the toolkit that introduced them.
std::string unbuildable(const MatrixCell& cell, const metadata::CudaTarget& wanted) {
  bool listed = std::any_of(cell.sass.begin(), cell.sass.end(), [&](const auto& target) {
    return target.capability == wanted.capability;
  });
  std::vector<std::string> capabilities;
  for (const auto& target : cell.sass) {
    capabilities.push_back(util::to_string(target.capability));
  }
  if (!listed) {
    return fmt::format("cell {} (CUDA {}) builds {}", cell.name, util::to_string(cell.toolkit),
                       util::join(capabilities, ", "));
  }
  using Suffix = metadata::CudaTarget::Suffix;
  if (wanted.suffix == Suffix::arch_specific && wanted.capability < util::MajorMinor{9, 0}) {
    return "arch-specific targets begin with 9.0a";
  }
  if (wanted.suffix == Suffix::family && cell.toolkit < util::MajorMinor{12, 9}) {
    return fmt::format("family targets need CUDA 12.9 or newer; cell {} is CUDA {}", cell.name,
                       util::to_string(cell.toolkit));
  }
  return {};
}

// PTX of the newest of `targets` (sorted), appended, when the cell builds PTX. An arch-specific or
// family target's PTX runs only where its SASS already does, so a group gets none then; the
// one-list form takes plain PTX of that capability, as it always has, since all its sources are
// built for plain targets too.
void add_ptx(std::vector<metadata::CudaTarget>& targets, const MatrixCell& cell, bool grouped) {
  if (!cell.ptx_newest || targets.empty()) {
    return;
  }
  metadata::CudaTarget ptx = targets.back();
  if (ptx.suffix != metadata::CudaTarget::Suffix::none) {
    if (grouped) {
      return;
    }
    ptx.suffix = metadata::CudaTarget::Suffix::none;
  }
  ptx.kind = metadata::CudaTarget::Kind::ptx;
  targets.push_back(ptx);
}

// --cuda-arch that keeps none of build.toml's capabilities, for any cell: a usage error.
Result<void> check_cuda_arch(const KernelSpec& kernel,
                             const std::vector<util::MajorMinor>& filter) {
  if (filter.empty() || !kernel.cuda) {
    return {};
  }
  const BackendSources& cuda = *kernel.cuda;
  std::vector<std::string> listed;
  bool kept = false;
  auto consider = [&](const std::vector<metadata::CudaTarget>& capabilities) {
    for (const auto& capability : capabilities) {
      kept = kept || arch_wanted(filter, capability);
    }
  };
  if (cuda.groups.empty()) {
    consider(cuda.cuda_capabilities);
    listed.push_back(
        fmt::format("cuda-capabilities {}", joined_targets(cuda.cuda_capabilities, ", ")));
  }
  for (const auto& group : cuda.groups) {
    consider(group.capabilities);
    listed.push_back(
        fmt::format("group {} ({})", group.name, joined_targets(group.capabilities, ", ")));
  }
  if (kept) {
    return {};
  }
  std::vector<std::string> asked;
  for (const auto& arch : filter) {
    asked.push_back(util::to_string(arch));
  }
  return fail(ErrorKind::usage, "--cuda-arch {}: {} has none of these capabilities; it lists {}",
              util::join(asked, ","), kernel.file.string(), util::join(listed, "; "));
}

// The groups of `kernel` that the cell builds, each with its targets. In the one-list form a cell
// that builds none of the capabilities is not_found (a reason to skip the cell); a group
// capability the cell cannot build is invalid_metadata (build.toml's error, for every cell).
Result<std::vector<BuiltGroup>> plan_groups(const KernelSpec& kernel, const Matrix& matrix,
                                            const MatrixCell& cell,
                                            const std::vector<util::MajorMinor>& filter) {
  const BackendSources& cuda = *kernel.cuda;
  std::vector<BuiltGroup> built;
  if (cuda.groups.empty()) {
    // One set of targets for every source: those of the list the cell's toolkit builds, so that
    // one list serves toolkits of different reach (docs/build.md).
    BuiltGroup group;
    for (const auto& wanted : cuda.cuda_capabilities) {
      if (arch_wanted(filter, wanted) && unbuildable(cell, wanted).empty()) {
        group.targets.push_back(wanted);
      }
    }
    if (group.targets.empty()) {
      return fail(ErrorKind::not_found,
                  "none of build.toml's cuda-capabilities{} is among the cell's sass targets",
                  filter.empty() ? "" : " that --cuda-arch keeps");
    }
    std::sort(group.targets.begin(), group.targets.end());
    add_ptx(group.targets, cell, false);
    for (const auto& source : cuda.sources) {
      if (source.extension() == ".cu") {
        group.sources.push_back(source);
      }
    }
    built.push_back(std::move(group));
    return built;
  }
  for (const auto& group : cuda.groups) {
    BuiltGroup plan{group.name, {}, group.sources, group.cuda_flags};
    for (size_t i = 0; i < group.capabilities.size(); ++i) {
      const metadata::CudaTarget& wanted = group.capabilities[i];
      if (!arch_wanted(filter, wanted)) {
        continue;
      }
      if (std::string why = unbuildable(cell, wanted); !why.empty()) {
        return fail(ErrorKind::invalid_metadata,
                    "{}:{}: kernel.cuda.group.{}.capabilities[{}]: {} cannot be built: {} "
                    "({}:{})",
                    kernel.file.string(), group.capability_lines[i], group.name, i,
                    metadata::to_string(wanted), why, matrix.file.string(), cell.line);
      }
      plan.targets.push_back(wanted);
    }
    std::sort(plan.targets.begin(), plan.targets.end());
    if (group.ptx) {
      add_ptx(plan.targets, cell, true);
    }
    if (!plan.targets.empty()) {
      built.push_back(std::move(plan));
    }
  }
  if (built.empty()) { // check_cuda_arch keeps some group
    return fail(ErrorKind::internal, "no architecture group of {} is left to build",
                kernel.file.string());
  }
  return built;
}

Result<CudaToolchain> find_cuda_toolchain(const MatrixCell& cell, const fs::path& work) {
  CudaToolchain toolchain;
  if (!cell.nvcc_wheel.empty()) {
    KGET_TRY_ASSIGN(toolchain, wheel_toolchain(cell, work));
  } else {
    toolchain.nvcc = cell.cuda_root / "bin" / "nvcc";
    toolchain.cudart_static = cell.cuda_root / "lib64" / "libcudart_static.a";
    toolchain.include = cell.cuda_root / "include";
    for (const auto& path : {toolchain.nvcc, toolchain.cudart_static}) {
      std::error_code error;
      if (!fs::exists(path, error)) {
        return fail(ErrorKind::not_found, "{} not found", path.string());
      }
    }
  }
  KGET_TRY_ASSIGN(auto release, nvcc_release(toolchain.nvcc));
  if (release != cell.toolkit) {
    return fail(ErrorKind::not_found, "{} is CUDA {}, the cell is CUDA {}", toolchain.nvcc.string(),
                util::to_string(release), util::to_string(cell.toolkit));
  }
  return toolchain;
}

// Group mode: the shared sources run beside every group's code, so they are built for all of
// the groups' targets and nothing else (metadata.json then lists only real targets).
std::vector<metadata::CudaTarget> shared_targets(const std::vector<BuiltGroup>& groups) {
  std::vector<metadata::CudaTarget> all;
  for (const auto& group : groups) {
    all.insert(all.end(), group.targets.begin(), group.targets.end());
  }
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  return all;
}

// Why a cell does not apply to this kernel on this machine; empty when it does.
std::string reason_to_skip(const KernelSpec& kernel, const MatrixCell& cell) {
  const auto& backends = kernel.backends;
  if (std::find(backends.begin(), backends.end(), cell.backend) == backends.end()) {
    return fmt::format("no [kernel.{}] in build.toml", cell.backend);
  }
  if (cell.cpu != host_cpu()) {
    return fmt::format("the cell builds for {}, this machine is {} (no cross builds)", cell.cpu,
                       host_cpu());
  }
  return {};
}

// The stub libraries of glibc_pins.hpp to link against; none on the first link.
struct PinnedLink {
  std::vector<fs::path> stubs;
};

// "KGET_CUDA_PATH_SM90=sm_90a": tells every source of the variant that the group's code is in
// it and for which targets. '+' joins them: nvcc splits -D values at commas.
std::string group_define(const BuiltGroup& group) {
  std::string name = group.name;
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return fmt::format("KGET_CUDA_PATH_{}={}", name, joined_targets(group.targets, "+"));
}

// The CMake project of one variant: one MODULE library, linked the manylinux way.
std::string generate_cmake(const KernelSpec& kernel, const MatrixCell& cell,
                           const std::optional<CudaToolchain>& cuda, const fs::path& binary_dir,
                           const PinnedLink& pins, const ProjectSettings& settings) {
  const BackendSources empty;
  const BackendSources& cpu = kernel.cpu ? *kernel.cpu : empty;
  std::vector<std::string> sources = path_strings(cpu.sources);
  std::vector<std::string> includes = path_strings(cpu.include);
  std::vector<std::string> defines = cpu.defines;
  std::vector<std::string> cxx_flags = cell.cxx_flags;
  cxx_flags.insert(cxx_flags.end(), cpu.cxx_flags.begin(), cpu.cxx_flags.end());
  std::vector<std::string> link_flags = cell.link_flags;
  link_flags.insert(link_flags.end(), cpu.link_flags.begin(), cpu.link_flags.end());
  std::optional<fs::path> version_script = cpu.version_script;
  if (cuda) {
    const BackendSources& gpu = *kernel.cuda;
    auto more = path_strings(gpu.include);
    includes.insert(includes.end(), more.begin(), more.end());
    defines.insert(defines.end(), gpu.defines.begin(), gpu.defines.end());
    for (const auto& group : cuda->groups) {
      if (!group.name.empty()) {
        defines.push_back(group_define(group));
      }
    }
    link_flags.insert(link_flags.end(), gpu.link_flags.begin(), gpu.link_flags.end());
    if (gpu.version_script) {
      version_script = gpu.version_script;
    }
  }
  std::string out;
  out += "# Generated by kget build; edits are overwritten.\n";
  out += "cmake_minimum_required(VERSION 3.20)\nproject(kget_variant LANGUAGES CXX)\n";
  out += fmt::format("add_library(kernel MODULE {})\n", cmake_list(sources));
  out += fmt::format(
      "set_target_properties(kernel PROPERTIES OUTPUT_NAME {} PREFIX lib CXX_STANDARD {} "
      "CXX_STANDARD_REQUIRED ON CXX_EXTENSIONS OFF POSITION_INDEPENDENT_CODE ON "
      "CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON SKIP_BUILD_RPATH ON)\n",
      cmake_quote(kernel.name), cpu.cxx_standard);
  out += fmt::format("target_include_directories(kernel PRIVATE {})\n", cmake_list(includes));
  out += fmt::format("target_compile_options(kernel PRIVATE -fPIC -fvisibility=hidden {})\n",
                     cmake_list(cxx_flags));
  for (const auto& isa : cpu.isa) {
    if (std::find(isa.arch.begin(), isa.arch.end(), cell.cpu) == isa.arch.end()) {
      continue;
    }
    out +=
        fmt::format("target_sources(kernel PRIVATE {})\n", cmake_list(path_strings(isa.sources)));
    out += fmt::format("set_source_files_properties({} PROPERTIES COMPILE_OPTIONS {})\n",
                       cmake_list(path_strings(isa.sources)),
                       cmake_quote(util::join(isa.cxx_flags, ";")));
    if (!isa.define.empty()) {
      defines.push_back(isa.define);
    }
  }
  if (!defines.empty()) {
    out += fmt::format("target_compile_definitions(kernel PRIVATE {})\n", cmake_list(defines));
  }
  if (version_script) {
    link_flags.push_back("-Wl,--version-script=" + version_script->string());
    out += fmt::format("set_property(TARGET kernel APPEND PROPERTY LINK_DEPENDS {})\n",
                       cmake_quote(version_script->string()));
  }
  if (cuda) {
    // nvcc units run in a pool of their own, sized by the memory budget (build_kernel).
    out += fmt::format("set_property(GLOBAL PROPERTY JOB_POOLS nvcc={})\n", settings.nvcc_jobs);
    std::vector<std::string> common;
    if (!settings.launcher.empty()) {
      common.push_back(settings.launcher);
    }
    common.insert(common.end(), {cuda->nvcc.string(), "-c", "-ccbin", cell.cxx,
                                 fmt::format("-std=c++{}", kernel.cuda->cxx_standard),
                                 "-Xcompiler=-fPIC,-fvisibility=hidden"});
    for (const auto& include : includes) {
      common.push_back("-I" + include);
    }
    for (const auto& include : settings.dep_includes) {
      common.push_back("-I" + include.string());
    }
    for (const auto& define : defines) {
      common.push_back("-D" + define);
    }
    common.insert(common.end(), settings.dep_cuda_flags.begin(), settings.dep_cuda_flags.end());
    common.insert(common.end(), kernel.cuda->cuda_flags.begin(), kernel.cuda->cuda_flags.end());
    size_t index = 0;
    auto compile = [&](const fs::path& source, const std::vector<metadata::CudaTarget>& targets,
                       const std::vector<std::string>& flags) {
      std::string object = (binary_dir / fmt::format("cuda_{}.o", index++)).string();
      std::vector<std::string> command = common;
      for (const auto& target : targets) {
        command.push_back(gencode(target));
      }
      command.insert(command.end(), flags.begin(), flags.end());
      // The headers it includes, for Ninja: a kept work tree rebuilds the unit when one changes.
      std::string depfile = object + ".d";
      command.insert(command.end(), {"-MD", "-MF", depfile, source.string(), "-o", object});
      out += fmt::format("add_custom_command(OUTPUT {0} COMMAND {1} DEPENDS {2} DEPFILE {3} "
                         "JOB_POOL nvcc VERBATIM)\n",
                         cmake_quote(object), cmake_list(command), cmake_quote(source.string()),
                         cmake_quote(depfile));
      out += fmt::format("target_sources(kernel PRIVATE {})\n", cmake_quote(object));
    };
    for (const auto& group : cuda->groups) {
      for (const auto& source : group.sources) {
        compile(source, group.targets, group.cuda_flags);
      }
    }
    bool grouped = !kernel.cuda->groups.empty();
    for (const auto& source : kernel.cuda->sources) {
      if (source.extension() != ".cu") {
        out += fmt::format("target_sources(kernel PRIVATE {})\n", cmake_quote(source.string()));
      } else if (grouped) {
        compile(source, cuda->shared_targets, {});
      }
    }
    // The CUDA runtime is linked statically: a kernel needs the driver only (libcuda, dlopened).
    // After the objects on the command line, so that it resolves their references.
    out += fmt::format("target_link_libraries(kernel PRIVATE {} dl rt pthread)\n",
                       cmake_quote(cuda->cudart_static.string()));
  }
  // Before libc (which the driver adds last), so that the pinned references bind to the stubs;
  // not --as-needed, which would drop them here, before the objects that use them.
  if (!pins.stubs.empty()) {
    link_flags.push_back("-Wl,--push-state,--no-as-needed");
    for (const auto& stub : pins.stubs) {
      link_flags.push_back(stub.string());
    }
    link_flags.push_back("-Wl,--pop-state");
  }
  out += fmt::format("target_link_options(kernel PRIVATE {})\n", cmake_list(link_flags));
  return out;
}

Result<void> run_step(const std::vector<std::string>& argv, const fs::path& log, bool verbose,
                      std::string_view what) {
  KGET_TRY_ASSIGN(int status, run_process({argv, verbose ? fs::path{} : log}));
  if (status != 0) {
    std::string tail = verbose ? std::string{} : tail_of_file(log, k_log_lines_shown);
    return fail(ErrorKind::io, "{} failed (exit status {}): {}\n{}\n(full log: {})", what, status,
                shell_quote(argv), tail, log.string());
  }
  return {};
}

std::string hub_arch(const metadata::CudaTarget& target) {
  std::string text = fmt::format("{}.{}", target.capability.major, target.capability.minor);
  if (target.suffix == metadata::CudaTarget::Suffix::arch_specific) {
    text += "a";
  } else if (target.suffix == metadata::CudaTarget::Suffix::family) {
    text += "f";
  }
  return target.kind == metadata::CudaTarget::Kind::ptx ? text + "+PTX" : text;
}

std::string summary_of(const CheckReport& report) {
  std::vector<std::string> lines;
  for (const auto& violation : report.violations) {
    lines.push_back(fmt::format("  {}: {}", violation.rule, violation.message));
  }
  return util::join(lines, "\n");
}

// The libc.so.6 that `cxx` links against: the one whose symbol versions the library records.
Result<fs::path> linked_libc(const std::string& cxx) {
  KGET_TRY_ASSIGN(auto output, capture_output({cxx, "-print-file-name=libc.so.6"}));
  fs::path path = util::trim(output);
  std::error_code error;
  if (!path.is_absolute() || !fs::exists(path, error)) {
    return fail(ErrorKind::not_found, "{} -print-file-name=libc.so.6 names no file (\"{}\")", cxx,
                path.string());
  }
  fs::path canonical = fs::canonical(path, error);
  if (error) {
    return fail(ErrorKind::io, "{}: {}", path.string(), error.message());
  }
  return canonical;
}

// Builds the stub libraries of `pins` into `directory` (glibc_pins.hpp); returns their paths.
Result<std::vector<fs::path>> build_stub_libraries(const std::vector<SymbolPin>& pins,
                                                   const MatrixCell& cell,
                                                   const fs::path& directory, const fs::path& log) {
  KGET_TRY(util::create_directories(directory));
  std::vector<fs::path> stubs;
  for (const auto& [soname, stub] : stub_libraries(pins)) {
    fs::path source = directory / (soname + ".cpp");
    fs::path script = directory / (soname + ".map");
    fs::path library = directory / soname;
    KGET_TRY(util::write_file_atomic(source, stub.source));
    KGET_TRY(util::write_file_atomic(script, stub.version_script));
    KGET_TRY(run_step({cell.cxx, "-shared", "-fPIC", "-nostdlib", "-Wl,-soname," + soname,
                       "-Wl,--version-script=" + script.string(), source.string(), "-o",
                       library.string()},
                      log, false, fmt::format("linking the stand-in {}", soname)));
    stubs.push_back(library);
  }
  return stubs;
}

// Configures, builds and links the variant's CMake project in `work`, then links it once more
// with symbol pins when the first link bound symbols beyond the policy that have older aliases.
Result<void> build_library(const BuildRequest& request, const KernelSpec& kernel, const Plan& plan,
                           const fs::path& work, const std::string& library, int jobs,
                           const ProjectSettings& settings) {
  const MatrixCell& cell = *plan.cell;
  fs::path binary = work / "build";
  fs::path log = work / "build.log";
  PinnedLink pinned;
  for (int link = 0; link < 2; ++link) {
    KGET_TRY(
        util::write_file_atomic(work / "CMakeLists.txt",
                                generate_cmake(kernel, cell, plan.cuda, binary, pinned, settings)));
    if (link == 0) {
      std::vector<std::string> configure = {"cmake",
                                            "-S",
                                            work.string(),
                                            "-B",
                                            binary.string(),
                                            "-G",
                                            "Ninja",
                                            "-DCMAKE_BUILD_TYPE=Release",
                                            "-DCMAKE_CXX_COMPILER=" + cell.cxx};
      // Also when empty: a work tree kept from a build with ccache has it in its CMakeCache.
      configure.push_back("-DCMAKE_CXX_COMPILER_LAUNCHER=" + settings.launcher);
      KGET_TRY(run_step(configure, log, request.verbose,
                        fmt::format("{}: cmake configure", plan.variant)));
    }
    KGET_TRY(run_step({"cmake", "--build", binary.string(), "--parallel", std::to_string(jobs)},
                      log, request.verbose, fmt::format("{}: cmake build", plan.variant)));
    if (link == 1) {
      break;
    }
    KGET_TRY_ASSIGN(auto libc, linked_libc(cell.cxx));
    KGET_TRY_ASSIGN(auto pins, find_glibc_pins(binary / library, libc));
    if (pins.empty()) {
      break;
    }
    KGET_TRY_ASSIGN(pinned.stubs, build_stub_libraries(pins, cell, work / "glibc-stubs", log));
    if (request.note) {
      constexpr size_t k_named = 6;
      std::vector<std::string> names;
      for (size_t i = 0; i < std::min(pins.size(), k_named); ++i) {
        names.push_back(fmt::format("{}@{}", pins[i].symbol, pins[i].version));
      }
      if (pins.size() > k_named) {
        names.push_back(fmt::format("and {} more", pins.size() - k_named));
      }
      request.note(fmt::format("{}: linking again with {} symbols pinned to versions within "
                               "manylinux_2_28 (docs/build.md, \"CUDA cells and glibc\"): {}",
                               plan.variant, pins.size(), util::join(names, ", ")));
    }
  }
  return {};
}

Result<VariantOutcome> build_variant(const BuildRequest& request, const KernelSpec& kernel,
                                     const Plan& plan, const fs::path& out, int jobs,
                                     const ProjectSettings& settings) {
  const MatrixCell& cell = *plan.cell;
  fs::path work = out / ".work" / plan.variant;
  fs::path binary = work / "build";
  KGET_TRY(util::create_directories(binary));
  std::error_code ignored;
  fs::remove(work / "build.log", ignored);
  std::string library = fmt::format("lib{}.so", kernel.name);
  KGET_TRY(build_library(request, kernel, plan, work, library, jobs, settings));

  fs::path variant_dir = out / "build" / plan.variant;
  fs::remove_all(variant_dir, ignored); // a variant is exactly what this build made
  KGET_TRY(util::create_directories(variant_dir));
  KGET_TRY_ASSIGN(auto image, util::read_file(binary / library, k_max_library_size));
  KGET_TRY(util::write_file_atomic(variant_dir / library, image, 0755));
  KGET_TRY_ASSIGN(auto json, compute_metadata_json(kernel, cell, variant_dir, library));
  KGET_TRY(util::write_file_atomic(variant_dir / "metadata.json", json));

  VariantOutcome outcome;
  outcome.variant = plan.variant;
  outcome.cell = cell.name;
  outcome.built = true;
  outcome.directory = variant_dir;
  KGET_TRY_ASSIGN(outcome.check, check_variant_directory(variant_dir));
  if (!outcome.check.clean()) {
    return fail(outcome.check.violations.front().kind, "{}: kget check failed:\n{}",
                variant_dir.string(), summary_of(outcome.check));
  }
  return outcome;
}

} // namespace

Result<std::string> compute_metadata_json(const KernelSpec& kernel, const MatrixCell& cell,
                                          const fs::path& variant_directory,
                                          const std::string& library) {
  KGET_TRY_ASSIGN(auto files, publish::list_variant_files(variant_directory));
  nlohmann::json digests = nlohmann::json::object();
  std::string library_sha256;
  for (const auto& file : files) {
    if (file.relative == "metadata.json") {
      continue;
    }
    KGET_TRY_ASSIGN(auto hex, digest::hash_file_hex(file.source, digest::Algorithm::sha256));
    digests[file.relative] = digest::hex_to_base64(hex);
    if (file.relative == library) {
      library_sha256 = hex;
    }
  }
  fs::path library_path = variant_directory / library;
  KGET_TRY_ASSIGN(auto symbol_versions, required_symbol_versions(library_path));
  nlohmann::json ops = nlohmann::json::array();
  for (const auto& op : kernel.ops) {
    ops.push_back({{"name", op.name}, {"schema", op.schema}});
  }
  nlohmann::json kget = {{"abi", {{"major", kernel.abi_major}, {"minor", kernel.abi_minor}}},
                         {"library", library},
                         {"ops", ops},
                         {"requires",
                          {{"symbol_versions", symbol_versions},
                           // The CPU paths are chosen at run time from CPUID: nothing required.
                           {"cpu_features", nlohmann::json::array()}}}};
  nlohmann::json archs = nlohmann::json::array();
  metadata::Backend backend;
  backend.type = cell.backend == "cuda" ? metadata::BackendType::cuda : metadata::BackendType::cpu;
  backend.cuda_toolkit = cell.toolkit;
  if (cell.backend == "cuda") {
    KGET_TRY_ASSIGN(auto targets, read_fatbin_targets(library_path));
    std::vector<std::string> sass;
    std::vector<std::string> ptx;
    for (const auto& target : targets.sass) {
      sass.push_back(metadata::to_string(target));
      archs.push_back(hub_arch(target));
    }
    for (const auto& target : targets.ptx) {
      ptx.push_back(metadata::to_string(target));
      archs.push_back(hub_arch(target));
    }
    kget["cuda"] = {{"toolkit", util::to_string(cell.toolkit)},
                    {"min_driver", util::to_string(cell.min_driver)},
                    {"sass", sass},
                    {"ptx", ptx}};
  }
  nlohmann::json document = {
      {"name", kernel.name},
      {"id", fmt::format("_{}_{}_{}", kernel.name, metadata::backend_token(backend),
                         library_sha256.substr(0, 7))},
      {"version", kernel.version},
      {"backend", {{"type", cell.backend}, {"archs", archs}}},
      {"digest", {{"algorithm", "sha256"}, {"files", digests}}},
      {"kget", kget}};
  if (!kernel.license.empty()) {
    document["license"] = kernel.license;
  }
  std::string text = document.dump(2) + "\n";
  // What the builder writes must be what every client accepts.
  KGET_TRY(metadata::parse_metadata(text));
  return text;
}

Result<BuildReport> build_kernel(const BuildRequest& request) {
  KGET_TRY_ASSIGN(auto kernel, load_kernel_spec(request.kernel));
  fs::path matrix_path =
      request.matrix.empty() ? kernel.directory.parent_path() / "matrix.toml" : request.matrix;
  KGET_TRY_ASSIGN(auto matrix, load_matrix(matrix_path));
  fs::path out =
      fs::absolute(request.out.empty() ? kernel.directory : request.out).lexically_normal();
  int jobs = request.jobs > 0 ? request.jobs
                              : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  auto note = [&](std::string_view line) {
    if (request.note) {
      request.note(line);
    }
  };

  KGET_TRY(check_cuda_arch(kernel, request.cuda_arch));
  std::vector<Plan> plans;
  std::set<std::string> known;
  for (const auto& cell : matrix.cells) {
    Plan plan{&cell, variant_name(kernel, cell), {}, {}};
    known.insert(plan.variant);
    bool asked = std::find(request.variants.begin(), request.variants.end(), plan.variant) !=
                 request.variants.end();
    if (!request.variants.empty() && !asked) {
      continue;
    }
    plan.skipped = reason_to_skip(kernel, cell);
    if (plan.skipped.empty() && cell.backend == "cuda") {
      auto toolchain = find_cuda_toolchain(cell, out / ".work");
      if (toolchain) {
        plan.cuda = std::move(*toolchain);
      } else {
        plan.skipped = fmt::format("toolchain not available: {}", toolchain.error().message);
      }
    }
    if (plan.cuda) {
      auto groups = plan_groups(kernel, matrix, cell, request.cuda_arch);
      if (!groups && groups.error().kind != ErrorKind::not_found) {
        return std::unexpected(groups.error()); // build.toml's mistakes are not reasons to skip
      }
      if (!groups) {
        plan.skipped = groups.error().message;
        plan.cuda.reset();
      } else {
        plan.cuda->groups = std::move(*groups);
        if (!kernel.cuda->groups.empty()) {
          plan.cuda->shared_targets = shared_targets(plan.cuda->groups);
        }
      }
    }
    if (!plan.skipped.empty() && asked) {
      return fail(ErrorKind::not_found, "cannot build {} (cell {} of {}): {}", plan.variant,
                  cell.name, matrix.file.string(), plan.skipped);
    }
    plans.push_back(std::move(plan));
  }
  for (const auto& wanted : request.variants) {
    if (!known.contains(wanted)) {
      return fail(ErrorKind::usage, "--variant {}: not a cell of {}; its variants are {}", wanted,
                  matrix.file.string(), util::join({known.begin(), known.end()}, ", "));
    }
  }

  ProjectSettings settings;
  if (request.ccache) {
    settings.launcher = find_ccache();
  }
  bool cuda_built = std::any_of(plans.begin(), plans.end(),
                                [](const Plan& plan) { return plan.skipped.empty() && plan.cuda; });
  if (cuda_built) {
    // Absolute: the include paths are used from the generated project's build directory.
    fs::path deps_dir = request.deps_dir.empty()
                            ? out / ".work" / "deps"
                            : fs::absolute(request.deps_dir).lexically_normal();
    uint64_t unit_memory = k_default_unit_memory;
    for (const auto& name : kernel.cuda->deps) {
      const Dependency& dependency = *find_dependency(name); // parse_kernel_spec checked it
      KGET_TRY_ASSIGN(auto includes,
                      ensure_dependency(dependency, deps_dir, deps_dir / "install.log"));
      settings.dep_includes.insert(settings.dep_includes.end(), includes.begin(), includes.end());
      for (auto flag : dependency.cuda_flags) {
        settings.dep_cuda_flags.emplace_back(flag);
      }
      unit_memory = std::max(unit_memory, dependency.unit_memory);
      note(fmt::format("dependency {}: {}", dependency.requirement, includes.front().string()));
    }
    uint64_t budget =
        request.memory_budget > 0 ? request.memory_budget : available_memory() / 4 * 3;
    settings.nvcc_jobs = static_cast<int>(
        std::clamp<uint64_t>(budget / unit_memory, 1, static_cast<uint64_t>(jobs)));
    note(fmt::format("nvcc: {} unit{} at a time (memory budget {:.1f} GiB, {:.1f} GiB per unit{})",
                     settings.nvcc_jobs, settings.nvcc_jobs == 1 ? "" : "s",
                     static_cast<double>(budget) / k_gib, static_cast<double>(unit_memory) / k_gib,
                     settings.launcher.empty() ? "" : "; through ccache"));
  }

  BuildReport report;
  for (const auto& plan : plans) {
    if (!plan.skipped.empty()) {
      note(fmt::format("skipped {} (cell {}): {}", plan.variant, plan.cell->name, plan.skipped));
      report.variants.push_back({plan.variant, plan.cell->name, false, plan.skipped, {}, {}});
      continue;
    }
    note(fmt::format("building {} (cell {})", plan.variant, plan.cell->name));
    KGET_TRY_ASSIGN(auto outcome, build_variant(request, kernel, plan, out, jobs, settings));
    note(fmt::format("built {} -> {} (check: clean{})", plan.variant, outcome.directory.string(),
                     outcome.check.loaded ? ", descriptor loaded" : ""));
    report.variants.push_back(std::move(outcome));
  }
  if (std::none_of(report.variants.begin(), report.variants.end(),
                   [](const auto& outcome) { return outcome.built; })) {
    return fail(ErrorKind::not_found, "no cell of {} applies to {}; nothing was built",
                matrix.file.string(), kernel.file.string());
  }
  return report;
}

Result<std::vector<util::MajorMinor>> parse_cuda_arch_list(std::string_view text) {
  std::vector<util::MajorMinor> list;
  for (auto item : util::split(text, ',')) {
    auto version = util::parse_major_minor(util::trim(item));
    if (!version || version->minor >= 10) {
      return fail(ErrorKind::usage,
                  "--cuda-arch {}: \"{}\" is not a CUDA capability; expected a list such as "
                  "8.0,9.0 (a suffix is not needed: 9.0 keeps 9.0a)",
                  text, item);
    }
    list.push_back(*version);
  }
  return list;
}

} // namespace kget::build
