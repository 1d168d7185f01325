#ifndef KEEPALIVED_LB_CPROCESS_H
#define KEEPALIVED_LB_CPROCESS_H

#include <sys/prctl.h>

// prctl(2) is variadic and does not import into Swift.
// A subreaper inherits its descendants' orphans (keepalived's VRRP child when keepalived dies),
// so it can reap them at once instead of leaving a zombie that blocks keepalived's restart.
static inline int cprocess_become_child_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }

#endif
