// See memory.h.
#include "training/memory.h"

#include <malloc.h>

#include <climits>

namespace mtfn::training {

void keep_freed_memory() {
  mallopt(M_MMAP_MAX, 0);              // large blocks from the heap, not from their own mmap
  mallopt(M_TRIM_THRESHOLD, INT_MAX);  // and the heap's free top not returned to the system
}

}  // namespace mtfn::training
