// check-grads: TFN in float64 against a PyTorch reference file, tensor by tensor.
#include "models/tfn/check_grads.h"

#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "models/tfn/model.h"
#include "models/tfn/optimizer.h"
#include "nn/safetensors.h"

namespace mtfn::models {

using json = nlohmann::ordered_json;

CheckReport check_tfn_reference(const std::string& path) {
  const nn::SafetensorsFile f = nn::read_safetensors(path);
  const nn::TensorDict& t = f.tensors;
  const json j = metadata_config(f.metadata,
                                 {"feature_dims", "hidden_dims", "text_out", "post_fusion_dim", "dropouts",
                                  "learning_rate", "train_mode", "num_classes"},
                                 {"feature_dims"}, path);
  TfnConfig cfg;
  std::vector<std::string> warnings;
  apply_config_json(cfg, j, path + " (metadata)", warnings);
  const int adam_steps = metadata_int(f.metadata, "adam_steps", 0);

  Tfn model(cfg, 0, DType::F64);
  model.keep_fusion_vector = true;  // output.Feature_f is compared
  const nn::StateDict initial = load_reference_state(model, t, path);
  model.train();

  CheckReport report;
  const Tensor text = t.at("input.text").to(DType::F64).clone().set_requires_grad();
  const Tensor audio = t.at("input.audio").to(DType::F64).clone().set_requires_grad();
  const Tensor vision = t.at("input.vision").to(DType::F64).clone().set_requires_grad();
  const Tensor label = t.at("label.M");
  report.description = fmt::format("TFN {}, batch {}, seq {}, fusion width {}, {} Adam steps",
                                   mode_name(cfg.train_mode), text.size(0), text.size(1), cfg.fusion_width(),
                                   adam_steps);
  ReferenceChecker c{t};

  // ---- forward
  const TfnOutput out = model.forward(text, audio, vision);
  c.begin(report, "outputs");
  c.compare("output.M", out.M);
  c.compare("output.Feature_t", out.feature_t);
  c.compare("output.Feature_a", out.feature_a);
  c.compare("output.Feature_v", out.feature_v);
  c.compare("output.Feature_f", out.feature_f);

  // ---- loss
  Tensor loss = tfn_loss(out.M, label, cfg.train_mode);
  c.begin(report, "losses");
  c.compare("loss", loss);

  // ---- gradients, buffers, Adam steps on the same batch from the stored state (MMSA's one group)
  check_backward_and_adam_steps(c, report, model, loss, {text, audio, vision}, initial, path, adam_steps, [&] {
    return tfn_loss(model.forward(text.detach(), audio.detach(), vision.detach()).M, label, cfg.train_mode);
  });
  return report;
}

}  // namespace mtfn::models
