// DataParallel: the trainer's side of distributed/. See data_parallel.h and docs/distributed.md.
#include "training/data_parallel.h"

#include <fmt/format.h>

#include "data/batching.h"
#include "distributed/distributed.h"
#include "nn/batchnorm.h"
#include "optim/optimizer.h"

namespace mtfn::training {

namespace {

// Every BatchNorm1d in the module tree, in registration order.
void find_batch_norms(const nn::Module& m, std::vector<std::shared_ptr<nn::BatchNorm1d>>& out) {
  for (const auto& [name, child] : m.named_children()) {
    if (auto bn = std::dynamic_pointer_cast<nn::BatchNorm1d>(child)) out.push_back(bn);
    find_batch_norms(*child, out);
  }
}
}  // namespace

DistMode parse_dist_mode(const std::string& name) {
  if (name == "sharded") return DistMode::sharded;
  if (name == "plain") return DistMode::plain;
  throw InputError(fmt::format("--dist-mode: '{}' is not a mode (sharded or plain)", name));
}

DataParallel::DataParallel(distributed::ProcessGroup* group, models::Model& model, DistMode mode)
    : group_(group), model_(model) {
  if (!distributed()) return;
  if (nn::FusionLayer* layer = mode == DistMode::sharded ? model.fusion_layer() : nullptr)
    fusion_ = std::make_unique<distributed::ShardedFusion>(*group_, *layer);
  distributed::broadcast_tensors(*group_, replicated_state());
  find_batch_norms(model_.module(), norms_);
  for (const auto& norm : norms_) norm->train_op = distributed::sync_batch_norm_op(*group_);
  std::vector<Tensor> params;
  for (const Tensor& p : model_.module().parameters())
    if (!fusion_ || p.raw_data() != fusion_->weight().raw_data()) params.push_back(p);
  buckets_ = std::make_unique<distributed::GradBuckets>(*group_, params);
}

std::vector<Tensor> DataParallel::replicated_state() const {
  std::vector<Tensor> v;
  for (const auto& e : model_.module().state_dict())
    if (!fusion_ || e.tensor.raw_data() != fusion_->weight().raw_data()) v.push_back(e.tensor);  // state_dict: new handles, same memory
  return v;
}

nn::WriteGroup DataParallel::write_group() const {
  nn::WriteGroup w;
  w.first = is_root();
  if (sharded())
    w.all_ok = [g = group_](bool ok) {
      for (uint64_t x : g->allgather(ok ? 1 : 0, "writing a model file")) if (!x) return false;
      return true;
    };
  return w;
}

nn::ColumnShards DataParallel::file_shards(const std::vector<std::string>& names, const std::string& model_prefix,
                                           const optim::Optimizer* opt, const std::string& optim_prefix) const {
  nn::ColumnShards out;
  if (!fusion_) return out;
  const std::string weight = model_prefix + model_.fusion_layer()->weight_name;
  const std::optional<size_t> k = opt ? opt->index_of(fusion_->weight()) : std::nullopt;
  const std::string state = k ? fmt::format("{}state.{}.", optim_prefix, *k) : std::string();
  for (const std::string& n : names)
    if (n == weight || (k && n.starts_with(state) && n != state + "step")) out[n] = fusion_->columns();
  return out;
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
  if (distributed() && !distributed::replicas_identical(*group_, replicated_state()))
    group_->abort(fmt::format("the model replicas differ {}: the ranks no longer train the same model", when));
}

void DataParallel::barrier(std::string_view what) {
  if (distributed()) group_->barrier(what);
}

}  // namespace mtfn::training
