// TFN, MMSA's tensor fusion network (models/singleTask/TFN.py; spec tfn-and-datasets.md §1), with
// PyTorch's parameter names: audio/video SubNets, a text SubNet, then one fusion head on
// z = [1;a](x)[1;v](x)[1;t]: Dropout -> Linear+ReLU -> Linear+ReLU -> Linear, M = 6 sigmoid(.) - 3.
// Also TFN's loss (L1 or cross-entropy on M only) and the experiment's view of it (models/model.h).
// Not the training loop (training/) nor the optimiser (optimizer.h).
#pragma once

#include <memory>

#include "core/tensor.h"
#include "data/batch.h"
#include "models/model.h"
#include "models/subnets.h"
#include "models/tfn/config.h"
#include "nn/dropout.h"
#include "nn/fusion_linear.h"
#include "nn/linear.h"
#include "nn/module.h"

namespace mtfn::models {

// Dimensions: B batch, S text steps, Dt/Da/Dv input widths, Ht/Ha/Hv hidden widths, To text_out,
// P post_fusion_dim, O output width (1 in regression, num_classes in classification),
// F = (Ha+1)(Hv+1)(To+1).

struct TfnOutput {
  Tensor M;                                           // (B, O); squashed to [-3, 3] in regression
  Tensor feature_t, feature_a, feature_v, feature_f;  // (B,To), (B,Ha), (B,Hv), (B,F) (F only if keep_fusion_vector)
};

class Tfn : public nn::Module, public Model {
 public:
  // Parameters drawn from `init_seed`, dropout masks keyed by named_seed(init_seed, "<module name>").
  Tfn(const TfnConfig& cfg, uint64_t init_seed, DType dtype = DType::F32);

  // text (B,S,Dt), audio (B,Da) or (B,1,Da), vision (B,Dv) or (B,1,Dv).
  TfnOutput forward(const Tensor& text, const Tensor& audio, const Tensor& vision);

  void set_dropout_step(uint64_t step, int64_t row_offset = 0) override;

  const TfnConfig& config() const { return cfg_; }
  DType dtype() const override { return dtype_; }

  // --- the experiment's view (models/model.h) ---
  std::string name() const override { return "tfn"; }
  nn::Module& module() override { return *this; }
  const nn::Module& module() const override { return *this; }
  std::vector<std::string> task_names() const override { return {"M"}; }
  Forward forward(const data::Batch& batch) override;  // output M and tfn_loss
  std::unique_ptr<optim::Optimizer> make_optimizer() override;  // make_tfn_optimizer
  nlohmann::ordered_json config_json() const override;
  TrainSettings settings() const override;
  std::array<int64_t, 3> feature_dims() const override { return cfg_.feature_dims; }
  nn::FusionLayer* fusion_layer() override { return &fusion_layer_; }

  // forward also fills feature_f with z itself (B, F), outside the graph (check-grads compares it).
  // Off by default: the first fusion layer is fused with the fusion (nn/fusion_linear.h), z never stored.
  bool keep_fusion_vector = false;

  Tensor output_range, output_shift;  // (1) each, frozen: M = sigmoid(.) * 6 - 3 in regression
  std::shared_ptr<SubNet> audio_subnet, video_subnet;
  std::shared_ptr<TextSubNet> text_subnet;
  std::shared_ptr<nn::Dropout> post_fusion_dropout;
  std::shared_ptr<nn::Linear> post_fusion_layer_1, post_fusion_layer_2, post_fusion_layer_3;

 private:
  nn::FusionLayer fusion_layer_;  // post_fusion's dropout and first layer
  TfnConfig cfg_;
  DType dtype_;
  uint64_t seed_;
};

// MMSA's TFN trainer: L1 (mean) of M (B,1) against labels.view(-1, 1) in regression, cross-entropy
// (mean) on the label's classes (label_classes) in classification. labels (B), any dtype.
Tensor tfn_loss(const Tensor& M, const Tensor& labels, TrainMode mode);

}  // namespace mtfn::models
