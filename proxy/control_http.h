// Responses of the admin API (control_api.cc, control_objects.cc): JSON documents, JSON errors
// ({"error","hint"}), plain text, and 405 with its Allow field.
#ifndef RINGWAY_PROXY_CONTROL_HTTP_H_
#define RINGWAY_PROXY_CONTROL_HTTP_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "admin/json.h"
#include "admin/server.h"

namespace ringway::proxy::api {

inline admin::Response Json(uint16_t status, std::string body) {
  admin::Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

inline admin::Response Error(uint16_t status, std::string_view error, std::string_view hint) {
  return Json(status, admin::JsonError(error, hint));
}

inline admin::Response Text(uint16_t status, std::string body) {
  admin::Response r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(body);
  return r;
}

// 405: `method` is not one of `allowed` ("GET, POST").
inline admin::Response NotAllowed(std::string_view method, std::string_view allowed) {
  admin::Response r =
      Error(405, std::string(method) + " is not allowed here", "use " + std::string(allowed));
  r.headers.emplace_back("Allow", std::string(allowed));
  return r;
}

}  // namespace ringway::proxy::api

#endif  // RINGWAY_PROXY_CONTROL_HTTP_H_
