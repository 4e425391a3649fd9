// Scoring a model on a split as MMSA does: one pass in eval mode (the loss and every task's outputs),
// the metrics of output M for the dataset's family, and the baseline a model that knows nothing gets.
// Not the metrics' definitions (metrics.h) nor the training loop (trainer.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/sims_dataset.h"
#include "models/model.h"
#include "training/metrics.h"

namespace mtfn::training {

// Which metric family a file calls for: CH-SIMS (unimodal labels present) or MOSI/MOSEI.
enum class MetricKind { sims, mosi };
MetricKind metric_kind_of(const data::SimsDataset& ds);
std::string dataset_name_of(const data::SimsDataset& ds);  // "sims", "mosi" or "mosei"

// Everything one pass over a split gives (eval mode, no graph, samples in file order).
struct SplitEval {
  double loss = 0;                     // mean over batches of the weighted loss, rounded to 4 places (MMSA)
  MetricList metrics;                  // of output M against label M
  std::vector<std::vector<float>> out;  // per task (model.task_names()): (N, O) row-major
};
SplitEval evaluate_split(models::Model& model, const data::SimsSplit& split, MetricKind kind, int64_t batch_size);
// Metrics of outputs M (N, O) against the split's M labels.
MetricList score(const std::vector<float>& out_m, const data::SimsSplit& split, const models::TrainSettings& s,
                 MetricKind kind);
// The test metrics of a model that knows nothing: the training mean of M (regression) or the
// majority training class (classification), predicted for every sample of `split`.
MetricList baseline_metrics(const data::SimsDataset& ds, const data::SimsSplit& split, const models::TrainSettings& s,
                            MetricKind kind);

}  // namespace mtfn::training
