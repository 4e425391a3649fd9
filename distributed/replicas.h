// Keeping the N replicas of a model identical: rank 0's tensors broadcast to every rank at the
// start, and a hash of them compared across ranks (tests after every step, the trainer each epoch).
// Not here: the gradients that keep them in step (distributed/buckets.h).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/tensor.h"
#include "distributed/process_group.h"

namespace mtfn::distributed {

// Every rank's `tensors` take the values of rank `root`'s (in place; same shapes and dtypes on
// every rank, which the ranks check first). Parameters and buffers (BatchNorm running statistics).
void broadcast_tensors(ProcessGroup& group, const std::vector<Tensor>& tensors, int root = 0);

// A 64-bit hash of the tensors' shapes, dtypes and bytes, in order. Parallel, but independent of
// the thread count (fixed chunks combined in order).
uint64_t tensors_hash(const std::vector<Tensor>& tensors);

// Every rank's tensors_hash; all equal when the replicas are bit-identical.
std::vector<uint64_t> replica_hashes(ProcessGroup& group, const std::vector<Tensor>& tensors);
bool replicas_identical(ProcessGroup& group, const std::vector<Tensor>& tensors);

}  // namespace mtfn::distributed
