// What the experiment machinery (training/) and the program (cli/) ask of a model: its module
// (parameters, buffers, train/eval, state_dict), a forward pass with its loss on a batch, its
// optimizer, and its configuration under MMSA's key names. Each model folder (models/<name>/)
// implements this; models/registry.cpp lists the models. Not here: any model's layers.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/errors.h"
#include "core/tensor.h"
#include "data/batch.h"

namespace mtfn::nn {
class Module;
struct FusionLayer;
}
namespace mtfn::optim {
class Optimizer;
}

namespace mtfn::models {

// MMSA's train_mode: a score per sample (regression) or one of 3 classes (classification).
enum class TrainMode { regression, classification };
const char* mode_name(TrainMode mode);          // "regression" / "classification"
TrainMode parse_mode(const std::string& name);  // throws ConfigError

// A configuration value that is wrong (bad input: exit status 2), naming the key.
struct ConfigError : InputError {
  using InputError::InputError;
};

// Classes (mtfn.md §5) of a label tensor (any dtype), compared in float32: what cross-entropy
// learns in classification mode, for every model.
std::vector<int64_t> label_classes(const Tensor& labels);

// The settings of MMSA's training procedure that every model's configuration carries.
struct TrainSettings {
  int64_t batch_size = 64;
  int64_t early_stop = 8;  // epochs without a better valid loss before stopping
  TrainMode train_mode = TrainMode::regression;
  int64_t num_classes = 3;
  double learning_rate = 0.005;
  int64_t output_dim() const { return train_mode == TrainMode::classification ? num_classes : 1; }
};

// The settings above as a flat configuration holds them (MMSA's keys batch_size, early_stop,
// train_mode, num_classes, learning_rate; a key absent keeps its default). The config is checked already.
TrainSettings train_settings(const nlohmann::ordered_json& config);

// One forward pass over a batch: each task's output (B, O), M first, and the loss.
struct Forward {
  std::vector<Tensor> outputs;  // per task, in task_names() order
  Tensor loss;                  // () in the graph (outside it under NoGradGuard)
};

class Model {
 public:
  virtual ~Model() = default;
  virtual std::string name() const = 0;  // "mtfn": its model files are <name>-<seed>.safetensors
  virtual nn::Module& module() = 0;
  virtual const nn::Module& module() const = 0;
  virtual DType dtype() const = 0;
  // The tasks whose outputs forward returns: {"M", "T", "A", "V"} for MTFN, {"M"} for a single-task model.
  virtual std::vector<std::string> task_names() const = 0;
  virtual Forward forward(const data::Batch& batch) = 0;
  // Every dropout draws the masks of training step `step` for global rows from `first_row`.
  virtual void set_dropout_step(uint64_t step, int64_t first_row) = 0;
  // MMSA's optimizer for this model (its parameter groups, learning rates, weight decays).
  virtual std::unique_ptr<optim::Optimizer> make_optimizer() = 0;
  // The whole configuration, flat, under MMSA's key names (results.json, model files, checkpoints).
  virtual nlohmann::ordered_json config_json() const = 0;
  virtual TrainSettings settings() const = 0;
  virtual std::array<int64_t, 3> feature_dims() const = 0;  // text, audio, vision widths it takes
  // The fusion head's first layer (nn/fusion_linear.h), which multi-process training shards by columns
  // (distributed/sharded_fusion.h); nullptr for a model without one (then training is plain data-parallel).
  virtual nn::FusionLayer* fusion_layer() { return nullptr; }
};

}  // namespace mtfn::models
