// The text LSTM of MTFN alone (one layer, 768 -> 256, batch 64, 39 steps, float32): forward and backward
// of nn::lstm_layer, median seconds, and the GEMM work it holds (input projection, recurrence, gradients).
// Not a test. `bench_lstm [--threads N] [--reps R]`; last line `lstm: forward_s=... backward_s=...`.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <tbb/global_control.h>

#include "core/autograd.h"
#include "nn/lstm.h"
#include "nn/random.h"

using namespace mtfn;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  int threads = 2, reps = 7;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--threads") threads = std::atoi(argv[i + 1]);
    else if (k == "--reps") reps = std::atoi(argv[i + 1]);
  }
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));
  openblas_set_num_threads(threads);
  const int64_t B = 64, T = 39, D = 768, H = 256;
  nn::Generator gen(1);
  nn::LSTM lstm(D, H, 1, gen);
  Tensor x = Tensor::empty({B, T, D});
  nn::uniform_(x, -1, 1, gen);
  std::vector<double> fwd, bwd;
  for (int r = 0; r <= reps; ++r) {
    for (const Tensor& p : lstm.parameters()) p.grad_slot().drop();
    const auto t0 = Clock::now();
    Tensor hc = nn::lstm_layer(x, lstm.weight_ih[0], lstm.weight_hh[0], lstm.bias_ih[0], lstm.bias_hh[0]);  // (B,T+1,H)
    const auto t1 = Clock::now();
    hc.backward(Tensor::full(hc.shape(), 1e-3));
    const auto t2 = Clock::now();
    if (r == 0) continue;  // warm-up
    fwd.push_back(std::chrono::duration<double>(t1 - t0).count());
    bwd.push_back(std::chrono::duration<double>(t2 - t1).count());
  }
  std::sort(fwd.begin(), fwd.end());
  std::sort(bwd.begin(), bwd.end());
  const double G = 4.0 * H;
  const double flop_fwd = 2.0 * B * T * D * G + 2.0 * B * (T - 1) * H * G;  // input projection + recurrence
  const double flop_bwd = 2 * 2.0 * B * T * D * G + 2 * 2.0 * B * (T - 1) * H * G;  // dx, dW_ih; dh, dW_hh
  const double f = fwd[fwd.size() / 2], b = bwd[bwd.size() / 2];
  std::printf("LSTM B %lld T %lld %lld -> %lld, %d threads: forward %.3f s (%.1f GFLOP/s), backward %.3f s (%.1f GFLOP/s)\n",
              (long long)B, (long long)T, (long long)D, (long long)H, threads, f, flop_fwd / f / 1e9, b, flop_bwd / b / 1e9);
  std::printf("lstm: forward_s=%.4f backward_s=%.4f\n", f, b);
}
