// check-grads: mtfn_attn in float64 against a PyTorch reference file (tools/torch_mtfn_attn.py), tensor by tensor.
#include "models/mtfn_attn/check_grads.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "models/mtfn_attn/model.h"
#include "nn/safetensors.h"

namespace mtfn::models {

using json = nlohmann::ordered_json;

CheckReport check_mtfn_attn_reference(const std::string& path) {
  const nn::SafetensorsFile f = nn::read_safetensors(path);
  const nn::TensorDict& t = f.tensors;
  const json j = metadata_config(f.metadata,
                                 {"feature_dims", "hidden_dims", "text_out", "post_fusion_dim", "post_text_dim",
                                  "post_audio_dim", "post_video_dim", "dropouts", "post_dropouts", "M", "T", "A", "V",
                                  "learning_rate", "text_weight_decay", "audio_weight_decay", "video_weight_decay",
                                  "train_mode", "num_classes", "attn_dim", "attn_heads", "attn_rank"},
                                 {"feature_dims", "attn_dim", "attn_heads", "attn_rank"}, path);
  MtfnAttnConfig cfg;
  std::vector<std::string> warnings;
  apply_config_json(cfg, j, path + " (metadata)", warnings);
  const int adam_steps = metadata_int(f.metadata, "adam_steps", 0);

  MtfnAttn model(cfg, 0, DType::F64);
  const nn::StateDict initial = load_reference_state(model, t, path);
  model.train();

  CheckReport report;
  const Tensor text = t.at("input.text").to(DType::F64).clone().set_requires_grad();
  const Tensor audio = t.at("input.audio").to(DType::F64).clone().set_requires_grad();
  const Tensor vision = t.at("input.vision").to(DType::F64).clone().set_requires_grad();
  const Tensor labels[4] = {t.at("label.M"), t.at("label.T"), t.at("label.A"), t.at("label.V")};
  report.description =
      fmt::format("mtfn_attn {}, batch {}, seq {}, attn_dim {}, {} heads, rank {}, {} Adam steps",
                  mode_name(cfg.mtfn.train_mode), text.size(0), text.size(1), cfg.attn_dim, cfg.attn_heads,
                  cfg.attn_rank, adam_steps);
  ReferenceChecker c{t};

  // ---- forward
  const MtfnAttnOutput out = model.forward(text, audio, vision);
  c.begin(report, "outputs");
  c.compare("output.M", out.M);
  c.compare("output.T", out.T);
  c.compare("output.A", out.A);
  c.compare("output.V", out.V);
  c.compare("output.Feature_t", out.feature_t);
  c.compare("output.Feature_a", out.feature_a);
  c.compare("output.Feature_v", out.feature_v);
  c.compare("output.Feature_f", out.feature_f);  // the pooled vector (B,d)
  c.compare("output.tokens", out.tokens);
  c.compare("output.attention_weights", out.attention_weights);

  // ---- loss
  const MtfnLoss loss = mtfn_loss(out, labels, cfg.mtfn);
  c.begin(report, "losses");
  c.compare("loss", loss.total);
  const char* task_names[4] = {"M", "T", "A", "V"};
  for (int i = 0; i < 4; ++i) c.compare_scalar(std::string("loss.") + task_names[i], loss.parts[i]);

  // ---- gradients, buffers, Adam steps on the same batch from the stored state, MTFN's groups
  check_backward_and_adam_steps(c, report, model, loss.total, {text, audio, vision}, initial, path, adam_steps, [&] {
    return mtfn_loss(model.forward(text.detach(), audio.detach(), vision.detach()), labels, cfg.mtfn).total;
  });
  return report;
}

}  // namespace mtfn::models
