// A training job as a user asks for it, before any of it is read: the model and dataset by name, the
// data file (or a synthetic set), MMSA's configuration file and overrides, and the run's options. The
// one entry point that `mtfn train` (cli/train_command.cpp, which parses flags and prints the summary)
// and the Python module call: the same job gives the same numbers from either.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/registry.h"
#include "training/results.h"
#include "training/train_options.h"

namespace mtfn::training {

struct TrainJob {
  std::string model = "mtfn";         // a name of models/registry.h
  std::string dataset;                // sims, simsv2, mosi, mosei; empty: inferred from the data (sims without)
  std::string data;                   // an MMSA feature file; empty: a synthetic set in the dataset's layout
  double synth_scale = 0.1;           // without data: split sizes relative to the dataset's
  std::string config;                 // MMSA's config file (flat or config_regression.json); empty: the built-in one
  std::optional<models::TrainMode> mode;  // overrides the config's train_mode
  std::optional<int64_t> batch_size;      // overrides the config's batch_size
  std::vector<std::string> notes;     // lines the caller adds after the job's own start-up lines
  TrainOptions run;                   // out, seeds, epochs, resume, processes, dtype, console (opt.data_label is set here)
};

// Where the lines said before training go (each also goes to train.log): `info` (stdout) and `warning`
// (stderr). Only rank 0 says them.
struct JobConsole {
  std::function<void(const std::string&)> info, warning;
};

// Refuses a folder that holds another run (before any data is read), loads the data or makes the
// synthetic set, resolves the configuration as MMSA does (run_config.h), locks the run folder, says
// what it will do, and trains every seed (trainer.h). `manifest(data_label)`: how the run was made
// (run.json). An error is added to train.log (where the folder has one) and, with several processes,
// ends the whole job with this rank's reason (exit status 2 for an InputError, else 1).
RunResults run_train_job(TrainJob job, const JobConsole& console,
                         const std::function<nlohmann::ordered_json(const std::string& data_label)>& manifest);

}  // namespace mtfn::training
