// TOML to the positioned tree the loader reads. toml++ keeps a table's keys sorted; the tree
// keeps them in document order, so the first problem in the file is the one reported.
#include "config/toml_node.h"

#include <algorithm>
#include <sstream>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "toml++/toml.h"

namespace ringway::config {
namespace {

// toml++ bounds nesting itself (TOML_MAX_NESTED_VALUES); this bounds the tree built from it.
constexpr int kMaxDepth = 64;

Mark MarkOf(const toml::source_region& r) {
  Mark m;
  m.line = r.begin.line == 0 ? 1 : static_cast<uint32_t>(r.begin.line);
  m.column = r.begin.column == 0 ? 1 : static_cast<uint32_t>(r.begin.column);
  return m;
}

bool Before(const Mark& a, const Mark& b) {
  return a.line != b.line ? a.line < b.line : a.column < b.column;
}

absl::Status Convert(const toml::node& in, int depth, std::string_view filename, YamlNode* out) {
  out->mark = MarkOf(in.source());
  if (depth > kMaxDepth) {
    return ErrorAt(filename, out->mark,
                   absl::StrFormat("tables and arrays nest deeper than %d levels", kMaxDepth));
  }
  switch (in.type()) {
    case toml::node_type::table: {
      out->kind = YamlNode::Kind::kMapping;
      for (auto&& [key, value] : *in.as_table()) {
        YamlNode::Entry entry;
        entry.key.kind = YamlNode::Kind::kString;
        entry.key.text = std::string(key.str());
        entry.key.mark = MarkOf(key.source());
        if (absl::Status st = Convert(value, depth + 1, filename, &entry.value); !st.ok()) {
          return st;
        }
        out->entries.push_back(std::move(entry));
      }
      std::stable_sort(out->entries.begin(), out->entries.end(),
                       [](const YamlNode::Entry& a, const YamlNode::Entry& b) {
                         return Before(a.key.mark, b.key.mark);
                       });
      return absl::OkStatus();
    }
    case toml::node_type::array: {
      out->kind = YamlNode::Kind::kSequence;
      for (const toml::node& item : *in.as_array()) {
        YamlNode node;
        if (absl::Status st = Convert(item, depth + 1, filename, &node); !st.ok()) return st;
        out->items.push_back(std::move(node));
      }
      return absl::OkStatus();
    }
    case toml::node_type::string:
      out->kind = YamlNode::Kind::kString;
      out->text = in.as_string()->get();
      return absl::OkStatus();
    case toml::node_type::integer:
      out->kind = YamlNode::Kind::kInt;
      out->text = std::to_string(in.as_integer()->get());
      return absl::OkStatus();
    case toml::node_type::floating_point:
      out->kind = YamlNode::Kind::kFloat;
      out->text = absl::StrFormat("%g", in.as_floating_point()->get());
      return absl::OkStatus();
    case toml::node_type::boolean:
      out->kind = YamlNode::Kind::kBool;
      out->text = in.as_boolean()->get() ? "true" : "false";
      return absl::OkStatus();
    default: {  // dates and times: as written
      out->kind = YamlNode::Kind::kString;
      std::string text;
      in.visit([&](auto&& v) {
        std::ostringstream s;
        s << v;
        text = s.str();
      });
      out->text = std::move(text);
      return absl::OkStatus();
    }
  }
}

}  // namespace

bool IsTomlFile(std::string_view filename) {
  constexpr std::string_view kExt = ".toml";
  if (filename.size() < kExt.size()) return false;
  std::string tail(filename.substr(filename.size() - kExt.size()));
  return absl::AsciiStrToLower(tail) == kExt;
}

absl::StatusOr<YamlDocument> ParseToml(std::string_view text, std::string_view filename) {
  YamlDocument doc;
  toml::table table;
  try {
    table = toml::parse(text, std::string_view(filename));
  } catch (const toml::parse_error& e) {
    return ErrorAt(filename, MarkOf(e.source()),
                   absl::StrCat("TOML syntax error: ", std::string(e.description())));
  }
  // A file of comments and blank lines only holds no document.
  doc.empty = table.empty();
  if (absl::Status st = Convert(table, 0, filename, &doc.root); !st.ok()) return st;
  doc.root.mark = Mark{};
  doc.start = Mark{};
  if (doc.empty) doc.root.kind = YamlNode::Kind::kNull;
  return doc;
}

}  // namespace ringway::config
