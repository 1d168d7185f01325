#ifndef KEEPALIVED_LB_CNETLINK_SHIM_H
#define KEEPALIVED_LB_CNETLINK_SHIM_H


#include <netlink/netlink.h>
#include <netlink/errno.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <netlink/route/nexthop.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>

// Flag macros built from expressions do not import into Swift; these do.
static inline int cnetlink_flag_create_excl(void) { return NLM_F_CREATE | NLM_F_EXCL; }
static inline int cnetlink_flag_replace(void) { return NLM_F_CREATE | NLM_F_REPLACE; }

// setns(2) is declared only under _GNU_SOURCE, which would change glibc's types for this module
// alone and clash with the rest of the build; declare it here instead.
extern int setns(int fd, int nstype);
static inline int cnetlink_enter_netns(int fd) { return setns(fd, 0x40000000 /* CLONE_NEWNET */); }

#endif
