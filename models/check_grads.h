// What `mtfn check-grads --reference FILE` reports, for any model: groups of tensors (outputs,
// losses, gradients, buffers after, adam steps), each with its largest relative error against the
// PyTorch reference file, and the comparison helper the models' checkers share.
// Not here: any one model's comparison (models/<name>/check_grads.cpp).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/tensor.h"
#include "models/model.h"
#include "nn/safetensors.h"

namespace mtfn::models {

struct CheckGroup {
  std::string name;        // "outputs", "losses", "gradients", "buffers after", "adam steps"
  double max_error = 0;    // largest relative error over the group's tensors
  std::string worst;       // the tensor where it was
  int tensors = 0;         // tensors compared
};

struct CheckReport {
  std::string description;  // "regression, batch 6, seq 5, ..."
  std::vector<CheckGroup> groups;
  bool ok(double tolerance) const;
};

// Relative error of a against the reference b: max|a - b| / max|b| (max|a - b| when b is all zero).
double relative_error(const std::vector<double>& a, const std::vector<double>& b);

// Compares tensors with a reference file's, group by group, into a report.
struct ReferenceChecker {
  const nn::TensorDict& file;
  CheckGroup* group = nullptr;

  void begin(CheckReport& r, const std::string& name);
  // Compares `ours` with the file's tensor `name` (same element count; (B) vs (B,1) is fine).
  void compare(const std::string& name, const Tensor& ours);
  void compare_scalar(const std::string& name, double ours);
};

// The model's state from the reference file (every name of its state_dict; std::runtime_error naming
// the first one absent), loaded into `module`, and returned for reloading before the Adam steps.
nn::StateDict load_reference_state(nn::Module& module, const nn::TensorDict& file, const std::string& path);

// What every model's check does after its loss on the reference batch (in the graph):
//   "gradients": every trainable parameter's (PyTorch gives output_range / output_shift none) and the
//                three inputs' (text, audio, vision), after loss.backward();
//   "buffers after": the BatchNorm buffers the forward pass updated;
//   "adam steps": `adam_steps` steps of the model's MMSA optimizer from `initial`, each step's loss
//                 from `step_loss` (the model's loss on the detached inputs), then every parameter.
void check_backward_and_adam_steps(ReferenceChecker& c, CheckReport& report, Model& model, const Tensor& loss,
                                   const Tensor (&inputs)[3], const nn::StateDict& initial, const std::string& path,
                                   int adam_steps, const std::function<Tensor()>& step_loss);

// The file's __metadata__ entries `keys` (JSON strings under MMSA's key names) as one flat object;
// absent keys are left out, `required` ones throw std::runtime_error naming the file.
nlohmann::ordered_json metadata_config(const nn::Metadata& meta, const std::vector<std::string>& keys,
                                       const std::vector<std::string>& required, const std::string& path);
// An integer metadata entry, or `fallback` if absent.
int metadata_int(const nn::Metadata& meta, const std::string& key, int fallback);
// The "model" entry of a reference file ("mtfn" when absent: MTFN's files predate it).
std::string reference_model(const nn::Metadata& meta);

}  // namespace mtfn::models
