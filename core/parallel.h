// Parallel loops on oneTBB with a fixed partitioning, so results do not depend on the
// number of threads: elementwise work is split in fixed chunks, reductions add chunk
// partial sums in chunk order. Not here: BLAS threading (OpenBLAS has its own).
#pragma once

#include <cstdint>
#include <vector>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>

namespace mtfn {

// Below this many elements a loop runs serially: thread start-up would cost more.
inline constexpr int64_t kGrain = 32768;

// fn(begin, end) over [0, n) in chunks of at least `grain` elements.
template <class Fn>
void parallel_for(int64_t n, Fn&& fn, int64_t grain = kGrain) {
  if (n <= grain) {
    if (n > 0) fn(int64_t{0}, n);
    return;
  }
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, n, grain),
                    [&](const tbb::blocked_range<int64_t>& r) { fn(r.begin(), r.end()); },
                    tbb::simple_partitioner());
}

// Deterministic sum of chunk(begin, end) -> double over [0, n): the chunks are fixed
// (size `chunk`), computed in parallel, and added in order.
template <class Fn>
double parallel_sum(int64_t n, Fn&& chunk_sum, int64_t chunk = kGrain) {
  const int64_t chunks = (n + chunk - 1) / chunk;
  if (chunks <= 1) return n > 0 ? chunk_sum(int64_t{0}, n) : 0.0;
  std::vector<double> partial(static_cast<size_t>(chunks));
  tbb::parallel_for(int64_t{0}, chunks, [&](int64_t c) {
    const int64_t b = c * chunk;
    const int64_t e = b + chunk < n ? b + chunk : n;
    partial[static_cast<size_t>(c)] = chunk_sum(b, e);
  });
  double total = 0;
  for (double p : partial) total += p;
  return total;
}

}  // namespace mtfn
