// core/mapped_code.h: read-only pages of the loaded objects leave the resident set and come back
// on use; private copies of such pages are kept.
#include "core/mapped_code.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "gtest/gtest.h"

namespace ringway::core {
namespace {

// Read-only data three pages long: at least one whole page of it lies inside .rodata.
alignas(4096) const char kMarker[3 * 4096] = "read-only marker, as the file has it";

// A field of /proc/self/status, in kB (-1 if absent).
long StatusKib(const char* field) {
  FILE* f = std::fopen("/proc/self/status", "re");
  if (f == nullptr) return -1;
  char line[256];
  long v = -1;
  const size_t n = std::strlen(field);
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    if (std::strncmp(line, field, n) == 0 && line[n] == ':')
      v = std::strtol(line + n + 1, nullptr, 10);
  }
  std::fclose(f);
  return v;
}

TEST(MappedCodeTest, DropsFilePagesThatComeBackOnUse) {
  const long before = StatusKib("RssFile");
  ASSERT_GT(before, 0);
  const size_t advised = ReleaseMappedCode();
  const long after = StatusKib("RssFile");
  EXPECT_GT(advised, 0u);
  // This test binary's start-up touched far more than what the few calls since then map again.
  EXPECT_LT(after, before) << "RssFile " << before << " -> " << after << " kB";
  // The data reads as the file has it (mapped again from the page cache).
  const volatile char* marker = kMarker;
  EXPECT_EQ(std::string(const_cast<const char*>(marker)), "read-only marker, as the file has it");
}

TEST(MappedCodeTest, KeepsPrivateCopiesOfReadOnlyPages) {
  const long page = sysconf(_SC_PAGESIZE);
  ASSERT_GT(page, 0);
  auto addr = reinterpret_cast<uintptr_t>(kMarker);
  char* p = reinterpret_cast<char*>((addr + page - 1) & ~static_cast<uintptr_t>(page - 1));
  ASSERT_LE(reinterpret_cast<uintptr_t>(p) + page, addr + sizeof(kMarker));
  // What a debugger does to set a breakpoint: the page becomes a private copy of the file's.
  ASSERT_EQ(mprotect(p, page, PROT_READ | PROT_WRITE), 0);
  static_cast<volatile char*>(p)[0] = 'X';
  ASSERT_EQ(mprotect(p, page, PROT_READ), 0);
  ReleaseMappedCode();
  EXPECT_EQ(static_cast<volatile char*>(p)[0], 'X') << "the private copy was dropped";
}

}  // namespace
}  // namespace ringway::core
