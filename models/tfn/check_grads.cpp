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
  nn::StateDict initial;
  for (const auto& e : model.state_dict()) {
    const nn::NamedTensor* ref = t.find(e.name);
    if (!ref) throw std::runtime_error(fmt::format("{}: no tensor '{}' (the model's state)", path, e.name));
    initial.insert(e.name, ref->tensor, ref->int64);
  }
  model.load_state_dict(initial, path);
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

  // ---- gradients
  loss.backward();
  c.begin(report, "gradients");
  for (const auto& [name, p] : model.named_parameters()) {
    if (!p.requires_grad()) continue;  // output_range / output_shift: no gradient in PyTorch either
    c.compare("grad." + name, p.grad().defined() ? p.grad() : Tensor::zeros(p.shape(), p.dtype()));
  }
  c.compare("grad.input.text", text.grad());
  c.compare("grad.input.audio", audio.grad());
  c.compare("grad.input.vision", vision.grad());

  // ---- BatchNorm buffers after the forward pass
  c.begin(report, "buffers after");
  for (const auto& [name, b] : model.named_buffers())
    if (t.contains("after." + name)) c.compare("after." + name, b);

  // ---- Adam steps on the same batch from the stored state
  if (adam_steps > 0) {
    c.begin(report, "adam steps");
    model.load_state_dict(initial, path);
    model.zero_grad();
    auto optimizer = make_tfn_optimizer(model, cfg);
    for (int k = 1; k <= adam_steps; ++k) {
      optimizer->zero_grad();
      const TfnOutput o = model.forward(text.detach(), audio.detach(), vision.detach());
      Tensor l = tfn_loss(o.M, label, cfg.train_mode);
      c.compare(fmt::format("adam{}.loss", k), l);
      l.backward();
      optimizer->step();
      for (const auto& [name, p] : model.named_parameters()) c.compare(fmt::format("adam{}.{}", k, name), p);
    }
  }
  return report;
}

}  // namespace mtfn::models
