// A seed's checkpoint: what --resume continues from. After every epoch the seed's state (model,
// optimizer, epoch, step, early-stopping state, history) goes to DIR/checkpoints/seed-<s>/last.safetensors
// through a temp file + rename; when the epoch is the best so far, best.safetensors becomes a hard link
// to that same file (no second write of the 558 MB model). Nothing random is kept in a generator: the
// shuffle is a function of (seed, epoch) and every dropout mask of (seed, step, row, column), so a run
// resumed from epoch e's checkpoint computes exactly what the uninterrupted run computed.
//
// With a sharded fusion head every process writes its columns of the weight and of its Adam moments into
// the one file, and reads back its own columns: a checkpoint made by any number of processes resumes on
// any number (data_parallel.h).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/model.h"
#include "nn/safetensors.h"
#include "optim/optimizer.h"
#include "training/data_parallel.h"
#include "training/results.h"

namespace mtfn::training {

// What the training of one seed carries from epoch to epoch (all of it in the checkpoint).
struct SeedState {
  int64_t epoch = 0;        // epochs finished
  uint64_t step = 0;        // training steps taken (keys the dropout masks)
  double best_valid = 1e8;  // MMSA starts from 1e8 ('min' key)
  int64_t best_epoch = 0;
  std::vector<EpochRecord> history;

  nlohmann::ordered_json to_json() const;
  static SeedState from_json(const nlohmann::ordered_json& j);
};

void save_checkpoint(const std::filesystem::path& path, const models::Model& model, const optim::Optimizer& opt,
                     const SeedState& s, uint64_t seed, const DataParallel& dp);
// Loads model and optimizer; InputError if the file is not a checkpoint of `seed`.
SeedState load_checkpoint(const std::filesystem::path& path, models::Model& model, optim::Optimizer& opt, uint64_t seed,
                          const DataParallel& dp);

// The epoch a checkpoint file holds (-1 if it is not one).
int64_t checkpoint_epoch(const std::filesystem::path& path);

// best = the checkpoint `last` (a hard link, made under a temporary name and renamed into place; a copy
// where the file system has no hard links).
void link_best(const std::filesystem::path& last, const std::filesystem::path& best);

// The names of a file's entries, in its order.
std::vector<std::string> entry_names(const nn::SafetensorsIndex& idx);

}  // namespace mtfn::training
