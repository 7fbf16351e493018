#include "config/yaml_node.h"

#include <yaml.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_format.h"

namespace ringway::config {
namespace {

// Bounds on what a config file may expand to: deep nesting would recurse deeply here, and
// aliases of aliases ("billion laughs") would grow the tree without end. Counting values is not
// enough for aliases: one alias of a 1 MiB scalar is one value, so aliases (and the copies that
// anchors keep) are also charged the bytes they copy, against a budget that grows with the file
// so that a large file that uses aliases as intended still loads.
constexpr int kMaxDepth = 64;
constexpr size_t kMaxNodes = 1'000'000;  // values in the expanded tree (about 100 bytes each)
constexpr size_t kMinAliasBytes = size_t{16} << 20;
constexpr size_t kAliasBytesPerInputByte = 4;
constexpr size_t kDescribeMax = 40;

size_t AliasBudget(size_t input_bytes) {
  return std::max(kMinAliasBytes, input_bytes * kAliasBytesPerInputByte);
}

std::string MiB(size_t bytes) { return absl::StrFormat("%d MiB", (bytes + (1 << 20) - 1) >> 20); }

Mark ToMark(const yaml_mark_t& m) {
  return Mark{static_cast<uint32_t>(m.line + 1), static_cast<uint32_t>(m.column + 1)};
}

// Position of a byte offset; used for reader errors (bad UTF-8), which carry no mark.
Mark MarkOfOffset(std::string_view text, size_t offset) {
  Mark mark;
  offset = std::min(offset, text.size());
  for (size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++mark.line;
      mark.column = 1;
    } else {
      ++mark.column;
    }
  }
  return mark;
}

bool IsOneOf(std::string_view s, std::initializer_list<std::string_view> words) {
  return std::find(words.begin(), words.end(), s) != words.end();
}

bool IsDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool IsInteger(std::string_view s) {
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  return IsDigits(s);
}

bool IsFloat(std::string_view s) {
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  if (IsOneOf(s, {".inf", ".Inf", ".INF", ".nan", ".NaN", ".NAN"})) return true;
  size_t e = s.find_first_of("eE");
  std::string_view mantissa = s.substr(0, e);
  size_t dot = mantissa.find('.');
  if (dot == std::string_view::npos) return false;
  std::string_view whole = mantissa.substr(0, dot);
  std::string_view frac = mantissa.substr(dot + 1);
  if (whole.empty() && frac.empty()) return false;
  if ((!whole.empty() && !IsDigits(whole)) || (!frac.empty() && !IsDigits(frac))) return false;
  if (e == std::string_view::npos) return true;
  return IsInteger(s.substr(e + 1));
}

// YAML 1.1 resolution of a plain (unquoted) scalar.
YamlNode::Kind ResolvePlain(std::string_view s) {
  if (IsOneOf(s, {"", "~", "null", "Null", "NULL"})) return YamlNode::Kind::kNull;
  if (IsOneOf(s, {"true", "True", "TRUE", "false", "False", "FALSE", "yes", "Yes", "YES", "no",
                  "No", "NO", "on", "On", "ON", "off", "Off", "OFF"})) {
    return YamlNode::Kind::kBool;
  }
  if (IsInteger(s)) return YamlNode::Kind::kInt;
  if (IsFloat(s)) return YamlNode::Kind::kFloat;
  return YamlNode::Kind::kString;
}

// What a copy of a tree costs: its values, the memory they hold (nodes and scalar text), and
// its height. Recursion is bounded by kMaxDepth, which every stored tree respects.
struct Size {
  size_t count = 0;
  size_t bytes = 0;
  int height = 0;
};

Size Measure(const YamlNode& node) {
  Size size{1, sizeof(YamlNode) + node.text.size(), 0};
  int below = 0;
  for (const YamlNode& item : node.items) {
    Size s = Measure(item);
    size.count += s.count;
    size.bytes += s.bytes;
    below = std::max(below, s.height);
  }
  for (const YamlNode::Entry& entry : node.entries) {
    Size k = Measure(entry.key);
    Size v = Measure(entry.value);
    size.count += k.count + v.count;
    size.bytes += k.bytes + v.bytes;
    below = std::max(below, v.height);
  }
  size.height = below + 1;
  return size;
}

// Owns one libyaml event and releases it.
struct Event {
  yaml_event_t ev{};
  Event() = default;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  ~Event() { yaml_event_delete(&ev); }
};

const char* AnchorOf(const yaml_event_t& ev) {
  const yaml_char_t* anchor = nullptr;
  switch (ev.type) {
    case YAML_SCALAR_EVENT:
      anchor = ev.data.scalar.anchor;
      break;
    case YAML_SEQUENCE_START_EVENT:
      anchor = ev.data.sequence_start.anchor;
      break;
    case YAML_MAPPING_START_EVENT:
      anchor = ev.data.mapping_start.anchor;
      break;
    default:
      break;
  }
  return reinterpret_cast<const char*>(anchor);
}

class Parser {
 public:
  Parser(std::string_view text, std::string_view filename)
      : text_(text), filename_(filename), alias_budget_(AliasBudget(text.size())) {
    ok_ = yaml_parser_initialize(&parser_) != 0;
    if (ok_) {
      yaml_parser_set_input_string(&parser_, reinterpret_cast<const unsigned char*>(text.data()),
                                   text.size());
    }
  }
  ~Parser() {
    if (ok_) yaml_parser_delete(&parser_);
  }
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;

  absl::StatusOr<YamlDocument> Run();

 private:
  struct Anchor {
    YamlNode node;
    Size size;
  };

  absl::Status Next(Event* event);
  absl::Status SyntaxError() const;
  absl::Status ParseNode(const yaml_event_t& ev, int depth, YamlNode* out);
  absl::Status ParseSequence(int depth, YamlNode* out);
  absl::Status ParseMapping(int depth, YamlNode* out);
  absl::Status Count(Mark at, size_t n, bool aliased);
  absl::Status ChargeCopy(Mark at, size_t bytes, bool alias, std::string_view name);

  std::string_view text_;
  std::string_view filename_;
  yaml_parser_t parser_{};
  bool ok_ = false;
  size_t nodes_ = 0;
  size_t alias_bytes_ = 0;  // copied by aliases and kept by anchors
  size_t alias_budget_;
  std::map<std::string, Anchor, std::less<>> anchors_;
};

absl::Status Parser::SyntaxError() const {
  if (parser_.error == YAML_MEMORY_ERROR) {
    return absl::ResourceExhaustedError(
        absl::StrFormat("%s: out of memory while reading YAML", filename_));
  }
  Mark mark = parser_.error == YAML_READER_ERROR ? MarkOfOffset(text_, parser_.problem_offset)
                                                 : ToMark(parser_.problem_mark);
  std::string message =
      absl::StrFormat("invalid YAML: %s", parser_.problem ? parser_.problem : "syntax error");
  if (parser_.context != nullptr) {
    Mark ctx = ToMark(parser_.context_mark);
    absl::StrAppendFormat(&message, " (%s at line %d, column %d)", parser_.context, ctx.line,
                          ctx.column);
  }
  if (parser_.error == YAML_READER_ERROR) {
    message += "; save the file as UTF-8 text";
  } else {
    message += "; check the indentation, colons and quotes here and on the line before";
  }
  return ErrorAt(filename_, mark, message);
}

absl::Status Parser::Next(Event* event) {
  if (yaml_parser_parse(&parser_, &event->ev) == 0) return SyntaxError();
  return absl::OkStatus();
}

absl::Status Parser::Count(Mark at, size_t n, bool aliased) {
  nodes_ += n;
  if (nodes_ <= kMaxNodes) return absl::OkStatus();
  if (aliased) {
    return ErrorAt(filename_, at,
                   absl::StrFormat("the document has more than %d values once aliases are "
                                   "expanded; write the configuration out with fewer aliases",
                                   kMaxNodes));
  }
  return ErrorAt(filename_, at,
                 absl::StrFormat("the document has more than %d values; is it the right file? "
                                 "(a configuration that large should be split across ringway "
                                 "instances)",
                                 kMaxNodes));
}

// Charges a copy made by an alias (or kept for an anchor) named `name`; the error points at
// the one that crossed the budget.
absl::Status Parser::ChargeCopy(Mark at, size_t bytes, bool alias, std::string_view name) {
  alias_bytes_ += bytes;
  if (alias_bytes_ <= alias_budget_) return absl::OkStatus();
  return ErrorAt(filename_, at,
                 absl::StrFormat("%s '%c%s' takes the document past %s once aliases are expanded "
                                 "(each alias is a full copy of the value it names; the limit "
                                 "is the larger of %s and four times the file's size); alias "
                                 "smaller values, or fewer times",
                                 alias ? "alias" : "anchor", alias ? '*' : '&', name,
                                 MiB(alias_budget_), MiB(kMinAliasBytes)));
}

absl::Status Parser::ParseSequence(int depth, YamlNode* out) {
  for (;;) {
    Event child;
    if (absl::Status s = Next(&child); !s.ok()) return s;
    if (child.ev.type == YAML_SEQUENCE_END_EVENT) return absl::OkStatus();
    YamlNode item;
    if (absl::Status s = ParseNode(child.ev, depth + 1, &item); !s.ok()) return s;
    out->items.push_back(std::move(item));
  }
}

absl::Status Parser::ParseMapping(int depth, YamlNode* out) {
  // Keys seen so far, with where each was first written; a hash keeps large mappings linear.
  absl::flat_hash_map<std::string, Mark> seen;
  for (;;) {
    Event key_event;
    if (absl::Status s = Next(&key_event); !s.ok()) return s;
    if (key_event.ev.type == YAML_MAPPING_END_EVENT) return absl::OkStatus();
    YamlNode::Entry entry;
    if (absl::Status s = ParseNode(key_event.ev, depth + 1, &entry.key); !s.ok()) return s;
    if (!entry.key.IsScalar()) {
      return ErrorAt(filename_, entry.key.mark,
                     absl::StrFormat("a key must be a plain word such as 'name', found %s",
                                     entry.key.Describe()));
    }
    if (auto [it, inserted] = seen.try_emplace(entry.key.text, entry.key.mark); !inserted) {
      return ErrorAt(filename_, entry.key.mark,
                     absl::StrFormat("duplicate key '%s' (first at line %d, column %d); "
                                     "remove one of them",
                                     entry.key.text, it->second.line, it->second.column));
    }
    Event value_event;
    if (absl::Status s = Next(&value_event); !s.ok()) return s;
    if (absl::Status s = ParseNode(value_event.ev, depth + 1, &entry.value); !s.ok()) return s;
    out->entries.push_back(std::move(entry));
  }
}

absl::Status Parser::ParseNode(const yaml_event_t& ev, int depth, YamlNode* out) {
  Mark mark = ToMark(ev.start_mark);
  if (depth > kMaxDepth) {
    return ErrorAt(filename_, mark,
                   absl::StrFormat("values are nested more than %d levels deep", kMaxDepth));
  }
  if (ev.type == YAML_ALIAS_EVENT) {
    const char* name = reinterpret_cast<const char*>(ev.data.alias.anchor);
    auto it = anchors_.find(std::string_view(name));
    if (it == anchors_.end()) {
      return ErrorAt(filename_, mark,
                     absl::StrFormat("unknown alias '*%s'; define '&%s' on a value before this "
                                     "line (an alias cannot refer to a value that contains it)",
                                     name, name));
    }
    const Size& size = it->second.size;
    if (depth + size.height > kMaxDepth) {
      return ErrorAt(filename_, mark,
                     absl::StrFormat("values are nested more than %d levels deep once alias "
                                     "'*%s' is expanded",
                                     kMaxDepth, name));
    }
    if (absl::Status s = Count(mark, size.count, /*aliased=*/true); !s.ok()) return s;
    if (absl::Status s = ChargeCopy(mark, size.bytes, /*alias=*/true, name); !s.ok()) return s;
    *out = it->second.node;
    out->mark = mark;
    return absl::OkStatus();
  }
  if (absl::Status s = Count(mark, 1, /*aliased=*/false); !s.ok()) return s;
  out->mark = mark;
  switch (ev.type) {
    case YAML_SCALAR_EVENT: {
      out->text.assign(reinterpret_cast<const char*>(ev.data.scalar.value), ev.data.scalar.length);
      const char* tag = reinterpret_cast<const char*>(ev.data.scalar.tag);
      bool explicit_string = tag != nullptr && std::strcmp(tag, YAML_STR_TAG) == 0;
      out->kind = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !explicit_string
                      ? ResolvePlain(out->text)
                      : YamlNode::Kind::kString;
      break;
    }
    case YAML_SEQUENCE_START_EVENT:
      out->kind = YamlNode::Kind::kSequence;
      if (absl::Status s = ParseSequence(depth, out); !s.ok()) return s;
      break;
    case YAML_MAPPING_START_EVENT:
      out->kind = YamlNode::Kind::kMapping;
      if (absl::Status s = ParseMapping(depth, out); !s.ok()) return s;
      break;
    default:
      return ErrorAt(filename_, mark, "invalid YAML: unexpected event");
  }
  if (const char* anchor = AnchorOf(ev); anchor != nullptr) {
    // The stored copy costs memory too; charging it keeps nested anchors bounded. It is
    // measured before it is made, so that an oversized one is refused without copying.
    Size size = Measure(*out);
    if (absl::Status s = Count(mark, size.count, /*aliased=*/true); !s.ok()) return s;
    if (absl::Status s = ChargeCopy(mark, size.bytes, /*alias=*/false, anchor); !s.ok()) {
      return s;
    }
    anchors_.insert_or_assign(std::string(anchor), Anchor{*out, size});
  }
  return absl::OkStatus();
}

absl::StatusOr<YamlDocument> Parser::Run() {
  if (!ok_) {
    return absl::ResourceExhaustedError(
        absl::StrFormat("%s: cannot initialise the YAML parser", filename_));
  }
  YamlDocument doc;
  for (;;) {
    Event event;
    if (absl::Status s = Next(&event); !s.ok()) return s;
    switch (event.ev.type) {
      case YAML_STREAM_START_EVENT:
      case YAML_DOCUMENT_END_EVENT:
        break;
      case YAML_STREAM_END_EVENT:
        return doc;
      case YAML_DOCUMENT_START_EVENT: {
        Mark mark = ToMark(event.ev.start_mark);
        if (!doc.empty) {
          return ErrorAt(filename_, mark,
                         "a second YAML document starts here; ringway reads one document per "
                         "file, so remove this '---' and what follows or merge it into the first");
        }
        doc.empty = false;
        doc.start = mark;
        Event root;
        if (absl::Status s = Next(&root); !s.ok()) return s;
        if (absl::Status s = ParseNode(root.ev, 0, &doc.root); !s.ok()) return s;
        break;
      }
      default:
        return ErrorAt(filename_, ToMark(event.ev.start_mark), "invalid YAML: unexpected event");
    }
  }
}

}  // namespace

const YamlNode* YamlNode::Find(std::string_view key) const {
  for (const Entry& entry : entries) {
    if (entry.key.text == key) return &entry.value;
  }
  return nullptr;
}

bool YamlNode::BoolValue() const {
  return IsOneOf(text, {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"});
}

std::string YamlNode::Describe() const {
  std::string shown = text.size() > kDescribeMax ? text.substr(0, kDescribeMax) + "..." : text;
  switch (kind) {
    case Kind::kNull:
      return "nothing (an empty value)";
    case Kind::kBool:
      return absl::StrFormat("a boolean (%s)", shown);
    case Kind::kInt:
      return absl::StrFormat("an integer (%s)", shown);
    case Kind::kFloat:
      return absl::StrFormat("a number (%s)", shown);
    case Kind::kString:
      return absl::StrFormat("a string (\"%s\")", shown);
    case Kind::kSequence:
      return "a list";
    case Kind::kMapping:
      return "a mapping";
  }
  return "a value";
}

absl::Status ErrorAt(std::string_view filename, Mark mark, std::string_view message) {
  return absl::InvalidArgumentError(
      absl::StrFormat("%s:%d:%d: %s", filename, mark.line, mark.column, message));
}

absl::StatusOr<YamlDocument> ParseYaml(std::string_view text, std::string_view filename) {
  Parser parser(text, filename);
  return parser.Run();
}

}  // namespace ringway::config
