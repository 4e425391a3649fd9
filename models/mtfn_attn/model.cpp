// mtfn_attn's modules: the trimodal low-rank token, the seven-token attention fusion, MTFN's heads.
// Shapes as in model.h.
#include "models/mtfn_attn/model.h"

#include <nlohmann/json.hpp>

#include "core/ops.h"
#include "models/mtfn_attn/optimizer.h"

namespace mtfn::models {

Tensor outer_flat(const Tensor& x, const Tensor& y) {
  const int64_t B = x.size(0), I = x.size(1), J = y.size(1);
  return reshape(mul(reshape(x, {B, I, 1}), reshape(y, {B, 1, J})), {B, I * J});  // (B,I,J) -> (B,IJ)
}

LowRankTrimodal::LowRankTrimodal(int64_t Ha, int64_t Hv, int64_t To, int64_t d, int64_t R, nn::Generator& gen,
                                 DType dtype)
    : Module("LowRankTrimodal"), dim(d), rank(R) {
  bias = register_parameter("bias", Tensor::zeros({d}, dtype));
  audio_factor = register_module("audio_factor", std::make_shared<nn::Linear>(Ha, R * d, gen, false, dtype));
  video_factor = register_module("video_factor", std::make_shared<nn::Linear>(Hv, R * d, gen, false, dtype));
  text_factor = register_module("text_factor", std::make_shared<nn::Linear>(To, R * d, gen, false, dtype));
}

// y_n = sum_r (U_r a)_n (V_r v)_n (T_r t)_n + bias_n: the product of three (B,R,d) views, summed over r.
Tensor LowRankTrimodal::forward(const Tensor& a, const Tensor& v, const Tensor& t) const {
  const int64_t B = a.size(0);
  const Tensor fa = reshape(audio_factor->forward(a), {B, rank, dim});  // (B,R,d)
  const Tensor fv = reshape(video_factor->forward(v), {B, rank, dim});  // (B,R,d)
  const Tensor ft = reshape(text_factor->forward(t), {B, rank, dim});   // (B,R,d)
  return add(sum(mul(mul(fa, fv), ft), {1}), bias);                      // (B,d)
}

Head MtfnAttn::make_head(const std::string& name, int64_t in, int64_t hidden, double p, nn::Generator& gen) {
  Head h;  // MTFN's head (models/mtfn/model.h), made with MTFN's names
  h.dropout = register_module(name + "_dropout",
                              std::make_shared<nn::Dropout>(p, nn::named_seed(seed_, name + "_dropout")));
  h.layer_1 = register_module(name + "_layer_1", std::make_shared<nn::Linear>(in, hidden, gen, true, dtype_));
  h.layer_2 = register_module(name + "_layer_2", std::make_shared<nn::Linear>(hidden, hidden, gen, true, dtype_));
  h.layer_3 = register_module(name + "_layer_3",
                              std::make_shared<nn::Linear>(hidden, cfg_.mtfn.output_dim(), gen, true, dtype_));
  dropouts_.push_back(h.dropout);
  return h;
}

MtfnAttn::MtfnAttn(const MtfnAttnConfig& cfg, uint64_t init_seed, DType dtype)
    : Module("MTFN_ATTN"), cfg_(cfg), dtype_(dtype), seed_(init_seed) {
  cfg_.validate();
  const MtfnConfig& m = cfg_.mtfn;
  nn::Generator gen(init_seed);
  const auto [Dt, Da, Dv] = m.feature_dims;
  const auto [Ht, Ha, Hv] = m.hidden_dims;
  const int64_t To = m.text_out, d = cfg_.attn_dim;
  const auto [p_audio, p_video, p_text] = m.dropouts;
  (void)p_text;  // MMSA: a one-layer LSTM forces the text dropout to 0
  const auto [pp_text, pp_audio, pp_video, pp_fusion] = m.post_dropouts;
  output_range = register_parameter("output_range", Tensor::full({1}, 6.0, dtype), false);
  output_shift = register_parameter("output_shift", Tensor::full({1}, -3.0, dtype), false);
  audio_subnet = register_module("audio_subnet", std::make_shared<SubNet>(Da, Ha, p_audio, gen, dtype));
  video_subnet = register_module("video_subnet", std::make_shared<SubNet>(Dv, Hv, p_video, gen, dtype));
  text_subnet = register_module("text_subnet", std::make_shared<TextSubNet>(Dt, Ht, To, gen, dtype));
  audio_subnet->drop->key.seed = nn::named_seed(seed_, "audio_subnet.drop");
  video_subnet->drop->key.seed = nn::named_seed(seed_, "video_subnet.drop");
  dropouts_ = {audio_subnet->drop, video_subnet->drop};
  token_a = register_module("token_a", std::make_shared<nn::Linear>(Ha, d, gen, true, dtype));
  token_v = register_module("token_v", std::make_shared<nn::Linear>(Hv, d, gen, true, dtype));
  token_t = register_module("token_t", std::make_shared<nn::Linear>(To, d, gen, true, dtype));
  token_av = register_module("token_av", std::make_shared<nn::Linear>(Ha * Hv, d, gen, true, dtype));
  token_at = register_module("token_at", std::make_shared<nn::Linear>(Ha * To, d, gen, true, dtype));
  token_vt = register_module("token_vt", std::make_shared<nn::Linear>(Hv * To, d, gen, true, dtype));
  token_avt = register_module("token_avt",
                              std::make_shared<LowRankTrimodal>(Ha, Hv, To, d, cfg_.attn_rank, gen, dtype));
  attention = register_module("attention", std::make_shared<nn::MultiheadAttention>(d, cfg_.attn_heads, gen, dtype));
  attention_norm = register_module("attention_norm", std::make_shared<nn::LayerNorm>(d, 1e-5, dtype));
  post_fusion = make_head("post_fusion", d, m.post_fusion_dim, pp_fusion, gen);
  post_text = make_head("post_text", To, m.post_text_dim, pp_text, gen);
  post_audio = make_head("post_audio", Ha, m.post_audio_dim, pp_audio, gen);
  post_video = make_head("post_video", Hv, m.post_video_dim, pp_video, gen);
}

void MtfnAttn::set_dropout_step(uint64_t step, int64_t row_offset) {
  for (auto& d : dropouts_) {
    d->key.step = step;
    d->key.row_offset = row_offset;
  }
}

MtfnAttnOutput MtfnAttn::forward(const Tensor& text, const Tensor& audio, const Tensor& vision) {
  const int64_t B = text.size(0), d = cfg_.attn_dim;
  Tensor a = audio.dim() == 3 ? reshape(audio, {B, audio.size(2)}) : audio;      // (B, Da)
  Tensor v = vision.dim() == 3 ? reshape(vision, {B, vision.size(2)}) : vision;  // (B, Dv)
  MtfnAttnOutput out;
  out.feature_a = audio_subnet->forward(a);    // (B, Ha)
  out.feature_v = video_subnet->forward(v);    // (B, Hv)
  out.feature_t = text_subnet->forward(text);  // (B, To)
  const Tensor &fa = out.feature_a, &fv = out.feature_v, &ft = out.feature_t;
  out.T = post_text.forward(ft);
  out.A = post_audio.forward(fa);
  out.V = post_video.forward(fv);
  // The seven blocks of [1;a](x)[1;v](x)[1;t], one token each: (B,d) -> (B,1,d), stacked to (B,K,d).
  const Tensor blocks[7] = {token_a->forward(fa),
                            token_v->forward(fv),
                            token_t->forward(ft),
                            token_av->forward(outer_flat(fa, fv)),
                            token_at->forward(outer_flat(fa, ft)),
                            token_vt->forward(outer_flat(fv, ft)),
                            token_avt->forward(fa, fv, ft)};
  std::vector<Tensor> rows;
  for (const Tensor& b : blocks) rows.push_back(reshape(b, {B, 1, d}));
  const Tensor tokens = concat(rows, 1);                                                 // (B,K,d)
  Tensor weights;                                                                        // (B,heads,K,K)
  const Tensor h = attention_norm->forward(add(tokens, attention->forward(tokens, &weights)));  // (B,K,d)
  const Tensor pooled = mean(h, {1});                                                    // (B,d)
  Tensor m = post_fusion.forward(pooled);                                                // (B,O)
  if (cfg_.mtfn.output_dim() == 1) m = add(mul(sigmoid(m), output_range), output_shift);
  out.M = m;
  out.feature_f = pooled.detach();
  out.tokens = tokens.detach();
  out.attention_weights = weights;
  return out;
}

Forward MtfnAttn::forward(const data::Batch& batch) {
  const MtfnAttnOutput out = forward(batch.text, batch.audio, batch.vision);
  return {{out.M, out.T, out.A, out.V}, mtfn_loss(out, batch, cfg_.mtfn).total};
}

std::unique_ptr<optim::Optimizer> MtfnAttn::make_optimizer() { return make_mtfn_attn_optimizer(*this, cfg_); }

nlohmann::ordered_json MtfnAttn::config_json() const { return config_to_json(cfg_); }

TrainSettings MtfnAttn::settings() const { return train_settings(config_json()); }

}  // namespace mtfn::models
