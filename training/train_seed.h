// One seed of a run, MMSA's procedure (mtfn.md §3) for any model of models/registry.h: Adam steps over
// shuffled batches, the valid split after every epoch, early stopping on the valid loss, a checkpoint
// after every epoch (checkpoint.h) that --resume continues from, then the test score of the seed's
// best model, which stays in DIR/models. This is the epoch loop; the run around it (folder, seeds,
// results files) is trainer.h.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "data/sims_dataset.h"
#include "models/registry.h"
#include "training/evaluation.h"
#include "training/metrics.h"
#include "training/results.h"
#include "training/train_log.h"
#include "training/train_options.h"

namespace mtfn::training {

// What every seed of a run shares.
struct SeedContext {
  const data::SimsDataset& ds;
  const models::ModelSpec& spec;
  const nlohmann::ordered_json& config;
  const models::TrainSettings& settings;
  const TrainOptions& opt;  // opt.group: the processes that train this seed together
  MetricKind kind;
  Logger& log;
};

// Trains seed number `seed_index` of c.opt.seeds (or resumes it from its checkpoint) and scores its
// best model on the test split; rank 0 writes DIR/seeds/<seed>.json, the model file and its lines.
SeedResult train_one_seed(const SeedContext& c, uint64_t seed, size_t seed_index);

}  // namespace mtfn::training
