// Health settings of an upstream (and of global.health_check): active checks run by the prober,
// and passive health from live traffic.
#include "config/loader.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace ringway::config::internal {
namespace {

// A health_check mapping's keys: each setting, then its other names.
// clang-format off
const std::initializer_list<std::string_view> kHealthCheckKeys = {
    "enabled", "type", "path", "method", "host", "expect", "service",
    "interval", "interval_seconds", "interval_secs", "frequency_secs",
    "timeout", "timeout_seconds", "timeout_secs", "timeout_ms",
    "jitter", "rise", "healthy_threshold", "fall", "unhealthy_threshold", "failure_threshold"};
// clang-format on

// The `where` LoadHealthCheck gets for global.health_check (config/global.cc).
constexpr std::string_view kGlobalHealthCheck = "global.health_check";

// A gRPC service name goes into the check's request message; names are short, and the bound
// keeps that message (and its varint length) small.
constexpr size_t kMaxGrpcServiceBytes = 255;

}  // namespace

absl::Status Loader::LoadHealthCheck(const YamlNode& node, std::string_view where,
                                     HealthCheck* health, HealthOrigins* origins,
                                     const YamlNode** type_node) const {
  CONFIG_RETURN_IF_ERROR(CheckKeys(node, kHealthCheckKeys, where));
  if (const YamlNode* n = node.Find("enabled")) {
    absl::StatusOr<bool> v = Bool(*n, Where("enabled", where));
    if (!v.ok()) return v.status();
    health->enabled = *v;
  }

  // `path` asks for an HTTP check unless `type` in the same mapping says otherwise.
  const YamlNode* path = node.Find("path");
  if (path != nullptr) {
    absl::StatusOr<std::string> v = HttpPath(*path, Where("path", where));
    if (!v.ok()) return v.status();
    health->path = *v;
  }
  *type_node = node.Find("type");
  if (const YamlNode* type = *type_node) {
    absl::StatusOr<std::string> v = String(*type, Where("type", where));
    if (!v.ok()) return v.status();
    if (*v == "tcp") {
      health->type = HealthCheck::Type::kTcp;
    } else if (*v == "http") {
      health->type = HealthCheck::Type::kHttp;
    } else if (*v == "grpc") {
      // Whether a gRPC check can run depends on the upstream's protocol (HTTP/2), so it is
      // chosen upstream by upstream (config/upstreams.cc checks it), never for all of them.
      if (where == kGlobalHealthCheck) {
        return Error(*type, absl::StrFormat("type: grpc in %s would apply to every upstream, "
                                            "and gRPC checks need HTTP/2 (protocol: h2c or "
                                            "h2); write health_check: {type: grpc} in each "
                                            "such upstream instead",
                                            where));
      }
      health->type = HealthCheck::Type::kGrpc;
    } else {
      std::string lower = Lowered(*v);
      std::string hint = lower == "tcp" || lower == "http" || lower == "grpc"
                             ? absl::StrFormat("write it in lower case: %s", lower)
                             : "use 'tcp' (connect only), 'http' (send a request, check the "
                               "status) or 'grpc' (ask grpc.health.v1.Health/Check)";
      return Error(
          *type, absl::StrFormat("health check type '%s' in %s is not known; %s", *v, where, hint));
    }
    if (health->type == HealthCheck::Type::kTcp && path != nullptr) {
      return Error(*path, absl::StrFormat("'path' in %s is given, but 'type' is tcp (line %d, "
                                          "column %d), and a TCP check sends no request; remove "
                                          "'path', or write type: http",
                                          where, type->mark.line, type->mark.column));
    }
    if (health->type == HealthCheck::Type::kGrpc) {
      // Keys of HTTP checks that a gRPC check would silently ignore.
      for (std::string_view key : {"path", "method", "expect"}) {
        const YamlNode* n = node.Find(key);
        if (n == nullptr) continue;
        return Error(*n, absl::StrFormat("'%s' in %s is given, but 'type' is grpc (line %d, "
                                         "column %d), and a gRPC check always sends POST "
                                         "/grpc.health.v1.Health/Check and passes on SERVING; "
                                         "remove '%s'%s",
                                         key, where, type->mark.line, type->mark.column, key,
                                         key == "path" ? " (name the gRPC service under "
                                                         "'service')"
                                                       : ""));
      }
    }
  } else if (path != nullptr) {
    health->type = HealthCheck::Type::kHttp;
  }

  if (const YamlNode* n = node.Find("method")) {
    absl::StatusOr<std::string> v = String(*n, Where("method", where));
    if (!v.ok()) return v.status();
    std::string upper = *v;
    for (char& c : upper) {
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    }
    if (!IsToken(*v)) {
      return Error(*n, absl::StrFormat("'method' in %s is '%s', not an HTTP method; write one "
                                       "such as GET or HEAD",
                                       where, *v));
    }
    if (upper != *v) {
      return Error(*n, absl::StrFormat("'method' in %s is '%s'; methods are case-sensitive, "
                                       "write it in upper case: %s",
                                       where, *v, upper));
    }
    health->method = *v;
  }
  if (const YamlNode* n = node.Find("host")) {
    absl::StatusOr<std::string> v = String(*n, Where("host", where));
    if (!v.ok()) return v.status();
    if (std::any_of(v->begin(), v->end(), IsSpaceOrControl) ||
        v->find_first_of("/?#@") != std::string::npos) {
      return Error(*n, absl::StrFormat("'host' in %s is '%s'; write only the Host header's "
                                       "value, a name with an optional port such as "
                                       "example.com or example.com:8080 (the path goes under "
                                       "'path')",
                                       where, *v));
    }
    health->host = *v;
  }
  if (const YamlNode* n = node.Find("service")) {
    std::string what = Where("service", where);
    if (health->type != HealthCheck::Type::kGrpc) {
      return Error(*n, absl::StrFormat("%s names a gRPC service, but the check is not a gRPC "
                                       "one; add type: grpc beside it (for an upstream with "
                                       "protocol: h2c), or remove 'service'",
                                       what));
    }
    // "" is a valid service: the whole server (String refuses empty values).
    absl::StatusOr<std::string> v =
        n->kind == Kind::kString && n->text.empty() ? std::string() : String(*n, what);
    if (!v.ok()) return v.status();
    if (v->size() > kMaxGrpcServiceBytes || std::any_of(v->begin(), v->end(), IsSpaceOrControl)) {
      return Error(*n, absl::StrFormat("%s is '%s'; write a gRPC service name such as "
                                       "my.package.MyService (at most %d bytes, no spaces or "
                                       "control characters), or \"\" for the whole server",
                                       what, *v, kMaxGrpcServiceBytes));
    }
    health->service = *v;
  }
  if (const YamlNode* n = node.Find("expect")) {
    std::string what = Where("expect", where);
    constexpr std::string_view kExpectHint =
        "write one status such as 200, or a range such as \"200-399\", within 100 to 599";
    if (n->kind == Kind::kInt) {
      absl::StatusOr<int64_t> v = Integer(*n, what, 100, 599);
      if (!v.ok()) return v.status();
      health->expect_min = health->expect_max = static_cast<uint16_t>(*v);
    } else if (n->kind == Kind::kString) {
      std::string_view text = n->text;
      size_t dash = text.find('-');
      std::string_view lo_text = text.substr(0, dash);
      std::string_view hi_text = dash == std::string_view::npos ? lo_text : text.substr(dash + 1);
      int64_t lo = 0;
      int64_t hi = 0;
      auto digits = [](std::string_view d) {
        return !d.empty() && d.size() <= 3 &&
               std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; });
      };
      if (!digits(lo_text) || !digits(hi_text) || !absl::SimpleAtoi(std::string(lo_text), &lo) ||
          !absl::SimpleAtoi(std::string(hi_text), &hi)) {
        std::string hint(kExpectHint);
        if (text.size() == 3 && text[0] >= '1' && text[0] <= '5' &&
            Lowered(text.substr(1)) == "xx") {
          hint = absl::StrFormat("write the range as \"%c00-%c99\"", text[0], text[0]);
        }
        return Error(*n, absl::StrFormat("%s is '%s', not a status or a range of statuses; %s",
                                         what, text, hint));
      }
      if (lo < 100 || hi > 599) {
        return Error(*n, absl::StrFormat("%s is '%s', out of range; statuses run from 100 to 599",
                                         what, text));
      }
      if (lo > hi) {
        return Error(*n, absl::StrFormat("%s is '%s', a range that runs backwards; write "
                                         "\"%d-%d\"",
                                         what, text, hi, lo));
      }
      health->expect_min = static_cast<uint16_t>(lo);
      health->expect_max = static_cast<uint16_t>(hi);
    } else {
      return TypeError(*n, what, "a status code or a range of them", kExpectHint);
    }
  }

  bool interval_here = false;
  bool timeout_here = false;
  absl::StatusOr<const YamlNode::Entry*> interval =
      FindOne(node, {"interval", "interval_seconds", "interval_secs", "frequency_secs"}, where);
  if (!interval.ok()) return interval.status();
  if (*interval != nullptr) {
    const YamlNode::Entry& e = **interval;
    absl::StatusOr<uint32_t> ms =
        Duration(e.value, Where(e.key.text, where), DurationRule{.min_ms = 10});
    if (!ms.ok()) return ms.status();
    health->interval_ms = *ms;
    origins->interval = HealthOrigin{true, e.value.mark, e.key.text, std::string(where)};
    interval_here = true;
  }
  absl::StatusOr<const YamlNode::Entry*> timeout =
      FindOne(node, {"timeout", "timeout_seconds", "timeout_secs", "timeout_ms"}, where);
  if (!timeout.ok()) return timeout.status();
  if (*timeout != nullptr) {
    const YamlNode::Entry& e = **timeout;
    absl::StatusOr<uint32_t> ms =
        Duration(e.value, Where(e.key.text, where),
                 DurationRule{.bare_ms = e.key.text == "timeout_ms", .min_ms = 10});
    if (!ms.ok()) return ms.status();
    health->timeout_ms = *ms;
    origins->timeout = HealthOrigin{true, e.value.mark, e.key.text, std::string(where)};
    timeout_here = true;
  }
  if (const YamlNode* n = node.Find("jitter")) {
    absl::StatusOr<uint32_t> ms = Duration(*n, Where("jitter", where), {.zero_ok = true});
    if (!ms.ok()) return ms.status();
    health->jitter_ms = *ms;
  }
  auto count = [&](Keys names, uint32_t* out) -> absl::Status {
    absl::StatusOr<const YamlNode::Entry*> e = FindOne(node, names, where);
    if (!e.ok()) return e.status();
    if (*e == nullptr) return absl::OkStatus();
    absl::StatusOr<int64_t> v = Integer((*e)->value, Where((*e)->key.text, where), 1, 100);
    if (!v.ok()) return v.status();
    *out = static_cast<uint32_t>(*v);
    return absl::OkStatus();
  };
  CONFIG_RETURN_IF_ERROR(count({"rise", "healthy_threshold"}, &health->rise));
  CONFIG_RETURN_IF_ERROR(
      count({"fall", "unhealthy_threshold", "failure_threshold"}, &health->fall));

  // A check must give up before the next one is due. Reported at the value this mapping
  // wrote; the other may come from global.health_check or the defaults.
  if ((interval_here || timeout_here) && health->timeout_ms >= health->interval_ms) {
    auto describe = [](const HealthOrigin& o) {
      return o.set ? absl::StrFormat("'%s' in %s, line %d", o.key, o.where, o.at.line)
                   : std::string("the default");
    };
    if (timeout_here) {
      const HealthOrigin& t = origins->timeout;
      uint32_t shorter = health->interval_ms / 2 >= 10 ? health->interval_ms / 2 : 0;
      std::string fix = shorter != 0 ? absl::StrFormat(
                                           "write a shorter timeout, such as %s: %s, "
                                           "or a longer interval",
                                           t.key, DurationText(shorter))
                                     : std::string("write a longer interval");
      return Error(t.at, absl::StrFormat("'%s' in %s is %s, not shorter than the interval (%s, "
                                         "%s); a check must time out before the next one is "
                                         "due: %s",
                                         t.key, where, DurationText(health->timeout_ms),
                                         DurationText(health->interval_ms),
                                         describe(origins->interval), fix));
    }
    const HealthOrigin& i = origins->interval;
    return Error(i.at, absl::StrFormat("'%s' in %s is %s, not longer than the timeout (%s, %s); "
                                       "a check must time out before the next one is due: write "
                                       "a longer interval, such as %s: %s, or a shorter timeout",
                                       i.key, where, DurationText(health->interval_ms),
                                       DurationText(health->timeout_ms), describe(origins->timeout),
                                       i.key, DurationText(uint64_t{health->timeout_ms} * 2)));
  }
  return absl::OkStatus();
}

absl::Status Loader::LoadPassiveHealth(const YamlNode& node, std::string_view where,
                                       PassiveHealth* passive) const {
  CONFIG_RETURN_IF_ERROR(
      CheckKeys(node, {"consecutive_failures", "on", "base_ejection", "max_ejection"}, where));
  if (const YamlNode* n = node.Find("consecutive_failures")) {
    absl::StatusOr<int64_t> v = Integer(*n, Where("consecutive_failures", where), 0, 1000);
    if (!v.ok()) return v.status();
    passive->consecutive_failures = static_cast<uint32_t>(*v);
  }
  if (const YamlNode* on = node.Find("on")) {
    constexpr std::string_view kExample = "[connect_failure, reset, 502, 503, 504]";
    CONFIG_RETURN_IF_ERROR(ExpectList(*on, Where("on", where), kExample));
    if (on->items.empty()) {
      return Error(*on, absl::StrFormat("'on' in %s is empty; list what counts as a failure, "
                                        "such as %s, or set consecutive_failures: 0 to turn "
                                        "passive health off",
                                        where, kExample));
    }
    passive->on_connect_failure = false;
    passive->on_reset = false;
    passive->statuses.clear();
    std::vector<std::string> seen;
    for (size_t i = 0; i < on->items.size(); ++i) {
      const YamlNode& item = on->items[i];
      std::string what = absl::StrFormat("entry #%d of 'on' in %s", i + 1, where);
      std::string name;
      if (item.kind == Kind::kInt) {
        int64_t status = 0;
        if (!absl::SimpleAtoi(item.text, &status) || status < 500 || status > 599) {
          return Error(item, absl::StrFormat("%s is %s; only statuses from 500 to 599 count as "
                                             "backend failures",
                                             what, item.text));
        }
        passive->statuses.push_back(static_cast<uint16_t>(status));
        name = std::to_string(status);
      } else if (item.kind == Kind::kString &&
                 (item.text == "connect_failure" || item.text == "reset")) {
        (item.text == "reset" ? passive->on_reset : passive->on_connect_failure) = true;
        name = item.text;
      } else if (item.kind == Kind::kString) {
        std::string message =
            absl::StrFormat("%s is '%s', which is not a failure ringway knows", what, item.text);
        std::string suggestion =
            Closest(item.text, std::vector<std::string>{"connect_failure", "reset"});
        if (!suggestion.empty())
          absl::StrAppendFormat(&message, "; did you mean '%s'?", suggestion);
        absl::StrAppend(&message,
                        " (use connect_failure, reset, or a status code from 500 to 599)");
        return Error(item, message);
      } else {
        return TypeError(item, what, "connect_failure, reset or a status code from 500 to 599");
      }
      if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
        return Error(item, absl::StrFormat("%s lists %s a second time (entry #%d); list it once",
                                           Where("on", where), name, i + 1));
      }
      seen.push_back(name);
    }
  }
  const YamlNode* base = node.Find("base_ejection");
  const YamlNode* max = node.Find("max_ejection");
  if (base != nullptr) {
    absl::StatusOr<uint32_t> ms = Duration(*base, Where("base_ejection", where));
    if (!ms.ok()) return ms.status();
    passive->base_ejection_ms = *ms;
  }
  if (max != nullptr) {
    absl::StatusOr<uint32_t> ms = Duration(*max, Where("max_ejection", where));
    if (!ms.ok()) return ms.status();
    passive->max_ejection_ms = *ms;
  }
  if (passive->max_ejection_ms < passive->base_ejection_ms) {
    std::string base_text = DurationText(passive->base_ejection_ms);
    std::string max_text = DurationText(passive->max_ejection_ms);
    if (max != nullptr) {
      return Error(*max, absl::StrFormat("'max_ejection' in %s is %s, shorter than base_ejection "
                                         "(%s%s); the back-off doubles from base_ejection up to "
                                         "max_ejection, so write max_ejection: %s or longer",
                                         where, max_text, base_text,
                                         base != nullptr ? "" : ", the default", base_text));
    }
    return Error(*base, absl::StrFormat("'base_ejection' in %s is %s, longer than max_ejection "
                                        "(%s, the default); the back-off doubles from "
                                        "base_ejection up to max_ejection, so write a shorter "
                                        "base_ejection or add max_ejection: %s",
                                        where, base_text, max_text, base_text));
  }
  return absl::OkStatus();
}

}  // namespace ringway::config::internal
