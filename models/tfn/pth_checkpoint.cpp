// TFN from a PyTorch checkpoint (see pth_checkpoint.h).
#include "models/tfn/pth_checkpoint.h"

#include <fmt/format.h>

#include "models/pth.h"

namespace mtfn::models {

TfnConfig infer_tfn_config(const data::PthReader& reader, const std::string& prefix) {
  auto size = [&](const std::string& name, size_t rank, size_t dim) {
    return pth_size(reader, prefix, name, rank, dim, "TFN");
  };
  TfnConfig cfg;
  cfg.feature_dims = {size("text_subnet.rnn.weight_ih_l0", 2, 1), size("audio_subnet.norm.weight", 1, 0),
                      size("video_subnet.norm.weight", 1, 0)};
  cfg.hidden_dims = {size("text_subnet.rnn.weight_hh_l0", 2, 1), size("audio_subnet.linear_1.weight", 2, 0),
                     size("video_subnet.linear_1.weight", 2, 0)};
  cfg.text_out = size("text_subnet.linear_1.weight", 2, 0);
  cfg.post_fusion_dim = size("post_fusion_layer_1.weight", 2, 0);
  const int64_t out = size("post_fusion_layer_3.weight", 2, 0);
  if (out > 1) {
    cfg.train_mode = TrainMode::classification;
    cfg.num_classes = out;
  }
  try {
    cfg.validate();
  } catch (const ConfigError& e) {
    throw data::PthError(fmt::format("{}: the weight shapes give an invalid configuration: {}", reader.source_name(),
                                     e.what()));
  }
  return cfg;
}

std::unique_ptr<Tfn> load_tfn_pth(const data::PthReader& reader) {
  const std::string prefix = pth_prefix(reader);
  auto model = std::make_unique<Tfn>(infer_tfn_config(reader, prefix), 0, DType::F32);
  read_pth_state(reader, prefix, *model);
  model->eval();
  return model;
}

}  // namespace mtfn::models
