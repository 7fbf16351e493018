// The dashboard: one HTML page (its CSS and JS inline) served at the admin listener's "/".
// It reads the management API (/api/v1/upstreams, /api/v1/domains, /metrics) and refreshes
// itself; nothing is fetched from anywhere else.
#ifndef RINGWAY_ADMIN_DASHBOARD_H_
#define RINGWAY_ADMIN_DASHBOARD_H_

#include <string_view>

namespace ringway::admin {

std::string_view DashboardPage();

}  // namespace ringway::admin

#endif  // RINGWAY_ADMIN_DASHBOARD_H_
