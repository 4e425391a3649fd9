// Adam's fused update pass on a parameter the size of MTFN's fusion-head weight (139.5 M float32)
// against memcpy of the same size and against the plain loop: how close the pass is to memory bandwidth.
// Not a training benchmark. Build: see docs/adam.md ("Measured").
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "core/parallel.h"
#include "core/tensor.h"
#include "optim/adam.h"

using namespace mtfn;

template <class F>
double median_seconds(int reps, F f) {
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

int main(int argc, char** argv) {
  const int64_t n = argc > 1 ? std::atoll(argv[1]) : 2179617LL * 64;  // post_fusion_layer_1.weight
  const int reps = argc > 2 ? std::atoi(argv[2]) : 7;
  Tensor p = Tensor::zeros({n}), g = Tensor::full({n}, 1e-3), m = Tensor::zeros({n}), v = Tensor::zeros({n});
  Tensor dst = Tensor::zeros({n});
  const double mb = double(n) * 4 / 1e6;
  int64_t step = 0;
  auto adam = [&] {
    optim::AdamStep s{0.005, 0.9, 0.999, 1e-8, 1e-5, ++step};
    optim::adam_update<float>(n, p.data<float>(), g.data<float>(), m.data<float>(), v.data<float>(), s);
  };
  auto adam_plain = [&] {
    optim::AdamStep s{0.005, 0.9, 0.999, 1e-8, 1e-5, ++step};
    optim::adam_update_reference<float>(n, p.data<float>(), g.data<float>(), m.data<float>(), v.data<float>(), s);
  };
  auto copy = [&] { std::memcpy(dst.data<float>(), p.data<float>(), size_t(n) * 4); };
  auto copy_par = [&] {  // memcpy split over the TBB threads, as the Adam pass is
    float* d = dst.data<float>();
    const float* s = p.data<float>();
    parallel_for(n, [&](int64_t b, int64_t e) { std::memcpy(d + b, s + b, size_t(e - b) * 4); });
  };
  adam();  // first touch
  copy();
  const double t_adam = median_seconds(reps, adam);
  const double t_plain = median_seconds(std::max(1, reps / 3), adam_plain);
  const double t_copy = median_seconds(reps, copy);
  const double t_copy_par = median_seconds(reps, copy_par);
  // Bytes moved: Adam reads p, g, m, v and writes p, m, v (7 arrays); memcpy reads 1 and writes 1.
  std::printf("n=%lld (%.0f MB per array), median of %d\n", (long long)n, mb, reps);
  std::printf("adam fused  %.3f s  %.1f GB/s (7 arrays)\n", t_adam, 7 * mb / 1e3 / t_adam);
  std::printf("adam plain  %.3f s  %.1f GB/s (one thread, plain loop)\n", t_plain, 7 * mb / 1e3 / t_plain);
  std::printf("memcpy      %.3f s  %.1f GB/s (2 arrays, one thread)\n", t_copy, 2 * mb / 1e3 / t_copy);
  std::printf("memcpy par  %.3f s  %.1f GB/s (2 arrays, TBB chunks)\n", t_copy_par, 2 * mb / 1e3 / t_copy_par);
  const double t_mem = std::min(t_copy, t_copy_par);
  std::printf("bench_adam: adam_s=%.4f memcpy_s=%.4f ratio=%.2f bytes_ratio=3.5\n", t_adam, t_mem, t_adam / t_mem);
  return 0;
}
