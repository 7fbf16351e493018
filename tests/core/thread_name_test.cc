#include "core/thread_name.h"

#include <pthread.h>

#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace ringway::core {
namespace {

std::string NameIn(std::string_view name) {
  std::string got;
  std::thread t([&] {
    NameThisThread(name);
    char buf[32] = {};
    pthread_getname_np(pthread_self(), buf, sizeof(buf));
    got = buf;
  });
  t.join();
  return got;
}

TEST(ThreadName, NamesTheCallingThread) { EXPECT_EQ(NameIn("rw-worker-3"), "rw-worker-3"); }

TEST(ThreadName, LongNamesAreCutToWhatLinuxKeeps) {
  EXPECT_EQ(NameIn("rw-worker-123456789"), "rw-worker-12345");
}

}  // namespace
}  // namespace ringway::core
