#ifndef KLB_CHEAP_H
#define KLB_CHEAP_H
// The process allocator is jemalloc (linked by this target): size-class slabs keep the long-lived
// cache entries of a controller apart from the short-lived JSON of lists and watch events, where
// glibc's heap was left full of holes it could not give back (measured: 41 vs 21 MiB anonymous
// memory after listing 10,000 Services). These wrap its control interface.
#include <jemalloc/jemalloc.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/// Background purging with short decay: freed pages go back to the kernel about a second after
/// a burst instead of staying resident. Returns 0 on success.
static inline int klb_heap_configure(void) {
    bool on = true;
    ssize_t dirty = 1000, muzzy = 0;
    int failed = 0;
    // Arenas created from now on.
    failed |= mallctl("arenas.dirty_decay_ms", NULL, NULL, &dirty, sizeof dirty);
    failed |= mallctl("arenas.muzzy_decay_ms", NULL, NULL, &muzzy, sizeof muzzy);
    // Arenas that exist already, one by one: the all-arenas index refuses decay settings (EFAULT).
    unsigned count = 0;
    size_t size = sizeof count;
    failed |= mallctl("arenas.narenas", &count, &size, NULL, 0);
    for (unsigned index = 0; index < count; index++) {
        char name[64];
        snprintf(name, sizeof name, "arena.%u.dirty_decay_ms", index);
        int status = mallctl(name, NULL, NULL, &dirty, sizeof dirty);
        // An index that was never initialised has no arena yet; it gets the defaults set above.
        if (status != 0 && status != EFAULT) failed |= status;
        snprintf(name, sizeof name, "arena.%u.muzzy_decay_ms", index);
        status = mallctl(name, NULL, NULL, &muzzy, sizeof muzzy);
        if (status != 0 && status != EFAULT) failed |= status;
    }
    failed |= mallctl("background_thread", NULL, NULL, &on, sizeof on);
    return failed;
}

/// Refreshes jemalloc's statistics and reads one of them (bytes); 0 when unavailable.
static inline size_t klb_heap_stat(const char *name) {
    uint64_t epoch = 1;
    size_t size = sizeof epoch;
    mallctl("epoch", &epoch, &size, &epoch, size);
    size_t value = 0;
    size = sizeof value;
    if (mallctl(name, &value, &size, NULL, 0) != 0) return 0;
    return value;
}

/// The number of arenas jemalloc was started with (1 when `malloc_conf` in CHeap.c took effect); 0 when unknown.
static inline unsigned klb_heap_arenas(void) {
    unsigned count = 0;
    size_t size = sizeof count;
    if (mallctl("opt.narenas", &count, &size, NULL, 0) != 0) return 0;
    return count;
}

/// Bytes the program has allocated and not freed.
static inline size_t klb_heap_allocated_bytes(void) { return klb_heap_stat("stats.allocated"); }

/// Bytes of the allocator's pages that are resident (allocated plus not yet purged).
static inline size_t klb_heap_resident_bytes(void) { return klb_heap_stat("stats.resident"); }

/// Bytes of the pages that hold allocations (allocated plus the free space inside partly used slabs).
static inline size_t klb_heap_active_bytes(void) { return klb_heap_stat("stats.active"); }

/// Bytes of the allocator's own bookkeeping.
static inline size_t klb_heap_metadata_bytes(void) { return klb_heap_stat("stats.metadata"); }

/// Returns every arena's unused dirty pages to the kernel now.
static inline void klb_heap_purge(void) { mallctl("arena.4096.purge", NULL, NULL, NULL, 0); }
#endif
