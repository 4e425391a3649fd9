// Evaluation of a split, and the metric family and dataset name a file calls for.
#include "training/evaluation.h"

#include <algorithm>

#include "core/autograd.h"
#include "data/batch.h"
#include "nn/module.h"

namespace mtfn::training {

MetricKind metric_kind_of(const data::SimsDataset& ds) {
  return ds.has_label(data::Task::T) || ds.has_label(data::Task::A) || ds.has_label(data::Task::V) ? MetricKind::sims
                                                                                                  : MetricKind::mosi;
}

std::string dataset_name_of(const data::SimsDataset& ds) {
  if (metric_kind_of(ds) == MetricKind::sims) return "sims";
  return ds.train.size > 5000 ? "mosei" : "mosi";
}

MetricList score(const std::vector<float>& out_m, const data::SimsSplit& split, const models::TrainSettings& s,
                 MetricKind kind) {
  const std::vector<float>& label = split.label(data::Task::M);
  if (s.train_mode == models::TrainMode::classification) {
    std::vector<int> cls(label.size());
    for (size_t i = 0; i < label.size(); ++i) cls[i] = label_class(label[i]);
    return classification_metrics(out_m, s.num_classes, cls);
  }
  return kind == MetricKind::sims ? sims_regression_metrics(out_m, label) : mosi_regression_metrics(out_m, label);
}

MetricList baseline_metrics(const data::SimsDataset& ds, const data::SimsSplit& split, const models::TrainSettings& s,
                            MetricKind kind) {
  const std::vector<float>& train = ds.train.label(data::Task::M);
  const auto n = static_cast<size_t>(split.size);
  if (s.train_mode == models::TrainMode::classification) {
    int64_t count[3] = {0, 0, 0};
    for (float v : train) ++count[label_class(v)];
    const int major = static_cast<int>(std::max_element(count, count + 3) - count);
    std::vector<float> logits(3 * n, 0.f);
    for (size_t i = 0; i < n; ++i) logits[3 * i + static_cast<size_t>(major)] = 1.f;
    return score(logits, split, s, kind);
  }
  double mean = 0;
  for (float v : train) mean += v;
  mean /= std::max<size_t>(train.size(), 1);
  return score(std::vector<float>(n, static_cast<float>(mean)), split, s, kind);
}

SplitEval evaluate_split(models::Model& model, const data::SimsSplit& split, MetricKind kind, int64_t batch_size) {
  model.module().eval();
  NoGradGuard no_grad;
  SplitEval r;
  r.out.resize(model.task_names().size());
  double total = 0;
  int64_t batches = 0;
  for (int64_t start = 0; start < split.size; start += batch_size) {
    std::vector<int64_t> idx;
    for (int64_t i = start; i < std::min(split.size, start + batch_size); ++i) idx.push_back(i);
    const data::Batch b = data::make_batch(split, idx, model.dtype());
    const models::Forward f = model.forward(b);
    total += f.loss.item();
    ++batches;
    for (size_t t = 0; t < r.out.size(); ++t)
      for (double x : f.outputs[t].to_vector()) r.out[t].push_back(static_cast<float>(x));
  }
  r.loss = py_round(batches ? total / static_cast<double>(batches) : 0.0, 4);
  r.metrics = score(r.out[0], split, model.settings(), kind);
  return r;
}

}  // namespace mtfn::training
