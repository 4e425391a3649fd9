// The multi-process checks of distributed/, run under mpirun (tests/distributed/mpi/tests.cmake). A plain program,
// not Boost.Test: a failed check on one rank must end the whole job at once (ProcessGroup::abort),
// never leave the other ranks waiting in a collective. Exit status 0: every check passed.
//
//   dist_check collectives        all-reduce, broadcast, gradient buckets and synchronised BatchNorm
//                                 against the same computation on the whole batch in one process
//   dist_check train [--steps S]  a small model (BatchNorm1d, Linear, Dropout, Adam) trained data-
//                                 parallel; rank 0 also trains a one-process replica on the whole
//                                 batches and compares the losses of every step and the final
//                                 parameters (1e-12 relative, in float64); the ranks' parameter
//                                 hashes are compared after every step
//
// Every check that compares with one process runs in float64, where the claim "the same computation
// in another order" can be checked tightly on any CPU: the sums here have at most n = 588 terms, whose
// rounding is ~sqrt(n) u = 2.7e-15 relative (u = 1.1e-16), and the bound 1e-12 leaves a factor of
// ~370 for the 24 training steps to add up (measured: ~1e-15).
//       [--die-at-step K --die-rank R]   rank R kills itself (SIGKILL) at step K
//       [--hang-at-step K --die-rank R]  rank R stops answering at step K (the others must time out)
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <span>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "core/gradcheck.h"
#include "core/ops/activation.h"
#include "core/ops/elementwise.h"
#include "core/ops/loss.h"
#include "core/ops/matmul.h"
#include "core/ops/shape.h"
#include "data/batching.h"
#include "distributed/distributed.h"
#include "nn/nn.h"
#include "optim/adam.h"

using namespace mtfn;
using distributed::ProcessGroup;

namespace {

// max_i |a_i - b_i| / max_i |b_i|
double rel_err(const Tensor& a, const Tensor& b) {
  double d = 0, s = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    d = std::max(d, std::abs(a.at(i) - b.at(i)));
    s = std::max(s, std::abs(b.at(i)));
  }
  return s > 0 ? d / s : d;
}

void check(ProcessGroup& g, bool ok, const std::string& what) {
  if (!ok) g.abort("dist_check FAILED: " + what);
}

// Rows [begin, end) of x, copied.
Tensor rows(const Tensor& x, int64_t begin, int64_t end) { return x.narrow0(begin, end - begin).clone(); }

int64_t shard_begin(int64_t n, int rank, int size) { return rank * n / size; }

// ---- collectives

// All-gather and reduce-scatter of floats (and of doubles: the float64 training path) with unequal
// counts, traffic counted, groups from split().
void check_sharding_collectives(ProcessGroup& g) {
  const int r = g.rank(), n = g.size();
  std::vector<int64_t> counts;
  int64_t total = 0;
  for (int i = 0; i < n; ++i) counts.push_back(i + 2), total += i + 2;
  std::vector<float> mine(static_cast<size_t>(r + 2), float(r)), all(static_cast<size_t>(total));
  const distributed::Traffic before = g.traffic();
  g.allgather(mine, all, counts, "test allgather of floats");
  const distributed::Traffic moved = g.traffic() - before;
  check(g, moved.received == 4.0 * double(total - (r + 2)), "traffic of an all-gather");
  for (int i = 0, k = 0; i < n; ++i)
    for (int j = 0; j < i + 2; ++j, ++k) check(g, all[size_t(k)] == float(i), "allgather of floats");
  std::vector<float> contrib(static_cast<size_t>(total)), out(static_cast<size_t>(r + 2));
  for (int64_t k = 0; k < total; ++k) contrib[size_t(k)] = float(k) * float(r + 1);
  g.reduce_scatter_sum(contrib, out, counts, "test reduce-scatter");
  int64_t before_r = 0;  // the counts before rank r
  for (int i = 0; i < r; ++i) before_r += i + 2;
  for (int j = 0; j < r + 2; ++j)
    check(g, out[size_t(j)] == float(before_r + j) * float(n * (n + 1) / 2), "reduce_scatter_sum");
  std::vector<double> dmine(static_cast<size_t>(r + 2), 0.25 + r), dall(static_cast<size_t>(total));
  g.allgather(std::span<const double>(dmine), std::span<double>(dall), counts, "test allgather of doubles");
  for (int i = 0, k = 0; i < n; ++i)
    for (int j = 0; j < i + 2; ++j, ++k) check(g, dall[size_t(k)] == 0.25 + i, "allgather of doubles");
  std::vector<double> dcontrib(static_cast<size_t>(total)), dout(static_cast<size_t>(r + 2));
  for (int64_t k = 0; k < total; ++k) dcontrib[size_t(k)] = 0.5 * double(k) * double(r + 1);
  g.reduce_scatter_sum(std::span<const double>(dcontrib), std::span<double>(dout), counts, "test reduce-scatter of doubles");
  for (int j = 0; j < r + 2; ++j)
    check(g, dout[size_t(j)] == 0.5 * double(before_r + j) * double(n * (n + 1) / 2), "reduce_scatter_sum of doubles");
  // Groups of 2 consecutive ranks: a group's sum covers its ranks only.
  std::unique_ptr<ProcessGroup> sub = g.split(2);
  std::vector<double> v{double(r)};
  sub->allreduce_sum(v, "test sum in a group");
  const int lo = (r / 2) * 2, hi = std::min(lo + 2, n);
  double expect = 0;
  for (int i = lo; i < hi; ++i) expect += i;
  check(g, v[0] == expect && sub->size() == hi - lo && sub->rank() == r - lo, "split: a group of 2");
}

// The sharded fusion head (distributed/sharded_fusion.h) against the whole layer on one process:
// outputs of my rows, every input gradient of my rows, my columns of dL/dW, and dL/db (the ranks'
// shares added) in training mode with dropout; the outputs of every row in eval mode.
void check_sharded_fusion(ProcessGroup& g) {
  const int r = g.rank(), n = g.size();
  const int64_t B = 13, A = 3, V = 20, T = 6, P = 5, F = (A + 1) * (V + 1) * (T + 1);
  nn::Generator gen(41);
  nn::FusionLayer whole{std::make_shared<nn::Dropout>(0.25, 9), std::make_shared<nn::Linear>(F, P, gen), "w", {A, V, T}, {}};
  nn::Generator gen2(41);
  nn::FusionLayer mine{std::make_shared<nn::Dropout>(0.25, 9), std::make_shared<nn::Linear>(F, P, gen2), "w", {A, V, T}, {}};
  whole.linear->to(DType::F64), mine.linear->to(DType::F64);
  distributed::ShardedFusion sharded(g, mine);
  const nn::ColumnShard c = sharded.columns();
  check(g, mine.linear->weight.size(1) == c.end - c.begin && c.full == F, "the weight is this rank's columns");
  const Tensor a = random_tensor({B, A}, 11, -1, 1, DType::F64), v = random_tensor({B, V}, 12, -1, 1, DType::F64),
               t = random_tensor({B, T}, 13, -1, 1, DType::F64), gy = random_tensor({B, P}, 14, -1, 1, DType::F64);
  const int64_t lo = shard_begin(B, r, n), hi = shard_begin(B, r + 1, n);
  for (int step = 0; step < 2; ++step) {
    whole.dropout->key.step = mine.dropout->key.step = 5 + step;
    whole.dropout->key.row_offset = 0;
    mine.dropout->key.row_offset = lo;  // as Model::set_dropout_step(step, first_row)
    Tensor ra = a.clone().set_requires_grad(true), rv = v.clone().set_requires_grad(true), rt = t.clone().set_requires_grad(true);
    Tensor ma = rows(a, lo, hi).set_requires_grad(true), mv = rows(v, lo, hi).set_requires_grad(true),
           mt = rows(t, lo, hi).set_requires_grad(true);
    for (nn::FusionLayer* l : {&whole, &mine}) l->linear->weight.grad_slot().drop(), l->linear->bias.grad_slot().drop();
    const Tensor ry = whole.forward(ra, rv, rt);
    ry.backward(gy);
    const Tensor my = mine.forward(ma, mv, mt);
    my.backward(rows(gy, lo, hi));
    check(g, rel_err(my, rows(ry, lo, hi)) < 1e-12, fmt::format("sharded fusion: output off by {:.2e}", rel_err(my, rows(ry, lo, hi))));
    check(g, rel_err(ma.grad(), rows(ra.grad(), lo, hi)) < 1e-12 && rel_err(mv.grad(), rows(rv.grad(), lo, hi)) < 1e-12 &&
                 rel_err(mt.grad(), rows(rt.grad(), lo, hi)) < 1e-12,
          "sharded fusion: dL/da, dL/dv, dL/dt of my rows");
    check(g, rel_err(mine.linear->weight.grad(), slice(whole.linear->weight.grad(), 1, c.begin, c.end)) < 1e-12,
          "sharded fusion: my columns of dL/dW");
    std::vector<double> gb(static_cast<size_t>(P));
    for (int64_t k = 0; k < P; ++k) gb[size_t(k)] = mine.linear->bias.grad().at(k);
    g.allreduce_sum(gb, "test bias shares");
    for (int64_t k = 0; k < P; ++k)
      check(g, std::abs(gb[size_t(k)] - whole.linear->bias.grad().at(k)) < 1e-12, "sharded fusion: dL/db, shares added");
    check(g, mine.dropout->key.step == whole.dropout->key.step, "sharded fusion: the dropout's step advances");
  }
  whole.linear->eval(), whole.dropout->eval(), mine.linear->eval(), mine.dropout->eval();
  NoGradGuard no_grad;
  const Tensor ey = whole.forward(a, v, t), my = mine.forward(a, v, t);
  check(g, rel_err(my, ey) < 1e-12, "sharded fusion: eval outputs of every row");
  check(g, distributed::replicas_identical(g, {my}), "sharded fusion: eval outputs identical on every rank");
}

void check_collectives(ProcessGroup& g) {
  const int r = g.rank(), n = g.size();
  std::vector<double> v{double(r), 1.0};
  g.allreduce_sum(v, "test sum");
  check(g, v[0] == n * (n - 1) / 2.0 && v[1] == n, "allreduce_sum");
  std::vector<uint64_t> all = g.allgather(uint64_t(r) * 10, "test allgather");
  for (int i = 0; i < n; ++i) check(g, all[size_t(i)] == uint64_t(i) * 10, "allgather");
  Tensor t = Tensor::full({1000}, r == 0 ? 3.5 : -1.0);
  distributed::broadcast_tensors(g, {t});
  check(g, t.at(999) == 3.5, "broadcast_tensors");

  // Gradient buckets: a global batch of 13 rows (shards of 6 and 7 on two ranks) through
  // linear -> relu -> linear, tiny buckets (packed and cut), against one process on all 13 rows.
  const int64_t N = 13;
  Tensor x = random_tensor({N, 9}, 1, -1, 1, DType::F64), y = random_tensor({N, 1}, 2, -1, 1, DType::F64);
  Tensor w1 = random_tensor({40, 9}, 3, -0.3, 0.3, DType::F64), b1 = random_tensor({40}, 4, -0.3, 0.3, DType::F64);
  Tensor w2 = random_tensor({1, 40}, 5, -0.3, 0.3, DType::F64), b2 = random_tensor({1}, 6, -0.3, 0.3, DType::F64);
  auto loss_of = [&](const Tensor& xs, const Tensor& ys, const std::vector<Tensor>& p) {
    return l1_loss(linear(relu(linear(xs, p[0], p[1])), p[2], p[3]), ys);
  };
  std::vector<Tensor> ref{w1.clone(), b1.clone(), w2.clone(), b2.clone()}, mine{w1.clone(), b1.clone(), w2.clone(), b2.clone()};
  for (Tensor& p : ref) p.set_requires_grad(true);
  for (Tensor& p : mine) p.set_requires_grad(true);
  loss_of(x, y, ref).backward();
  distributed::GradBuckets buckets(g, mine, /*bucket_bytes=*/8 * 50);  // w1 (360) is cut into 8 slices
  const int64_t lo = shard_begin(N, r, n), hi = shard_begin(N, r + 1, n);
  for (int step = 0; step < 2; ++step) {
    for (Tensor& p : mine) p.drop_grad();
    buckets.backward(loss_of(rows(x, lo, hi), rows(y, lo, hi), mine), hi - lo, N);
    for (size_t i = 0; i < mine.size(); ++i)
      check(g, rel_err(mine[i].grad(), ref[i].grad()) < 1e-12,
            fmt::format("gradient buckets: parameter {} off by {:.2e}", i, rel_err(mine[i].grad(), ref[i].grad())));
  }

  // Synchronised BatchNorm, float64: outputs, statistics and every gradient (x included, so the
  // backward all-reduce runs) against nn's op on the whole batch.
  Tensor bx = random_tensor({N, 5}, 7, -2, 3), bw = random_tensor({5}, 8, 0.5, 1.5), bb = random_tensor({5}, 9);
  Tensor gy = random_tensor({N, 5}, 10);
  Tensor rx = bx.clone().set_requires_grad(true), rw = bw.clone().set_requires_grad(true),
         rb = bb.clone().set_requires_grad(true);
  Tensor rmean, rvar;
  Tensor ry = nn::batch_norm_train(rx, rw, rb, 1e-5, &rmean, &rvar);
  ry.backward(gy);
  Tensor sx = rows(bx, lo, hi).set_requires_grad(true), sw = bw.clone().set_requires_grad(true),
         sb = bb.clone().set_requires_grad(true);
  Tensor smean, svar;
  int64_t global_rows = 0;
  Tensor sy = distributed::sync_batch_norm_train(g, sx, sw, sb, 1e-5, &smean, &svar, &global_rows);
  sy.backward(rows(gy, lo, hi));
  check(g, global_rows == N, "sync_batch_norm_train: global row count");
  check(g, rel_err(sy, rows(ry, lo, hi)) < 1e-12, "sync_batch_norm_train: output");
  check(g, rel_err(smean, rmean) < 1e-12 && rel_err(svar, rvar) < 1e-12, "sync_batch_norm_train: statistics");
  check(g, rel_err(sx.grad(), rows(rx.grad(), lo, hi)) < 1e-12, "sync_batch_norm_train: dL/dx");
  // dL/dweight, dL/dbias: this rank's share; the shares add up to one process's gradient.
  std::vector<double> shares(10);
  for (int c = 0; c < 5; ++c) shares[size_t(c)] = sw.grad().at(c), shares[size_t(5 + c)] = sb.grad().at(c);
  g.allreduce_sum(shares, "test shares");
  for (int c = 0; c < 5; ++c)
    check(g, std::abs(shares[size_t(c)] - rw.grad().at(c)) < 1e-12 && std::abs(shares[size_t(5 + c)] - rb.grad().at(c)) < 1e-12,
          "sync_batch_norm_train: parameter gradients");
  check_sharding_collectives(g);
  check_sharded_fusion(g);
  if (g.is_root()) std::printf("dist_check collectives: %d ranks, all checks passed\n", n);
}

// ---- training a small model

// BatchNorm1d(8) -> Linear(8,32) -> ReLU -> Dropout(0.2) -> Linear(32,32) -> ReLU -> BatchNorm1d(32)
// -> Linear(32,1): both BatchNorm backward paths (input without and with gradient) and dropout.
struct SmallNet : nn::Module {
  SmallNet(uint64_t seed, distributed::ProcessGroup* sync_group) : nn::Module("SmallNet") {
    nn::Generator gen(seed);
    norm_in = register_module("norm_in", std::make_shared<nn::BatchNorm1d>(8));
    fc1 = register_module("fc1", std::make_shared<nn::Linear>(8, 32, gen));
    drop = register_module("drop", std::make_shared<nn::Dropout>(0.2, 77));
    fc2 = register_module("fc2", std::make_shared<nn::Linear>(32, 32, gen));
    norm_mid = register_module("norm_mid", std::make_shared<nn::BatchNorm1d>(32));
    out = register_module("out", std::make_shared<nn::Linear>(32, 1, gen));
    if (sync_group) norm_in->train_op = norm_mid->train_op = distributed::sync_batch_norm_op(*sync_group);
  }
  Tensor forward(const Tensor& x) {
    Tensor h = relu(fc1->forward(norm_in->forward(x)));
    h = relu(fc2->forward(drop->forward(h)));
    return out->forward(norm_mid->forward(h));
  }
  std::vector<Tensor> state() const {
    std::vector<Tensor> v;
    for (const auto& e : state_dict()) v.push_back(e.tensor);
    return v;
  }
  std::shared_ptr<nn::BatchNorm1d> norm_in, norm_mid;
  std::shared_ptr<nn::Linear> fc1, fc2, out;
  std::shared_ptr<nn::Dropout> drop;
};

int train(ProcessGroup& g, int steps, int die_at, int die_rank, bool hang) {
  const int r = g.rank(), n = g.size();
  // Data: 150 samples, y = a smooth function of x; global batches of 25 (shards 12 + 13 on two
  // ranks: unequal on purpose), shuffled per epoch from the shared seed.
  const int64_t S = 150, B = 25;
  Tensor X = random_tensor({S, 8}, 100, -2, 2, DType::F64);
  Tensor Y = Tensor::empty({S, 1}, DType::F64);
  for (int64_t i = 0; i < S; ++i) Y.data<double>()[i] = std::tanh(X.at(i * 8) - 0.5 * X.at(i * 8 + 3));

  // Rank 0's initial parameters must win: the other ranks start from another seed on purpose.
  SmallNet model(r == 0 ? 5 : 6, &g);
  model.to(DType::F64);
  distributed::broadcast_tensors(g, model.state());
  check(g, distributed::replicas_identical(g, model.state()), "replicas differ after the initial broadcast");
  optim::Adam opt({{model.parameters(), 0.005, 1e-4}});
  distributed::GradBuckets buckets(g, model.parameters(), /*bucket_bytes=*/1024);

  std::unique_ptr<SmallNet> ref;  // rank 0's one-process replica
  std::unique_ptr<optim::Adam> ref_opt;
  if (g.is_root()) {
    ref = std::make_unique<SmallNet>(5, nullptr);
    ref->to(DType::F64);
    ref_opt = std::make_unique<optim::Adam>(std::vector<optim::ParamGroup>{{ref->parameters(), 0.005, 1e-4}});
  }
  const data::BatchSampler sampler(S, B, /*seed=*/1234);
  double worst_loss = 0;
  int step = 0;
  for (int64_t epoch = 1; step < steps; ++epoch) {
    for (const std::vector<int64_t>& batch : sampler.epoch_batches(epoch)) {
      if (step == steps) break;
      if (step == die_at && r == die_rank) {
        std::fprintf(stderr, "dist_check: rank %d %s at step %d (on purpose)\n", r, hang ? "hangs" : "dies", step);
        std::fflush(stderr);
        if (hang) std::this_thread::sleep_for(std::chrono::hours(1));
        std::raise(SIGKILL);
      }
      const auto global = static_cast<int64_t>(batch.size());
      const std::vector<int64_t> mine = data::shard_of_batch(batch, r, n);
      auto gather = [](const Tensor& src, const std::vector<int64_t>& idx) {
        Tensor t = Tensor::empty({int64_t(idx.size()), src.size(1)}, src.dtype());
        for (size_t i = 0; i < idx.size(); ++i)
          std::memcpy(t.data<double>() + i * src.size(1), src.data<double>() + idx[i] * src.size(1), src.size(1) * 8);
        return t;
      };
      model.drop->key.row_offset = shard_begin(global, r, n);  // masks keyed by the global row
      opt.zero_grad();
      Tensor loss = l1_loss(model.forward(gather(X, mine)), gather(Y, mine));
      buckets.backward(loss, int64_t(mine.size()), global);
      opt.step();
      std::vector<double> global_loss{loss.item() * double(mine.size()) / double(global)};
      g.allreduce_sum(global_loss, "the step's loss");
      check(g, distributed::replicas_identical(g, model.state()), fmt::format("replicas differ after step {}", step));
      if (ref) {
        ref_opt->zero_grad();
        Tensor ref_loss = l1_loss(ref->forward(gather(X, batch)), gather(Y, batch));
        ref_loss.backward();
        ref_opt->step();
        const double d = std::abs(global_loss[0] - ref_loss.item()) / std::abs(ref_loss.item());
        worst_loss = std::max(worst_loss, d);
        check(g, d < 1e-12, fmt::format("step {}: loss {} on {} ranks, {} on one process", step, global_loss[0], n,
                                       ref_loss.item()));
      }
      ++step;
    }
  }
  if (ref) {
    double worst = 0;
    const std::vector<Tensor> a = model.state(), b = ref->state();
    for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, rel_err(a[i], b[i]));
    check(g, worst < 1e-12, fmt::format("final parameters differ from one process's by {:.2e}", worst));
    std::printf("dist_check train: %d ranks, %d steps, largest difference from one process: loss %.2e, "
                "parameters and running statistics %.2e; replicas bit-identical after every step\n",
                n, steps, worst_loss, worst);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  int steps = 24, die_at = -1, die_rank = 1;
  bool hang = false;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const int v = std::atoi(argv[i + 1]);
    if (k == "--steps") steps = v;
    else if (k == "--die-at-step") die_at = v;
    else if (k == "--hang-at-step") die_at = v, hang = true;
    else if (k == "--die-rank") die_rank = v;
    else mode = "";
  }
  if (mode != "collectives" && mode != "train") {
    std::fprintf(stderr, "usage: dist_check collectives | train [--steps S] [--die-at-step K | --hang-at-step K] [--die-rank R]\n");
    return 2;
  }
  ProcessGroup g;
  try {
    if (mode == "collectives") check_collectives(g);
    else train(g, steps, die_at, die_rank, hang);
  } catch (const std::exception& e) {
    g.abort(std::string("dist_check: ") + e.what());  // ends every rank, not only this one
  }
  return 0;
}
