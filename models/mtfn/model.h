// MTFN, MMSA's multi-task tensor fusion network (mtfn.md §2), with PyTorch's parameter names:
// audio/video SubNets (BatchNorm1d -> Dropout -> 3 x Linear+ReLU), a text SubNet (one-layer LSTM,
// last hidden state, Linear), three unimodal heads and the fusion head on z = [1;a](x)[1;v](x)[1;t].
// Also MMSA's multi-task loss, and the experiment's view of it (models/model.h).
// Not the training loop (training/trainer.h) nor the optimiser groups (optimizer.h).
#pragma once

#include <memory>

#include "core/tensor.h"
#include "data/batch.h"
#include "models/model.h"
#include "models/mtfn/config.h"
#include "models/subnets.h"
#include "nn/dropout.h"
#include "nn/fusion_linear.h"
#include "nn/fusion.h"
#include "nn/linear.h"
#include "nn/module.h"

namespace mtfn::models {

// Dimensions: B batch, S text steps, Dt/Da/Dv input widths, Ht/Ha/Hv hidden widths, To text_out,
// O output width (1 in regression, num_classes in classification), F = (Ha+1)(Hv+1)(To+1).

// Dropout -> Linear+ReLU -> Linear+ReLU -> Linear: the body of every head.
struct Head {
  std::shared_ptr<nn::Dropout> dropout;
  std::shared_ptr<nn::Linear> layer_1, layer_2, layer_3;
  Tensor forward(const Tensor& x) const;
};

struct MtfnOutput {
  Tensor M, T, A, V;                               // (B, O); M squashed to [-3, 3] in regression
  Tensor feature_t, feature_a, feature_v, feature_f;  // (B,To), (B,Ha), (B,Hv), (B,F) (F only if keep_fusion_vector)
  const Tensor& task(int i) const { return i == 0 ? M : i == 1 ? T : i == 2 ? A : V; }
};

class Mtfn : public nn::Module, public Model {
 public:
  // Parameters drawn from `init_seed` (PyTorch's default distributions), dropout masks keyed by
  // named_seed(init_seed, "<module name>"). The largest layer is made directly in `dtype`.
  Mtfn(const MtfnConfig& cfg, uint64_t init_seed, DType dtype = DType::F32);

  // text (B,S,Dt), audio (B,Da), vision (B,Dv).
  MtfnOutput forward(const Tensor& text, const Tensor& audio, const Tensor& vision);

  // Every dropout draws the masks of training step `step` for global rows from `row_offset`.
  void set_dropout_step(uint64_t step, int64_t row_offset = 0) override;

  const MtfnConfig& config() const { return cfg_; }
  DType dtype() const override { return dtype_; }

  // --- the experiment's view (models/model.h) ---
  std::string name() const override { return "mtfn"; }
  nn::Module& module() override { return *this; }
  const nn::Module& module() const override { return *this; }
  std::vector<std::string> task_names() const override { return {"M", "T", "A", "V"}; }
  Forward forward(const data::Batch& batch) override;  // outputs M, T, A, V and mtfn_loss
  std::unique_ptr<optim::Optimizer> make_optimizer() override;  // make_mtfn_optimizer
  nlohmann::ordered_json config_json() const override;
  TrainSettings settings() const override;
  std::array<int64_t, 3> feature_dims() const override { return cfg_.feature_dims; }
  nn::FusionLayer* fusion_layer() override { return &fusion_layer_; }

  // forward also fills feature_f with z itself (B, F), outside the graph (check-grads compares it). Off by
  // default: the fusion head's first layer is fused with the fusion (nn/fusion_linear.h) and z never stored.
  bool keep_fusion_vector = false;

  Tensor output_range, output_shift;  // (1) each, frozen: M = sigmoid(.) * 6 - 3 in regression
  std::shared_ptr<SubNet> audio_subnet, video_subnet;
  std::shared_ptr<TextSubNet> text_subnet;
  Head post_fusion, post_text, post_audio, post_video;

 private:
  nn::FusionLayer fusion_layer_;  // post_fusion's dropout and first layer
  Head make_head(const std::string& name, int64_t in, int64_t hidden, double p, nn::Generator& gen);
  MtfnConfig cfg_;
  DType dtype_;
  uint64_t seed_;
  std::vector<std::shared_ptr<nn::Dropout>> dropouts_;
};

// MMSA's loss: sum over tasks M, T, A, V of weight * criterion(output, the task's own label);
// L1 (mean) in regression, cross-entropy (mean) on classes per label_class in classification.
// A task with weight 0 is still computed (its head then gets exact-zero gradients, as in MMSA).
struct MtfnLoss {
  Tensor total;     // () in the graph
  double parts[4];  // unweighted M, T, A, V
};
MtfnLoss mtfn_loss(const MtfnOutput& out, const data::Batch& batch, const MtfnConfig& cfg);
// The same with the labels given directly: labels[i] (B) for task i (M, T, A, V).
MtfnLoss mtfn_loss(const MtfnOutput& out, const Tensor (&labels)[4], const MtfnConfig& cfg);

}  // namespace mtfn::models
