// The run folder (--out): one run in it at a time (a lock), never another run's files taken for this
// one's (refused unless --resume or --overwrite), room for the checkpoints checked before anything is
// written, and run.json: the run's identity, which --resume compares before it continues. Rank 0 does
// all of it; every process of the group learns the outcome (root_decides.h).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/sims_dataset.h"
#include "models/registry.h"
#include "training/train_options.h"

namespace mtfn::training {

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

// The folder's lock (rank 0 of the group only; nullptr for the others), then check_run_folder under
// it. Every process of the group learns whether rank 0 got the lock, and all throw if it did not.
std::unique_ptr<RunFolderLock> claim_run_folder(const TrainOptions& opt);

// What the run's files take (lines for the log), after refusing (InputError, on every process) to
// start when --out's file system has less free space than that. Rank 0 looks; the others get "".
std::string check_space(const TrainOptions& opt, const models::ModelSpec& spec, const nlohmann::ordered_json& config);

// DIR/run.json: what makes two invocations the same run (model, dataset, dtype, config, data, seeds,
// max_epochs) and each invocation's manifest (never compared).
struct RunFile {
  nlohmann::ordered_json identity;
  bool resuming = false;  // --resume found this run's run.json
};
// Starts the run in opt.out, or continues it: with --resume and a run.json (`found`: looked for by every
// process before rank 0 writes), refuses (InputError) a run of another identity and adds this
// invocation's manifest; otherwise removes what an earlier run left (checkpoints, seeds, epochs.jsonl,
// report) and writes a new run.json. Rank 0 writes.
RunFile open_run(const data::SimsDataset& ds, const models::ModelSpec& spec, const nlohmann::ordered_json& config,
                 const TrainOptions& opt, bool found);
// The run has ended: its end time in run.json (rank 0).
void close_run(RunFile& run, const TrainOptions& opt);

}  // namespace mtfn::training
