// A training run: every seed of `opt.seeds` trained (or resumed) in the run folder, each seed's best
// model kept, and the run's results written. The one entry point of training for `mtfn train`
// (cli/train_command.cpp), `mtfn tune` (one run per trial) and library callers. Its parts, each in a
// file of its own: the run folder and run.json (run_folder.h), one seed's epoch loop (train_seed.h),
// checkpoints (checkpoint.h), which process trains which seed (seed_schedule.h), what rank 0 decides
// for every process (root_decides.h), the log (train_log.h). Not the models, not the evaluation of a
// split (evaluation.h), not the command line.
#pragma once

#include <nlohmann/json.hpp>

#include "data/sims_dataset.h"
#include "models/registry.h"
#include "training/results.h"
#include "training/train_options.h"

namespace mtfn::training {

// Trains model `spec` with the flat configuration `config` (checked) for every seed (or resumes),
// writes DIR/results.json, DIR/normal/<dataset>.csv and each seed's best model
// DIR/models/<model>-<seed>.safetensors; returns the results. Bad input (--resume on another run's
// folder, a checkpoint of another seed, a folder holding a run without resume or overwrite) is an
// InputError. The caller holds the folder's lock (run_folder.h's claim_run_folder).
RunResults train_seeds(const data::SimsDataset& ds, const models::ModelSpec& spec, const nlohmann::ordered_json& config,
                       const TrainOptions& opt);

}  // namespace mtfn::training
