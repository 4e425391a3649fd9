// MMSA's training procedure (mtfn.md §3) for any model of models/registry.h over several seeds:
// Adam steps over shuffled batches, early stopping on the valid loss, per-epoch checkpoints that a
// killed run resumes from (same results as a run never interrupted), the test score of each seed's
// best model, and the results files of results.h. Not the models, not the evaluation of a split
// (evaluation.h), not the command line (cli/train_command.cpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/sims_dataset.h"
#include "models/registry.h"
#include "training/results.h"

namespace mtfn::distributed {
class ProcessGroup;
}

namespace mtfn::training {

struct TrainOptions {
  std::filesystem::path out;     // DIR: logs, checkpoints, results
  std::string data_label;        // what results.json calls the data
  std::string dataset = "sims";  // MMSA's name: picks the metrics and names the results CSV
  std::vector<uint64_t> seeds{1111, 1112, 1113, 1114, 1115};
  int64_t max_epochs = 0;        // 0: until early stopping
  bool resume = false;
  bool progress = false;         // a progress bar within each epoch (for a terminal)
  bool keep_checkpoints = false; // keep each seed's last checkpoint (model + optimizer) after it ends
  std::ostream* console = nullptr;  // where lines go besides DIR/train.log (nullptr: only the log)
  distributed::ProcessGroup* group = nullptr;  // data-parallel over its processes (training/data_parallel.h)
};

// Trains model `spec` with the flat configuration `config` (checked) for every seed (or resumes),
// writes DIR/results.json, DIR/normal/<dataset>.csv and each seed's best model
// DIR/models/<model>-<seed>.safetensors; returns the results. Bad input (--resume on another run's
// folder, a checkpoint of another seed) is an InputError.
RunResults train_seeds(const data::SimsDataset& ds, const models::ModelSpec& spec, const nlohmann::ordered_json& config,
                       const TrainOptions& opt);

}  // namespace mtfn::training
