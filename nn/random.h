// Counter-based random numbers: every value is a pure function of a key and an index
// (SplitMix64's mixer over a Weyl sequence), so results never depend on thread count,
// chunking or, with global indices, on how rows are split over MPI processes.
// Not here: PyTorch's random streams (we match its distributions, never its numbers).
#pragma once

#include <cstdint>
#include <string_view>

#include "core/tensor.h"

namespace mtfn::nn {

inline constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ULL;  // 2^64 / golden ratio, odd

// SplitMix64's finaliser: a bijection of 64-bit words in which every input bit flips
// about half of the output bits.
inline constexpr uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Element `i` of the SplitMix64 stream whose state starts at `key`. Used both for random
// bits and to derive the key of a sub-stream: stream_bits(stream_bits(seed, step), row).
inline constexpr uint64_t stream_bits(uint64_t key, uint64_t i) { return mix64(key + kGolden * (i + 1)); }

// A double uniform in [0, 1) from the top 53 bits.
inline constexpr double unit_double(uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

// A seed for one named consumer (a module's dropout, a layer's initialisation) of a run seed:
// FNV-1a of the name, mixed with the seed.
inline constexpr uint64_t named_seed(uint64_t seed, std::string_view name) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : name) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  return stream_bits(mix64(seed), h);
}

// The seeded generator of initial weights. Each tensor filled takes the next sub-stream,
// and element i of the tensor is element i of that sub-stream (so filling is parallel).
class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}
  uint64_t next_key() { return stream_bits(mix64(seed_), counter_++); }
  uint64_t seed() const { return seed_; }

 private:
  uint64_t seed_;
  uint64_t counter_ = 0;
};

// t[i] ~ U(lo, hi), i.i.d., from gen's next sub-stream. Not recorded; any dtype.
void uniform_(Tensor& t, double lo, double hi, Generator& gen);

}  // namespace mtfn::nn
