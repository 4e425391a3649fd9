// How close the two heavy parts of an MTFN training step come to what this machine allows:
//   1. the fusion head's first layer (fused tensor fusion + dropout + Linear(2,179,617 -> 64), forward
//      and backward, nn/fusion_linear.h) against OpenBLAS's own sgemm on the same three GEMM shapes,
//      and against a square sgemm;
//   2. the Adam update of its 139.5 M weights against a memory copy of the same size.
// Each pair is timed alternately in the same run (the machine is shared), medians reported as ratios.
// Not a training benchmark (`mtfn bench` is).
//
//   bench_rates [--threads N] [--reps R] [--batch B]
// Last lines: `rates: fusion_s=... sgemm_same_shapes_s=... gemm_ratio=...` and `rates: adam_gbs=... copy_gbs=... adam_ratio=...`.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <tbb/global_control.h>

#include "core/autograd.h"
#include "core/ops/matmul.h"
#include "core/parallel.h"
#include "nn/fusion_linear.h"
#include "nn/random.h"
#include "optim/adam.h"

using namespace mtfn;
using Clock = std::chrono::steady_clock;

namespace {

double seconds(Clock::time_point a) { return std::chrono::duration<double>(Clock::now() - a).count(); }
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}
template <class F>
double timed(F f) {
  const auto t0 = Clock::now();
  f();
  return seconds(t0);
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, reps = 5;
  int64_t B = 64;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--threads") threads = std::atoi(argv[i + 1]);
    else if (k == "--reps") reps = std::atoi(argv[i + 1]);
    else if (k == "--batch") B = std::atoll(argv[i + 1]);
  }
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));
  openblas_set_num_threads(threads);
  const int64_t A = 32, V = 256, T = 256, N = 64, F = (A + 1) * (V + 1) * (T + 1);
  std::printf("OpenBLAS %s (core %s), %d threads, batch %lld, fusion width %lld, %lld outputs\n", openblas_get_config(),
              openblas_get_corename(), threads, (long long)B, (long long)F, (long long)N);

  // ---- 1. fusion head GEMMs
  nn::Generator gen(3);
  Tensor a = Tensor::empty({B, A}), v = Tensor::empty({B, V}), t = Tensor::empty({B, T});
  Tensor w = Tensor::empty({N, F}), bias = Tensor::zeros({N});
  for (Tensor* x : {&a, &v, &t}) nn::uniform_(*x, 0, 1, gen);  // ReLU outputs
  nn::uniform_(w, -1 / 1476.0, 1 / 1476.0, gen);
  for (Tensor* x : {&a, &v, &t, &w, &bias}) x->set_requires_grad(true);
  Tensor gy = Tensor::full({B, N}, 1e-3);
  grad_buffer(w);  // dL/dW stays allocated from step to step, as in training
  uint64_t step = 0;
  auto fused = [&] {
    const nn::DropoutKey key{.seed = 1, .step = step++, .row_offset = 0};
    Tensor y = nn::fusion_dropout_linear(a, v, t, 0.2, key, w, bias);
    y.backward(gy);
  };
  // The same three GEMMs as single OpenBLAS calls on stored operands (what the unfused path multiplies).
  std::vector<float> z(static_cast<size_t>(B * F), 0.5f), gz(static_cast<size_t>(B * F)), y(static_cast<size_t>(B * N));
  const float* pw = w.data<float>();
  float* pgw = w.grad().data<float>();
  const float* pg = gy.data<float>();
  auto plain = [&] {
    gemm<float>(false, true, B, N, F, 1, z.data(), F, pw, F, 0, y.data(), N);       // y = z W^T
    gemm<float>(true, false, N, F, B, 1, pg, N, z.data(), F, 1, pgw, F);            // dW += g^T z
    gemm<float>(false, false, B, F, N, 1, pg, N, pw, F, 0, gz.data(), F);           // dz = g W
  };
  const int64_t n = 2048;
  std::vector<float> sa(n * n, 1.f), sb(n * n, 1.f), sc(n * n);
  auto square = [&] { gemm<float>(false, false, n, n, n, 1, sa.data(), n, sb.data(), n, 0, sc.data(), n); };
  fused(), plain(), square();  // warm-up, first touch
  std::vector<double> t_fused, t_plain, t_square;
  for (int r = 0; r < reps; ++r) {
    t_fused.push_back(timed(fused));
    t_plain.push_back(timed(plain));
    t_square.push_back(timed(square));
  }
  const double flop3 = 3 * 2.0 * double(B) * double(N) * double(F), flop_sq = 2.0 * n * n * n;
  const double tf = median(t_fused), tp = median(t_plain), ts = median(t_square);
  std::printf("fusion head, fused op (forward + backward, dropout 0.2): %.3f s  %.1f GFLOP/s\n", tf, flop3 / tf / 1e9);
  std::printf("same 3 GEMM shapes, plain sgemm calls:                  %.3f s  %.1f GFLOP/s\n", tp, flop3 / tp / 1e9);
  std::printf("square sgemm %lld:                                      %.3f s  %.1f GFLOP/s\n", (long long)n, ts,
              flop_sq / ts / 1e9);
  std::printf("rates: fusion_s=%.4f sgemm_same_shapes_s=%.4f gemm_ratio=%.2f square_gflops=%.1f square_ratio=%.2f\n", tf,
              tp, tp / tf, flop_sq / ts / 1e9, (flop3 / tf) / (flop_sq / ts));
  z = {}, gz = {};

  // ---- 2. Adam against a copy
  const int64_t P = N * F;
  Tensor p = Tensor::zeros({P}), g = Tensor::full({P}, 1e-3), m = Tensor::zeros({P}), s2 = Tensor::zeros({P});
  Tensor dst = Tensor::zeros({P});
  int64_t adam_step = 0;
  auto adam = [&] {
    const optim::AdamStep st{0.005, 0.9, 0.999, 1e-8, 0.0, ++adam_step};  // the fusion head's group: no decay
    optim::adam_update<float>(P, p.data<float>(), g.data<float>(), m.data<float>(), s2.data<float>(), st);
  };
  auto copy = [&] {  // split over the oneTBB threads like the Adam pass
    float* d = dst.data<float>();
    const float* src = p.data<float>();
    parallel_for(P, [&](int64_t b, int64_t e) { std::memcpy(d + b, src + b, size_t(e - b) * 4); });
  };
  adam(), copy();
  std::vector<double> t_adam, t_copy;
  for (int r = 0; r < reps; ++r) {
    t_adam.push_back(timed(adam));
    t_copy.push_back(timed(copy));
  }
  const double gb = double(P) * 4 / 1e9, ta = median(t_adam), tc = median(t_copy);
  // Adam reads p, g, m, v and writes p, m, v: 7 arrays; a copy reads one and writes one.
  std::printf("adam pass: %.3f s  %.1f GB/s (7 arrays of %.0f MB)\n", ta, 7 * gb / ta, gb * 1e3);
  std::printf("copy:      %.3f s  %.1f GB/s (2 arrays)\n", tc, 2 * gb / tc);
  std::printf("rates: adam_gbs=%.1f copy_gbs=%.1f adam_ratio=%.2f\n", 7 * gb / ta, 2 * gb / tc, (7 * gb / ta) / (2 * gb / tc));
  return 0;
}
