// MTFN's modules and loss. Shapes as in model.h.
#include "models/mtfn/model.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/ops.h"
#include "models/mtfn/optimizer.h"
#include "nn/fusion_linear.h"

namespace mtfn::models {

Tensor Head::forward(const Tensor& x) const {
  Tensor y = dropout->forward(x);
  y = relu(layer_1->forward(y));
  y = relu(layer_2->forward(y));
  return layer_3->forward(y);  // no squashing
}

Head Mtfn::make_head(const std::string& name, int64_t in, int64_t hidden, double p, nn::Generator& gen) {
  Head h;
  h.dropout = register_module(name + "_dropout", std::make_shared<nn::Dropout>(p, nn::named_seed(seed_, name + "_dropout")));
  h.layer_1 = register_module(name + "_layer_1", std::make_shared<nn::Linear>(in, hidden, gen, true, dtype_));
  h.layer_2 = register_module(name + "_layer_2", std::make_shared<nn::Linear>(hidden, hidden, gen, true, dtype_));
  h.layer_3 = register_module(name + "_layer_3",
                              std::make_shared<nn::Linear>(hidden, cfg_.output_dim(), gen, true, dtype_));
  dropouts_.push_back(h.dropout);
  return h;
}

Mtfn::Mtfn(const MtfnConfig& cfg, uint64_t init_seed, DType dtype)
    : Module("MTFN"), cfg_(cfg), dtype_(dtype), seed_(init_seed) {
  cfg_.validate();
  nn::Generator gen(init_seed);
  const auto [Dt, Da, Dv] = cfg.feature_dims;
  const auto [Ht, Ha, Hv] = cfg.hidden_dims;
  const auto [p_audio, p_video, p_text] = cfg.dropouts;
  (void)p_text;  // MMSA: a one-layer LSTM forces the text dropout to 0
  const auto [pp_text, pp_audio, pp_video, pp_fusion] = cfg.post_dropouts;
  // MMSA registers these two on the top module, so they come first in the state_dict.
  output_range = register_parameter("output_range", Tensor::full({1}, 6.0, dtype), false);
  output_shift = register_parameter("output_shift", Tensor::full({1}, -3.0, dtype), false);
  audio_subnet = register_module("audio_subnet", std::make_shared<SubNet>(Da, Ha, p_audio, gen, dtype));
  video_subnet = register_module("video_subnet", std::make_shared<SubNet>(Dv, Hv, p_video, gen, dtype));
  text_subnet = register_module("text_subnet", std::make_shared<TextSubNet>(Dt, Ht, cfg.text_out, gen, dtype));
  audio_subnet->drop->key.seed = nn::named_seed(seed_, "audio_subnet.drop");
  video_subnet->drop->key.seed = nn::named_seed(seed_, "video_subnet.drop");
  dropouts_ = {audio_subnet->drop, video_subnet->drop};
  post_fusion = make_head("post_fusion", cfg_.fusion_width(), cfg.post_fusion_dim, pp_fusion, gen);
  post_text = make_head("post_text", cfg.text_out, cfg.post_text_dim, pp_text, gen);
  post_audio = make_head("post_audio", Ha, cfg.post_audio_dim, pp_audio, gen);
  post_video = make_head("post_video", Hv, cfg.post_video_dim, pp_video, gen);
  fusion_layer_ = {post_fusion.dropout, post_fusion.layer_1, "post_fusion_layer_1.weight", {Ha, Hv, cfg.text_out}, {}};
}

void Mtfn::set_dropout_step(uint64_t step, int64_t row_offset) {
  for (auto& d : dropouts_) {
    d->key.step = step;
    d->key.row_offset = row_offset;
  }
}

MtfnOutput Mtfn::forward(const Tensor& text, const Tensor& audio, const Tensor& vision) {
  const int64_t B = text.size(0);
  Tensor a = audio.dim() == 3 ? reshape(audio, {B, audio.size(2)}) : audio;    // (B, Da)
  Tensor v = vision.dim() == 3 ? reshape(vision, {B, vision.size(2)}) : vision;  // (B, Dv)
  MtfnOutput out;
  out.feature_a = audio_subnet->forward(a);   // (B, Ha)
  out.feature_v = video_subnet->forward(v);   // (B, Hv)
  out.feature_t = text_subnet->forward(text);  // (B, To)
  out.T = post_text.forward(out.feature_t);
  out.A = post_audio.forward(out.feature_a);
  out.V = post_video.forward(out.feature_v);
  // The fusion head, its first layer fused with the tensor fusion and its dropout: z (B, F) is never stored.
  if (keep_fusion_vector) {
    NoGradGuard no_grad;
    out.feature_f = tensor_fusion(out.feature_a, out.feature_v, out.feature_t);  // (B, F)
  }
  Tensor m = relu(fusion_layer_.forward(out.feature_a, out.feature_v, out.feature_t));  // (B, P) = Head's first layer
  m = relu(post_fusion.layer_2->forward(m));
  m = post_fusion.layer_3->forward(m);  // (B, O)
  if (cfg_.output_dim() == 1) m = add(mul(sigmoid(m), output_range), output_shift);
  out.M = m;
  return out;
}

Forward Mtfn::forward(const data::Batch& batch) {
  const MtfnOutput out = forward(batch.text, batch.audio, batch.vision);
  return {{out.M, out.T, out.A, out.V}, mtfn_loss(out, batch, cfg_).total};
}

std::unique_ptr<optim::Optimizer> Mtfn::make_optimizer() { return make_mtfn_optimizer(*this, cfg_); }

nlohmann::ordered_json Mtfn::config_json() const { return config_to_json(cfg_); }

TrainSettings Mtfn::settings() const { return train_settings(config_json()); }

MtfnLoss mtfn_loss(const MtfnOutput& out, const Tensor (&labels)[4], const MtfnConfig& cfg) {
  MtfnLoss loss{};
  for (int i = 0; i < 4; ++i) {
    const Tensor& pred = out.task(i);
    const Tensor& y = labels[i];
    Tensor part;
    if (cfg.train_mode == TrainMode::classification) {
      part = cross_entropy(pred, label_classes(y));
    } else {
      const Tensor target = y.to(pred.dtype()).view({pred.size(0), 1});  // labels.view(-1, 1)
      part = l1_loss(pred, target);
    }
    loss.parts[i] = part.item();
    const Tensor weighted = mul_scalar(part, cfg.task_weight(i));
    loss.total = i == 0 ? weighted : add(loss.total, weighted);
  }
  return loss;
}

MtfnLoss mtfn_loss(const MtfnOutput& out, const data::Batch& batch, const MtfnConfig& cfg) {
  // A file without unimodal labels (MOSI/MOSEI layout): every head learns the M label.
  const Tensor labels[4] = {batch.label_M, batch.label_T.defined() ? batch.label_T : batch.label_M,
                            batch.label_A.defined() ? batch.label_A : batch.label_M,
                            batch.label_V.defined() ? batch.label_V : batch.label_M};
  return mtfn_loss(out, labels, cfg);
}

}  // namespace mtfn::models
