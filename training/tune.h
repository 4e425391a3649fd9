// MMSA's tune mode (`python -m MMSA -m tfn -d mosi -t -tt N`): a random search over the values
// config_tune.json lists in `debugParams`, each trial trained with MMSA's procedure (trainer.h) on
// one seed. Here the search is seeded (trial k of a search is always the same draw), resumable
// (finished trials are read back, an interrupted one resumes from its checkpoint), runs trials side
// by side (--jobs, or the ranks of an MPI job), and selects on the valid split unless asked to do as
// MMSA does (the test split). Not the training itself (trainer.h) nor the command line (cli/).
#pragma once

#include <cstdint>
#include <filesystem>
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

// The draws of a search: MMSA's debugParams (d_paras and each one's candidate values).
struct TuneSpace {
  std::vector<std::string> names;                    // d_paras, in order
  std::vector<std::vector<nlohmann::ordered_json>> values;  // candidates of each
  nlohmann::ordered_json base;  // the flat configuration every trial starts from
};

// The search space of `model` on `dataset`: `tune_file` (MMSA's config_tune.json layout: the model's
// entry with commonParams and debugParams), or the built-in copy of MMSA's when empty. The base is
// MMSA's regression entry for the pair with the tune entry's commonParams on top. ConfigError
// naming the file and key for anything malformed.
TuneSpace tune_space(const std::string& model, const std::string& dataset, const std::string& tune_file);

// Trial k's draw (0-based): one candidate per name, chosen by a generator seeded with (search_seed, k).
nlohmann::ordered_json draw_trial(const TuneSpace& space, uint64_t search_seed, int64_t k);

struct TuneOptions {
  std::filesystem::path out;  // DIR: trials/<k>/ (each a train run), tune.json, tune/<dataset>-<model>.csv
  std::string data_label;
  std::string dataset;
  uint64_t search_seed = 1;
  std::vector<uint64_t> seeds{1111};  // MMSA tunes on seeds[0]
  int64_t trials = 50;
  int64_t max_epochs = 0;
  std::string select_on = "valid";  // or "test": MMSA's choice
  std::string data_args;            // how `mtfn train` names the same data: "--data F" or "--synth-scale S"
  int jobs = 1;                     // trials at once (one process each); oneTBB's threads are split between them
  distributed::ProcessGroup* group = nullptr;  // under MPI: rank r runs the trials k with k % size == r
  std::ostream* console = nullptr;
};

// Runs the trials not finished yet (this process's share of them), then, on rank 0, writes
// DIR/tune.json (every trial: draw, configuration, valid and test metrics, seed, time, checkpoint)
// and DIR/tune/<dataset>-<model>.csv, and returns tune.json's document.
nlohmann::ordered_json run_tune(const data::SimsDataset& ds, const models::ModelSpec& spec, const TuneSpace& space,
                                const TuneOptions& opt);

// DIR/tune.json's best trial on `select_on` (min Loss), with the `mtfn train` command that re-trains
// it exactly: InputError if DIR holds no finished search.
nlohmann::ordered_json best_trial(const std::filesystem::path& dir, const std::string& select_on);

}  // namespace mtfn::training
