// The loader's typed readers (strings, integers, durations, sizes, addresses, percentages),
// the key checks every section runs, and the text helpers their messages share.
#include "config/loader.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "config/units.h"

namespace ringway::config::internal {
namespace {

std::string SizeText(uint64_t bytes) {
  if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) return absl::StrFormat("%dm", bytes >> 20);
  if (bytes >= (1u << 10) && bytes % (1u << 10) == 0) return absl::StrFormat("%dk", bytes >> 10);
  return absl::StrFormat("%d", bytes);
}

// RFC 9110 token characters: what method, header and cookie names are made of.
bool IsTokenChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// True for "0", "00", "0ms", "0s", "0m", "0h".
bool IsZeroDuration(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && text[i] == '0') ++i;
  if (i == 0) return false;
  std::string_view unit = text.substr(i);
  return unit.empty() || unit == "ms" || unit == "s" || unit == "m" || unit == "h";
}

// Other proxies' names for the balancing algorithm, refused with a pointer to ours.
constexpr std::string_view kAlgorithmSeedKeys[] = {"load_balancing", "strategy"};

}  // namespace

size_t EditDistance(std::string_view a, std::string_view b) {
  // Three rows of the table (two back, for the swap) rather than all of it: O(|b|) memory.
  std::vector<size_t> two_back(b.size() + 1), back(b.size() + 1), row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) back[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      row[j] = std::min({back[j] + 1, row[j - 1] + 1, back[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        row[j] = std::min(row[j], two_back[j - 2] + 1);
      }
    }
    std::swap(two_back, back);
    std::swap(back, row);
  }
  return back[b.size()];
}

std::string Quoted(const std::vector<std::string>& names) {
  std::vector<std::string> q;
  q.reserve(names.size());
  for (const std::string& n : names) q.push_back("'" + n + "'");
  return absl::StrJoin(q, ", ");
}

std::string Where(std::string_view key, std::string_view where) {
  return absl::StrFormat("'%s' in %s", key, where);
}

std::string DurationText(uint64_t ms) {
  if (ms == 0) return "0";
  if (ms % 3'600'000 == 0) return absl::StrFormat("%dh", ms / 3'600'000);
  if (ms % 60'000 == 0) return absl::StrFormat("%dm", ms / 60'000);
  if (ms % 1'000 == 0) return absl::StrFormat("%ds", ms / 1'000);
  return absl::StrFormat("%dms", ms);
}

bool IsToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), IsTokenChar);
}

// A space, a control character or DEL: never allowed in a request path or a Host value.
bool IsSpaceOrControl(char c) {
  auto u = static_cast<unsigned char>(c);
  return u <= 0x20 || u == 0x7f;
}

std::string Lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

absl::Status Loader::TypeError(const YamlNode& node, std::string_view what,
                               std::string_view expected, std::string_view hint) const {
  std::string message = absl::StrFormat("%s must be %s, found %s", what, expected, node.Describe());
  std::string auto_hint;
  if (hint.empty()) {
    bool wants_int = expected.find("integer") != std::string_view::npos;
    bool wants_bool = expected.find("boolean") != std::string_view::npos;
    bool wants_string = expected.find("string") != std::string_view::npos;
    int64_t ignored = 0;
    if (node.kind == Kind::kString && wants_int && absl::SimpleAtoi(node.text, &ignored)) {
      auto_hint = "remove the quotes around the number";
    } else if (node.kind == Kind::kString && wants_bool &&
               (node.text == "true" || node.text == "false")) {
      auto_hint = "remove the quotes around " + node.text;
    } else if (node.kind == Kind::kBool && wants_string) {
      auto_hint = absl::StrFormat("write \"%s\" in quotes if you mean the text", node.text);
    } else if (node.kind == Kind::kNull) {
      auto_hint = "write a value after the colon";
    }
    hint = auto_hint;
  }
  if (!hint.empty()) absl::StrAppendFormat(&message, "; %s", hint);
  return Error(node, message);
}

absl::Status Loader::CheckKeys(const YamlNode& map, Keys allowed, std::string_view where) const {
  for (const YamlNode::Entry& entry : map.entries) {
    const std::string& key = entry.key.text;
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    std::string message = absl::StrFormat("unknown key '%s' in %s", key, where);
    std::string suggestion = Closest(key, allowed);
    if (!suggestion.empty()) {
      absl::StrAppendFormat(&message, "; did you mean '%s'?", suggestion);
    } else {
      std::vector<std::string> names(allowed.begin(), allowed.end());
      absl::StrAppendFormat(&message, "; the keys allowed here are %s", Quoted(names));
    }
    return Error(entry.key, message);
  }
  return absl::OkStatus();
}

absl::Status Loader::ExpectMapping(const YamlNode& node, std::string_view what) const {
  if (node.kind == Kind::kMapping) return absl::OkStatus();
  return TypeError(node, what, "a mapping (key: value lines)",
                   node.kind == Kind::kNull
                       ? "write its keys on the lines below it, indented"
                       : "write its keys on the lines below it, indented, or as {key: value}");
}

absl::Status Loader::ExpectList(const YamlNode& node, std::string_view what,
                                std::string_view example) const {
  if (node.kind == Kind::kSequence) return absl::OkStatus();
  return TypeError(node, what, "a list",
                   absl::StrFormat("write one '- ' item per line or a list such as %s", example));
}

absl::StatusOr<const YamlNode*> Loader::Require(const YamlNode& map, std::string_view key,
                                                std::string_view where,
                                                std::string_view example) const {
  if (const YamlNode* value = map.Find(key)) return value;
  return Error(map, absl::StrFormat("%s has no '%s' key; add %s", where, key, example));
}

absl::StatusOr<std::string> Loader::String(const YamlNode& node, std::string_view what) const {
  if (node.kind != Kind::kString && node.kind != Kind::kInt && node.kind != Kind::kFloat) {
    return TypeError(node, what, "a string");
  }
  if (node.text.empty()) {
    return Error(node, absl::StrFormat("%s is empty; write a value", what));
  }
  return node.text;
}

absl::StatusOr<int64_t> Loader::Integer(const YamlNode& node, std::string_view what, int64_t lo,
                                        int64_t hi) const {
  if (node.kind != Kind::kInt) {
    return TypeError(node, what, absl::StrFormat("an integer from %d to %d", lo, hi));
  }
  int64_t value = 0;
  if (!absl::SimpleAtoi(node.text, &value) || value < lo || value > hi) {
    return Error(node, absl::StrFormat("%s is %s, out of range; use a value from %d to %d", what,
                                       node.text, lo, hi));
  }
  return value;
}

absl::StatusOr<bool> Loader::Bool(const YamlNode& node, std::string_view what) const {
  if (node.kind != Kind::kBool) return TypeError(node, what, "a boolean (true or false)");
  return node.BoolValue();
}

absl::StatusOr<uint32_t> Loader::Duration(const YamlNode& node, std::string_view what) const {
  return Duration(node, what, DurationRule{});
}

absl::StatusOr<uint32_t> Loader::Duration(const YamlNode& node, std::string_view what,
                                          const DurationRule& rule) const {
  if (node.kind != Kind::kInt && node.kind != Kind::kString) {
    std::string hint = node.kind == Kind::kFloat
                           ? "use whole numbers with a unit, such as 1500ms instead of 1.5"
                           : "write a whole number followed by ms, s, m or h, such as 30s";
    return TypeError(node, what, "a duration such as 250ms, 5s, 2m or 1h", hint);
  }
  std::string text = node.text;
  if (rule.bare_ms && !text.empty() &&
      std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    text += "ms";
  }
  if (rule.zero_ok && IsZeroDuration(text)) return 0u;
  absl::StatusOr<uint32_t> ms = ParseDurationMs(text);
  if (!ms.ok()) {
    std::string message = absl::StrFormat("%s: %s", what, ms.status().message());
    if (rule.bare_ms && node.kind == Kind::kInt) {
      absl::StrAppend(&message, " (a bare number here counts milliseconds)");
    }
    return Error(node, message);
  }
  if (*ms < rule.min_ms) {
    return Error(node, absl::StrFormat("%s is %s; the shortest allowed is %s%s", what,
                                       DurationText(*ms), DurationText(rule.min_ms),
                                       rule.zero_ok ? " (or 0 to turn it off)" : ""));
  }
  return *ms;
}

absl::StatusOr<uint64_t> Loader::Size(const YamlNode& node, std::string_view what, uint64_t lo,
                                      uint64_t hi) const {
  if (node.kind != Kind::kInt && node.kind != Kind::kString) {
    return TypeError(node, what, "a size such as 8k, 64k, 1m or 2g",
                     "write a whole number of bytes, optionally followed by k, m or g");
  }
  absl::StatusOr<uint64_t> bytes = ParseSize(node.text);
  if (!bytes.ok()) {
    return Error(node, absl::StrFormat("%s: %s", what, bytes.status().message()));
  }
  if (*bytes < lo || *bytes > hi) {
    return Error(node, absl::StrFormat("%s is %s (%d bytes), out of range; use %s to %s", what,
                                       node.text, *bytes, SizeText(lo), SizeText(hi)));
  }
  return *bytes;
}

absl::StatusOr<SocketAddress> Loader::Address(const YamlNode& node, std::string_view what) const {
  if (node.kind != Kind::kString) {
    std::string hint = node.kind == Kind::kInt
                           ? absl::StrFormat(
                                 "write an address with a port, such as \":%s\" or "
                                 "\"127.0.0.1:%s\"",
                                 node.text, node.text)
                           : "write an IP address and port such as \"127.0.0.1:3001\"";
    return TypeError(node, what, "an address string", hint);
  }
  absl::StatusOr<SocketAddress> address = ParseSocketAddress(node.text);
  if (!address.ok()) {
    return Error(node, absl::StrFormat("%s: %s", what, address.status().message()));
  }
  return *std::move(address);
}

// The entry for a setting written under any of its names (`names` starts with the canonical
// one, then its aliases); nullptr when none is written, an error when two are.
absl::StatusOr<const YamlNode::Entry*> Loader::FindOne(const YamlNode& map, Keys names,
                                                       std::string_view where) const {
  const YamlNode::Entry* found = nullptr;
  std::string_view canonical = *names.begin();
  for (const YamlNode::Entry& entry : map.entries) {
    if (std::find(names.begin(), names.end(), entry.key.text) == names.end()) continue;
    if (found == nullptr) {
      found = &entry;
      continue;
    }
    std::string why;
    if (found->key.text == canonical || entry.key.text == canonical) {
      const std::string& alias = found->key.text == canonical ? entry.key.text : found->key.text;
      why = absl::StrFormat("'%s' is another name for '%s'", alias, canonical);
    } else {
      why = absl::StrFormat("both are other names for '%s'", canonical);
    }
    return Error(entry.key, absl::StrFormat("'%s' and '%s' (line %d, column %d) in %s set the same "
                                            "thing (%s); keep one of them",
                                            entry.key.text, found->key.text, found->key.mark.line,
                                            found->key.mark.column, where, why));
  }
  return found;
}

// Keys other proxies use for the balancing algorithm: say what ringway calls it.
absl::Status Loader::RefuseSeedKeys(const YamlNode& map, std::string_view where) const {
  for (const YamlNode::Entry& entry : map.entries) {
    for (std::string_view seed : kAlgorithmSeedKeys) {
      if (entry.key.text != seed) continue;
      return Error(entry.key,
                   absl::StrFormat("unknown key '%s' in %s; ringway sets the balancing algorithm "
                                   "on each upstream with 'algorithm', such as algorithm: "
                                   "round_robin (see docs/configuration.md, \"Settings from "
                                   "earlier proxies\")",
                                   seed, where));
    }
  }
  return absl::OkStatus();
}

// A request path for health checks: starts with '/', no spaces or control characters.
absl::StatusOr<std::string> Loader::HttpPath(const YamlNode& node, std::string_view what) const {
  absl::StatusOr<std::string> path = String(node, what);
  if (!path.ok()) return path.status();
  if ((*path)[0] != '/') {
    return Error(node, absl::StrFormat("%s is '%s', which does not start with '/'; write it as "
                                       "'/%s'",
                                       what, *path, *path));
  }
  if (std::any_of(path->begin(), path->end(), IsSpaceOrControl)) {
    return Error(node, absl::StrFormat("%s is '%s', which holds a space or a control character; "
                                       "percent-encode it (a space is %%20)",
                                       what, *path));
  }
  return path;
}

absl::StatusOr<std::string> Loader::Tag(const YamlNode& node, std::string_view what) const {
  absl::StatusOr<std::string> v = String(node, what);
  if (!v.ok()) return v.status();
  if (!ValidTag(*v)) {
    return Error(node, absl::StrFormat("%s is '%s'; use 1 to 128 letters, digits and . _ - : @ "
                                       "[ ] (no spaces or slashes)",
                                       what, *v));
  }
  return v;
}

// A share written as "20%" or as a fraction from 0 to 1; returns whole percent.
absl::StatusOr<uint32_t> Loader::Percent(const YamlNode& node, std::string_view what) const {
  constexpr std::string_view kHint = "write a percentage such as 20% or a fraction such as 0.2";
  if (node.kind == Kind::kString && !node.text.empty() && node.text.back() == '%') {
    std::string_view number = std::string_view(node.text).substr(0, node.text.size() - 1);
    int64_t v = -1;
    if (number.empty() ||
        !std::all_of(number.begin(), number.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        !absl::SimpleAtoi(std::string(number), &v)) {
      return Error(
          node, absl::StrFormat("%s is '%s', not a whole percentage; %s", what, node.text, kHint));
    }
    if (v > 100) {
      return Error(node,
                   absl::StrFormat("%s is %s, out of range; use 0%% to 100%%", what, node.text));
    }
    return static_cast<uint32_t>(v);
  }
  if (node.kind == Kind::kInt) {
    int64_t v = -1;
    if (absl::SimpleAtoi(node.text, &v) && (v == 0 || v == 1)) {
      return static_cast<uint32_t>(v * 100);
    }
    std::string hint = v > 1 && v <= 100 ? absl::StrFormat("; did you mean %d%%?", v) : "";
    return Error(node, absl::StrFormat("%s is %s, not a fraction from 0 to 1%s (%s)", what,
                                       node.text, hint, kHint));
  }
  if (node.kind == Kind::kFloat) {
    double v = -1;
    if (!absl::SimpleAtod(node.text, &v) || !(v >= 0 && v <= 1)) {
      return Error(node, absl::StrFormat("%s is %s, not a fraction from 0 to 1; %s", what,
                                         node.text, kHint));
    }
    double percent = v * 100;
    double whole = std::round(percent);
    if (std::fabs(percent - whole) > 1e-6) {
      return Error(node,
                   absl::StrFormat("%s is %s (%g%%); ringway counts whole percents, so "
                                   "write %d%% or %d%%",
                                   what, node.text, percent, static_cast<int>(std::floor(percent)),
                                   static_cast<int>(std::ceil(percent))));
    }
    return static_cast<uint32_t>(whole);
  }
  return TypeError(node, what, "a percentage or a fraction from 0 to 1", kHint);
}

}  // namespace ringway::config::internal
