// Names for ringway's threads, so that `top -H`, `ps -L`, `perf top` and
// `perf report --sort comm` tell them apart: rw-worker-N, rw-prober, rw-admin, rw-metrics,
// rw-watch; the main thread keeps the process name.
#ifndef RINGWAY_CORE_THREAD_NAME_H_
#define RINGWAY_CORE_THREAD_NAME_H_

#include <string_view>

namespace ringway::core {

// Names the calling thread. Linux keeps 15 bytes of it; the rest is cut.
void NameThisThread(std::string_view name);

}  // namespace ringway::core

#endif  // RINGWAY_CORE_THREAD_NAME_H_
