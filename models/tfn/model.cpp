// TFN's modules and loss. Shapes as in model.h.
#include "models/tfn/model.h"

#include <nlohmann/json.hpp>

#include "core/ops.h"
#include "models/tfn/optimizer.h"
#include "nn/fusion.h"
#include "nn/fusion_linear.h"

namespace mtfn::models {

Tfn::Tfn(const TfnConfig& cfg, uint64_t init_seed, DType dtype)
    : Module("TFN"), cfg_(cfg), dtype_(dtype), seed_(init_seed) {
  cfg_.validate();
  nn::Generator gen(init_seed);
  const auto [Dt, Da, Dv] = cfg.feature_dims;
  const auto [Ht, Ha, Hv] = cfg.hidden_dims;
  const auto [p_audio, p_video, p_text, p_fusion] = cfg.dropouts;
  (void)p_text;  // MMSA: a one-layer LSTM forces the text dropout to 0
  // PyTorch lists a module's own parameters before its children's: these two come first in the
  // state_dict although MMSA's TFN creates them last (and they draw nothing from the generator).
  output_range = register_parameter("output_range", Tensor::full({1}, 6.0, dtype), false);
  output_shift = register_parameter("output_shift", Tensor::full({1}, -3.0, dtype), false);
  audio_subnet = register_module("audio_subnet", std::make_shared<SubNet>(Da, Ha, p_audio, gen, dtype));
  video_subnet = register_module("video_subnet", std::make_shared<SubNet>(Dv, Hv, p_video, gen, dtype));
  text_subnet = register_module("text_subnet", std::make_shared<TextSubNet>(Dt, Ht, cfg.text_out, gen, dtype));
  audio_subnet->drop->key.seed = nn::named_seed(seed_, "audio_subnet.drop");
  video_subnet->drop->key.seed = nn::named_seed(seed_, "video_subnet.drop");
  const int64_t P = cfg.post_fusion_dim;
  post_fusion_dropout = register_module(
      "post_fusion_dropout", std::make_shared<nn::Dropout>(p_fusion, nn::named_seed(seed_, "post_fusion_dropout")));
  post_fusion_layer_1 =
      register_module("post_fusion_layer_1", std::make_shared<nn::Linear>(cfg_.fusion_width(), P, gen, true, dtype));
  post_fusion_layer_2 = register_module("post_fusion_layer_2", std::make_shared<nn::Linear>(P, P, gen, true, dtype));
  post_fusion_layer_3 =
      register_module("post_fusion_layer_3", std::make_shared<nn::Linear>(P, cfg_.output_dim(), gen, true, dtype));
  fusion_layer_ = {post_fusion_dropout, post_fusion_layer_1, "post_fusion_layer_1.weight",
                   {cfg.hidden_dims[1], cfg.hidden_dims[2], cfg.text_out}, {}};
}

void Tfn::set_dropout_step(uint64_t step, int64_t row_offset) {
  for (nn::Dropout* d : {audio_subnet->drop.get(), video_subnet->drop.get(), post_fusion_dropout.get()}) {
    d->key.step = step;
    d->key.row_offset = row_offset;
  }
}

TfnOutput Tfn::forward(const Tensor& text, const Tensor& audio, const Tensor& vision) {
  const int64_t B = text.size(0);
  Tensor a = audio.dim() == 3 ? reshape(audio, {B, audio.size(2)}) : audio;      // (B, Da)
  Tensor v = vision.dim() == 3 ? reshape(vision, {B, vision.size(2)}) : vision;  // (B, Dv)
  TfnOutput out;
  out.feature_a = audio_subnet->forward(a);    // (B, Ha)
  out.feature_v = video_subnet->forward(v);    // (B, Hv)
  out.feature_t = text_subnet->forward(text);  // (B, To)
  if (keep_fusion_vector) {
    NoGradGuard no_grad;
    out.feature_f = tensor_fusion(out.feature_a, out.feature_v, out.feature_t);  // (B, F)
  }
  // The first fusion layer fused with the tensor fusion and its dropout: z (B, F) is never stored.
  Tensor m = relu(fusion_layer_.forward(out.feature_a, out.feature_v, out.feature_t));  // (B, P)
  m = relu(post_fusion_layer_2->forward(m));                         // (B, P)
  m = post_fusion_layer_3->forward(m);                               // (B, O)
  if (cfg_.output_dim() == 1) m = add(mul(sigmoid(m), output_range), output_shift);
  out.M = m;
  return out;
}

Tensor tfn_loss(const Tensor& M, const Tensor& labels, TrainMode mode) {
  if (mode == TrainMode::classification) return cross_entropy(M, label_classes(labels));
  const Tensor target = labels.to(M.dtype()).view({M.size(0), 1});  // labels.view(-1, 1)
  return l1_loss(M, target);
}

Forward Tfn::forward(const data::Batch& batch) {
  const TfnOutput out = forward(batch.text, batch.audio, batch.vision);
  return {{out.M}, tfn_loss(out.M, batch.label_M, cfg_.train_mode)};
}

std::unique_ptr<optim::Optimizer> Tfn::make_optimizer() { return make_tfn_optimizer(*this, cfg_); }

nlohmann::ordered_json Tfn::config_json() const { return config_to_json(cfg_); }

TrainSettings Tfn::settings() const { return train_settings(config_json()); }

}  // namespace mtfn::models
