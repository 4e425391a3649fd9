// MMSA's multi-task training procedure for MTFN (mtfn.md §3) over several seeds, with per-epoch
// checkpoints that a killed run resumes from (same results as a run never interrupted), the
// results files of results.h, and evaluation of a split (also used by `test` and `predict`).
// Not the model (model.h), not the command-line parsing (train_command.cpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "data/sims_dataset.h"
#include "models/mtfn/config.h"
#include "training/metrics.h"
#include "models/mtfn/model.h"
#include "training/results.h"

namespace mtfn::distributed {
class ProcessGroup;
}

namespace mtfn::models {

// Which metric family a file calls for: CH-SIMS (unimodal labels present) or MOSI/MOSEI.
enum class MetricKind { sims, mosi };
MetricKind metric_kind_of(const data::SimsDataset& ds);
std::string dataset_name_of(const data::SimsDataset& ds);  // "sims", "mosi" or "mosei"

// Everything one pass over a split gives (eval mode, no graph, samples in file order).
struct SplitEval {
  double loss = 0;         // mean over batches of the weighted loss, rounded to 4 places (MMSA)
  MetricList metrics;      // of output M against label M
  std::vector<float> out[4];  // per task M, T, A, V: (N, O) row-major
};
SplitEval evaluate_split(Mtfn& model, const data::SimsSplit& split, const MtfnConfig& cfg, MetricKind kind,
                         int64_t batch_size);
// Metrics of outputs M (N, O) against the split's M labels.
MetricList score(const std::vector<float>& out_m, const data::SimsSplit& split, const MtfnConfig& cfg,
                 MetricKind kind);
// The test metrics of a model that knows nothing: the training mean of M (regression) or the
// majority training class (classification), predicted for every sample of `split`.
MetricList baseline_metrics(const data::SimsDataset& ds, const data::SimsSplit& split, const MtfnConfig& cfg,
                            MetricKind kind);

struct TrainOptions {
  std::filesystem::path out;     // DIR: logs, checkpoints, results
  std::string data_label;        // what results.json calls the data
  std::vector<uint64_t> seeds{1111, 1112, 1113, 1114, 1115};
  int64_t max_epochs = 0;        // 0: until early stopping
  bool resume = false;
  bool progress = false;         // a progress bar within each epoch (for a terminal)
  bool keep_checkpoints = false; // keep each seed's last checkpoint (model + optimizer) after it ends
  std::ostream* console = nullptr;  // where lines go besides DIR/train.log (nullptr: only the log)
  distributed::ProcessGroup* group = nullptr;  // data-parallel over its processes (models/mtfn/data_parallel.h)
};

// Errors the caller should report as bad input (exit 2), e.g. --resume on another run's folder.
struct TrainInputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Trains every seed (or resumes), writes DIR/results.json, DIR/normal/<dataset>.csv and each
// seed's best model DIR/models/mtfn-<seed>.safetensors; returns the results.
RunResults train_seeds(const data::SimsDataset& ds, const MtfnConfig& cfg, const TrainOptions& opt);

// The model file train writes: the state_dict plus metadata {"config": ..., "format": "mtfn-model/1"}.
void save_model_file(const std::filesystem::path& path, const Mtfn& model, const std::string& extra_json = "{}");
// Reads a model file's config (feature_dims included) without its tensors' use; throws on a bad file.
MtfnConfig read_model_config(const std::filesystem::path& path);
// Builds the model a model file describes and loads its state. Accepts MMSA's "Model." prefix.
std::unique_ptr<Mtfn> load_model_file(const std::filesystem::path& path);

}  // namespace mtfn::models
