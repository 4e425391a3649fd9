#include "models/model.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "data/sims_dataset.h"

namespace mtfn::models {

const char* mode_name(TrainMode mode) { return mode == TrainMode::classification ? "classification" : "regression"; }

TrainMode parse_mode(const std::string& name) {
  if (name == "regression") return TrainMode::regression;
  if (name == "classification") return TrainMode::classification;
  throw ConfigError(fmt::format("train_mode: expected \"regression\" or \"classification\", got \"{}\"", name));
}

std::vector<int64_t> label_classes(const Tensor& labels) {
  std::vector<int64_t> c(static_cast<size_t>(labels.numel()));
  for (int64_t i = 0; i < labels.numel(); ++i) c[static_cast<size_t>(i)] = data::label_class(static_cast<float>(labels.at(i)));
  return c;
}

TrainSettings train_settings(const nlohmann::ordered_json& config) {
  TrainSettings s;
  s.batch_size = config.value("batch_size", s.batch_size);
  s.early_stop = config.value("early_stop", s.early_stop);
  if (config.contains("train_mode")) s.train_mode = parse_mode(config["train_mode"].get<std::string>());
  s.num_classes = config.value("num_classes", s.num_classes);
  s.learning_rate = config.value("learning_rate", s.learning_rate);
  return s;
}

}  // namespace mtfn::models
