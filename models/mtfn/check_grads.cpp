// check-grads: MTFN in float64 against a PyTorch reference file. The comparison is per tensor
// (max|ours - torch| / max|torch|), reported per group as its worst tensor.
#include "models/mtfn/check_grads.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/ops.h"
#include "models/mtfn/model.h"
#include "models/mtfn/optimizer.h"
#include "nn/safetensors.h"

namespace mtfn::models {

using json = nlohmann::ordered_json;

namespace {

// The configuration from the file's __metadata__ (JSON strings under MMSA's key names).
MtfnConfig config_from_metadata(const nn::Metadata& meta, const std::string& path) {
  const json j = metadata_config(meta,
                                 {"feature_dims", "hidden_dims", "text_out", "post_fusion_dim", "post_text_dim",
                                  "post_audio_dim", "post_video_dim", "dropouts", "post_dropouts", "M", "T", "A", "V",
                                  "learning_rate", "text_weight_decay", "audio_weight_decay", "video_weight_decay",
                                  "train_mode", "num_classes"},
                                 {"feature_dims"}, path);
  MtfnConfig cfg;
  std::vector<std::string> warnings;
  apply_config_json(cfg, j, path + " (metadata)", warnings);
  return cfg;
}

}  // namespace

CheckReport check_reference(const std::string& path) {
  const nn::SafetensorsFile f = nn::read_safetensors(path);
  const nn::TensorDict& t = f.tensors;
  const MtfnConfig cfg = config_from_metadata(f.metadata, path);
  const int adam_steps = metadata_int(f.metadata, "adam_steps", 0);

  Mtfn model(cfg, 0, DType::F64);
  model.keep_fusion_vector = true;  // output.Feature_f is compared
  const nn::StateDict initial = load_reference_state(model, t, path);
  model.train();

  CheckReport report;
  const Tensor text = t.at("input.text").to(DType::F64).clone().set_requires_grad();
  const Tensor audio = t.at("input.audio").to(DType::F64).clone().set_requires_grad();
  const Tensor vision = t.at("input.vision").to(DType::F64).clone().set_requires_grad();
  const Tensor labels[4] = {t.at("label.M"), t.at("label.T"), t.at("label.A"), t.at("label.V")};
  report.description = fmt::format("{}, batch {}, seq {}, fusion width {}, {} Adam steps", mode_name(cfg.train_mode),
                                   text.size(0), text.size(1), cfg.fusion_width(), adam_steps);
  ReferenceChecker c{t};

  // ---- forward
  MtfnOutput out = model.forward(text, audio, vision);
  c.begin(report, "outputs");
  c.compare("output.M", out.M);
  c.compare("output.T", out.T);
  c.compare("output.A", out.A);
  c.compare("output.V", out.V);
  c.compare("output.Feature_t", out.feature_t);
  c.compare("output.Feature_a", out.feature_a);
  c.compare("output.Feature_v", out.feature_v);
  c.compare("output.Feature_f", out.feature_f);

  // ---- loss
  MtfnLoss loss = mtfn_loss(out, labels, cfg);
  c.begin(report, "losses");
  c.compare("loss", loss.total);
  const char* task_names[4] = {"M", "T", "A", "V"};
  for (int i = 0; i < 4; ++i) c.compare_scalar(std::string("loss.") + task_names[i], loss.parts[i]);

  // ---- gradients, buffers, Adam steps on the same batch from the stored state, MMSA's groups
  check_backward_and_adam_steps(c, report, model, loss.total, {text, audio, vision}, initial, path, adam_steps, [&] {
    return mtfn_loss(model.forward(text.detach(), audio.detach(), vision.detach()), labels, cfg).total;
  });
  return report;
}

}  // namespace mtfn::models
