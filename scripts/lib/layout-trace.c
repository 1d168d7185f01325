// Preloaded into the controller by scripts/layout's native pass. The executable's code is made inaccessible; the
// first touch of each 4 KiB page is written down (page and instruction, as file offsets) before the page is opened
// again, so every page of code that runs is named once, whatever the kernel would have mapped around it.
// Set KLB_LAYOUT_TRACE_DIR (one file per process: pages.PID, pairs of little-endian 64-bit offsets).
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

static uintptr_t text_lo, text_hi, text_offset;
static int out = -1;

static void on_fault(int sig, siginfo_t *info, void *context) {
    uintptr_t at = (uintptr_t)info->si_addr;
    if (at < text_lo || at >= text_hi) {
        // Not ours: the fault the program would have had.
        signal(sig, SIG_DFL);
        return;
    }
    uintptr_t page = at & ~(uintptr_t)4095;
    uintptr_t ip = (uintptr_t)((ucontext_t *)context)->uc_mcontext.gregs[REG_RIP];
    uint64_t record[2] = {page - text_lo + text_offset, ip >= text_lo && ip < text_hi ? ip - text_lo + text_offset : 0};
    if (write(out, record, sizeof record) != (ssize_t)sizeof record) {
        // Nothing to do in a signal handler; the page opens either way.
    }
    mprotect((void *)page, 4096, PROT_READ | PROT_EXEC);
}

__attribute__((constructor)) static void trace_text(void) {
    const char *dir = getenv("KLB_LAYOUT_TRACE_DIR");
    if (!dir) return;
    char exe[4096];
    ssize_t length = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (length <= 0) return;
    exe[length] = 0;
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[8192];
    while (maps && fgets(line, sizeof line, maps)) {
        unsigned long lo, hi, offset;
        char perms[8], path[4096] = "";
        if (sscanf(line, "%lx-%lx %7s %lx %*s %*s %4095s", &lo, &hi, perms, &offset, path) < 4) continue;
        if (strcmp(path, exe) == 0 && strcmp(perms, "r-xp") == 0) {
            text_lo = lo;
            text_hi = hi;
            text_offset = offset;
        }
    }
    if (maps) fclose(maps);
    if (!text_lo) return;
    char name[4200];
    snprintf(name, sizeof name, "%s/pages.%d", dir, (int)getpid());
    out = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        perror("layout-trace: open");
        return;
    }
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_fault;
    action.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigaction(SIGSEGV, &action, NULL);
    mprotect((void *)text_lo, text_hi - text_lo, PROT_NONE);
}
