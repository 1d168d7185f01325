#include "CBuildInfo.h"

// Generated (and git-ignored): kept out of the public header so a new version recompiles this
// file only, not every module that imports the header.
#if __has_include("generated_version.h")
#include "generated_version.h"
#endif

#ifndef KLB_VERSION
#define KLB_VERSION "0.0.0-dev"
#endif

const char *klb_build_version(void) { return KLB_VERSION; }
