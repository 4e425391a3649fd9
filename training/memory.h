// Keeps the memory of freed large tensors in the process for reuse. glibc serves each allocation
// above 32 MB with a fresh mmap and returns it on free, so every training step of MTFN (several
// 558 MB buffers: z, the dropped-out z, their gradients, the fusion weight's gradient) paid ~270,000
// page faults, ~1 GB of zeroed pages. Not an allocator: glibc's heap, told to keep what it has.
#pragma once

namespace mtfn::models {

// Call once, early (before the large allocations). Peak RSS grows by up to ~1 GB of fragmentation.
void keep_freed_memory();

}  // namespace mtfn::models
