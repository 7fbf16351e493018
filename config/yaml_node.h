// A parsed YAML document as a small tree whose nodes remember where they start, so that the
// config loader can report "FILE:LINE:COL: message". Built from libyaml's event parser; scalars
// are typed the YAML way (plain `8080` is an integer, quoted "8080" is a string).
//
//   absl::StatusOr<YamlDocument> doc = ParseYaml("port: 8080\n", "ringway.yaml");
//   const YamlNode* port = doc->root.Find("port");  // port->kind == YamlNode::Kind::kInt
#ifndef RINGWAY_CONFIG_YAML_NODE_H_
#define RINGWAY_CONFIG_YAML_NODE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ringway::config {

// 1-based position in the source text.
struct Mark {
  uint32_t line = 1;
  uint32_t column = 1;
};

struct YamlNode {
  enum class Kind : uint8_t { kNull, kBool, kInt, kFloat, kString, kSequence, kMapping };
  struct Entry;

  Kind kind = Kind::kNull;
  Mark mark;
  std::string text;             // scalars: the text as written (without quotes)
  std::vector<YamlNode> items;  // kSequence
  std::vector<Entry> entries;   // kMapping, in document order; keys are scalars

  bool IsScalar() const { return kind != Kind::kSequence && kind != Kind::kMapping; }
  // For kMapping: the value under `key`, or nullptr.
  const YamlNode* Find(std::string_view key) const;
  // For kBool: the value (true, True, TRUE, yes, on ... are true).
  bool BoolValue() const;
  // What the node is, for "expected X, found Y" messages: `a list`, `a string ("abc")`.
  std::string Describe() const;
};

struct YamlNode::Entry {
  YamlNode key;
  YamlNode value;
};

struct YamlDocument {
  bool empty = true;  // the text holds no document (only comments or nothing)
  Mark start;         // where the document starts
  YamlNode root;
};

// "FILE:LINE:COL: message" as an InvalidArgument status.
absl::Status ErrorAt(std::string_view filename, Mark mark, std::string_view message);

// Parses exactly one YAML document. Syntax errors carry libyaml's position and problem text.
// Aliases are expanded; the expanded tree is capped in values, in the bytes that aliases copy
// (the larger of 16 MiB and four times the text) and in depth, so that a hostile text is an
// error at the position where it crossed a cap, never an exhausted memory or stack.
absl::StatusOr<YamlDocument> ParseYaml(std::string_view text, std::string_view filename);

}  // namespace ringway::config

#endif  // RINGWAY_CONFIG_YAML_NODE_H_
