// Dropping the pages of code and read-only data that start-up touched from this process's
// resident set, without touching the files or the page cache.
//
// The kernel maps a program's code (and its libraries') into the process around every page it
// touches (64 KiB or a whole page-cache folio at a time), and keeps those pages mapped for the
// life of the process. ringway parses its configuration, loads certificates and builds TLS
// contexts in the process that then serves, so the code of all that stays resident while
// serving, although no worker runs it again. ReleaseMappedCode() unmaps every read-only,
// file-backed page of the loaded objects (MADV_DONTNEED over each PT_LOAD segment without write
// permission): the pages stay in the page cache, and the next instruction or read of one maps
// it again with a minor fault. What serving uses comes back within the first requests; what
// only start-up used does not. Writable segments (data, relocated RELRO) are never touched,
// nor are objects with text relocations or pages that are private copies of the file's (a
// debugger's or a uprobe's breakpoint): what they hold would be lost. Without /proc/self/pagemap
// nothing is dropped.
//
//   ReleaseMappedCode();  // after start-up and after each reload
#ifndef RINGWAY_CORE_MAPPED_CODE_H_
#define RINGWAY_CORE_MAPPED_CODE_H_

#include <cstddef>

namespace ringway::core {

// Returns the bytes of address space advised (0 if nothing was, e.g. madvise refused).
size_t ReleaseMappedCode();

}  // namespace ringway::core

#endif  // RINGWAY_CORE_MAPPED_CODE_H_
