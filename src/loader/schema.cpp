#include "loader/schema.hpp"

#include <algorithm>
#include <array>
#include <optional>

namespace kget::loader {

namespace {

struct TypeWord {
  std::string_view word;
  Parameter::Type type;
};

constexpr std::array<TypeWord, 7> k_type_words{{
    {"Tensor", Parameter::Type::tensor},
    {"int", Parameter::Type::int_},
    {"float", Parameter::Type::float_},
    {"bool", Parameter::Type::bool_},
    {"str", Parameter::Type::str},
    {"ScalarType", Parameter::Type::scalar_type},
    {"Stream", Parameter::Type::stream},
}};

constexpr std::string_view k_schema_end = " -> ()";

std::string_view word_of(Parameter::Type type) {
  for (const auto& entry : k_type_words) {
    if (entry.type == type) {
      return entry.word;
    }
  }
  return "?";
}

bool is_letter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_identifier_start(char c) {
  return is_letter(c) || c == '_';
}
bool is_identifier_char(char c) {
  return is_identifier_start(c) || is_digit(c);
}

// The schema's grammar is small enough that a cursor over the bytes with one function per rule
// reads like the grammar itself, and knows the position of every error.
class SchemaParser {
public:
  explicit SchemaParser(std::string_view text) : m_text(text) {}

  Result<Schema> parse() {
    Schema schema;
    KGET_TRY_ASSIGN(schema.name, identifier("the op's name"));
    KGET_TRY(literal("(", "\"(\" after the op's name"));
    if (peek() == ')') {
      ++m_pos;
    } else {
      while (true) {
        KGET_TRY_ASSIGN(auto parameter, parse_parameter(schema));
        schema.parameters.push_back(std::move(parameter));
        if (m_text.substr(m_pos).starts_with(", ")) {
          m_pos += 2;
        } else if (peek() == ')') {
          ++m_pos;
          break;
        } else {
          return error_here("\", \" before the next parameter or \")\" after the last one");
        }
      }
    }
    KGET_TRY(literal(k_schema_end, "\" -> ()\" (every op returns (), with single spaces)"));
    if (m_pos != m_text.size()) {
      return error_here("the end of the schema after \"-> ()\"");
    }
    return schema;
  }

private:
  std::optional<char> peek() const {
    if (m_pos < m_text.size()) {
      return m_text[m_pos];
    }
    return std::nullopt;
  }

  std::string found_here() const {
    if (m_pos >= m_text.size()) {
      return "the end of the text";
    }
    char c = m_text[m_pos];
    if (c == ' ') {
      return "a space";
    }
    if (c > ' ' && c < 0x7f) {
      return fmt::format("\"{}\"", c);
    }
    return fmt::format("byte 0x{:02x}", static_cast<unsigned char>(c));
  }

  std::unexpected<Failure> error_at(std::size_t position, std::string_view detail) const {
    return fail(ErrorKind::abi, "invalid schema \"{}\": at position {}: {}", m_text, position,
                detail);
  }

  std::unexpected<Failure> error_here(std::string_view expected) const {
    return error_at(m_pos, fmt::format("expected {}, found {}", expected, found_here()));
  }

  Result<void> literal(std::string_view expected, std::string_view description) {
    // Report the first byte that differs, so "->  ()" points at the second space.
    for (std::size_t i = 0; i < expected.size(); ++i) {
      if (m_pos >= m_text.size() || m_text[m_pos] != expected[i]) {
        return error_here(description);
      }
      ++m_pos;
    }
    return {};
  }

  Result<std::string> identifier(std::string_view what) {
    if (!peek() || !is_identifier_start(*peek())) {
      return error_here(
          fmt::format("{} (an ASCII letter or \"_\", then letters, digits or \"_\")", what));
    }
    std::size_t start = m_pos;
    while (peek() && is_identifier_char(*peek())) {
      ++m_pos;
    }
    return std::string(m_text.substr(start, m_pos - start));
  }

  Result<Parameter> parse_parameter(const Schema& schema) {
    Parameter parameter;
    KGET_TRY(parse_type(parameter));
    KGET_TRY(literal(" ", "one space between the type and the parameter's name"));
    std::size_t name_position = m_pos;
    KGET_TRY_ASSIGN(parameter.name, identifier("a parameter name"));
    bool taken = std::any_of(schema.parameters.begin(), schema.parameters.end(),
                             [&](const Parameter& other) { return other.name == parameter.name; });
    if (taken) {
      return error_at(
          name_position,
          fmt::format("parameter name \"{}\" is used twice; names must be unique", parameter.name));
    }
    return parameter;
  }

  Result<void> parse_type(Parameter& parameter) {
    constexpr std::string_view types = "a type (Tensor, Tensor!, Tensor?, int, int?, float, "
                                       "float?, bool, bool?, str, str?, ScalarType, "
                                       "ScalarType? or Stream)";
    std::size_t start = m_pos;
    while (peek() && is_identifier_char(*peek())) {
      ++m_pos;
    }
    std::string_view word = m_text.substr(start, m_pos - start);
    if (word.empty()) {
      return error_here(types);
    }
    auto known = std::find_if(k_type_words.begin(), k_type_words.end(),
                              [&](const TypeWord& entry) { return entry.word == word; });
    if (known == k_type_words.end()) {
      return error_at(start, fmt::format("expected {}, found \"{}\"", types, word));
    }
    parameter.type = known->type;
    if (peek() == '!') {
      if (parameter.type != Parameter::Type::tensor) {
        return error_at(m_pos, fmt::format("\"{}!\" is not a type: only Tensor can be written "
                                           "(\"Tensor!\")",
                                           word));
      }
      ++m_pos;
      parameter.written = true;
      if (peek() == '?') {
        return error_at(start, "\"Tensor!?\" is not a type: a written tensor is allocated by the "
                               "caller and cannot be optional");
      }
    }
    if (peek() == '?') {
      if (parameter.type == Parameter::Type::stream) {
        return error_at(start, "\"Stream?\" is not a type: the stream is never optional (pass "
                               "NULL for the default stream)");
      }
      ++m_pos;
      parameter.optional = true;
    }
    return {};
  }

  std::string_view m_text;
  std::size_t m_pos = 0;
};

int32_t kind_for(Parameter::Type type) {
  switch (type) {
  case Parameter::Type::tensor:
    return KGET_ARG_TENSOR;
  case Parameter::Type::int_:
    return KGET_ARG_INT;
  case Parameter::Type::float_:
    return KGET_ARG_FLOAT;
  case Parameter::Type::bool_:
    return KGET_ARG_BOOL;
  case Parameter::Type::str:
    return KGET_ARG_STRING;
  case Parameter::Type::scalar_type:
    return KGET_ARG_DTYPE;
  case Parameter::Type::stream:
    return KGET_ARG_STREAM;
  }
  return KGET_ARG_NONE;
}

// The checks that depend on the value, once the kind is right; "" when the value is fine.
std::string value_problem(const Parameter& parameter, const kget_arg& arg) {
  switch (parameter.type) {
  case Parameter::Type::tensor: {
    const DLTensor* tensor = arg.value.tensor;
    if (tensor == nullptr) {
      return parameter.optional ? "is a tensor with a NULL DLTensor pointer; pass KGET_ARG_NONE "
                                  "for an absent optional tensor"
                                : "is a tensor with a NULL DLTensor pointer";
    }
    if (tensor->ndim < 0) {
      return fmt::format("is a tensor with ndim {}; expected ndim >= 0", tensor->ndim);
    }
    if (tensor->ndim > 0 && tensor->shape == nullptr) {
      return fmt::format("is a tensor with ndim {} and a NULL shape pointer", tensor->ndim);
    }
    return "";
  }
  case Parameter::Type::bool_:
    if (arg.value.b != 0 && arg.value.b != 1) {
      return fmt::format("must be a bool, 0 or 1; got {}", arg.value.b);
    }
    return "";
  case Parameter::Type::str:
    if (arg.value.s == nullptr) {
      return "is a string with a NULL pointer";
    }
    return "";
  case Parameter::Type::int_:
  case Parameter::Type::float_:
  case Parameter::Type::scalar_type:
  case Parameter::Type::stream: // NULL is the default stream
    return "";
  }
  return "";
}

} // namespace

Result<Schema> parse_schema(std::string_view text) {
  return SchemaParser(text).parse();
}

std::string type_name(const Parameter& parameter) {
  std::string name(word_of(parameter.type));
  if (parameter.written) {
    name += '!';
  }
  if (parameter.optional) {
    name += '?';
  }
  return name;
}

std::string signature(const Schema& schema) {
  std::string text = schema.name + "(";
  for (std::size_t i = 0; i < schema.parameters.size(); ++i) {
    if (i > 0) {
      text += ", ";
    }
    text += type_name(schema.parameters[i]) + " " + schema.parameters[i].name;
  }
  return text + ")";
}

std::string to_string(const Schema& schema) {
  return signature(schema) + std::string(k_schema_end);
}

std::string describe_kind(int32_t kind) {
  switch (kind) {
  case KGET_ARG_NONE:
    return "none";
  case KGET_ARG_TENSOR:
    return "a tensor";
  case KGET_ARG_INT:
    return "an int";
  case KGET_ARG_FLOAT:
    return "a float";
  case KGET_ARG_BOOL:
    return "a bool";
  case KGET_ARG_STRING:
    return "a string";
  case KGET_ARG_STREAM:
    return "a stream";
  case KGET_ARG_DTYPE:
    return "a dtype (ScalarType)";
  default:
    return fmt::format("an unknown kind {}", kind);
  }
}

Result<void> check_arguments(const Schema& schema, const kget_arg* args, size_t nargs) {
  const std::size_t expected = schema.parameters.size();
  if (nargs != expected) {
    return fail(ErrorKind::usage, "{}: takes {} argument{}; got {}", signature(schema), expected,
                expected == 1 ? "" : "s", nargs);
  }
  if (args == nullptr && nargs > 0) {
    return fail(ErrorKind::usage, "{}: the argument array is NULL with {} arguments",
                signature(schema), nargs);
  }
  for (std::size_t i = 0; i < nargs; ++i) {
    const Parameter& parameter = schema.parameters[i];
    const kget_arg& arg = args[i];
    if (arg.kind == KGET_ARG_NONE && parameter.optional) {
      continue;
    }
    const int32_t wanted = kind_for(parameter.type);
    std::string problem;
    if (arg.kind != wanted) {
      problem = fmt::format("must be {}{}; got {}", describe_kind(wanted),
                            parameter.optional ? " or none" : "", describe_kind(arg.kind));
    } else {
      problem = value_problem(parameter, arg);
    }
    if (!problem.empty()) {
      return fail(ErrorKind::usage, "{}: argument {} \"{}\" {}", signature(schema), i + 1,
                  parameter.name, problem);
    }
  }
  return {};
}

} // namespace kget::loader
