#include "resolve/resolver.hpp"

#include <algorithm>

namespace kget::resolve {

namespace {

std::string describe_cuda(const host::CudaInfo& cuda, const DeviceChoice& device) {
  if (!cuda.available) {
    return fmt::format("CUDA: none ({})", cuda.unavailable_reason);
  }
  std::string text = fmt::format("CUDA driver {}", util::to_string(cuda.driver_version));
  if (!cuda.driver_release.empty()) {
    text += fmt::format(" ({})", cuda.driver_release);
  }
  if (device.kind == DeviceChoice::Kind::cpu) {
    return text;
  }
  if (const host::CudaDevice* gpu = find_device(cuda, device.ordinal)) {
    text += fmt::format(", cuda:{} compute capability {}", device.ordinal,
                        util::to_string(gpu->capability));
  } else {
    text += fmt::format(", no cuda:{} ({} devices)", device.ordinal, cuda.devices.size());
  }
  return text;
}

const char* verdict_word(const Verdict& verdict, bool chosen) {
  if (chosen) {
    return "chosen";
  }
  return verdict.compatible() ? "compatible" : "rejected";
}

} // namespace

const Verdict* Resolution::chosen() const {
  if (verdicts.empty() || !verdicts.front().compatible()) {
    return nullptr;
  }
  return &verdicts.front();
}

Resolution resolve(std::string subject, const std::vector<Candidate>& candidates,
                   const host::HostInfo& host, const DeviceChoice& device) {
  Resolution resolution;
  resolution.subject = std::move(subject);
  resolution.host = describe_host(host, device);
  resolution.device = device;
  resolution.verdicts.reserve(candidates.size());
  for (const auto& candidate : candidates) {
    resolution.verdicts.push_back(judge(candidate.name, candidate.metadata, host, device));
  }
  std::stable_sort(resolution.verdicts.begin(), resolution.verdicts.end(),
                   [](const Verdict& a, const Verdict& b) {
                     auto order = compare(a, b);
                     if (order != std::strong_ordering::equal) {
                       return order == std::strong_ordering::greater;
                     }
                     return a.variant < b.variant;
                   });
  return resolution;
}

std::vector<Candidate> candidates_from(std::vector<metadata::LocalVariant> variants) {
  std::vector<Candidate> out;
  out.reserve(variants.size());
  for (auto& variant : variants) {
    out.push_back({std::move(variant.name), std::move(variant.metadata)});
  }
  return out;
}

Result<Verdict> choose(const Resolution& resolution) {
  if (const Verdict* chosen = resolution.chosen()) {
    return *chosen;
  }
  return fail(ErrorKind::no_compatible_variant, "no variant of {} fits this host\n{}",
              resolution.subject, render_explanation(resolution));
}

std::string describe_host(const host::HostInfo& host, const DeviceChoice& device) {
  std::string glibc = host.runtime.glibc.highest.empty()
                          ? std::string("no glibc")
                          : "glibc " + util::format_dotted(host.runtime.glibc.highest);
  return fmt::format("{} {}, {}, {}; device {}", host.os, host.cpu.arch, glibc,
                     describe_cuda(host.cuda, device), to_string(device));
}

std::string render_explanation(const Resolution& resolution) {
  std::string out = fmt::format("host: {}\n", resolution.host);
  size_t width = 0;
  for (const auto& verdict : resolution.verdicts) {
    width = std::max(width, verdict.variant.size());
  }
  const Verdict* chosen = resolution.chosen();
  for (const auto& verdict : resolution.verdicts) {
    out += fmt::format("  {:<{}}  {:<10}  {}\n", verdict.variant, width,
                       verdict_word(verdict, &verdict == chosen), verdict.reason);
    if (!verdict.hint.empty()) {
      out += fmt::format("  {:<{}}  {:<10}  hint: {}\n", "", width, "", verdict.hint);
    }
  }
  if (chosen == nullptr && !resolution.verdicts.empty()) {
    out += fmt::format("nearest miss: {} ({})\n", resolution.verdicts.front().variant,
                       to_string(resolution.verdicts.front().rule));
  }
  return out;
}

nlohmann::json to_json(const Resolution& resolution) {
  nlohmann::json verdicts = nlohmann::json::array();
  const Verdict* chosen = resolution.chosen();
  for (const auto& verdict : resolution.verdicts) {
    nlohmann::json entry = {{"variant", verdict.variant},
                            {"verdict", verdict_word(verdict, &verdict == chosen)},
                            {"reason", verdict.reason},
                            {"hint", verdict.hint}};
    if (verdict.compatible()) {
      entry["priority"] = {{"code_tier", verdict.priority->code_tier},
                           {"arch_score", verdict.priority->arch_score},
                           {"toolkit", util::to_string(verdict.priority->toolkit)},
                           {"cpu_feature_count", verdict.priority->cpu_feature_count}};
      entry["rule"] = nullptr;
    } else {
      entry["rule"] = to_string(verdict.rule);
    }
    verdicts.push_back(std::move(entry));
  }
  return {{"subject", resolution.subject},
          {"host", resolution.host},
          {"device", to_string(resolution.device)},
          {"chosen", chosen ? nlohmann::json(chosen->variant) : nlohmann::json(nullptr)},
          {"variants", std::move(verdicts)}};
}

} // namespace kget::resolve
