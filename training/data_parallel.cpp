// DataParallel: the trainer's side of distributed/. See data_parallel.h and docs/distributed.md.
#include "training/data_parallel.h"

#include <fmt/format.h>

#include "data/batching.h"
#include "distributed/distributed.h"
#include "nn/batchnorm.h"

namespace mtfn::training {

namespace {
std::vector<Tensor> model_state(const models::Model& model) {
  std::vector<Tensor> v;
  for (const auto& e : model.module().state_dict()) v.push_back(e.tensor);
  return v;
}

// Every BatchNorm1d in the module tree, in registration order.
void find_batch_norms(const nn::Module& m, std::vector<std::shared_ptr<nn::BatchNorm1d>>& out) {
  for (const auto& [name, child] : m.named_children()) {
    if (auto bn = std::dynamic_pointer_cast<nn::BatchNorm1d>(child)) out.push_back(bn);
    find_batch_norms(*child, out);
  }
}
}  // namespace

DataParallel::DataParallel(distributed::ProcessGroup* group, models::Model& model) : group_(group), model_(model) {
  if (!distributed()) return;
  distributed::broadcast_tensors(*group_, model_state(model_));
  find_batch_norms(model_.module(), norms_);
  for (const auto& norm : norms_) norm->train_op = distributed::sync_batch_norm_op(*group_);
  buckets_ = std::make_unique<distributed::GradBuckets>(*group_, model_.module().parameters());
}

DataParallel::~DataParallel() {
  for (const auto& norm : norms_) norm->train_op = nullptr;
}

std::vector<int64_t> DataParallel::shard(const std::vector<int64_t>& batch, int64_t* first_row) const {
  *first_row = 0;
  if (!distributed()) return batch;
  const int64_t n = static_cast<int64_t>(batch.size()), r = group_->rank(), size = group_->size();
  if (n < size)
    throw Error(fmt::format("a global batch of {} samples cannot be shared by {} processes (every process needs at "
                            "least one row): use fewer processes or a larger --batch-size",
                            n, size));
  *first_row = r * n / size;
  return data::shard_of_batch(batch, group_->rank(), group_->size());
}

void DataParallel::backward(const Tensor& loss, int64_t local_rows, int64_t global_rows) {
  if (!distributed()) return loss.backward();
  buckets_->backward(loss, local_rows, global_rows);
}

double DataParallel::global_loss(double local_loss, int64_t local_rows, int64_t global_rows) {
  if (!distributed()) return local_loss;
  std::vector<double> v{local_loss * static_cast<double>(local_rows) / static_cast<double>(global_rows)};
  group_->allreduce_sum(v, "the training loss");
  return v[0];
}

double DataParallel::agree(double value) {
  if (distributed()) group_->broadcast(&value, sizeof value, 0, "an early-stopping decision");
  return value;
}

void DataParallel::check_same(uint64_t value, std::string_view what) {
  if (!distributed()) return;
  const std::vector<uint64_t> all = group_->allgather(value, what);
  for (size_t r = 0; r < all.size(); ++r)
    if (all[r] != all[0])
      group_->abort(fmt::format("{}: rank {} has {}, rank 0 has {} (with --resume, --out must be a folder every "
                                "process reads: a shared filesystem)",
                                what, r, all[r], all[0]));
}

void DataParallel::check_replicas(std::string_view when) {
  if (distributed() && !distributed::replicas_identical(*group_, model_state(model_)))
    group_->abort(fmt::format("the model replicas differ {}: the ranks no longer train the same model", when));
}

void DataParallel::barrier(std::string_view what) {
  if (distributed()) group_->barrier(what);
}

}  // namespace mtfn::training
