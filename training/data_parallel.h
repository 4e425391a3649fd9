// What the trainer asks of data-parallel training (distributed/), in one object that is a no-op
// for a single process: this rank's share of a global batch, the backward pass with gradient
// buckets, global losses, decisions every rank takes alike, and who writes files (rank 0).
// Not here: the collectives themselves (distributed/), the training procedure (trainer.cpp).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/tensor.h"
#include "distributed/process_group.h"
#include "models/model.h"
#include "nn/safetensors.h"

namespace mtfn::distributed {
class GradBuckets;
class ShardedFusion;
}
namespace mtfn::optim {
class Optimizer;
}
namespace mtfn::nn {
class BatchNorm1d;
}

namespace mtfn::training {

// How several processes train one model (docs/distributed.md):
//   sharded  the fusion head's weight split by columns across the ranks (distributed/sharded_fusion.h),
//            everything else data-parallel: the default (a model without a fusion head is plain)
//   plain    every rank holds the whole model; all gradients all-reduced (for comparison)
enum class DistMode { sharded, plain };
DistMode parse_dist_mode(const std::string& name);  // "sharded" / "plain"; InputError naming --dist-mode

class DataParallel {
 public:
  // `group` nullptr or of one process: plain one-process training. Otherwise: the model's
  // parameters and buffers take rank 0's values (a sharded weight keeps this rank's columns of its
  // own), its BatchNorms compute statistics over every rank's rows, and its replicated parameters'
  // gradients are all-reduced in buckets during the backward pass. Make it before the optimizer's
  // state is loaded: with `sharded`, the fusion weight becomes this rank's shard here.
  DataParallel(distributed::ProcessGroup* group, models::Model& model, DistMode mode = DistMode::sharded);
  ~DataParallel();

  bool distributed() const { return group_ && group_->size() > 1; }
  bool is_root() const { return !group_ || group_->is_root(); }  // writes logs, checkpoints, results
  bool sharded() const { return fusion_ != nullptr; }
  // Whether this process writes (its part of) model and checkpoint files: rank 0, or every rank when sharded.
  bool writes_model_files() const { return is_root() || sharded(); }
  // How the processes write one model or checkpoint file together (nn/safetensors.h), and which of its
  // entries are this rank's columns: "<model_prefix><weight>" and the weight's optimizer state
  // "<optim_prefix>state.<k>.<key>" (every key but "step"), picked from `names` (the file's entries).
  nn::WriteGroup write_group() const;
  nn::ColumnShards file_shards(const std::vector<std::string>& names, const std::string& model_prefix,
                               const optim::Optimizer* opt = nullptr, const std::string& optim_prefix = "") const;

  // This rank's contiguous share of a global batch (data/batching.h's shard_of_batch) and the
  // global row index of its first row (keys the dropout masks). Throws if a share would be empty.
  std::vector<int64_t> shard(const std::vector<int64_t>& batch, int64_t* first_row) const;
  // Backward of this rank's mean loss over `local_rows`, leaving the global batch's gradient.
  void backward(const Tensor& loss, int64_t local_rows, int64_t global_rows);
  // The global batch's mean loss from the ranks' means.
  double global_loss(double local_loss, int64_t local_rows, int64_t global_rows);
  // Rank 0's value on every rank (decisions such as early stopping must not depend on a rank's rounding).
  double agree(double value);
  // Aborts the job with `what` if the ranks hold different values (e.g. resumed from different epochs).
  void check_same(uint64_t value, std::string_view what);
  // Aborts the job if the replicas are no longer bit-identical.
  void check_replicas(std::string_view when);
  void barrier(std::string_view what);
  const distributed::GradBuckets* buckets() const { return buckets_.get(); }  // timing, for benchmarks

 private:
  std::vector<Tensor> replicated_state() const;  // the state_dict without the sharded weight

  distributed::ProcessGroup* group_;
  models::Model& model_;
  std::unique_ptr<distributed::ShardedFusion> fusion_;  // sharded mode
  std::vector<std::shared_ptr<nn::BatchNorm1d>> norms_;  // the model's BatchNorms, synced while this lives
  std::unique_ptr<distributed::GradBuckets> buckets_;
};

}  // namespace mtfn::training
