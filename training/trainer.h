// MMSA's training procedure (mtfn.md §3) for any model of models/registry.h over several seeds:
// Adam steps over shuffled batches, early stopping on the valid loss, per-epoch checkpoints that a
// killed run resumes from (same results as a run never interrupted), the test score of each seed's
// best model, and the results files of results.h. Not the models, not the evaluation of a split
// (evaluation.h), not the command line (cli/train_command.cpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/sims_dataset.h"
#include "models/registry.h"
#include "training/data_parallel.h"
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
  bool overwrite = false;        // replace a run already in `out` (without it, train refuses such a folder)
  bool progress = false;         // a progress bar within each epoch (for a terminal)
  bool keep_checkpoints = false; // keep each seed's last checkpoint (model + optimizer) after it ends
  std::ostream* console = nullptr;  // where lines go besides DIR/train.log (nullptr: only the log)
  std::vector<std::string> printed_before;
  // How the run was made (command, version, data file's SHA-256, host, ...: cli/manifest.h): kept in
  // run.json and results.json under "manifest", never compared by --resume; "end_time" is added here.
  nlohmann::ordered_json manifest = nlohmann::ordered_json::object();  // what the command printed before the run: train.log starts with it
  distributed::ProcessGroup* group = nullptr;  // data-parallel over its processes (training/data_parallel.h)
  DistMode dist_mode = DistMode::sharded;      // with several processes: a sharded fusion head, or plain
  // With a group: how many of its processes train one seed; the group is split into groups of that many
  // which train different seeds at once (seed i by group i mod groups). 0: all of them train each seed.
  int ranks_per_seed = 0;
  // Seeds trained at once, one process each (one process: the seeds one after the other). oneTBB's
  // threads are split between them and OpenBLAS runs on one thread in each, so the results equal a
  // one-process run with OpenBLAS on one thread (`train --blas-threads 1`).
  int jobs = 1;
  // The dtype of the parameters, the batches and every computation. float64 is for checking that two
  // ways of training are the same computation (tests/distributed: sharded vs one process in float64
  // agree to ~1e-15, where float32's rounding would hide a small error); a float64 run is a run of its
  // own (--resume refuses the other dtype) and its model files hold float64 tensors.
  DType dtype = DType::F32;
};

// Refuses (InputError naming --ranks-per-seed) a group size that is negative or does not divide the job's
// `processes`.
void check_ranks_per_seed(int ranks_per_seed, int processes);

// DIR/.lock held with flock(2) for the life of the object: one run per folder at a time. The kernel
// releases it when the process ends, however it ends, so a killed run never blocks the next one.
class RunFolderLock {
 public:
  explicit RunFolderLock(const std::filesystem::path& dir);  // creates DIR; InputError if another run holds it
  ~RunFolderLock();
  RunFolderLock(const RunFolderLock&) = delete;
  RunFolderLock& operator=(const RunFolderLock&) = delete;

 private:
  int fd_ = -1;
};

// What in DIR shows that a run was made there (run.json, train.log, checkpoints/, ...), for messages;
// empty for an absent or empty folder.
std::vector<std::string> earlier_run_files(const std::filesystem::path& dir);

// Refuses (InputError) to start a new run in a folder that holds one, unless opt.resume (continue it)
// or opt.overwrite (replace it). Looks only: changes nothing.
void check_run_folder(const TrainOptions& opt);

// The folder's lock (rank 0 of opt.group only; nullptr for the others), then check_run_folder under
// it. Every process of the group learns whether rank 0 got the lock, and all throw if it did not.
std::unique_ptr<RunFolderLock> claim_run_folder(const TrainOptions& opt);

// Adds `text` (one line or several) to DIR/train.log, each line behind a timestamp (console_text.h):
// for what the command prints after train_seeds (its summary).
void append_to_log(const std::filesystem::path& out, const std::string& text);

// Trains model `spec` with the flat configuration `config` (checked) for every seed (or resumes),
// writes DIR/results.json, DIR/normal/<dataset>.csv and each seed's best model
// DIR/models/<model>-<seed>.safetensors; returns the results. Bad input (--resume on another run's
// folder, a checkpoint of another seed, a folder holding a run without resume or overwrite) is an
// InputError. The caller holds the folder's lock (claim_run_folder).
RunResults train_seeds(const data::SimsDataset& ds, const models::ModelSpec& spec, const nlohmann::ordered_json& config,
                       const TrainOptions& opt);

}  // namespace mtfn::training
