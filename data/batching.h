// Which samples go into which batch: a seeded shuffle per epoch, batches of B with the last partial
// batch kept, and a sharded view in which rank r of n takes a disjoint share of every global batch.
// Not the tensors themselves (data/batch.h makes those).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace mtfn::data {

// The shuffle is fully specified, so the same (seed, epoch) gives the same order on every platform:
// the generator is std::mt19937_64 seeded with splitmix64(seed ^ splitmix64(epoch)); the order is a
// Fisher-Yates shuffle (i from N-1 down to 1, j uniform in [0, i] by rejection sampling) of 0..N-1.
// std::shuffle and std::uniform_int_distribution are not used: their algorithms are implementation-defined.
class BatchSampler {
 public:
  BatchSampler(int64_t num_samples, int64_t batch_size, uint64_t seed, bool shuffle = true);

  int64_t num_samples() const { return num_samples_; }
  int64_t batch_size() const { return batch_size_; }
  int64_t num_batches() const { return (num_samples_ + batch_size_ - 1) / batch_size_; }

  // The sample order of an epoch (a permutation of 0..N-1; the identity when shuffle is off).
  std::vector<int64_t> epoch_order(int64_t epoch) const;
  // The global batches of an epoch: consecutive runs of B from epoch_order, the last one shorter.
  std::vector<std::vector<int64_t>> epoch_batches(int64_t epoch) const;
  // This rank's share of every global batch of the epoch (see shard_of_batch); same batch count on
  // every rank, so ranks stay in step even when a share is empty.
  std::vector<std::vector<int64_t>> epoch_batches(int64_t epoch, int rank, int world_size) const;

 private:
  int64_t num_samples_, batch_size_;
  uint64_t seed_;
  bool shuffle_;
};

// Rank r's contiguous share of a global batch of size b: elements [floor(r*b/n), floor((r+1)*b/n)).
// The n shares are disjoint, cover the batch, and differ in size by at most one.
std::vector<int64_t> shard_of_batch(std::span<const int64_t> batch, int rank, int world_size);

uint64_t splitmix64(uint64_t x);

}  // namespace mtfn::data
