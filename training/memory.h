// Keeps the memory of freed large tensors in the process for reuse. glibc serves each allocation
// above 32 MB with a fresh mmap and returns it on free: a training step that frees and allocates
// large buffers again (MTFN's 558 MB fusion-weight gradient when gradients are dropped, the large
// activations of a big batch) pays for every page again in page faults and zeroing (measured
// before the fused fusion head: ~270,000 faults a step). Not an allocator: glibc's heap, told to
// keep what it has.
#pragma once

namespace mtfn::training {

// Call once, early (before the large allocations). Peak RSS grows by up to ~1 GB of fragmentation.
void keep_freed_memory();

}  // namespace mtfn::training
