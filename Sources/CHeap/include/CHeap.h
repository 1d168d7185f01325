#ifndef KLB_CHEAP_H
#define KLB_CHEAP_H
// The process allocator is jemalloc (linked by this target): size-class slabs keep the long-lived
// cache entries of a controller apart from the short-lived JSON of lists and watch events, where
// glibc's heap was left full of holes it could not give back (measured: 41 vs 21 MiB anonymous
// memory after listing 10,000 Services). These wrap its control interface.
#include <jemalloc/jemalloc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/// Background purging with short decay: freed pages go back to the kernel about a second after
/// a burst instead of staying resident. Returns 0 on success.
static inline int klb_heap_configure(void) {
    bool on = true;
    ssize_t dirty = 1000, muzzy = 0;
    int failed = 0;
    failed |= mallctl("arenas.dirty_decay_ms", NULL, NULL, &dirty, sizeof dirty);
    failed |= mallctl("arenas.muzzy_decay_ms", NULL, NULL, &muzzy, sizeof muzzy);
    // Arenas that exist already (MALLCTL_ARENAS_ALL addresses every one of them).
    failed |= mallctl("arena.4096.dirty_decay_ms", NULL, NULL, &dirty, sizeof dirty);
    failed |= mallctl("arena.4096.muzzy_decay_ms", NULL, NULL, &muzzy, sizeof muzzy);
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

/// Bytes the program has allocated and not freed.
static inline size_t klb_heap_allocated_bytes(void) { return klb_heap_stat("stats.allocated"); }

/// Bytes of the allocator's pages that are resident (allocated plus not yet purged).
static inline size_t klb_heap_resident_bytes(void) { return klb_heap_stat("stats.resident"); }

/// Returns every arena's unused dirty pages to the kernel now.
static inline void klb_heap_purge(void) { mallctl("arena.4096.purge", NULL, NULL, NULL, 0); }
#endif
