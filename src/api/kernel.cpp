// kget::Kernel and kget::Op over the loader's LoadedKernel.
#include "api/kernel_state.hpp"
#include "util/strings.hpp"

#include <array>

namespace kget {

namespace {

const loader::LoadedOp& op_at(const detail::KernelState& state, size_t index) {
  return state.loaded->ops.at(index);
}

} // namespace

const std::string& Op::name() const {
  return op_at(*m_state, m_index).name;
}

const std::string& Op::schema() const {
  return op_at(*m_state, m_index).schema;
}

Op::Op(std::shared_ptr<const detail::KernelState> state, size_t index)
    : m_state(std::move(state)), m_index(index) {}

void Op::call(const Arg* args, size_t count) const {
  // Arguments go to the kernel as a contiguous kget_arg array; most ops take a handful.
  std::array<kget_arg, 16> small{};
  std::vector<kget_arg> large;
  kget_arg* raw = small.data();
  if (count > small.size()) {
    large.resize(count);
    raw = large.data();
  }
  for (size_t i = 0; i < count; ++i) {
    raw[i] = args[i].raw();
  }
  value_or_throw(loader::call(op_at(*m_state, m_index), raw, count));
}

Kernel::Kernel(std::shared_ptr<const detail::KernelState> state) : m_state(std::move(state)) {}

const std::string& Kernel::repo_id() const {
  return m_state->repo_id;
}
const std::string& Kernel::commit() const {
  return m_state->commit;
}
const std::string& Kernel::revision() const {
  return m_state->revision;
}
const std::string& Kernel::variant() const {
  return m_state->variant;
}
const std::string& Kernel::reason() const {
  return m_state->reason;
}
const std::string& Kernel::source() const {
  return m_state->source;
}
const std::string& Kernel::path() const {
  return m_state->path;
}
const std::string& Kernel::library_path() const {
  return m_state->library_path;
}
const std::string& Kernel::metadata_json() const {
  return m_state->metadata_json;
}
const std::vector<std::string>& Kernel::warnings() const {
  return m_state->warnings;
}

std::vector<Op> Kernel::ops() const {
  std::vector<Op> ops;
  for (size_t i = 0; i < m_state->loaded->ops.size(); ++i) {
    ops.push_back(Op(m_state, i));
  }
  return ops;
}

bool Kernel::has_op(const std::string& name) const {
  for (const auto& op : m_state->loaded->ops) {
    if (op.name == name) {
      return true;
    }
  }
  return false;
}

Op Kernel::op(const std::string& name) const {
  std::vector<std::string> names;
  for (size_t i = 0; i < m_state->loaded->ops.size(); ++i) {
    if (m_state->loaded->ops[i].name == name) {
      return Op(m_state, i);
    }
    names.push_back(m_state->loaded->ops[i].name);
  }
  throw Error(ErrorKind::not_found,
              fmt::format("{} ({}) has no op \"{}\"; its ops are: {}", m_state->repo_id,
                          m_state->variant, name, util::join(names, ", ")));
}

} // namespace kget
