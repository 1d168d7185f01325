#ifndef KLB_CHEAP_H
#define KLB_CHEAP_H
// glibc's heap controls, which Swift's Glibc module does not export.
#include <malloc.h>
#include <stddef.h>

/// Bytes the allocator holds but the program has freed.
static inline size_t klb_heap_free_bytes(void) {
    struct mallinfo2 info = mallinfo2();
    return info.fordblks;
}

/// Bytes in allocated heap chunks (what the program holds).
static inline size_t klb_heap_used_bytes(void) {
    struct mallinfo2 info = mallinfo2();
    return info.uordblks + info.hblkhd;
}

/// Gives freed heap pages back to the kernel; returns 1 when some were released.
static inline int klb_heap_trim(void) { return malloc_trim(0); }

/// Fewer arenas: a long-running service with a few threads fragments less across them.
static inline int klb_heap_limit_arenas(int count) { return mallopt(M_ARENA_MAX, count); }
#endif
