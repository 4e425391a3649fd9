// Gradient buckets: the plan, the main thread's bookkeeping (called from the backward pass's
// leaf-ready hook) and the worker thread that packs, all-reduces and unpacks. See buckets.h and
// docs/distributed.md.
//
// Threads: the main thread runs the backward pass and, from the hook, queues each bucket once all
// its gradients are complete, in bucket order (every rank must start the same all-reduces in the
// same order). The worker starts each queued bucket's MPI_Iallreduce at once and polls them all;
// it touches only gradients the backward pass has finished with.
#include "distributed/buckets.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>

namespace mtfn::distributed {

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// FNV-1a over the plan, to check that every rank built the same one.
uint64_t plan_hash(const std::vector<Bucket>& buckets) {
  uint64_t h = 0xcbf29ce484222325ULL;
  auto add = [&](int64_t v) { h = (h ^ static_cast<uint64_t>(v)) * 0x100000001b3ULL; };
  for (const Bucket& b : buckets) {
    add(-1);
    for (const BucketPiece& p : b.pieces) add(p.param), add(p.offset), add(p.count);
  }
  return h;
}

}  // namespace

std::vector<Bucket> plan_buckets(const std::vector<int64_t>& numels, const std::vector<int>& order, int64_t cap) {
  if (cap <= 0) throw Error(fmt::format("plan_buckets: bucket capacity {} elements", cap));
  std::vector<Bucket> buckets;
  Bucket open;  // the packed bucket being filled
  auto close = [&] {
    if (!open.pieces.empty()) buckets.push_back(std::move(open));
    open = Bucket{};
  };
  for (int p : order) {
    const int64_t n = numels.at(static_cast<size_t>(p));
    if (n == 0) continue;
    if (n > cap) {  // a large gradient: slices of at most cap, each reduced in place
      close();
      const int64_t slices = (n + cap - 1) / cap, per = (n + slices - 1) / slices;  // near-equal slices
      for (int64_t off = 0; off < n; off += per) {
        const int64_t count = std::min(per, n - off);
        buckets.push_back(Bucket{{BucketPiece{p, off, count}}, count});
      }
      continue;
    }
    if (open.numel + n > cap) close();
    open.pieces.push_back(BucketPiece{p, 0, n});
    open.numel += n;
  }
  close();
  return buckets;
}

// ---- the worker thread

struct GradBuckets::Worker {
  GradBuckets& owner;
  std::mutex mu;
  std::condition_variable work_cv, done_cv;
  std::deque<int> queue;  // buckets to start, in order
  int done = 0;           // buckets finished this step
  bool started_any = false;  // a bucket was started this step
  bool stop = false;
  double first_start = 0, last_end = 0;
  std::vector<Tensor> buffers;  // [bucket] packing buffer (packed buckets only), kept between steps
  std::thread thread;

  explicit Worker(GradBuckets& o) : owner(o), thread([this] { run(); }) {}
  ~Worker() {
    {
      std::lock_guard lk(mu);
      stop = true;
    }
    work_cv.notify_all();
    thread.join();
  }

  // The gradient's memory for piece p, as a span of S.
  template <class S>
  std::span<S> piece_span(const BucketPiece& p) {
    Tensor g = owner.params_[static_cast<size_t>(p.param)].grad();
    return {g.data<S>() + p.offset, static_cast<size_t>(p.count)};
  }

  template <class S>
  PendingReduce start(int k) {
    const Bucket& b = owner.buckets_[static_cast<size_t>(k)];
    if (b.in_place()) return owner.group_.start_gradient_reduce(piece_span<S>(b.pieces[0]));
    Tensor& buf = buffers[static_cast<size_t>(k)];
    if (!buf.defined() || buf.numel() != b.numel) buf = Tensor::empty({b.numel}, owner.dtype_);
    S* out = buf.data<S>();
    for (const BucketPiece& p : b.pieces) {
      std::span<S> g = piece_span<S>(p);
      std::memcpy(out, g.data(), g.size_bytes());
      out += g.size();
    }
    return owner.group_.start_gradient_reduce(std::span<S>(buf.data<S>(), static_cast<size_t>(b.numel)));
  }

  template <class S>
  void unpack(int k) {
    const Bucket& b = owner.buckets_[static_cast<size_t>(k)];
    if (b.in_place()) return;
    const S* in = buffers[static_cast<size_t>(k)].data<S>();
    for (const BucketPiece& p : b.pieces) {
      std::span<S> g = piece_span<S>(p);
      std::memcpy(g.data(), in, g.size_bytes());
      in += g.size();
    }
  }

  void run() {
    struct InFlight {
      int bucket;
      PendingReduce request;
      double started;
    };
    std::vector<InFlight> in_flight;
    uint64_t idle_polls = 0;
    for (;;) {
      int k = -1;
      bool first = false;
      {
        std::unique_lock lk(mu);
        if (in_flight.empty()) work_cv.wait(lk, [&] { return stop || !queue.empty(); });
        if (stop && queue.empty() && in_flight.empty()) return;
        if (!queue.empty()) {
          k = queue.front();
          queue.pop_front();
          first = !started_any;
          started_any = true;
        }
      }
      if (k >= 0) {  // start everything queued before polling
        const double t = now_s();
        if (first) first_start = t;
        PendingReduce r;
        MTFN_DISPATCH(owner.dtype_, r = start<scalar_t>(k));
        in_flight.push_back({k, std::move(r), t});
        continue;
      }
      bool progressed = false;
      for (size_t i = 0; i < in_flight.size();) {
        if (!in_flight[i].request.test()) {
          ++i;
          continue;
        }
        MTFN_DISPATCH(owner.dtype_, unpack<scalar_t>(in_flight[i].bucket));
        in_flight.erase(in_flight.begin() + static_cast<std::ptrdiff_t>(i));
        progressed = true;
        {
          std::lock_guard lk(mu);
          ++done;
          last_end = now_s();
        }
        done_cv.notify_all();
      }
      if (progressed || in_flight.empty()) continue;
      std::this_thread::yield();
      if ((++idle_polls & 1023) == 0) {
        const double waited = now_s() - in_flight.front().started;
        if (waited > owner.group_.timeout_seconds())
          owner.group_.abort(fmt::format(
              "no progress for {:.0f} s in the all-reduce of gradient bucket {} ({} MB): another rank has died or "
              "hangs. Stopping the job; `mtfn train --resume` continues from the last checkpoint",
              waited, in_flight.front().bucket,
              owner.buckets_[static_cast<size_t>(in_flight.front().bucket)].numel * dtype_size(owner.dtype_) >> 20));
        if (waited > 0.01) std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
    }
  }
};

// ---- the main thread's side

GradBuckets::GradBuckets(ProcessGroup& group, std::vector<Tensor> params, int64_t bucket_bytes)
    : group_(group) {
  for (Tensor& p : params)
    if (p.requires_grad()) params_.push_back(std::move(p));
  dtype_ = params_.empty() ? DType::F32 : params_.front().dtype();
  for (const Tensor& p : params_)
    if (p.dtype() != dtype_)
      throw Error(fmt::format("GradBuckets: parameters of two dtypes ({} and {}); convert the model to one",
                              dtype_name(dtype_), dtype_name(p.dtype())));
  cap_ = std::max<int64_t>(1, bucket_bytes / static_cast<int64_t>(dtype_size(dtype_)));
  std::vector<int64_t> numels;
  std::vector<int> order;
  for (size_t i = 0; i < params_.size(); ++i) {
    numels.push_back(params_[i].numel());
    order.insert(order.begin(), static_cast<int>(i));  // reverse registration order
  }
  buckets_ = plan_buckets(numels, order, cap_);
  hook_ = [this](const Tensor& leaf) { on_ready(leaf); };
  worker_ = std::make_unique<Worker>(*this);
}

GradBuckets::~GradBuckets() = default;

void GradBuckets::begin_step() {
  if (steps_ == 1) replan_from_ready_order();
  const size_t np = params_.size(), nb = buckets_.size();
  buckets_of_param_.assign(np, {});
  pending_.assign(nb, 0);
  for (size_t b = 0; b < nb; ++b)
    for (const BucketPiece& p : buckets_[b].pieces) {
      buckets_of_param_[static_cast<size_t>(p.param)].push_back(static_cast<int>(b));
      ++pending_[b];
    }
  param_ready_.assign(np, 0);
  param_missing_.assign(np, 0);
  ready_order_.clear();
  next_launch_ = 0;
  {
    std::lock_guard lk(worker_->mu);
    worker_->done = 0;
    worker_->started_any = false;
    worker_->buffers.resize(nb);
  }
  timing_ = StepTiming{};
  step_start_ = now_s();
}

// After the first step, buckets follow the order in which gradients became ready, so that no
// bucket waits behind one that completes later (PyTorch's DDP rebuilds its buckets likewise).
// The order comes from the graph, the same on every rank; if the ranks disagree anyway, all of them
// keep the first plan.
void GradBuckets::replan_from_ready_order() {
  std::vector<int64_t> numels;
  for (const Tensor& p : params_) numels.push_back(p.numel());
  std::vector<Bucket> plan = plan_buckets(numels, ready_order_, cap_);
  const std::vector<uint64_t> hashes = group_.allgather(plan_hash(plan), "the gradient bucket plan");
  if (std::all_of(hashes.begin(), hashes.end(), [&](uint64_t h) { return h == hashes[0]; })) buckets_ = std::move(plan);
}

void GradBuckets::prepare_gradient(int param) {
  // The worker reduces in place: the gradient must exist, and own its memory (accumulate_grad
  // may have stored a tensor that aliases another gradient).
  const Tensor& p = params_[static_cast<size_t>(param)];
  if (!p.grad_slot().defined()) param_missing_[static_cast<size_t>(param)] = 1;
  grad_buffer(p);  // zeros if missing, a pending zero filled, an aliasing gradient copied
  param_ready_[static_cast<size_t>(param)] = 1;
  ready_order_.push_back(param);
  for (int b : buckets_of_param_[static_cast<size_t>(param)]) --pending_[static_cast<size_t>(b)];
}

void GradBuckets::launch_ready_buckets() {
  bool queued = false;
  {
    std::lock_guard lk(worker_->mu);
    while (next_launch_ < static_cast<int>(buckets_.size()) && pending_[static_cast<size_t>(next_launch_)] == 0) {
      worker_->queue.push_back(next_launch_++);
      queued = true;
    }
  }
  if (queued) worker_->work_cv.notify_one();
}

void GradBuckets::on_ready(const Tensor& leaf) {
  // Parameters are few (tens): a linear search costs less than hashing here.
  for (size_t i = 0; i < params_.size(); ++i)
    if (params_[i].impl() == leaf.impl()) {
      if (param_ready_[i]) return;
      prepare_gradient(static_cast<int>(i));
      launch_ready_buckets();
      return;
    }
}

void GradBuckets::finish_step() {
  const double backward_end = now_s();
  // Parameters the graph did not reach: zeros (another rank's graph may have reached them).
  for (size_t i = 0; i < params_.size(); ++i)
    if (!param_ready_[i]) prepare_gradient(static_cast<int>(i));
  launch_ready_buckets();
  {
    std::unique_lock lk(worker_->mu);
    const int nb = static_cast<int>(buckets_.size());
    // The worker aborts the job itself when an all-reduce stalls; this is a last guard.
    if (!worker_->done_cv.wait_for(lk, std::chrono::duration<double>(group_.timeout_seconds() + 30),
                                   [&] { return worker_->done == nb; }))
      group_.abort("the gradient all-reduce thread stopped making progress");
    timing_.reduce_s = nb ? worker_->last_end - worker_->first_start : 0;
  }
  const double end = now_s();
  // A parameter no rank gave a gradient to stays without one, as on one process (Adam skips it).
  for (size_t i = 0; i < params_.size(); ++i) {
    if (!param_missing_[i]) continue;
    const Tensor grad = params_[i].grad();
    bool all_zero = true;
    MTFN_DISPATCH(dtype_, {
      const scalar_t* g = grad.data<scalar_t>();
      for (int64_t j = 0; j < grad.numel() && all_zero; ++j) all_zero = g[j] == scalar_t(0);
    });
    if (all_zero) params_[i].grad_slot().drop();
  }
  timing_.backward_s = backward_end - step_start_;
  timing_.wait_s = end - backward_end;
  for (const Tensor& p : params_) timing_.bytes += p.numel() * static_cast<int64_t>(dtype_size(dtype_));
  ++steps_;
}

void GradBuckets::backward(const Tensor& loss, int64_t local_rows, int64_t global_rows) {
  if (local_rows < 0 || global_rows <= 0 || local_rows > global_rows)
    throw Error(fmt::format("GradBuckets::backward: {} local rows of a global batch of {}", local_rows, global_rows));
  begin_step();
  // dL/dloss_r = B_r / B (see buckets.h): the all-reduce's sum is then the global batch's mean.
  const Tensor scale = Tensor::full(loss.shape(), double(local_rows) / double(global_rows), loss.dtype());
  run_backward(loss, scale, /*retain_graph=*/false, hook_);
  finish_step();
}

}  // namespace mtfn::distributed
