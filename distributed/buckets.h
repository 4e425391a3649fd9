// Gradient buckets: data-parallel gradient averaging that overlaps the backward pass. Parameters
// are grouped into buckets of about 25 MB; as soon as every gradient of a bucket is complete
// (core's leaf-ready hook), a thread starts its all-reduce while the backward pass goes on.
// Not here: the choice of rows per rank (data/batching.h) or the optimiser step (optim/).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/autograd.h"
#include "core/tensor.h"
#include "distributed/process_group.h"

namespace mtfn::distributed {

// One contiguous slice [offset, offset + count) of parameter `param`'s gradient.
struct BucketPiece {
  int param = 0;
  int64_t offset = 0, count = 0;
};

// What one all-reduce carries. A bucket of one piece is reduced in place, in the gradient's own
// memory (the large layers: no copy); a bucket of several small gradients is packed into a buffer.
struct Bucket {
  std::vector<BucketPiece> pieces;
  int64_t numel = 0;
  bool in_place() const { return pieces.size() == 1; }
};

// Buckets for parameters of `numels` elements taken in the order `order` (indices into numels):
// a parameter larger than `cap` elements is cut into slices of at most `cap`, each its own
// bucket; smaller ones are packed together, in order, while the bucket stays within `cap`.
std::vector<Bucket> plan_buckets(const std::vector<int64_t>& numels, const std::vector<int>& order, int64_t cap);

// Where the time of one step went (seconds), as seen by this rank.
struct StepTiming {
  double backward_s = 0;  // the local backward pass (with the all-reduces running next to it)
  double wait_s = 0;      // after it, waiting for the last all-reduces: communication NOT hidden
  double reduce_s = 0;    // first bucket started -> last bucket done: communication, hidden or not
  int64_t bytes = 0;      // gradient bytes all-reduced
};

class GradBuckets {
 public:
  // `params`: the trainable parameters (those without requires_grad are left out), all of one
  // dtype, identical on every rank (broadcast them first: distributed/replicas.h). Buckets follow the
  // reverse of `params`' order (PyTorch's DDP: gradients become ready roughly last-layer first)
  // for the first step; after it, the order in which gradients actually became ready.
  GradBuckets(ProcessGroup& group, std::vector<Tensor> params, int64_t bucket_bytes = int64_t{25} << 20);
  ~GradBuckets();
  GradBuckets(const GradBuckets&) = delete;
  GradBuckets& operator=(const GradBuckets&) = delete;

  // The backward pass of this rank's `loss` (a mean over its `local_rows` rows), leaving in every
  // parameter the gradient of the mean loss over the global batch of `global_rows` rows:
  //   L = sum_r (B_r / B) L_r,  so  dL/dθ = sum_r (B_r / B) dL_r/dθ,
  // hence dL/dloss = B_r / B on rank r, and the all-reduce is a plain sum. (Averaging the ranks'
  // gradients instead would weight a short last shard's rows too much.) Gradients must be zeroed
  // before (Module::zero_grad). A parameter no rank gave a gradient to stays without one.
  void backward(const Tensor& loss, int64_t local_rows, int64_t global_rows);

  // backward() in pieces, for a caller that runs the graph itself:
  //   begin_step(); run_backward(loss, g, false, hook()); finish_step();
  void begin_step();
  const GradReadyHook& hook() const { return hook_; }
  void finish_step();

  const StepTiming& last_timing() const { return timing_; }
  const std::vector<Bucket>& buckets() const { return buckets_; }
  const std::vector<Tensor>& params() const { return params_; }

 private:
  struct Worker;
  void on_ready(const Tensor& leaf);
  void prepare_gradient(int param);
  void launch_ready_buckets();
  void replan_from_ready_order();

  ProcessGroup& group_;
  std::vector<Tensor> params_;
  int64_t cap_;
  DType dtype_;
  std::vector<Bucket> buckets_;
  std::vector<std::vector<int>> buckets_of_param_;  // [param] = buckets holding a slice of it
  std::vector<int> pending_;                        // [bucket] = pieces whose gradient is not ready
  std::vector<char> param_ready_, param_missing_;   // missing: had no gradient, zeros were sent
  std::vector<int> ready_order_;                    // this step's order of readiness
  int next_launch_ = 0;
  int steps_ = 0;
  GradReadyHook hook_;
  StepTiming timing_;
  double step_start_ = 0;
  std::unique_ptr<Worker> worker_;
};

}  // namespace mtfn::distributed
