// The functions are static inline in the header; this file gives the target something to build.
#include "CHeap.h"
