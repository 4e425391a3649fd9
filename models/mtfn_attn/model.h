// mtfn_attn: MTFN with an attention inference subnetwork (issue 18; docs/attention.md). MTFN's subnets,
// unimodal heads, loss and optimiser groups; the fusion head's input is not the 2.18 M-wide fusion vector
// but its seven blocks a, v, t, a(x)v, a(x)t, v(x)t, a(x)v(x)t, each projected to a d-wide token, then
// multi-head self-attention over the 7 tokens with a residual and LayerNorm, a mean over tokens, and
// MTFN's M head. Not MTFN (models/mtfn/), and never reported under its name.
#pragma once

#include <memory>

#include "core/tensor.h"
#include "data/batch.h"
#include "models/model.h"
#include "models/mtfn/model.h"  // Head, MtfnOutput, mtfn_loss
#include "models/mtfn_attn/config.h"
#include "models/subnets.h"
#include "nn/attention.h"
#include "nn/layer_norm.h"
#include "nn/linear.h"
#include "nn/module.h"

namespace mtfn::models {

// Dimensions: B batch, S text steps, Dt/Da/Dv input widths, Ha/Hv hidden widths, To text_out, d attn_dim,
// R attn_rank, K = 7 tokens, O output width (1 in regression, num_classes in classification).

// The trimodal token: the a(x)v(x)t block of the fusion vector (Ha Hv To wide) projected to d by a weight
// of CP rank R per output, W[n, i, j, k] = sum_r U[r d + n, i] V[r d + n, j] T[r d + n, k], so that
//   y = sum_r (U_r a) * (V_r v) * (T_r t) + bias        (B,d)
// without forming the block: R d (Ha + Hv + To) + d weights instead of d Ha Hv To. Composed from core's
// linear, mul and sum (their backward passes are the chain rule of this line).
class LowRankTrimodal : public nn::Module {
 public:
  LowRankTrimodal(int64_t Ha, int64_t Hv, int64_t To, int64_t d, int64_t R, nn::Generator& gen, DType dtype);
  Tensor forward(const Tensor& a, const Tensor& v, const Tensor& t) const;  // (B,Ha), (B,Hv), (B,To) -> (B,d)
  int64_t dim, rank;
  Tensor bias;                                                 // (d) = 0
  std::shared_ptr<nn::Linear> audio_factor, video_factor, text_factor;  // no bias: (R d, Ha), (R d, Hv), (R d, To)
};

// What forward returns: MTFN's outputs (feature_f is the pooled vector (B,d) here), and the tokens and
// attention weights, outside the graph, for check-grads and for looking at.
struct MtfnAttnOutput : MtfnOutput {
  Tensor tokens;             // (B,K,d) the seven tokens before attention
  Tensor attention_weights;  // (B,heads,K,K)
};

class MtfnAttn : public nn::Module, public Model {
 public:
  // Parameters drawn from `init_seed` (PyTorch's default distributions), dropout masks keyed by
  // named_seed(init_seed, "<module name>"), as MTFN's.
  MtfnAttn(const MtfnAttnConfig& cfg, uint64_t init_seed, DType dtype = DType::F32);

  // text (B,S,Dt), audio (B,Da) or (B,1,Da), vision (B,Dv) or (B,1,Dv).
  MtfnAttnOutput forward(const Tensor& text, const Tensor& audio, const Tensor& vision);

  void set_dropout_step(uint64_t step, int64_t row_offset = 0) override;

  const MtfnAttnConfig& config() const { return cfg_; }
  DType dtype() const override { return dtype_; }

  // --- the experiment's view (models/model.h) ---
  std::string name() const override { return "mtfn_attn"; }
  nn::Module& module() override { return *this; }
  const nn::Module& module() const override { return *this; }
  std::vector<std::string> task_names() const override { return {"M", "T", "A", "V"}; }
  Forward forward(const data::Batch& batch) override;  // outputs M, T, A, V and MTFN's loss
  std::unique_ptr<optim::Optimizer> make_optimizer() override;  // MTFN's five groups (optimizer.h)
  nlohmann::ordered_json config_json() const override;
  TrainSettings settings() const override;
  std::array<int64_t, 3> feature_dims() const override { return cfg_.mtfn.feature_dims; }

  Tensor output_range, output_shift;  // (1) each, frozen: M = sigmoid(.) * 6 - 3 in regression
  std::shared_ptr<SubNet> audio_subnet, video_subnet;
  std::shared_ptr<TextSubNet> text_subnet;
  // One projection per block of [1;a](x)[1;v](x)[1;t] (the constant 1 is in their biases).
  std::shared_ptr<nn::Linear> token_a, token_v, token_t;     // Ha, Hv, To -> d
  std::shared_ptr<nn::Linear> token_av, token_at, token_vt;  // Ha Hv, Ha To, Hv To -> d
  std::shared_ptr<LowRankTrimodal> token_avt;                // a(x)v(x)t -> d, rank R
  std::shared_ptr<nn::MultiheadAttention> attention;         // over the K tokens, width d
  std::shared_ptr<nn::LayerNorm> attention_norm;             // LayerNorm(tokens + attention(tokens))
  Head post_fusion, post_text, post_audio, post_video;       // post_fusion: d -> post_fusion_dim -> O

 private:
  Head make_head(const std::string& name, int64_t in, int64_t hidden, double p, nn::Generator& gen);
  MtfnAttnConfig cfg_;
  DType dtype_;
  uint64_t seed_;
  std::vector<std::shared_ptr<nn::Dropout>> dropouts_;
};

// x (B,I), y (B,J) -> (B, I J), column i J + j = x_i y_j (the first index slowest, as the tensor fusion).
Tensor outer_flat(const Tensor& x, const Tensor& y);

}  // namespace mtfn::models
