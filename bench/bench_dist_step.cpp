// A multi-process training step of the full CH-SIMS-config MTFN (141 M parameters) on random inputs,
// split into compute and communication, per rank:
//   forward | backward (the bucket all-reduces run beside it) | wait (communication left after the
//   backward pass: not hidden) | optimizer; and reduce = first bucket start -> last bucket end;
//   and the bytes this rank sent and received per step, counted at the MPI calls (ProcessGroup::traffic).
// --mode sharded (the default, as `mtfn train`): the fusion head's weight split by columns across the
// ranks (distributed/sharded_fusion.h); --mode plain: every rank holds the whole model and all-reduces
// every gradient. Run it with one process for the compute baseline and under mpirun for N:
//   build/bench_dist_step [--batch-size 64] [--steps 4] [--threads T] [--mode sharded|plain]
//   mpirun --oversubscribe --allow-run-as-root -np 2 build/bench_dist_step --threads 1
// The global batch is split over the ranks as in training. Last line, machine-readable:
//   bench_dist: mode=sharded ranks=2 ... step_s=... forward_s=... backward_s=... wait_s=... optimizer_s=...
//   reduce_s=... comm_hidden=... sent_mb=... recv_mb=... (MB = 1e6 bytes, per rank per step)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <fmt/format.h>

#include "core/autograd.h"
#include "distributed/distributed.h"
#include "core/threads.h"
#include "training/data_parallel.h"
#include "models/mtfn/model.h"
#include "models/mtfn/optimizer.h"
#include "nn/random.h"

using namespace mtfn;
using Clock = std::chrono::steady_clock;

static double secs(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }
static double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

int main(int argc, char** argv) {
  int64_t B = 64, steps = 4, seq = 39;
  int threads = 0;
  std::string mode = "sharded";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--mode") mode = argv[i + 1];
    if (k == "--batch-size") B = std::atoll(argv[i + 1]);
    else if (k == "--steps") steps = std::atoll(argv[i + 1]);
    else if (k == "--threads") threads = std::atoi(argv[i + 1]);
  }
  distributed::ProcessGroup g;
  ThreadLimit limit(threads);
  const int r = g.rank(), n = g.size();
  const int64_t lo = r * B / n, hi = (r + 1) * B / n, b = hi - lo;
  models::MtfnConfig cfg;
  models::Mtfn model(cfg, 1111);
  training::DataParallel dp(n > 1 ? &g : nullptr, model, training::parse_dist_mode(mode));
  auto adam = models::make_mtfn_optimizer(model, cfg);
  nn::Generator gen(7 + static_cast<uint64_t>(r));
  data::Batch batch;
  batch.text = Tensor::empty({b, seq, cfg.feature_dims[0]});
  batch.audio = Tensor::empty({b, cfg.feature_dims[1]});
  batch.vision = Tensor::empty({b, cfg.feature_dims[2]});
  for (Tensor* t : {&batch.text, &batch.audio, &batch.vision}) nn::uniform_(*t, -1, 1, gen);
  for (Tensor* l : {&batch.label_M, &batch.label_T, &batch.label_A, &batch.label_V}) {
    *l = Tensor::empty({b});
    nn::uniform_(*l, -1, 1, gen);
  }
  model.train();
  std::vector<double> fwd, bwd, wait, opt, tot, red, sent, recv;
  for (int64_t s = 0; s <= steps; ++s) {
    model.set_dropout_step(static_cast<uint64_t>(s), lo);
    g.barrier("bench step");
    const distributed::Traffic before = g.traffic();
    const auto t0 = Clock::now();
    adam->zero_grad();
    models::MtfnOutput out = model.forward(batch.text, batch.audio, batch.vision);
    models::MtfnLoss loss = models::mtfn_loss(out, batch, cfg);
    const auto t1 = Clock::now();
    double w = 0, rd = 0;
    dp.backward(loss.total, b, B);
    if (dp.buckets()) w = dp.buckets()->last_timing().wait_s, rd = dp.buckets()->last_timing().reduce_s;
    const auto t2 = Clock::now();
    adam->step();
    const auto t3 = Clock::now();
    const distributed::Traffic moved = g.traffic() - before;
    if (g.is_root())
      std::printf("  step %lld%s: %.3f s (forward %.3f, backward %.3f of which waiting %.3f, optimizer %.3f; "
                  "all-reduce %.3f)\n",
                  static_cast<long long>(s), s == 0 ? " (warm-up)" : "", secs(t0, t3), secs(t0, t1),
                  secs(t1, t2), w, secs(t2, t3), rd);
    if (s == 0) continue;
    fwd.push_back(secs(t0, t1)), bwd.push_back(secs(t1, t2) - w), wait.push_back(w), opt.push_back(secs(t2, t3));
    tot.push_back(secs(t0, t3)), red.push_back(rd), sent.push_back(moved.sent / 1e6), recv.push_back(moved.received / 1e6);
  }
  if (g.is_root()) {
    const double reduce = median(red), exposed = median(wait);
    std::printf("bench_dist: mode=%s ranks=%d batch=%lld rows_per_rank=%lld threads=%d step_s=%.3f forward_s=%.3f "
                "backward_s=%.3f wait_s=%.3f optimizer_s=%.3f reduce_s=%.3f comm_hidden=%.2f sent_mb=%.3f "
                "recv_mb=%.3f\n",
                n > 1 ? (dp.sharded() ? "sharded" : "plain") : "one", n, static_cast<long long>(B),
                static_cast<long long>(b), threads, median(tot), median(fwd), median(bwd), exposed, median(opt), reduce,
                reduce > 0 ? 1.0 - exposed / reduce : 0.0, median(sent), median(recv));
  }
  return 0;
}
