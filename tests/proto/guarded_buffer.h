// A test input placed so that its last byte is the last readable one: a page of memory with
// an unreadable page after it, so a parser that reads past its input faults at once.
#ifndef RINGWAY_TESTS_PROTO_GUARDED_BUFFER_H_
#define RINGWAY_TESTS_PROTO_GUARDED_BUFFER_H_

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <string_view>

namespace ringway::testing_util {

class GuardedBuffer {
 public:
  GuardedBuffer() {
    page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    mem_ = static_cast<char*>(
        mmap(nullptr, 2 * page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (mem_ == MAP_FAILED) {
      mem_ = nullptr;
      return;
    }
    if (mprotect(mem_ + page_, page_, PROT_NONE) != 0) {
      munmap(mem_, 2 * page_);
      mem_ = nullptr;
    }
  }
  ~GuardedBuffer() {
    if (mem_ != nullptr) munmap(mem_, 2 * page_);
  }
  bool ok() const { return mem_ != nullptr; }
  size_t capacity() const { return page_; }
  // Copies `s` so that its last byte is the last readable byte.
  std::string_view Place(std::string_view s) {
    char* dst = mem_ + page_ - s.size();
    std::memcpy(dst, s.data(), s.size());
    return std::string_view(dst, s.size());
  }

 private:
  size_t page_ = 0;
  char* mem_ = nullptr;
};

}  // namespace ringway::testing_util

#endif  // RINGWAY_TESTS_PROTO_GUARDED_BUFFER_H_
