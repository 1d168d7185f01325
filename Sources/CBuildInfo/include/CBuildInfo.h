#ifndef KLB_CBUILDINFO_H
#define KLB_CBUILDINFO_H

/// The version this binary was built as: `scripts/image` writes it from git into the private
/// header generated_version.h before a release build; a plain build says "0.0.0-dev".
const char *klb_build_version(void);

#endif
