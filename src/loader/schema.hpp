// Op schemas ("rms_norm(Tensor! out, Tensor input, Tensor weight, float eps) -> ()"): the grammar
// of docs/kernel-abi.md ("Schemas"), and the check of a kget_arg array against a parsed schema
// that kget runs before every call into a kernel.
#pragma once

#include "util/result.hpp"

#include <cstddef>
#include <cstdint>
#include <kget/kernel_abi.h>
#include <string>
#include <string_view>
#include <vector>

namespace kget::loader {

struct Parameter {
  enum class Type { tensor, int_, float_, bool_, str, scalar_type, stream };
  Type type = Type::tensor;
  bool optional = false; // "Tensor?", "int?", ...: KGET_ARG_NONE is accepted
  bool written = false;  // "Tensor!": the op writes it
  std::string name;
};

struct Schema {
  std::string name;
  std::vector<Parameter> parameters;
};

// Parses a schema written exactly in the canonical form of the grammar: single spaces where the
// grammar has them and nowhere else, ASCII identifiers, unique parameter names, "-> ()" at the
// end. "Tensor!?" and "Stream?" are not types. Errors are ErrorKind::abi and name the byte
// position (0-based), what was expected there and what was found.
Result<Schema> parse_schema(std::string_view text);

// The canonical text of a parameter's type ("Tensor!", "int?") and of a whole schema; for a
// schema that parse_schema accepted, to_string gives back the same bytes.
std::string type_name(const Parameter& parameter);
std::string to_string(const Schema& schema);
// The schema without " -> ()", the prefix of argument errors: "relu(Tensor! out, Tensor input)".
std::string signature(const Schema& schema);

// Checks that `args[0..nargs)` fit `schema` (the guarantees of docs/kernel-abi.md, "What kget
// guarantees to the kernel"): the count, each kind, KGET_ARG_NONE only for optional parameters,
// no NULL DLTensor or string pointer, ndim >= 0 with a shape pointer when ndim > 0, bools 0 or
// 1. It checks nothing an op must check itself (dtypes, shapes, devices). Errors are
// ErrorKind::usage, e.g. `rms_norm(Tensor! out, Tensor input, Tensor weight, float eps):
// argument 4 "eps" must be a float; got an int` (arguments count from 1).
Result<void> check_arguments(const Schema& schema, const kget_arg* args, size_t nargs);

// A kget_arg_kind with its article, for messages: "a tensor", "an int", "none", "an unknown kind
// 42".
std::string describe_kind(int32_t kind);

} // namespace kget::loader
