// What the trainer asks of data-parallel training (distributed/), in one object that is a no-op
// for a single process: this rank's share of a global batch, the backward pass with gradient
// buckets, global losses, decisions every rank takes alike, and who writes files (rank 0).
// Not here: the collectives themselves (distributed/), the training procedure (trainer.cpp).
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "core/tensor.h"
#include "distributed/process_group.h"
#include "models/model.h"

namespace mtfn::distributed {
class GradBuckets;
}
namespace mtfn::nn {
class BatchNorm1d;
}

namespace mtfn::training {

class DataParallel {
 public:
  // `group` nullptr or of one process: plain one-process training. Otherwise: the model's
  // parameters and buffers take rank 0's values, its BatchNorms compute statistics over every
  // rank's rows, and its gradients are all-reduced in buckets during the backward pass.
  DataParallel(distributed::ProcessGroup* group, models::Model& model);
  ~DataParallel();

  bool distributed() const { return group_ && group_->size() > 1; }
  bool is_root() const { return !group_ || group_->is_root(); }  // writes logs, checkpoints, results

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

 private:
  distributed::ProcessGroup* group_;
  models::Model& model_;
  std::vector<std::shared_ptr<nn::BatchNorm1d>> norms_;  // the model's BatchNorms, synced while this lives
  std::unique_ptr<distributed::GradBuckets> buckets_;
};

}  // namespace mtfn::training
