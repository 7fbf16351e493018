// A strict JSON reader (json_reader.h): recursive descent over the text, depth bounded.
#include "admin/json_reader.h"

#include <algorithm>
#include <charconv>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "admin/json.h"

namespace ringway::admin {

bool JsonValue::GetBool(bool* out) const {
  if (type_ != Type::kBool) return false;
  *out = bool_;
  return true;
}

bool JsonValue::GetString(std::string_view* out) const {
  if (type_ != Type::kString) return false;
  *out = text_;
  return true;
}

bool JsonValue::GetUint64(uint64_t* out) const {
  if (type_ != Type::kNumber || text_.empty()) return false;
  for (char c : text_) {
    if (c < '0' || c > '9') return false;  // a sign, a fraction or an exponent
  }
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text_.data(), text_.data() + text_.size(), v);
  if (ec != std::errc() || end != text_.data() + text_.size()) return false;  // past 2^64-1
  *out = v;
  return true;
}

const JsonValue* JsonValue::Find(std::string_view key) const {
  if (type_ != Type::kObject) return nullptr;
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (keys_[i] == key) return &items_[i];
  }
  return nullptr;
}

class JsonParser {
 public:
  JsonParser(std::string_view text, JsonLimits limits) : s_(text), limits_(limits) {}

  absl::StatusOr<JsonValue> Run() {
    if (s_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;
    SkipSpace();
    if (pos_ == s_.size()) return Fail("the text is empty; send a JSON value such as {}");
    JsonValue v;
    if (!Value(&v, 0)) return Fail(error_);
    SkipSpace();
    if (pos_ != s_.size()) return Fail("unexpected text after the JSON value");
    return v;
  }

 private:
  absl::Status Fail(const std::string& what) const {
    size_t line = 1, column = 1;
    for (size_t i = 0; i < pos_ && i < s_.size(); ++i) {
      if (s_[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    return absl::InvalidArgumentError(
        absl::StrFormat("line %u, column %u: %s", line, column, what));
  }

  // Records the first error (pos_ stays where it was found) and returns false.
  bool Error(std::string what) {
    error_ = std::move(what);
    return false;
  }

  void SkipSpace() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }

  bool Value(JsonValue* v, int depth) {
    if (++values_ > limits_.values) {
      return Error(absl::StrFormat("more than %u values", limits_.values));
    }
    if (pos_ == s_.size()) return Error("the text ends where a value should be");
    const char c = s_[pos_];
    switch (c) {
      case '{':
        return Object(v, depth + 1);
      case '[':
        return Array(v, depth + 1);
      case '"':
        v->type_ = JsonValue::Type::kString;
        return String(&v->text_);
      case 't':
        return Word("true", v, JsonValue::Type::kBool, true);
      case 'f':
        return Word("false", v, JsonValue::Type::kBool, false);
      case 'n':
        return Word("null", v, JsonValue::Type::kNull, false);
      default:
        if (c == '-' || (c >= '0' && c <= '9')) return Number(v);
        if (c == ']' || c == '}' || c == ',')
          return Error(absl::StrFormat("'%c' where a value should be", c));
        return Error(
            "not a JSON value (strings need double quotes; true, false and null are "
            "lower-case)");
    }
  }

  bool Word(std::string_view word, JsonValue* v, JsonValue::Type type, bool b) {
    if (s_.substr(pos_, word.size()) != word) {
      return Error(
          "not a JSON value (strings need double quotes; true, false and null are "
          "lower-case)");
    }
    pos_ += word.size();
    v->type_ = type;
    v->bool_ = b;
    return true;
  }

  bool Digits() {
    const size_t start = pos_;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    return pos_ > start;
  }

  // number = [ "-" ] ( "0" / 1-9 *DIGIT ) [ "." 1*DIGIT ] [ ( "e" / "E" ) [ "+" / "-" ] 1*DIGIT ]
  bool Number(JsonValue* v) {
    const size_t start = pos_;
    if (s_[pos_] == '-') ++pos_;
    if (pos_ < s_.size() && s_[pos_] == '0') {
      ++pos_;
      if (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
        return Error("a number may not start with 0 (leading zeros are not JSON)");
      }
    } else if (!Digits()) {
      return Error("'-' must be followed by digits");
    }
    if (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_;
      if (!Digits()) return Error("a number's '.' must be followed by digits");
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (!Digits()) return Error("a number's exponent must have digits");
    }
    v->type_ = JsonValue::Type::kNumber;
    v->text_.assign(s_.substr(start, pos_ - start));
    return true;
  }

  static int HexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  // Reads the four hex digits of a \u escape at pos_ (just past "\u").
  bool Hex4(uint32_t* out) {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const int h = pos_ < s_.size() ? HexValue(s_[pos_]) : -1;
      if (h < 0) return Error("\\u must be followed by four hex digits");
      v = v << 4 | static_cast<uint32_t>(h);
      ++pos_;
    }
    *out = v;
    return true;
  }

  static void AppendUtf8(std::string* out, uint32_t cp) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | cp >> 6));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | cp >> 12));
      out->push_back(static_cast<char>(0x80 | (cp >> 6 & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | cp >> 18));
      out->push_back(static_cast<char>(0x80 | (cp >> 12 & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp >> 6 & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  // A string at pos_ (on its opening quote), decoded into *out.
  bool String(std::string* out) {
    ++pos_;
    while (true) {
      if (pos_ >= s_.size()) return Error("a string is not closed (missing '\"')");
      const char c = s_[pos_];
      const auto u = static_cast<uint8_t>(c);
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (u < 0x20)
        return Error("a control character in a string must be escaped (\\n, \\t, \\u00XX)");
      if (u >= 0x80) {
        const size_t n = Utf8Length(s_, pos_);
        if (n == 0) return Error("a string holds bytes that are not UTF-8");
        out->append(s_.substr(pos_, n));
        pos_ += n;
        continue;
      }
      if (c != '\\') {
        out->push_back(c);
        ++pos_;
        continue;
      }
      if (++pos_ >= s_.size()) return Error("a string is not closed (missing '\"')");
      const char e = s_[pos_++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out->push_back(e);
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'n':
          out->push_back('\n');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 't':
          out->push_back('\t');
          break;
        case 'u': {
          uint32_t cp = 0;
          if (!Hex4(&cp)) return false;
          if (cp >= 0xDC00 && cp <= 0xDFFF) {
            pos_ -= 6;
            return Error("a \\u escape is a low surrogate without a high one before it");
          }
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t lo = 0;
            if (s_.substr(pos_, 2) != "\\u") {
              return Error("a \\u escape of a high surrogate must be followed by a low one");
            }
            pos_ += 2;
            if (!Hex4(&lo)) return false;
            if (lo < 0xDC00 || lo > 0xDFFF) {
              pos_ -= 6;
              return Error("a \\u escape of a high surrogate must be followed by a low one");
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          AppendUtf8(out, cp);
          break;
        }
        default:
          --pos_;
          return Error(
              "unknown escape in a string (use \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)");
      }
    }
  }

  bool Array(JsonValue* v, int depth) {
    if (depth > limits_.depth) {
      return Error(absl::StrFormat("nested more than %d deep", limits_.depth));
    }
    v->type_ = JsonValue::Type::kArray;
    ++pos_;
    SkipSpace();
    if (pos_ < s_.size() && s_[pos_] == ']') {
      ++pos_;
      return true;
    }
    while (true) {
      v->items_.emplace_back();
      if (!Value(&v->items_.back(), depth)) return false;
      SkipSpace();
      if (pos_ >= s_.size()) return Error("a list is not closed (missing ']')");
      if (s_[pos_] == ']') {
        ++pos_;
        return true;
      }
      if (s_[pos_] != ',') return Error("expected ',' or ']' after a list's element");
      ++pos_;
      SkipSpace();
      if (pos_ < s_.size() && s_[pos_] == ']') return Error("a trailing ',' before ']'");
    }
  }

  // Sorting keeps a large object's check O(n log n); the error points at the later of two.
  bool NoDuplicateKey(const JsonValue& v, const std::vector<size_t>& key_pos) {
    if (v.keys_.size() < 2) return true;
    std::vector<size_t> order(v.keys_.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return v.keys_[a] != v.keys_[b] ? v.keys_[a] < v.keys_[b] : a < b;
    });
    for (size_t i = 1; i < order.size(); ++i) {
      if (v.keys_[order[i]] == v.keys_[order[i - 1]]) {
        pos_ = key_pos[order[i]];
        return Error("a key appears twice in one object");
      }
    }
    return true;
  }

  bool Object(JsonValue* v, int depth) {
    if (depth > limits_.depth) {
      return Error(absl::StrFormat("nested more than %d deep", limits_.depth));
    }
    v->type_ = JsonValue::Type::kObject;
    std::vector<size_t> key_pos;  // where each key starts, for the duplicate check
    ++pos_;
    SkipSpace();
    if (pos_ < s_.size() && s_[pos_] == '}') {
      ++pos_;
      return true;
    }
    while (true) {
      if (pos_ >= s_.size()) return Error("an object is not closed (missing '}')");
      if (s_[pos_] != '"') return Error("expected a key in double quotes");
      key_pos.push_back(pos_);
      std::string key;
      if (!String(&key)) return false;
      SkipSpace();
      if (pos_ >= s_.size() || s_[pos_] != ':') return Error("expected ':' after a key");
      ++pos_;
      SkipSpace();
      v->keys_.push_back(std::move(key));
      v->items_.emplace_back();
      if (!Value(&v->items_.back(), depth)) return false;
      SkipSpace();
      if (pos_ >= s_.size()) return Error("an object is not closed (missing '}')");
      if (s_[pos_] == '}') {
        ++pos_;
        return NoDuplicateKey(*v, key_pos);
      }
      if (s_[pos_] != ',') return Error("expected ',' or '}' after a member");
      ++pos_;
      SkipSpace();
      if (pos_ < s_.size() && s_[pos_] == '}') return Error("a trailing ',' before '}'");
    }
  }

  std::string_view s_;
  JsonLimits limits_;
  size_t pos_ = 0;
  size_t values_ = 0;
  std::string error_;
};

absl::StatusOr<JsonValue> ParseJson(std::string_view text, JsonLimits limits) {
  return JsonParser(text, limits).Run();
}

}  // namespace ringway::admin
