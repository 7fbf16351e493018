// Sticky sessions by cookie: helpers to name a backend in a cookie and find it again.
//
// The token for a backend is 16 lower-case hex digits of Hash64(id); with the backend's address
// as its id, every ringway instance (and the same one after a restart) gives the same token,
// and the token survives the pool being reordered or resized. It hides nothing: anyone can
// hash candidate addresses. Put a secret in the id if the addresses are private.
//
// FindCookie reads one cookie from a Cookie field value ("a=b; c=d", RFC 6265 section 4.2.1),
// tolerating missing or extra spaces and tabs around names, values and separators, and
// removing one pair of double quotes around a value. Names are case-sensitive. It allocates
// nothing: the result points into the field value.
//
//   // At start-up:  tokens[i] = balance::StickyToken(backend_address[i]);
//   std::string_view t = balance::FindCookie(cookie_field, "rw_backend");
//   int i = balance::FindByToken(tokens, t);
//   if (i < 0 || !up[i]) i = balancer.Pick(in, eligible);  // and set the cookie afresh
//   // Set-Cookie: rw_backend=<tokens[i]>; Path=/; HttpOnly
#ifndef RINGWAY_BALANCE_STICKY_H_
#define RINGWAY_BALANCE_STICKY_H_

#include <span>
#include <string>
#include <string_view>

namespace ringway::balance {

// 16 lower-case hex digits naming the backend, the same everywhere.
std::string StickyToken(std::string_view backend_id);

// The value of the first cookie called `name` in a Cookie field value; "" when there is none
// (or its value is empty).
std::string_view FindCookie(std::string_view cookie_header_value, std::string_view name);

// The index of `token` among `tokens`; -1 when absent or empty.
int FindByToken(std::span<const std::string> tokens, std::string_view token);

}  // namespace ringway::balance

#endif  // RINGWAY_BALANCE_STICKY_H_
