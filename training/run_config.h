// Which model on which dataset with which configuration, resolved as MMSA resolves
// `MMSA_run(model, dataset, config_file)`: the dataset named or inferred from the file, MMSA's
// config_regression.json entry for the pair (the built-in copy, or the user's file on top of it),
// the model's own defaults and checks, and the feature widths of the data. Not the command-line
// overrides (cli/train_command.cpp) nor the training (trainer.h).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/sims_dataset.h"
#include "models/registry.h"
#include "training/evaluation.h"

namespace mtfn::training {

// The dataset a file looks like, from its labels and feature widths, and why (for the one line
// that says so): unimodal labels -> sims (simsv2 when it has more than 2000 training samples, as
// SIMSv2's 2722 against CH-SIMS's 1368); none -> mosi or mosei by the audio/vision widths
// (5/20 MOSI, 74/35 MOSEI), else by size (MOSEI has 16326 training samples, MOSI 1284).
std::string infer_dataset(const data::SimsDataset& ds, std::string* why = nullptr);

// The metric family of a dataset: SIMS's for sims and simsv2, MOSI's for mosi and mosei.
MetricKind metric_kind_of_dataset(const std::string& dataset);

// MMSA's switches that change what it does, each honoured or refused with one line naming the key:
// KeyEval other than "Loss", use_bert true, need_normalized false, need_model_aligned true are
// refused (ConfigError). need_data_aligned true picks datasetCommonParams.<dataset>.aligned.
void check_mmsa_switches(const nlohmann::ordered_json& flat, const std::string& where);

// The data file a user's MMSA config names for the model on the dataset (MMSA's run.py reads it
// when no file is given): datasetCommonParams.dataset_root_dir / featurePath, or "" if it names none.
std::string data_file_from_config(const std::string& config_file, const std::string& model, const std::string& dataset);

struct RunConfig {
  const models::ModelSpec* spec = nullptr;
  std::string dataset;                // sims, simsv2, mosi, mosei
  std::string inferred;               // not empty if the dataset was inferred: the line saying so
  nlohmann::ordered_json config;      // the model's whole flat configuration, feature_dims the file's
  std::vector<std::string> warnings;  // unknown keys, feature_dims that differ from the file's
};

// `dataset` empty: inferred from `ds`. `config_file` empty: the built-in copy of MMSA's file alone.
// ConfigError (bad input) for an unknown model or dataset, a model that needs labels the file does
// not have, a config file without the model's or the dataset's entry, a bad value.
RunConfig resolve_run(const std::string& model, const std::string& dataset, const std::string& config_file,
                      const data::SimsDataset& ds);

}  // namespace mtfn::training
