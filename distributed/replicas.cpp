// Broadcast of the initial replica and the replica hash. See replicas.h.
#include "distributed/replicas.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "core/parallel.h"

namespace mtfn::distributed {

namespace {

constexpr uint64_t kPrime = 0x100000001b3ULL;

inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Hash of bytes [0, n): 64-bit words mixed in fixed chunks of 1 MiB, the chunk hashes combined in order.
uint64_t bytes_hash(const unsigned char* p, int64_t n) {
  constexpr int64_t kChunk = int64_t{1} << 20;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<uint64_t> part(static_cast<size_t>(chunks));
  parallel_for(chunks, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t b = c * kChunk, e = std::min(n, b + kChunk);
      uint64_t h = mix64(static_cast<uint64_t>(c));
      int64_t i = b;
      for (; i + 8 <= e; i += 8) {
        uint64_t w;
        std::memcpy(&w, p + i, 8);
        h = (h ^ w) * kPrime;
        h ^= h >> 29;
      }
      for (; i < e; ++i) h = (h ^ p[i]) * kPrime;
      part[static_cast<size_t>(c)] = mix64(h);
    }
  }, 1);
  uint64_t h = mix64(static_cast<uint64_t>(n));
  for (uint64_t x : part) h = mix64(h ^ x);
  return h;
}

// What must agree before values can be broadcast: count, shapes and dtypes.
uint64_t layout_hash(const std::vector<Tensor>& tensors) {
  uint64_t h = mix64(tensors.size());
  for (const Tensor& t : tensors) {
    h = mix64(h ^ static_cast<uint64_t>(t.dtype()));
    for (int64_t d : t.shape()) h = mix64(h ^ static_cast<uint64_t>(d));
  }
  return h;
}

}  // namespace

void broadcast_tensors(ProcessGroup& group, const std::vector<Tensor>& tensors, int root) {
  if (group.size() == 1) return;
  const std::vector<uint64_t> layouts = group.allgather(layout_hash(tensors), "the model layout check");
  for (size_t r = 0; r < layouts.size(); ++r)
    if (layouts[r] != layouts[static_cast<size_t>(root)])
      throw Error(fmt::format("broadcast_tensors: rank {}'s model has other shapes or dtypes than rank {}'s "
                              "(different configuration files?)",
                              r, root));
  for (const Tensor& t : tensors) {
    Tensor tt = t;  // a handle: the data is shared
    group.broadcast(tt.raw_data(), t.numel() * static_cast<int64_t>(dtype_size(t.dtype())), root,
                    "the broadcast of the initial model");
  }
}

uint64_t tensors_hash(const std::vector<Tensor>& tensors) {
  uint64_t h = layout_hash(tensors);
  for (const Tensor& t : tensors)
    h = mix64(h ^ bytes_hash(static_cast<const unsigned char*>(t.raw_data()),
                             t.numel() * static_cast<int64_t>(dtype_size(t.dtype()))));
  return h;
}

std::vector<uint64_t> replica_hashes(ProcessGroup& group, const std::vector<Tensor>& tensors) {
  return group.allgather(tensors_hash(tensors), "the replica check");
}

bool replicas_identical(ProcessGroup& group, const std::vector<Tensor>& tensors) {
  const std::vector<uint64_t> h = replica_hashes(group, tensors);
  return std::all_of(h.begin(), h.end(), [&](uint64_t x) { return x == h[0]; });
}

}  // namespace mtfn::distributed
