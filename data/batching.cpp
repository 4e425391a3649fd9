// The seeded per-epoch shuffle, batching and sharding behind BatchSampler (see data/batching.h
// for the exact algorithm). Not tensor creation.
#include "data/batching.h"

#include <numeric>
#include <random>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

namespace mtfn::data {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

namespace {

// Uniform in [0, bound) without modulo bias: reject the few values below 2^64 mod bound.
uint64_t uniform_below(std::mt19937_64& gen, uint64_t bound) {
  const uint64_t threshold = (0 - bound) % bound;
  for (;;) {
    uint64_t r = gen();
    if (r >= threshold) return r % bound;
  }
}

}  // namespace

BatchSampler::BatchSampler(int64_t num_samples, int64_t batch_size, uint64_t seed, bool shuffle)
    : num_samples_(num_samples), batch_size_(batch_size), seed_(seed), shuffle_(shuffle) {
  if (num_samples < 0) throw std::invalid_argument(fmt::format("BatchSampler: {} samples", num_samples));
  if (batch_size <= 0) throw std::invalid_argument(fmt::format("BatchSampler: batch size {} (must be >= 1)", batch_size));
}

std::vector<int64_t> BatchSampler::epoch_order(int64_t epoch) const {
  std::vector<int64_t> order(static_cast<size_t>(num_samples_));
  std::iota(order.begin(), order.end(), int64_t{0});
  if (!shuffle_) return order;
  std::mt19937_64 gen(splitmix64(seed_ ^ splitmix64(static_cast<uint64_t>(epoch))));
  for (int64_t i = num_samples_ - 1; i > 0; --i) {
    auto j = static_cast<int64_t>(uniform_below(gen, static_cast<uint64_t>(i) + 1));
    std::swap(order[i], order[j]);
  }
  return order;
}

std::vector<std::vector<int64_t>> BatchSampler::epoch_batches(int64_t epoch) const {
  std::vector<int64_t> order = epoch_order(epoch);
  std::vector<std::vector<int64_t>> batches;
  batches.reserve(static_cast<size_t>(num_batches()));
  for (int64_t start = 0; start < num_samples_; start += batch_size_) {
    int64_t end = std::min(num_samples_, start + batch_size_);
    batches.emplace_back(order.begin() + start, order.begin() + end);
  }
  return batches;
}

std::vector<std::vector<int64_t>> BatchSampler::epoch_batches(int64_t epoch, int rank, int world_size) const {
  auto batches = epoch_batches(epoch);
  for (auto& b : batches) b = shard_of_batch(b, rank, world_size);
  return batches;
}

std::vector<int64_t> shard_of_batch(std::span<const int64_t> batch, int rank, int world_size) {
  if (world_size <= 0 || rank < 0 || rank >= world_size)
    throw std::invalid_argument(fmt::format("shard_of_batch: rank {} of {}", rank, world_size));
  const auto b = static_cast<int64_t>(batch.size());
  const int64_t begin = rank * b / world_size, end = (rank + 1) * b / world_size;
  return {batch.begin() + begin, batch.begin() + end};
}

}  // namespace mtfn::data
