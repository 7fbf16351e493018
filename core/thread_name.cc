#include "core/thread_name.h"

#include <pthread.h>

#include <string>

namespace ringway::core {

void NameThisThread(std::string_view name) {
  constexpr size_t kMax = 15;  // TASK_COMM_LEN - 1
  std::string cut(name.substr(0, kMax));
  pthread_setname_np(pthread_self(), cut.c_str());
}

}  // namespace ringway::core
