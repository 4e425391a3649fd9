// All-reduce time of MTFN's gradient (141 M float32 by default) between the ranks of an mpirun job,
// the way distributed/ does it: one in-place all-reduce, and ~25 MB buckets all started at once (as the
// gradient buckets start them during the backward pass). Prints seconds (median of --reps), the
// algorithm bandwidth (bytes / s) and the bus bandwidth (2 (n-1)/n bytes / s, comparable across n).
//   mpirun --oversubscribe --allow-run-as-root -np 2 build/bench_allreduce [--floats N] [--reps R] [--bucket-mb M]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "distributed/process_group.h"

using mtfn::distributed::PendingReduce;
using mtfn::distributed::ProcessGroup;

static double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
static double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int main(int argc, char** argv) {
  int64_t floats = 141'005'000;  // MTFN (CH-SIMS config): 139.5 M fusion weights + 1.5 M others
  int reps = 5;
  double bucket_mb = 25;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--floats") floats = std::atoll(argv[i + 1]);
    else if (k == "--reps") reps = std::atoi(argv[i + 1]);
    else if (k == "--bucket-mb") bucket_mb = std::atof(argv[i + 1]);
  }
  ProcessGroup g;
  const int n = g.size();
  std::vector<float> grad(static_cast<size_t>(floats), 1.0f);
  const double bytes = 4.0 * static_cast<double>(floats);
  auto report = [&](const char* what, const std::vector<double>& t) {
    const double s = median(t);
    if (g.is_root())
      std::printf("bench_allreduce: %-28s %d ranks, %.1f MB: %.3f s (min %.3f), algbw %.2f GB/s, busbw %.2f GB/s\n",
                  what, n, bytes / 1e6, s, *std::min_element(t.begin(), t.end()), bytes / s / 1e9,
                  2.0 * (n - 1) / n * bytes / s / 1e9);
  };
  // One all-reduce of everything (MPI counts are int: 141 M fits).
  std::vector<double> one, buckets;
  for (int r = 0; r <= reps; ++r) {
    g.barrier("bench");
    const double t0 = now();
    PendingReduce p = g.start_gradient_reduce(std::span<float>(grad.data(), grad.size()));
    g.wait(p, "bench all-reduce");
    if (r) one.push_back(now() - t0);
  }
  report("one all-reduce:", one);
  // Buckets of bucket_mb, all started before waiting (the backward pass's pattern at its end).
  const auto per = static_cast<int64_t>(bucket_mb * 1e6 / 4);
  for (int r = 0; r <= reps; ++r) {
    g.barrier("bench");
    const double t0 = now();
    std::vector<PendingReduce> ps;
    for (int64_t off = 0; off < floats; off += per)
      ps.push_back(g.start_gradient_reduce(std::span<float>(grad.data() + off, static_cast<size_t>(std::min(per, floats - off)))));
    for (PendingReduce& p : ps) g.wait(p, "bench bucket");
    if (r) buckets.push_back(now() - t0);
  }
  char label[64];
  std::snprintf(label, sizeof label, "%zu buckets of %.0f MB:", static_cast<size_t>((floats + per - 1) / per), bucket_mb);
  report(label, buckets);
  // The values: each element was 1, reduced 2 * (reps + 1) times by a sum over n ranks.
  if (g.is_root() && n > 1) std::printf("bench_allreduce: (element 0 = %g after the sums)\n", grad[0]);
  return 0;
}
