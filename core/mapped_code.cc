// Dropping start-up's read-only pages from the resident set (mapped_code.h).
#include "core/mapped_code.h"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <vector>

namespace ringway::core {

namespace {

struct Walk {
  int pagemap = -1;
  uintptr_t page = 4096;
  uintptr_t vdso = 0;
  size_t advised = 0;
  std::vector<uint64_t> entries;  // pagemap entries of one segment
};

// Whether the object was linked with text relocations: its "read-only" pages were written at
// load time and are private copies, which must not be dropped.
bool HasTextRelocations(const dl_phdr_info* info) {
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_DYNAMIC) continue;
    const auto* d = reinterpret_cast<const ElfW(Dyn)*>(info->dlpi_addr + ph.p_vaddr);
    for (; d->d_tag != DT_NULL; ++d) {
      if (d->d_tag == DT_TEXTREL) return true;
      if (d->d_tag == DT_FLAGS && (d->d_un.d_val & DF_TEXTREL) != 0) return true;
    }
  }
  return false;
}

// madvise over [first, end) in runs that skip every present page that is not the file's own
// (bit 61 of a pagemap entry clear): a private copy, such as the page a debugger or a uprobe
// wrote a breakpoint into, would be lost.
void ReleaseRange(Walk* walk, uintptr_t first, uintptr_t end) {
  const size_t n = (end - first) / walk->page;
  walk->entries.resize(n);
  const off_t at = static_cast<off_t>(first / walk->page * sizeof(uint64_t));
  const size_t bytes = n * sizeof(uint64_t);
  if (pread(walk->pagemap, walk->entries.data(), bytes, at) != static_cast<ssize_t>(bytes)) {
    return;
  }
  constexpr uint64_t kPresent = uint64_t{1} << 63, kFilePage = uint64_t{1} << 61;
  size_t i = 0;
  while (i < n) {
    auto keep = [&](size_t k) {
      return (walk->entries[k] & kPresent) != 0 && (walk->entries[k] & kFilePage) == 0;
    };
    if (keep(i)) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < n && !keep(j)) ++j;
    void* addr = reinterpret_cast<void*>(first + i * walk->page);
    if (madvise(addr, (j - i) * walk->page, MADV_DONTNEED) == 0) {
      walk->advised += (j - i) * walk->page;
    }
    i = j;
  }
}

int ReleaseObject(dl_phdr_info* info, size_t, void* arg) {
  auto* walk = static_cast<Walk*>(arg);
  // The vDSO is the kernel's own mapping, not a file's: left alone.
  if (walk->vdso != 0 && info->dlpi_addr == walk->vdso) return 0;
  if (HasTextRelocations(info)) return 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || (ph.p_flags & PF_W) != 0 || ph.p_memsz == 0) continue;
    // Whole pages only, inside the segment: a page shared with a neighbouring segment is kept.
    const uintptr_t start = info->dlpi_addr + ph.p_vaddr;
    const uintptr_t first = (start + walk->page - 1) & ~(walk->page - 1);
    const uintptr_t end = (start + ph.p_memsz) & ~(walk->page - 1);
    if (end > first) ReleaseRange(walk, first, end);
  }
  return 0;
}

}  // namespace

size_t ReleaseMappedCode() {
  Walk walk;
  const long page = sysconf(_SC_PAGESIZE);
  if (page > 0) walk.page = static_cast<uintptr_t>(page);
  walk.vdso = static_cast<uintptr_t>(getauxval(AT_SYSINFO_EHDR));
  // Without /proc (a bare chroot) nothing is dropped: which pages are private copies is unknown.
  walk.pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (walk.pagemap < 0) return 0;
  dl_iterate_phdr(ReleaseObject, &walk);
  close(walk.pagemap);
  return walk.advised;
}

}  // namespace ringway::core
