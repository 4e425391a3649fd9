// What a training run leaves for other programs: DIR/results.json (cli.md) and MMSA's results CSV
// DIR/normal/<dataset>.csv (one row per run: "Model", then "(mean, std)" x100 per metric).
// Also the atomic file write every output and checkpoint goes through.
// Not the training itself (trainer.h).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/model.h"
#include "training/metrics.h"

namespace mtfn::training {

struct EpochRecord {
  int64_t epoch = 0;
  double train_loss = 0;  // mean over the epoch's batches of the weighted loss
  double valid_loss = 0;  // the same on valid, rounded to 4 places (MMSA's key for early stopping)
  double seconds = 0;     // wall time of the epoch (training + validation)
  MetricList valid;       // metrics of the M output on valid
};

struct SeedResult {
  uint64_t seed = 0;
  std::vector<EpochRecord> epochs;
  int64_t best_epoch = 0;
  MetricList test;  // test metrics of the best model, plus "Loss" (rounded to 4 places)
};

struct RunResults {
  std::string data;     // the feature file, or a description of the synthetic data
  std::string dataset;  // "sims", "mosi", "mosei": the CSV's name
  std::string model;    // "mtfn": the CSV's Model column
  models::TrainMode mode = models::TrainMode::regression;
  nlohmann::ordered_json config;  // the model's flat configuration (MMSA's key names)
  std::vector<SeedResult> seeds;
  MetricList baseline;  // the test metrics of predicting the training mean (or majority class)
  std::filesystem::path csv;  // where the CSV row went (append_mmsa_csv); empty if written by an earlier process
};

nlohmann::ordered_json metrics_to_json(const MetricList& m);  // NaN -> null
MetricList metrics_from_json(const nlohmann::ordered_json& j);
nlohmann::ordered_json seed_to_json(const SeedResult& r);
SeedResult seed_from_json(const nlohmann::ordered_json& j);

// The whole results.json document (cli.md), mean and std as fractions over seeds.
nlohmann::ordered_json results_to_json(const RunResults& r);

// Appends this run's row to DIR/normal/<dataset>.csv as MMSA's run.py does (creating the file
// with a header "Model,<metric>,..." if needed). Rows already there are never dropped: when that
// file has other columns (an earlier run in the other mode), the row goes to
// normal/<dataset>-<mode>.csv (then <dataset>-<mode>-2.csv, ...), the first with no file or the same
// columns. Returns the file's path.
std::filesystem::path append_mmsa_csv(const std::filesystem::path& dir, const RunResults& r);

// Writes `path` through `path.tmp` + rename, so a reader (or a run killed mid-write) sees the old
// file or the new one, never a torn one. Throws std::runtime_error naming the file.
void atomic_write(const std::filesystem::path& path, const std::function<void(std::ostream&)>& write);
void atomic_write_text(const std::filesystem::path& path, const std::string& text);

}  // namespace mtfn::training
