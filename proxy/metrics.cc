#include "proxy/metrics.h"

#include "core/log.h"

namespace ringway::proxy::metrics {

uint32_t SeriesRegistry::Id(Kind kind, std::string_view name) {
  std::lock_guard<std::mutex> l(mu_);
  Table& t = tables_[static_cast<size_t>(kind)];
  const std::string key(name);
  if (auto it = t.ids.find(key); it != t.ids.end()) return it->second;
  if (t.names.size() >= kMax) {
    if (!warned_) {
      warned_ = true;
      RW_LOG(core::LogLevel::kWarn,
             "metrics: more than %u distinct names of one kind; further ones are counted "
             "together under the last",
             kMax);
    }
    return kMax - 1;
  }
  const uint32_t id = static_cast<uint32_t>(t.names.size());
  t.names.emplace_back(name);
  t.ids.emplace(key, id);
  return id;
}

std::vector<std::string> SeriesRegistry::Names(Kind kind) const {
  std::lock_guard<std::mutex> l(mu_);
  return tables_[static_cast<size_t>(kind)].names;
}

SeriesRegistry& Registry() {
  static SeriesRegistry* r = new SeriesRegistry;
  return *r;
}

WorkerSet& Workers() {
  static WorkerSet* w = new WorkerSet;
  return *w;
}

}  // namespace ringway::proxy::metrics
